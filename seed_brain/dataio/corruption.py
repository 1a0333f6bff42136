"""Signal corruption: noise at an exact SNR, reverberation, one condition.

:func:`mix_at_snr` and :func:`reverberate` are shared with the rest of the
project; :func:`corrupt_utterance` applies one test condition (a room,
then noise) with every choice drawn from a seeded generator
(:func:`_rng_for`: seed, condition, file), as
:func:`seed_brain.dataio.conditions.prepare_test_conditions` writes them.

Authors
 * seed-brain developers 2026
"""

import math
import zlib

import numpy as np
import torch


def _as_tensor(x):
    """Tensor view of an array-like (float64 compute copy)."""
    return torch.as_tensor(x).to(torch.float64)


def mix_at_snr(speech, noise, snr_db):
    """Adds ``noise`` to ``speech`` at exactly ``snr_db`` dB.

    SNR is ``10 log10(P_speech / P_noise)`` with ``P`` the mean power over
    the utterance (last dimension). Noise shorter than the speech is looped;
    longer noise is cut to the speech length (choose the offset before
    calling). The speech is not rescaled. Computed in float64.

    Arguments
    ---------
    speech : torch.Tensor or array-like
        Shape ``[..., time]``.
    noise : torch.Tensor or array-like
        Shape ``[..., time_noise]`` broadcastable with ``speech``.
    snr_db : float or torch.Tensor
        Target SNR in dB (a tensor of shape ``[...]`` gives one per signal).

    Returns
    -------
    torch.Tensor
        ``speech + g * noise``, shape and dtype of ``speech`` (float32 for
        non-float input).

    Raises
    ------
    ValueError
        Silent (all-zero) speech or noise: the SNR is undefined.

    Example
    -------
    >>> import torch
    >>> speech = torch.randn(16000)
    >>> noisy = mix_at_snr(speech, torch.randn(4000), snr_db=5.0)
    >>> noise = noisy - speech
    >>> snr = 10 * torch.log10(speech.pow(2).mean() / noise.pow(2).mean())
    >>> round(snr.item(), 3)
    5.0
    """
    speech_t = torch.as_tensor(speech)
    dtype = speech_t.dtype if speech_t.is_floating_point() else torch.float32
    s = speech_t.to(torch.float64)
    n = _as_tensor(noise).to(s.device)
    length = s.shape[-1]
    if n.shape[-1] < length:
        repeats = -(-length // n.shape[-1])
        n = n.repeat(*([1] * (n.dim() - 1)), repeats)
    n = n[..., :length]
    p_speech = s.pow(2).mean(dim=-1, keepdim=True)
    p_noise = n.pow(2).mean(dim=-1, keepdim=True)
    if bool((p_speech == 0).any()):
        raise ValueError("mix_at_snr: the speech is silent; SNR undefined.")
    if bool((p_noise == 0).any()):
        raise ValueError("mix_at_snr: the noise is silent; SNR undefined.")
    snr = _as_tensor(snr_db).to(s.device)
    if snr.dim() > 0:
        snr = snr.unsqueeze(-1)
    gain = torch.sqrt(p_speech / (p_noise * torch.pow(10.0, snr / 10.0)))
    return (s + gain * n).to(dtype)


def reverberate(speech, rir):
    """Convolves ``speech`` with a room impulse response, kept aligned.

    As SpeechBrain's ``reverberate``: the RIR is aligned on its direct path
    (its largest absolute sample), so the output starts with the direct
    sound, and the output is truncated to the input length. The RIR is
    normalised to unit energy and the result rescaled to the RMS of the
    input, so the level stays comparable. FFT convolution in float64.

    Arguments
    ---------
    speech : torch.Tensor or array-like
        Shape ``[..., time]``.
    rir : torch.Tensor or array-like
        Impulse response, shape ``[rir_time]``, same sample rate.

    Returns
    -------
    torch.Tensor
        Reverberant speech, shape and dtype of ``speech`` (float32 for
        non-float input).

    Raises
    ------
    ValueError
        An all-zero or non-1-D RIR.

    Example
    -------
    >>> import torch
    >>> speech = torch.randn(1000)
    >>> delayed_echo = torch.zeros(50)
    >>> delayed_echo[10] = 1.0  # direct path after 10 samples of silence
    >>> torch.allclose(reverberate(speech, delayed_echo), speech, atol=1e-6)
    True
    >>> reverberate(speech, torch.rand(300)).shape
    torch.Size([1000])
    """
    speech_t = torch.as_tensor(speech)
    dtype = speech_t.dtype if speech_t.is_floating_point() else torch.float32
    s = speech_t.to(torch.float64)
    h = _as_tensor(rir).to(s.device)
    if h.dim() != 1:
        raise ValueError(f"reverberate: the RIR must be 1-D, got {h.shape}.")
    energy = h.pow(2).sum()
    if energy == 0:
        raise ValueError("reverberate: the RIR is all zeros.")
    h = h / energy.sqrt()
    direct = int(h.abs().argmax())
    length = s.shape[-1]
    n_fft = 1 << math.ceil(math.log2(length + h.shape[0] - 1))
    full = torch.fft.irfft(
        torch.fft.rfft(s, n=n_fft) * torch.fft.rfft(h, n=n_fft), n=n_fft
    )
    out = full[..., direct : direct + length]
    rms_in = s.pow(2).mean(dim=-1, keepdim=True).sqrt()
    rms_out = out.pow(2).mean(dim=-1, keepdim=True).sqrt()
    out = out * torch.where(rms_out > 0, rms_in / rms_out, 0.0)
    return out.to(dtype)


def _rng_for(seed, condition, relpath):
    """numpy Generator seeded from (seed, condition, file), stable."""
    return np.random.default_rng(
        [
            int(seed) & 0xFFFFFFFF,
            zlib.crc32(condition.encode("utf-8")),
            zlib.crc32(relpath.encode("utf-8")),
        ]
    )


def corrupt_utterance(
    speech, condition, rng, noises=(), rirs=(), return_info=False
):
    """Applies one test condition to one utterance.

    Reverberation first (random RIR from ``rirs``), then noise (random
    signal from ``noises`` at a random offset, looped if shorter) at the
    condition's SNR relative to the (reverberant) speech.

    Arguments
    ---------
    speech : torch.Tensor
        Shape ``[time]``.
    condition : dict
        ``{"name": str, "snr": float or None, "reverb": bool}``.
    rng : numpy.random.Generator
        Source of every random choice.
    noises : sequence of torch.Tensor
        Noise signals at the speech's sample rate.
    rirs : sequence of torch.Tensor
        Impulse responses at the speech's sample rate.
    return_info : bool
        Also return ``{"rir": index or None, "noise": index or None,
        "offset": int or None}``.

    Returns
    -------
    torch.Tensor or tuple
        The corrupted utterance, same length (and the choices made).

    Example
    -------
    >>> import numpy as np, torch
    >>> speech, noise = torch.randn(800), torch.randn(300)
    >>> cond = {"name": "n", "snr": 0.0, "reverb": False}
    >>> a = corrupt_utterance(speech, cond, np.random.default_rng(0), [noise])
    >>> b = corrupt_utterance(speech, cond, np.random.default_rng(0), [noise])
    >>> torch.equal(a, b), a.shape
    (True, torch.Size([800]))
    """
    info = {"rir": None, "noise": None, "offset": None}
    out = speech
    if condition.get("reverb"):
        if not len(rirs):
            raise ValueError(
                f"Condition '{condition['name']}' needs RIR files."
            )
        info["rir"] = int(rng.integers(len(rirs)))
        out = reverberate(out, rirs[info["rir"]])
    if condition.get("snr") is not None:
        if not len(noises):
            raise ValueError(
                f"Condition '{condition['name']}' needs noise files."
            )
        info["noise"] = int(rng.integers(len(noises)))
        noise = noises[info["noise"]]
        info["offset"] = int(rng.integers(noise.shape[-1]))
        index = (torch.arange(out.shape[-1]) + info["offset"]) % noise.shape[-1]
        out = mix_at_snr(out, noise[index], condition["snr"])
    return (out, info) if return_info else out
