"""Test conditions: noisy and reverberant copies of the test side of the
trials (deterministic per seed), and the signal helpers
:func:`mix_at_snr` and :func:`reverberate` shared with the rest of the
project.

Authors
 * seed-brain developers 2026
"""

import json
import logging
import math
import os
import zlib

import numpy as np
import torch

from seed_brain.dataio.audio import (
    audio_info,
    load_audio,
    write_audio,
)
from seed_brain.dataio.manifests import (
    _check_folder,
    _no_audio_error,
    list_audio_files,
)
from seed_brain.dataio.trials import _check_no_space, read_trials
from seed_brain.utils.errors import disk_space
from seed_brain.utils.files import write_text
from seed_brain.utils.progress import progress

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CONDITIONS",
    "corrupt_utterance",
    "mix_at_snr",
    "prepare_test_conditions",
    "reverberate",
]


#: Test conditions built by default: name, SNR in dB (None: no noise) and
#: whether the test utterance is reverberated (before adding noise).
DEFAULT_CONDITIONS = [
    {"name": "clean", "snr": None, "reverb": False},
    {"name": "noise_10dB", "snr": 10.0, "reverb": False},
    {"name": "noise_5dB", "snr": 5.0, "reverb": False},
    {"name": "noise_0dB", "snr": 0.0, "reverb": False},
    {"name": "reverb", "snr": None, "reverb": True},
    {"name": "reverb_noise_5dB", "snr": 5.0, "reverb": True},
]


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


def _validate_conditions(conditions):
    """Checks the condition dicts; returns normalised copies."""
    result, names = [], set()
    for cond in conditions:
        name = cond.get("name") if isinstance(cond, dict) else None
        if not name or not isinstance(name, str):
            raise ValueError(
                f"Condition {cond!r} needs a 'name' (str); expected "
                "{'name': str, 'snr': float or None, 'reverb': bool}."
            )
        if name in names:
            raise ValueError(f"Condition name '{name}' is used twice.")
        if "/" in name or os.sep in name or name.startswith("."):
            raise ValueError(
                f"Condition name '{name}' must be a plain folder name."
            )
        snr = cond.get("snr")
        if snr is not None:
            snr = float(snr)
            if not math.isfinite(snr):
                raise ValueError(f"Condition '{name}': snr must be finite.")
        names.add(name)
        result.append(
            {"name": name, "snr": snr, "reverb": bool(cond.get("reverb"))}
        )
    return result


def _source_list(sources, what):
    """Noise/RIR files from a folder path or a list of file paths."""
    if sources is None:
        return []
    if isinstance(sources, (str, os.PathLike)):
        folder = _check_folder(sources, f"{what} folder")
        files = list_audio_files(folder)
        if not files:
            raise _no_audio_error(folder)
        return [os.path.abspath(f) for f in files]
    files = [os.path.abspath(os.fspath(f)) for f in sources]
    for f in files:
        if not os.path.isfile(f):
            raise FileNotFoundError(f"{what} file '{f}' does not exist.")
    return files


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


def _wav_bytes(folder, rels, sample_rate):
    """Bytes of float WAV copies of ``folder/rel`` at ``sample_rate``."""
    total = 0
    for rel in rels:
        rate, frames, _ = audio_info(os.path.join(folder, *rel.split("/")))
        total += 44 + 4 * int(math.ceil(frames * sample_rate / rate))
    return total


def _condition_rel(path):
    """Path of a test file's corrupted copy below its condition folder:
    ``path`` without extension, plus ``.wav``; a full path loses its
    leading ``/``, so that it maps below the condition folder too."""
    return os.path.splitext(path.lstrip("/"))[0] + ".wav"


def _test_target(out_folder, name, relpath):
    """``out_folder/<name>/<relpath without extension>.wav``."""
    return os.path.join(out_folder, name, *_condition_rel(relpath).split("/"))


