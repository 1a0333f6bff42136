"""GE2E LSTM d-vector speaker encoder, ported to plain PyTorch.

This module re-implements the speaker encoder whose pretrained weights ship
as ``resemblyzer/pretrained.pt`` in the ``resemblyzer==0.1.4`` wheel (a
GE2E-trained 3 x LSTM-256 network with a 256-d linear + ReLU projection,
Wan et al., 2018). It follows the same maths as resemblyzer's
``preprocess_wav``, ``wav_to_mel_spectrogram``, ``compute_partial_slices``
and ``embed_utterance`` but imports neither resemblyzer nor librosa: the
wheel is only used as a file container for the weights (install it with
``pip install --no-deps resemblyzer==0.1.4``).

Pipeline, per utterance (all utterances of a batch are processed together
and all their partial windows go through a single LSTM call):

1. optional resampling to 16 kHz (``torchaudio.functional.resample``);
2. volume normalisation to -30 dBFS, *increase only* (quiet utterances are
   amplified, loud ones left alone);
3. power mel spectrogram: 25 ms Hann window (``n_fft`` 400), 10 ms hop,
   centred frames with zero padding, 40 Slaney-style mel bands from 0 to
   8 kHz with Slaney area normalisation (what ``librosa.filters.mel`` builds
   by default); no log compression, as in resemblyzer;
4. sliding partial windows of 1.6 s (160 frames) every ``1 / rate`` seconds;
   the last window is kept only if the utterance covers at least
   ``min_coverage`` of it, and an utterance shorter than one window is
   zero-padded to one window;
5. LSTM -> last hidden state of the top layer -> linear -> ReLU -> L2
   normalisation per partial window, then the mean over partial windows,
   L2-normalised again (256-d output).

Differences from resemblyzer, on purpose:

* No webrtcvad silence trimming (``trim_long_silences``): that needs the
  ``webrtcvad`` C extension. Input is embedded as given; trim long pauses
  beforehand if that matters for your data.
* Frames are centred with zero padding, which is what resemblyzer 0.1.4
  computes with librosa >= 0.10 (``pad_mode="constant"``). Older librosa
  reflected the signal instead; that changes only the first two frames
  (about 12 ms) of an utterance.
* A silent (all-zero) utterance is left as is instead of being scaled by an
  infinite gain.

Authors
 * seed-brain contributors
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

__all__ = [
    "GE2E",
    "find_pretrained_ge2e",
    "mel_filterbank",
    "partial_window_starts",
]

MODEL_SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms at 16 kHz
N_MELS = 40
HIDDEN_SIZE = 256
NUM_LAYERS = 3
EMBEDDING_DIM = 256
TARGET_DBFS = -30.0

_INSTALL_HINT = "pip install --no-deps resemblyzer==0.1.4"
# Keys of resemblyzer's checkpoint that belong to the GE2E loss, not to the
# encoder; they are dropped when a state dict is loaded.
_LOSS_KEYS = ("similarity_weight", "similarity_bias")


def find_pretrained_ge2e() -> Path:
    """Locate ``resemblyzer/pretrained.pt`` in the installed wheel.

    The file is found through the distribution's metadata
    (``importlib.metadata``); resemblyzer itself is never imported, so its
    dependencies (librosa, webrtcvad) need not be installed.

    Returns
    -------
    pathlib.Path
        Absolute path to the pretrained GE2E checkpoint.

    Raises
    ------
    FileNotFoundError
        If the ``resemblyzer`` distribution or the file is not installed.
        The message gives the install command.

    Example
    -------
    >>> try:
    ...     path = find_pretrained_ge2e()
    ... except FileNotFoundError as error:
    ...     path = None
    ...     assert "pip install --no-deps resemblyzer==0.1.4" in str(error)
    >>> path is None or path.name == "pretrained.pt"
    True
    """
    try:
        dist = metadata.distribution("resemblyzer")
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            "The GE2E weights come from the resemblyzer wheel, which is not "
            f"installed. Install it with: {_INSTALL_HINT}"
        ) from None
    for file in dist.files or []:
        if tuple(file.parts[-2:]) == ("resemblyzer", "pretrained.pt"):
            path = Path(dist.locate_file(file)).resolve()
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"resemblyzer {dist.version} is installed but its "
        "'resemblyzer/pretrained.pt' was not found. Reinstall it with: "
        f"{_INSTALL_HINT}"
    )


# The Slaney mel scale: _SLANEY_HZ_PER_MEL Hz per mel below
# _SLANEY_MIN_LOG_HZ, a log step of _SLANEY_LOG_STEP per mel above.
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel_slaney(freqs: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    freqs = np.asarray(freqs, dtype=np.float64)
    mels = freqs / _SLANEY_HZ_PER_MEL
    log_part = freqs >= _SLANEY_MIN_LOG_HZ
    mels[log_part] = _SLANEY_MIN_LOG_MEL + (
        np.log(freqs[log_part] / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOG_STEP
    )
    return mels


def _mel_to_hz_slaney(mels: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_hz_to_mel_slaney`."""
    mels = np.asarray(mels, dtype=np.float64)
    freqs = _SLANEY_HZ_PER_MEL * mels
    log_part = mels >= _SLANEY_MIN_LOG_MEL
    freqs[log_part] = _SLANEY_MIN_LOG_HZ * np.exp(
        _SLANEY_LOG_STEP * (mels[log_part] - _SLANEY_MIN_LOG_MEL)
    )
    return freqs