def prepare_test_conditions(
    test_folder,
    trials,
    out_folder,
    conditions=None,
    noise_files=None,
    rir_files=None,
    sample_rate=16000,
    seed=1234,
):
    """Writes corrupted copies of the test side of the trials.

    For each condition that adds noise and/or reverberation, every test
    file of the trials (enrolment stays clean) is corrupted and written as
    a 32-bit float WAV at ``sample_rate`` to
    ``out_folder/<name>/<relpath without extension>.wav``. A condition with
    ``snr`` None and ``reverb`` False (``clean``) uses the original files.

    The corruption is deterministic per (condition, file, seed): a numpy
    Generator seeded from ``seed`` and the CRC32 of the condition name and
    of the relative path picks the RIR, the noise file and the noise offset
    (noise looped if shorter). Noise is scaled for exactly the condition's
    SNR (mean power over the utterance); reverberation uses
    :func:`reverberate` (unit-energy RIR aligned on its direct path, output
    of the input length and RMS); reverb + noise adds noise at the SNR
    relative to the reverberant speech.

    Files are written once and reused: existing files are skipped (atomic
    writes guarantee they are complete). ``out_folder/conditions.json``
    records the settings of each condition (seed, sample rate, SNR,
    reverb, noise and RIR files, file count, whether complete); when a
    condition's settings differ from those recorded, its files are
    regenerated. Per condition, ``out_folder/trials_<name>.txt`` lists the
    trials with absolute paths (clean enrolment file, corrupted test file),
    readable by :func:`read_trials`.

    Arguments
    ---------
    test_folder : str or os.PathLike
        Folder the trial paths are relative to.
    trials : str, os.PathLike or list of tuple
        A trial list file (read with :func:`read_trials`) or
        ``(label, enrol, test)`` tuples.
    out_folder : str or os.PathLike
        Where the corrupted files go.
    conditions : list of dict, optional
        ``{"name": str, "snr": float or None, "reverb": bool}`` each;
        default :data:`DEFAULT_CONDITIONS`.
    noise_files : str, os.PathLike or list, optional
        Noise folder (every audio file below it) or list of files; needed
        when a condition has an SNR.
    rir_files : str, os.PathLike or list, optional
        RIR folder or list of files; needed when a condition reverberates.
    sample_rate : int
        Sample rate of the outputs (inputs are resampled).
    seed : int
        Seed of every random choice.

    Returns
    -------
    dict
        ``{name: {"enrol_root": str, "test_root": str, "trials": list of
        (label, enrol, test), "trials_path": str}}``: enrolment paths are
        relative to ``enrol_root`` (``test_folder``), test paths to
        ``test_root`` (``test_folder`` for clean, else
        ``out_folder/<name>``).

    Raises
    ------
    ValueError
        Bad conditions, or a condition needing noise/RIR files without any.
    FileNotFoundError
        A missing test, noise or RIR file.
    seed_brain.dataio.audio.AudioError
        An unreadable or silent audio file (named in the message).

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.dataio.audio import write_audio, load_audio
    >>> from seed_brain.dataio.trials import prepare_trials
    >>> root = tempfile.mkdtemp()
    >>> test = os.path.join(root, "test")
    >>> for utt in ["a/1.wav", "a/2.wav", "b/1.wav"]:
    ...     write_audio(os.path.join(test, utt), 0.1 * torch.randn(4000))
    >>> write_audio(os.path.join(root, "n.wav"), torch.randn(1000))
    >>> trials = prepare_trials(test, os.path.join(root, "trials.txt"))
    >>> out = prepare_test_conditions(
    ...     test, trials, os.path.join(root, "cond"),
    ...     conditions=[{"name": "noise_0dB", "snr": 0.0, "reverb": False}],
    ...     noise_files=[os.path.join(root, "n.wav")])
    >>> cond = out["noise_0dB"]
    >>> label, enrol, test_file = cond["trials"][0]
    >>> load_audio(os.path.join(cond["test_root"], test_file)).shape
    torch.Size([4000])
    """
    test_folder = _check_folder(test_folder, "Test folder")
    out_folder = os.fspath(out_folder)
    _check_no_space(os.path.abspath(test_folder), "test_folder")
    _check_no_space(os.path.abspath(out_folder), "out_folder")
    conditions = _validate_conditions(
        DEFAULT_CONDITIONS if conditions is None else conditions
    )
    if isinstance(trials, (str, os.PathLike)):
        trials = read_trials(trials, root=test_folder)
    trials = [(int(label), e, t) for label, e, t in trials]
    if not trials:
        raise ValueError("prepare_test_conditions: the trial list is empty.")
    noise_list = _source_list(noise_files, "Noise")
    rir_list = _source_list(rir_files, "RIR")
    if any(c["snr"] is not None for c in conditions) and not noise_list:
        raise ValueError(
            "A condition adds noise but no noise_files were given (pass a "
            "noise folder or list of files, e.g. --test_noise_folder)."
        )
    if any(c["reverb"] for c in conditions) and not rir_list:
        raise ValueError(
            "A condition adds reverberation but no rir_files were given "
            "(pass a RIR folder or list of files, e.g. --test_rir_folder)."
        )
    test_files = sorted({t for _, _, t in trials})
    targets = {}
    for rel in test_files:
        target = _condition_rel(rel)
        if target in targets:
            raise ValueError(
                f"Test files '{targets[target]}' and '{rel}' would both be "
                f"written as '{target}'; rename one."
            )
        targets[target] = rel

    json_path = os.path.join(out_folder, "conditions.json")
    recorded = {}
    if os.path.isfile(json_path):
        try:
            with open(json_path, encoding="utf-8") as f:
                recorded = json.load(f).get("conditions", {})
        except (OSError, ValueError, AttributeError):
            logger.warning("Ignoring unreadable %s.", json_path)
            recorded = {}

    def settings(cond):
        return {
            "snr": cond["snr"],
            "reverb": cond["reverb"],
            "seed": int(seed),
            "sample_rate": int(sample_rate),
            "test_folder": os.path.abspath(test_folder),
            "noise_files": noise_list if cond["snr"] is not None else [],
            "rir_files": rir_list if cond["reverb"] else [],
        }

    summary = {
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "test_folder": os.path.abspath(test_folder),
        "num_test_files": len(test_files),
        "conditions": {},
    }
    for cond in conditions:
        entry = dict(settings(cond))
        entry["root"] = os.path.abspath(
            test_folder
            if cond["snr"] is None and not cond["reverb"]
            else os.path.join(out_folder, cond["name"])
        )
        entry["trials"] = f"trials_{cond['name']}.txt"
        summary["conditions"][cond["name"]] = entry
    # Record complete entries of conditions not requested this time.
    for name, entry in recorded.items():
        summary["conditions"].setdefault(name, entry)

    def save_summary():
        text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
        write_text(json_path, text)

    cache = {}

    def load_all(files, what):
        if what not in cache:
            cache[what] = []
            for path in files:
                wav = load_audio(path, sample_rate)
                if not bool(wav.abs().max() > 0):
                    raise ValueError(
                        f"{what} file '{path}' is silent (all zeros); "
                        "remove it from the list."
                    )
                cache[what].append(wav)
        return cache[what]

    result, total_written = {}, 0
    for cond in conditions:
        name = cond["name"]
        entry = summary["conditions"][name]
        clean = cond["snr"] is None and not cond["reverb"]
        test_root = entry["root"]
        if clean:
            cond_trials = list(trials)
        else:
            cond_trials = [
                (label, e, _condition_rel(t)) for label, e, t in trials
            ]
            previous = recorded.get(name)
            same = previous is not None and all(
                previous.get(k) == v for k, v in settings(cond).items()
            )
            todo = [
                rel
                for rel in test_files
                if not (
                    same and os.path.isfile(_test_target(out_folder, name, rel))
                )
            ]
            entry["num_files"] = len(test_files)
            entry["complete"] = False
            if todo:
                # Recorded before writing: a crash leaves "complete": false
                # with these settings, so the next run resumes.
                save_summary()
            for rel in progress(todo, f"Condition {name}"):
                source = os.path.join(test_folder, *rel.split("/"))
                speech = load_audio(source, sample_rate)
                if not bool(speech.abs().max() > 0):
                    raise ValueError(
                        f"Test file '{source}' is silent; the SNR is "
                        "undefined. Remove it from the trials."
                    )
                noisy = corrupt_utterance(
                    speech,
                    cond,
                    _rng_for(seed, name, rel),
                    noises=load_all(noise_list, "Noise")
                    if cond["snr"] is not None
                    else (),
                    rirs=load_all(rir_list, "RIR") if cond["reverb"] else (),
                )
                # A full disk: an error naming the folder and what the
                # files still to write need (each is whole, or absent).
                with disk_space(
                    test_root,
                    lambda: _wav_bytes(
                        test_folder, todo[todo.index(rel) :], sample_rate
                    ),
                    f"test condition {name}",
                    "point data_folder elsewhere",
                ):
                    write_audio(
                        _test_target(out_folder, name, rel), noisy, sample_rate
                    )
            entry["complete"] = True
            written = len(todo)
            if written:
                logger.info(
                    "Condition %s: wrote %d of %d test files under %s.",
                    name,
                    written,
                    len(test_files),
                    test_root,
                )
            else:
                logger.info(
                    "Condition %s: all %d test files already present; "
                    "nothing written.",
                    name,
                    len(test_files),
                )
            total_written += written
        trials_path = os.path.join(out_folder, entry["trials"])
        lines, checked = [], set()
        for label, e, t in cond_trials:
            e = os.path.join(os.path.abspath(test_folder), e)
            t = os.path.join(test_root, t)
            for path in (e, t):
                if path not in checked:  # each file once, not each trial
                    _check_no_space(path, trials_path)
                    checked.add(path)
            lines.append(f"{label} {e} {t}\n")
        text = "".join(lines)
        if write_text(trials_path, text):
            total_written += 1
        result[name] = {
            "enrol_root": os.path.abspath(test_folder),
            "test_root": test_root,
            "trials": cond_trials,
            "trials_path": os.path.abspath(trials_path),
        }
    save_summary()
    if not total_written:
        logger.info(
            "Test conditions in %s already up to date; nothing written.",
            out_folder,
        )
    return result