def mel_filterbank(
    sample_rate: int = MODEL_SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    f_min: float = 0.0,
    f_max: float | None = None,
) -> torch.Tensor:
    """Slaney mel filterbank with Slaney area normalisation.

    Same construction as ``librosa.filters.mel`` with its defaults
    (``htk=False``, ``norm="slaney"``): ``n_mels`` triangles whose edges are
    equally spaced on the Slaney mel scale (linear below 1 kHz, logarithmic
    above), each scaled by ``2 / (f_right - f_left)``. Computed in float64
    and returned as float32, like librosa.

    Arguments
    ---------
    sample_rate : int
        Sampling rate in Hz.
    n_fft : int
        FFT size; the bank has ``n_fft // 2 + 1`` frequency bins.
    n_mels : int
        Number of mel bands.
    f_min : float
        Lowest edge frequency in Hz.
    f_max : float, optional
        Highest edge frequency in Hz (default: ``sample_rate / 2``).

    Returns
    -------
    torch.Tensor
        Weights of shape ``[n_mels, n_fft // 2 + 1]``, float32.

    Example
    -------
    >>> fb = mel_filterbank()
    >>> fb.shape
    torch.Size([40, 201])
    >>> bool((fb >= 0).all())
    True
    """
    if f_max is None:
        f_max = sample_rate / 2.0
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    mel_edges = np.linspace(
        _hz_to_mel_slaney(np.array([f_min]))[0],
        _hz_to_mel_slaney(np.array([f_max]))[0],
        n_mels + 2,
    )
    hz_edges = _mel_to_hz_slaney(mel_edges)
    widths = np.diff(hz_edges)
    ramps = hz_edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


def partial_window_starts(
    n_samples: int,
    partial_frames: int = 160,
    frame_step: int = 77,
    min_coverage: float = 0.75,
    hop_length: int = HOP_LENGTH,
) -> list[int]:
    """First mel frame of each partial window of an utterance.

    Same rule as resemblyzer's ``compute_partial_slices``: windows of
    ``partial_frames`` frames start every ``frame_step`` frames while they
    overlap the utterance's ``n_samples // hop_length + 1`` frames; the last
    window is dropped when the utterance covers less than ``min_coverage``
    of it, unless it is the only one. Window ``k`` spans samples
    ``[start_k * hop_length, (start_k + partial_frames) * hop_length)``.

    Arguments
    ---------
    n_samples : int
        Length of the utterance in samples.
    partial_frames : int
        Frames per partial window (160 = 1.6 s).
    frame_step : int
        Frames between two window starts (77 for 1.3 windows per second).
    min_coverage : float
        Fraction of the last window the utterance must cover, in (0, 1].
    hop_length : int
        Samples per frame.

    Returns
    -------
    list of int
        Start frames, at least one.

    Example
    -------
    >>> partial_window_starts(8 * 16000)
    [0, 77, 154, 231, 308, 385, 462, 539, 616]
    >>> partial_window_starts(8000)
    [0]
    """
    if not 0 < min_coverage <= 1:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
    if not 0 < frame_step <= partial_frames:
        raise ValueError(
            f"frame_step must be in [1, {partial_frames}], got {frame_step}"
        )
    n_frames = n_samples // hop_length + 1
    stop = max(1, n_frames - partial_frames + frame_step + 1)
    starts = list(range(0, stop, frame_step))
    window = partial_frames * hop_length
    coverage = (n_samples - starts[-1] * hop_length) / window
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    return starts


class GE2E(torch.nn.Module):
    """GE2E LSTM d-vector encoder (resemblyzer's pretrained voice encoder).

    Maps 16 kHz waveforms to L2-normalised 256-d speaker embeddings. The
    module is created frozen (``requires_grad=False``, eval mode): it is a
    fixed feature extractor. Parameter names (``lstm.*``, ``linear.*``)
    match resemblyzer's checkpoint, so its ``model_state`` loads with
    ``load_state_dict`` directly; the checkpoint's GE2E-loss scalars
    (``similarity_weight``, ``similarity_bias``) are ignored.

    Arguments
    ---------
    weights : str, os.PathLike, Mapping or None
        ``"resemblyzer"`` (default) loads ``pretrained.pt`` from the installed
        resemblyzer wheel (see :func:`find_pretrained_ge2e`); a path loads a
        checkpoint in the same format (a dict with ``"model_state"``, or a
        bare state dict); a mapping is used as the state dict itself;
        ``None`` keeps PyTorch's random initialisation (tests, doctests).
    sample_rate : int
        Sampling rate of the input waveforms; other rates than 16 kHz are
        resampled to 16 kHz.
    partial_seconds : float
        Duration of one partial window (the model was trained on 1.6 s).
    rate : float
        Partial windows per second of audio (window hop is ``1 / rate`` s).
    min_coverage : float
        Keep the last partial window only if the utterance covers at least
        this fraction of it, in (0, 1].
    normalize_volume : bool
        Raise quiet utterances to -30 dBFS before the front end (never
        lowers the volume), as resemblyzer's ``preprocess_wav`` does.

    Example
    -------
    >>> encoder = GE2E(weights=None)
    >>> wavs = torch.randn(2, 32000) * 0.1
    >>> embeddings = encoder(wavs, torch.tensor([1.0, 0.6]))
    >>> embeddings.shape
    torch.Size([2, 256])
    >>> torch.allclose(embeddings.norm(dim=1), torch.ones(2))
    True
    """

    embedding_dim = EMBEDDING_DIM

    def __init__(
        self,
        weights: str | os.PathLike | Mapping | None = "resemblyzer",
        sample_rate: int = 16000,
        partial_seconds: float = 1.6,
        rate: float = 1.3,
        min_coverage: float = 0.75,
        normalize_volume: bool = True,
    ):
        super().__init__()
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        frames_per_second = MODEL_SAMPLE_RATE / HOP_LENGTH
        self.partial_frames = int(round(partial_seconds * frames_per_second))
        if self.partial_frames < 1:
            raise ValueError(
                f"partial_seconds too small: {partial_seconds} s is < 1 frame"
            )
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.frame_step = int(round(frames_per_second / rate))
        if not 0 < self.frame_step <= self.partial_frames:
            raise ValueError(
                f"rate={rate} gives a hop of {self.frame_step} frames; it "
                f"must be between 1 and {self.partial_frames} frames, i.e. "
                f"rate >= {frames_per_second / self.partial_frames:.3f} and "
                f"<= {2 * frames_per_second:.0f} windows per second"
            )
        if not 0 < min_coverage <= 1:
            raise ValueError(
                f"min_coverage must be in (0, 1], got {min_coverage}"
            )
        self.sample_rate = int(sample_rate)
        self.partial_seconds = partial_seconds
        self.rate = rate
        self.min_coverage = min_coverage
        self.normalize_volume = normalize_volume

        self.lstm = torch.nn.LSTM(
            N_MELS, HIDDEN_SIZE, NUM_LAYERS, batch_first=True
        )
        self.linear = torch.nn.Linear(HIDDEN_SIZE, EMBEDDING_DIM)
        # Front-end constants: not part of the state dict, so that
        # resemblyzer's checkpoint loads strictly.
        self.register_buffer(
            "window", torch.hann_window(N_FFT, periodic=True), persistent=False
        )
        self.register_buffer("mel_fb", mel_filterbank(), persistent=False)
        self.register_load_state_dict_pre_hook(_drop_loss_keys)

        if weights is not None:
            self.load_weights(weights)
        self.requires_grad_(False)
        self.eval()

    def load_weights(self, weights: str | os.PathLike | Mapping) -> None:
        """Load pretrained weights (see the ``weights`` argument).

        Arguments
        ---------
        weights : str, os.PathLike or Mapping
            ``"resemblyzer"``, a checkpoint path, or a state dict.

        Raises
        ------
        FileNotFoundError
            If the checkpoint file does not exist.
        RuntimeError
            If the state dict lacks encoder keys or has unknown ones.

        Example
        -------
        >>> source = GE2E(weights=None)
        >>> target = GE2E(weights=None)
        >>> target.load_weights(source.state_dict())
        >>> torch.equal(target.linear.weight, source.linear.weight)
        True
        """
        where = "the given state dict"
        if isinstance(weights, Mapping):
            state = weights
        else:
            if isinstance(weights, str) and weights == "resemblyzer":
                path = find_pretrained_ge2e()
            else:
                path = Path(weights)
                if not path.is_file():
                    raise FileNotFoundError(
                        f"GE2E checkpoint not found: {path}. Pass "
                        "weights='resemblyzer' to use the wheel's weights "
                        f"({_INSTALL_HINT})."
                    )
            where = str(path)
            state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, Mapping) and "model_state" in state:
            state = state["model_state"]
        if not isinstance(state, Mapping):
            raise RuntimeError(
                f"GE2E weights in {where} are not a state dict "
                f"(got {type(state).__name__})"
            )
        expected = set(self.state_dict())
        given = {key for key in state if key not in _LOSS_KEYS}
        missing = sorted(expected - given)
        unexpected = sorted(given - expected)
        if missing or unexpected:
            raise RuntimeError(
                f"GE2E weights in {where} do not fit the encoder: missing "
                f"keys {missing}, unexpected keys {unexpected}. Expected "
                "resemblyzer's pretrained.pt format (lstm.*, linear.*)."
            )
        self.load_state_dict(state)

    def mel_spectrogram(self, wavs: torch.Tensor) -> torch.Tensor:
        """Power mel spectrogram of 16 kHz waveforms (no log).

        Frames are centred (``n_fft // 2`` zeros on each side), so a
        waveform of ``n`` samples gives ``n // 160 + 1`` frames.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` at 16 kHz.

        Returns
        -------
        torch.Tensor
            ``[batch, frames, 40]``.

        Example
        -------
        >>> GE2E(weights=None).mel_spectrogram(torch.zeros(1, 16000)).shape
        torch.Size([1, 101, 40])
        """
        spec = torch.stft(
            wavs,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            win_length=N_FFT,
            window=self.window.to(wavs.dtype),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(self.mel_fb.to(power.dtype), power)
        return mel.transpose(1, 2)

    def embed_partials(self, mels: torch.Tensor) -> torch.Tensor:
        """Embed fixed-length mel windows (resemblyzer's ``forward``).

        Arguments
        ---------
        mels : torch.Tensor
            ``[windows, frames, 40]`` power mel spectrogram windows.

        Returns
        -------
        torch.Tensor
            ``[windows, 256]`` L2-normalised, non-negative embeddings.

        Example
        -------
        >>> GE2E(weights=None).embed_partials(torch.rand(3, 160, 40)).shape
        torch.Size([3, 256])
        """
        _, (hidden, _) = self.lstm(mels)
        raw = torch.relu(self.linear(hidden[-1]))
        return F.normalize(raw, p=2.0, dim=1)

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Embed a batch of utterances.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` float waveforms at ``sample_rate``,
            zero-padded at the end where shorter than the batch.
        wav_lens : torch.Tensor, optional
            ``[batch]`` relative lengths in [0, 1] (SpeechBrain convention);
            ``None`` means every utterance spans the whole tensor.

        Returns
        -------
        torch.Tensor
            ``[batch, 256]`` L2-normalised speaker embeddings.

        Example
        -------
        >>> encoder = GE2E(weights=None)
        >>> encoder(torch.randn(3, 24000) * 0.05).shape
        torch.Size([3, 256])
        """
        if not isinstance(wavs, torch.Tensor):
            raise TypeError(f"wavs must be a torch.Tensor, got {type(wavs)}")
        if wavs.dim() != 2:
            hint = " (use wavs.unsqueeze(0))" if wavs.dim() == 1 else ""
            raise ValueError(
                "wavs must have shape [batch, samples], got "
                f"{tuple(wavs.shape)}{hint}"
            )
        if not wavs.is_floating_point():
            raise ValueError(f"wavs must be floating point, got {wavs.dtype}")
        batch, n_total = wavs.shape
        if batch == 0 or n_total == 0:
            raise ValueError(
                f"wavs must be non-empty, got shape {tuple(wavs.shape)}"
            )
        if wav_lens is None:
            wav_lens = torch.ones(batch, device=wavs.device)
        wav_lens = torch.as_tensor(wav_lens, device=wavs.device)
        if wav_lens.shape != (batch,):
            raise ValueError(
                f"wav_lens must have shape [{batch}], got "
                f"{tuple(wav_lens.shape)}"
            )
        if bool(((wav_lens < 0) | (wav_lens > 1)).any()):
            raise ValueError("wav_lens must be relative lengths in [0, 1]")

        param = self.linear.weight
        wavs = wavs.to(device=param.device, dtype=param.dtype)
        if self.sample_rate != MODEL_SAMPLE_RATE:
            wavs = torchaudio.functional.resample(
                wavs, self.sample_rate, MODEL_SAMPLE_RATE
            )
            n_total = wavs.shape[1]
        lengths = torch.round(wav_lens.double() * n_total).long().cpu()
        lengths = lengths.clamp(max=n_total).tolist()

        # Zero everything past each utterance's end, then normalise volume.
        positions = torch.arange(n_total, device=wavs.device)
        ends = torch.tensor(lengths, device=wavs.device)
        wavs = wavs * (positions[None, :] < ends[:, None])
        if self.normalize_volume:
            wavs = wavs * self._volume_gain(wavs, ends)[:, None]

        # Partial windows of every utterance, as (utterance, start frame).
        utt_index, starts = [], []
        for b, n in enumerate(lengths):
            utt_starts = partial_window_starts(
                n, self.partial_frames, self.frame_step, self.min_coverage
            )
            utt_index.extend([b] * len(utt_starts))
            starts.extend(utt_starts)
        # Centred frames with zero padding only see the utterance and zeros,
        # so one STFT over the zero-padded batch equals per-utterance ones.
        last_frame = max(starts) + self.partial_frames
        n_needed = (last_frame - 1) * HOP_LENGTH + 1
        if n_needed > n_total:
            wavs = F.pad(wavs, (0, n_needed - n_total))
        mels = self.mel_spectrogram(wavs)

        utt_index = torch.tensor(utt_index, device=wavs.device)
        frames = torch.tensor(starts, device=wavs.device)[:, None]
        frames = frames + torch.arange(self.partial_frames, device=wavs.device)
        partials = self.embed_partials(mels[utt_index[:, None], frames])

        sums = partials.new_zeros(batch, EMBEDDING_DIM)
        sums.index_add_(0, utt_index, partials)
        # The mean and the sum have the same direction.
        return F.normalize(sums, p=2.0, dim=1)

    @staticmethod
    def _volume_gain(wavs: torch.Tensor, lengths: torch.Tensor):
        """Gain raising each utterance to -30 dBFS, never below 1."""
        energy = wavs.double().square().sum(dim=1)
        mean_square = energy / lengths.clamp(min=1).double()
        dbfs = 10.0 * torch.log10(mean_square)
        gain = torch.pow(10.0, (TARGET_DBFS - dbfs) / 20.0)
        # Silence (-inf dBFS) stays silent instead of getting infinite gain.
        gain = torch.where(mean_square > 0, gain, torch.ones_like(gain))
        return gain.clamp(min=1.0).to(wavs.dtype)


def _drop_loss_keys(module, state_dict, prefix, *args):
    """Load-state-dict pre-hook dropping resemblyzer's GE2E loss scalars."""
    for key in _LOSS_KEYS:
        state_dict.pop(prefix + key, None)
