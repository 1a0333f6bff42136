"""Data preparation: manifests, augmentation CSVs, trials, test conditions.

All functions are idempotent: a second identical call writes nothing and
says so in the log. Every output is written atomically (temporary file in
the destination folder, then ``os.replace``), so an interrupted run never
leaves a half-written file that a later run would reuse.

Outputs
-------
* :func:`prepare_clean_manifest`: SpeechBrain CSV ``ID,duration,wav`` over
  every audio file below one or more folders (no labels used).
* :func:`prepare_augment_csv`: converts noise or RIR files to mono WAV at
  one sample rate and writes the extended CSV
  ``ID,duration,wav,wav_format,wav_opts`` that
  ``speechbrain.augment.time_domain.AddNoise`` and ``AddReverb`` read.
* :func:`prepare_trials` / :func:`read_trials`: VoxCeleb-style trial lists,
  one ``label enrol test`` line per trial.
* :func:`prepare_test_conditions`: corrupted copies (noise, reverberation,
  both) of the test side of the trials, deterministic per seed.

Signal helpers :func:`mix_at_snr` and :func:`reverberate` are shared with
the rest of the project.

Authors
-------
* seed-brain contributors
"""

import csv
import fnmatch
import io
import json
import logging
import math
import os
import zlib

import numpy as np
import torch

from seed_brain.dataio.audio import (
    AUDIO_EXTENSIONS,
    AudioError,
    audio_info,
    is_audio_file,
    load_audio,
    write_audio,
)
from seed_brain.utils.errors import disk_space
from seed_brain.utils.files import write_text
from seed_brain.utils.progress import progress
from seed_brain.utils.textio import list_lines

__all__ = [
    "DEFAULT_CONDITIONS",
    "corrupt_utterance",
    "list_audio_files",
    "mix_at_snr",
    "prepare_augment_csv",
    "prepare_clean_manifest",
    "prepare_test_conditions",
    "prepare_trials",
    "read_trials",
    "reverberate",
]

logger = logging.getLogger(__name__)

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

MANIFEST_HEADER = ["ID", "duration", "wav"]
AUGMENT_HEADER = ["ID", "duration", "wav", "wav_format", "wav_opts"]


# ---------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------


def _with_skip_hint(err):
    """The same error, with the yaml option that skips such files."""
    return type(err)(
        f"{err} Or set skip_bad_audio: True in the yaml to skip unusable "
        "files (they are counted in results.json)."
    )


def _skip(skipped, path, err):
    """Logs a file skipped as unusable and records it in ``skipped``."""
    logger.warning("Skipping %s (skip_bad_audio): %s", path, err)
    if skipped is not None:
        skipped.append(
            {
                "file": os.path.abspath(path),
                "reason": str(err),
                "kind": "bad_audio",
            }
        )


def _csv_text(header, rows):
    """Renders rows (dicts) as CSV text with ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _check_folder(folder, what="folder"):
    """Raises FileNotFoundError / NotADirectoryError with a clear message."""
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(
            f"{what} '{folder}' does not exist (working directory "
            f"'{os.getcwd()}'). Check the path."
        )
    if not os.path.isdir(folder):
        raise NotADirectoryError(
            f"{what} '{folder}' is not a folder. Pass the folder that holds "
            "the audio files."
        )
    return folder


def _is_below(path, folder):
    """Whether ``path`` lies inside ``folder`` (both made absolute)."""
    path = os.path.abspath(path)
    folder = os.path.abspath(folder)
    return os.path.commonpath([path, folder]) == folder


def _rel_posix(path, root):
    """``path`` relative to ``root`` with ``/`` separators."""
    return os.path.relpath(path, root).replace(os.sep, "/")


def _make_id(relpath, prefix=""):
    """Utterance ID from a relative path: no extension, ``/`` -> ``_``."""
    stem = os.path.splitext(relpath)[0]
    return prefix + stem.replace("/", "_")


def _check_unique_ids(ids, paths, what):
    """Raises ValueError naming two files that map to the same ID."""
    seen = {}
    for utt_id, path in zip(ids, paths):
        if utt_id in seen:
            raise ValueError(
                f"Files '{seen[utt_id]}' and '{path}' both map to the ID "
                f"'{utt_id}' in {what} (IDs are the relative path without "
                "extension, '/' replaced by '_'). Rename one of them."
            )
        seen[utt_id] = path


def list_audio_files(folder, include=None, exclude=None, skip=None):
    """Every audio file below ``folder``, recursively, sorted.

    Arguments
    ---------
    folder : str or os.PathLike
        Folder to search (any layout); symbolic links are followed.
    include : list of str, optional
        Glob patterns (``fnmatch``); a file is kept if its path relative to
        ``folder`` or its base name matches one of them.
    exclude : list of str, optional
        Glob patterns, same matching; matching files are dropped.
    skip : str or os.PathLike, optional
        A folder whose content is ignored (e.g. an output folder placed
        inside ``folder``).

    Returns
    -------
    list of str
        Paths (``folder`` joined with the relative path), sorted by relative
        path. Only :data:`seed_brain.dataio.audio.AUDIO_EXTENSIONS`; hidden
        files are ignored.

    Raises
    ------
    FileNotFoundError
        ``folder`` does not exist.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ["b/x.wav", "a.flac", "b/notes.txt", "noise1.wav"]:
    ...     os.makedirs(os.path.dirname(os.path.join(root, name)),
    ...                 exist_ok=True)
    ...     open(os.path.join(root, name), "w").close()
    >>> [os.path.relpath(p, root) for p in list_audio_files(root)]
    ['a.flac', 'b/x.wav', 'noise1.wav']
    >>> [os.path.relpath(p, root)
    ...  for p in list_audio_files(root, include=["noise*"])]
    ['noise1.wav']
    """
    folder = _check_folder(folder)

    def matches(rel, patterns):
        name = rel.rsplit("/", 1)[-1]
        return any(
            fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p)
            for p in patterns
        )

    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".")
            and not (skip and _is_below(os.path.join(dirpath, d), skip))
        ]
        for name in filenames:
            if not is_audio_file(name):
                continue
            path = os.path.join(dirpath, name)
            rel = _rel_posix(path, folder)
            if include and not matches(rel, include):
                continue
            if exclude and matches(rel, exclude):
                continue
            found.append((rel, os.path.join(folder, *rel.split("/"))))
    return [path for _, path in sorted(found)]


def _no_audio_error(folder, include=None, exclude=None):
    """ValueError for a folder without (matching) audio files."""
    detail = ""
    if include or exclude:
        detail = f" matching include={include} exclude={exclude}"
    return ValueError(
        f"No audio files ({', '.join(AUDIO_EXTENSIONS)}){detail} found "
        f"below '{folder}'. Check the folder (and the patterns)."
    )


# ---------------------------------------------------------------------------
# Clean-speech manifest
# ---------------------------------------------------------------------------


def prepare_clean_manifest(
    folders,
    csv_path,
    sample_rate=16000,
    min_duration=0.0,
    skip_bad=False,
    skipped=None,
):
    """Writes a SpeechBrain CSV listing every audio file below ``folders``.

    No labels are used: any folder layout works. The CSV has the columns
    ``ID,duration,wav``: ``ID`` is the path relative to its folder without
    extension, ``/`` replaced by ``_`` (prefixed with ``<index>_``, the
    folder's position in ``folders``, when several folders are given), so
    it is unique and stable; ``duration`` is in seconds (native rate, 4
    decimals); ``wav`` is the absolute path. Rows are sorted by folder,
    then relative path.

    Arguments
    ---------
    folders : str, os.PathLike or list of them
        Folder(s) searched recursively for audio files.
    csv_path : str or os.PathLike
        CSV to write (folders created as needed).
    sample_rate : int
        Rate the training pipeline loads audio at; files at other rates are
        counted in the log (``load_audio`` resamples them).
    min_duration : float
        Files shorter than this many seconds are skipped (and counted in
        the log).
    skip_bad : bool
        Skip unreadable files (missing, empty, corrupt, truncated, no
        samples) instead of raising; they are logged and added to
        ``skipped``.
    skipped : list or None
        Receives ``{"file": path, "reason": message, "kind": kind}`` for
        every file skipped, ``kind`` ``"too_short"`` (``min_duration``) or
        ``"bad_audio"`` (``skip_bad``).

    Returns
    -------
    list of dict
        The CSV rows, ``{"ID": str, "duration": str, "wav": str}``.

    Raises
    ------
    FileNotFoundError
        A folder does not exist.
    ValueError
        No audio file found, every file too short, or two files with the
        same ID.
    seed_brain.dataio.audio.AudioError
        An unreadable audio file (named in the message), unless
        ``skip_bad``.

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.dataio.audio import write_audio
    >>> root = tempfile.mkdtemp()
    >>> write_audio(os.path.join(root, "spk1", "a.wav"), torch.zeros(16000))
    >>> write_audio(os.path.join(root, "b.wav"), torch.zeros(8000))
    >>> csv_file = os.path.join(root, "out", "train.csv")
    >>> rows = prepare_clean_manifest(root, csv_file)
    >>> [(r["ID"], r["duration"]) for r in rows]
    [('b', '0.5000'), ('spk1_a', '1.0000')]
    >>> open(csv_file).readline().strip()
    'ID,duration,wav'
    """
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    folders = [os.fspath(f) for f in folders]
    if not folders:
        raise ValueError("prepare_clean_manifest needs at least one folder.")
    csv_path = os.fspath(csv_path)
    several = len(folders) > 1

    rows, too_short, other_rate = [], 0, 0
    for index, folder in enumerate(folders):
        _check_folder(folder, "Clean-speech folder")
        files = list_audio_files(folder)
        if not files:
            raise _no_audio_error(folder)
        prefix = f"{index}_" if several else ""
        for path in progress(files, f"Scanning {folder}"):
            try:
                rate, frames, _ = audio_info(path)
            except (AudioError, FileNotFoundError) as err:
                if not skip_bad:
                    raise _with_skip_hint(err) from err
                _skip(skipped, path, err)
                continue
            duration = frames / rate
            if duration < min_duration:
                too_short += 1
                if skipped is not None:
                    skipped.append(
                        {
                            "file": os.path.abspath(path),
                            "reason": f"shorter than min_duration="
                            f"{min_duration} s",
                            "kind": "too_short",
                        }
                    )
                continue
            if rate != sample_rate:
                other_rate += 1
            rows.append(
                {
                    "ID": _make_id(_rel_posix(path, folder), prefix),
                    "duration": f"{duration:.4f}",
                    "wav": os.path.abspath(path),
                }
            )
    if too_short:
        logger.info(
            "Skipped %d file(s) shorter than min_duration=%.2f s.",
            too_short,
            min_duration,
        )
    if not rows:
        raise ValueError(
            f"No usable audio file below {folders}: {too_short} shorter "
            f"than min_duration={min_duration} s (lower min_duration), the "
            "others unreadable (see the log)."
        )
    if other_rate:
        logger.info(
            "%d file(s) are not at %d Hz; load_audio resamples them.",
            other_rate,
            sample_rate,
        )
    _check_unique_ids(
        [r["ID"] for r in rows], [r["wav"] for r in rows], csv_path
    )
    total = sum(float(r["duration"]) for r in rows) / 3600
    if write_text(csv_path, _csv_text(MANIFEST_HEADER, rows)):
        logger.info("Wrote %s: %d files, %.2f h.", csv_path, len(rows), total)
    else:
        logger.info(
            "%s is already up to date (%d files); nothing written.",
            csv_path,
            len(rows),
        )
    return rows


# ---------------------------------------------------------------------------
# Noise / RIR CSV for SpeechBrain's AddNoise and AddReverb
# ---------------------------------------------------------------------------


def _converted_is_current(source, target, sample_rate):
    """Whether ``target`` is a mono WAV at ``sample_rate`` newer than source."""
    if not os.path.isfile(target):
        return False
    if os.path.getmtime(target) < os.path.getmtime(source):
        return False
    try:
        rate, _, channels = audio_info(target)
    except (OSError, ValueError):
        return False
    return rate == sample_rate and channels == 1


def prepare_augment_csv(
    folder,
    csv_path,
    out_folder,
    sample_rate=16000,
    files=None,
    include=None,
    exclude=None,
    max_seconds=None,
    skip_bad=False,
    skipped=None,
):
    """Converts noise or RIR files and writes the CSV AddNoise/AddReverb read.

    SpeechBrain's ``AddNoise`` and ``AddReverb`` assume every file of their
    CSV has one sample rate and they read the channels as they are, so each
    selected file is converted to a mono (channel average) 32-bit float WAV
    at ``sample_rate`` under ``out_folder``, keeping its relative path (the
    extension becomes ``.wav``). A converted file is reused while it is
    newer than its source and has the right rate.

    The CSV is SpeechBrain's extended CSV (read by
    ``speechbrain.dataio.legacy.ExtendedCSVDataset``) with the columns
    ``ID,duration,wav,wav_format,wav_opts``: ``duration`` in seconds,
    ``wav`` the absolute path of the converted file, ``wav_format`` ``wav``
    and ``wav_opts`` empty. Pass it as ``csv_file`` (no ``replacements``
    needed) with ``noise_sample_rate`` / ``reverb_sample_rate`` equal to
    ``sample_rate``.

    Arguments
    ---------
    folder : str or os.PathLike
        Folder holding the noise or RIR files (searched recursively).
    csv_path : str or os.PathLike
        CSV to write.
    out_folder : str or os.PathLike
        Where the converted WAV files go (may not be ``folder`` itself;
        when inside it, it is ignored while searching).
    sample_rate : int
        Sample rate of the converted files, in Hz.
    files : list of str, optional
        Use only these files (paths relative to ``folder``, or absolute
        paths below it) instead of searching the folder.
    include : list of str, optional
        Glob patterns selecting files (relative path or base name), e.g.
        ``["noise[1-5].wav"]``.
    exclude : list of str, optional
        Glob patterns of files to leave out.
    max_seconds : float, optional
        Split converted files longer than this into segments of at most
        this length (``<name>_segNNN.wav``, a last piece shorter than half
        of it is dropped), as SpeechBrain's own noise preparation does
        (``max_noise_len``): ``AddNoise`` loads one file per waveform of a
        batch and pads them all to the longest, so long noise files make
        every batch as long as the longest file. Leave None for RIRs.
    skip_bad : bool
        Skip files that cannot be used (unreadable, NaN samples, all
        silent) instead of raising; they are logged and added to
        ``skipped``. Files without an audio extension (``README.txt``) are
        always ignored.
    skipped : list or None
        Receives ``{"file": path, "reason": message, "kind":
        "bad_audio"}`` for every file skipped by ``skip_bad``.

    Returns
    -------
    list of dict
        The CSV rows (keys as the CSV columns).

    Raises
    ------
    FileNotFoundError
        ``folder`` or a file of ``files`` does not exist.
    ValueError
        No audio file selected, or ``out_folder`` is ``folder``.
    seed_brain.dataio.audio.AudioError
        An unreadable, non-finite or all-silent audio file (named in the
        message), unless ``skip_bad``.

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.dataio.audio import write_audio, audio_info
    >>> root = tempfile.mkdtemp()
    >>> write_audio(os.path.join(root, "noise", "n1.wav"),
    ...             torch.randn(44100), sample_rate=44100)
    >>> write_audio(os.path.join(root, "noise", "n2.wav"),
    ...             torch.randn(8000), sample_rate=8000)
    >>> rows = prepare_augment_csv(
    ...     os.path.join(root, "noise"), os.path.join(root, "noise.csv"),
    ...     os.path.join(root, "noise_16k"), include=["n1*"])
    >>> [(r["ID"], r["duration"], r["wav_format"]) for r in rows]
    [('n1', '1.0000', 'wav')]
    >>> audio_info(rows[0]["wav"])
    (16000, 16000, 1)
    """
    folder = _check_folder(folder, "Augmentation folder")
    csv_path = os.fspath(csv_path)
    out_folder = os.fspath(out_folder)
    if os.path.abspath(out_folder) == os.path.abspath(folder):
        raise ValueError(
            f"out_folder '{out_folder}' is the source folder; the converted "
            "files would replace the originals. Choose another out_folder."
        )
    if files is not None:
        sources = []
        for name in files:
            path = os.path.join(folder, os.fspath(name))
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"Augmentation file '{path}' (from files=) does not "
                    "exist. List paths relative to the folder, or absolute."
                )
            if not _is_below(path, folder):
                raise ValueError(
                    f"'{path}' (from files=) is not below '{folder}'."
                )
            sources.append(path)
        sources = sorted(set(sources), key=lambda p: _rel_posix(p, folder))
    else:
        sources = list_audio_files(
            folder, include=include, exclude=exclude, skip=out_folder
        )
    if not sources:
        raise _no_audio_error(folder, include, exclude)

    rows, converted = [], 0
    for source in progress(sources, f"Converting {folder}"):
        rel = _rel_posix(source, folder)
        target = os.path.join(
            out_folder, *(os.path.splitext(rel)[0] + ".wav").split("/")
        )
        if not _converted_is_current(source, target, sample_rate):
            try:
                wav = load_audio(source, sample_rate)
                if not bool(wav.abs().max() > 0):
                    raise AudioError(
                        f"Audio file '{source}' is all silent (every sample "
                        "is zero): useless as noise or impulse response. "
                        "Remove it."
                    )
            except (AudioError, FileNotFoundError) as err:
                if not skip_bad:
                    raise _with_skip_hint(err) from err
                _skip(skipped, source, err)
                continue
            write_audio(target, wav, sample_rate)
            converted += 1
        rate, frames, _ = audio_info(target)
        pieces = [(_make_id(rel), target, frames)]
        if max_seconds is not None and frames > max_seconds * rate:
            pieces, converted = _split_file(
                target, rel, int(max_seconds * rate), sample_rate, converted
            )
        for uid, path, length in pieces:
            rows.append(
                {
                    "ID": uid,
                    "duration": f"{length / rate:.4f}",
                    "wav": os.path.abspath(path),
                    "wav_format": "wav",
                    "wav_opts": "",
                }
            )
    if not rows:
        raise ValueError(
            f"Every audio file of '{folder}' was skipped as unusable (see "
            "the log): give a folder with usable noise or RIR files."
        )
    _check_unique_ids(
        [r["ID"] for r in rows], [r["wav"] for r in rows], csv_path
    )
    written = write_text(csv_path, _csv_text(AUGMENT_HEADER, rows))
    if converted or written:
        logger.info(
            "Wrote %s: %d files (%d converted to %d Hz mono under %s).",
            csv_path,
            len(rows),
            converted,
            sample_rate,
            out_folder,
        )
    else:
        logger.info(
            "%s and its %d converted files are already up to date; nothing "
            "written.",
            csv_path,
            len(rows),
        )
    return rows


def _split_file(target, rel, seg, sample_rate, converted):
    """Segments of a converted file (written once, reused when current)."""
    stem = os.path.splitext(target)[0]
    wav = None
    rate, frames, _ = audio_info(target)
    pieces = []
    for k, start in enumerate(range(0, frames, seg)):
        length = min(seg, frames - start)
        if length < seg / 2 and k > 0:
            break
        path = f"{stem}_seg{k:03d}.wav"
        fresh = (
            os.path.exists(path)
            and os.path.getmtime(path) >= os.path.getmtime(target)
            and audio_info(path)[1] == length
        )
        if not fresh:
            if wav is None:
                wav = load_audio(target, sample_rate)
            write_audio(path, wav[start : start + length], sample_rate)
            converted += 1
        pieces.append((f"{_make_id(rel)}_seg{k:03d}", path, length))
    return pieces, converted


# ---------------------------------------------------------------------------
# Trials
# ---------------------------------------------------------------------------


def _speaker_utterances(test_folder):
    """``{speaker: [relative paths]}`` for a one-folder-per-speaker layout."""
    test_folder = _check_folder(test_folder, "Test folder")
    loose = [
        name
        for name in sorted(os.listdir(test_folder))
        if is_audio_file(name)
        and os.path.isfile(os.path.join(test_folder, name))
    ]
    if loose:
        raise ValueError(
            f"'{test_folder}' holds audio files outside speaker folders "
            f"(e.g. '{loose[0]}'). The test folder needs one sub-folder per "
            "speaker; move the files into <speaker>/ folders."
        )
    speakers = {}
    for name in sorted(os.listdir(test_folder)):
        path = os.path.join(test_folder, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        files = list_audio_files(path)
        if not files:
            logger.warning("Speaker folder '%s' holds no audio; ignored.", path)
            continue
        speakers[name] = [_rel_posix(f, test_folder) for f in files]
        for rel in speakers[name]:
            _check_no_space(rel, test_folder)
    if not speakers:
        raise ValueError(
            f"No speaker sub-folder with audio files in '{test_folder}'. "
            "The test folder needs one sub-folder per speaker."
        )
    return speakers


def _check_no_space(path, where):
    """Trial lists are whitespace-separated: refuse paths with spaces."""
    if any(c.isspace() for c in path):
        raise ValueError(
            f"'{path}' (in '{where}') contains whitespace, which the "
            "'label enrol test' trial format cannot hold. Rename the file "
            "or folder."
        )


def _allocate(sizes, cap):
    """Splits ``cap`` over groups as evenly as their sizes allow.

    Groups are visited from the smallest; each takes all its items or its
    fair share of what is left (rounded up), so the result sums to
    ``min(cap, sum(sizes))`` and differs by at most one between groups
    that are not exhausted.
    """
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    take = [0] * len(sizes)
    left = cap
    for k, i in enumerate(order):
        share = -(-left // (len(sizes) - k))  # ceil
        take[i] = min(sizes[i], share)
        left -= take[i]
    return take


def _sample(rng, n, k):
    """``k`` distinct sorted indices out of ``range(n)``."""
    if k >= n:
        return range(n)
    return sorted(rng.choice(n, size=k, replace=False).tolist())


def prepare_trials(
    test_folder, trials_path, max_target=None, max_nontarget=None, seed=1234
):
    """Writes a VoxCeleb-style trial list for a one-folder-per-speaker set.

    Every ordered pair of distinct utterances is a trial: target (label 1)
    when both come from the same speaker folder, non-target (0) otherwise.
    Without caps every pair is listed: ``sum n_s (n_s - 1)`` target and
    ``sum n_s (N - n_s)`` non-target trials for ``n_s`` utterances of
    speaker ``s`` and ``N`` in all. Beyond a cap, trials are sampled with a
    fixed seed, balanced across speakers: the target budget is split evenly
    over speakers, the non-target budget evenly over ordered (enrol
    speaker, test speaker) pairs, then pairs are drawn uniformly within
    each group.

    The file has one ``label enrol test`` line per trial (paths relative to
    ``test_folder``, ``/`` separators), sorted by enrol then test path.

    Arguments
    ---------
    test_folder : str or os.PathLike
        One sub-folder per speaker; audio anywhere below each.
    trials_path : str or os.PathLike
        Trial list to write.
    max_target : int, optional
        Most target trials (None: all).
    max_nontarget : int, optional
        Most non-target trials (None: all).
    seed : int
        Seed of the sampling beyond the caps.

    Returns
    -------
    list of tuple
        ``(label, enrol, test)`` with ``label`` an int, paths as written.

    Raises
    ------
    FileNotFoundError
        ``test_folder`` does not exist.
    ValueError
        No speaker folder with audio, or audio outside speaker folders.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for spk in ["s1", "s2"]:
    ...     os.makedirs(os.path.join(root, spk))
    ...     for utt in ["u1.wav", "u2.wav"]:
    ...         open(os.path.join(root, spk, utt), "w").close()
    >>> trials = prepare_trials(root, os.path.join(root, "trials.txt"))
    >>> sum(t[0] for t in trials), len(trials)
    (4, 12)
    >>> open(os.path.join(root, "trials.txt")).readline().strip()
    '1 s1/u1.wav s1/u2.wav'
    """
    trials_path = os.fspath(trials_path)
    for name, cap in (
        ("max_target", max_target),
        ("max_nontarget", max_nontarget),
    ):
        if cap is not None and (int(cap) != cap or cap < 0):
            raise ValueError(f"{name} must be a non-negative int, got {cap!r}.")
    speakers = _speaker_utterances(test_folder)
    names = sorted(speakers)
    rng = np.random.default_rng([seed, zlib.crc32(b"trials")])
    trials = []

    # Target trials: group = speaker; pairs indexed as e * n + t, e != t.
    sizes = [len(speakers[s]) * (len(speakers[s]) - 1) for s in names]
    cap = sum(sizes) if max_target is None else int(max_target)
    for spk, size, take in zip(names, sizes, _allocate(sizes, cap)):
        utts = speakers[spk]
        n = len(utts)
        for index in _sample(rng, size, take):
            e, t = divmod(index, n - 1)
            t += t >= e  # skip the diagonal
            trials.append((1, utts[e], utts[t]))

    # Non-target trials: group = ordered pair of distinct speakers.
    groups = [(a, b) for a in names for b in names if a != b]
    sizes = [len(speakers[a]) * len(speakers[b]) for a, b in groups]
    cap = sum(sizes) if max_nontarget is None else int(max_nontarget)
    for (a, b), size, take in zip(groups, sizes, _allocate(sizes, cap)):
        n_b = len(speakers[b])
        for index in _sample(rng, size, take):
            e, t = divmod(index, n_b)
            trials.append((0, speakers[a][e], speakers[b][t]))

    trials.sort(key=lambda x: (x[1], x[2]))
    num_target = sum(label for label, _, _ in trials)
    if num_target == 0:
        logger.warning(
            "No target trial: every speaker folder of '%s' holds a single "
            "utterance.",
            test_folder,
        )
    if len(trials) == num_target:
        logger.warning(
            "No non-target trial: '%s' holds a single speaker.", test_folder
        )
    text = "".join(f"{label} {e} {t}\n" for label, e, t in trials)
    if write_text(trials_path, text):
        logger.info(
            "Wrote %s: %d target and %d non-target trials over %d speakers.",
            trials_path,
            num_target,
            len(trials) - num_target,
            len(names),
        )
    else:
        logger.info(
            "%s is already up to date (%d trials); nothing written.",
            trials_path,
            len(trials),
        )
    return trials


def read_trials(path, root=None):
    """Reads and validates a ``label enrol test`` trial list.

    Every line must have exactly three fields separated by spaces or
    tabs: label ``1`` (target) or ``0`` (non-target), then the enrolment
    and test paths (relative to ``root`` or absolute). Lists from other
    systems are read as they are (:func:`seed_brain.utils.textio.list_lines`):
    UTF-8 with or without a byte-order mark, LF or CRLF, trailing blanks;
    blank lines and ``#`` comments are ignored.

    Arguments
    ---------
    path : str or os.PathLike
        Trial list (VoxCeleb style).
    root : str or os.PathLike, optional
        When given, every enrol and test file must exist (relative paths
        are taken relative to ``root``).

    Returns
    -------
    list of tuple
        ``(label, enrol, test)``, ``label`` an int, paths as written.

    Raises
    ------
    FileNotFoundError
        The trial list, or (with ``root``) a file it names, is missing; the
        message gives the file and line.
    ValueError
        A malformed line, a trial repeated (same enrol and test), a file
        compared with itself, an empty list, or bytes that are not UTF-8
        text (:class:`seed_brain.utils.errors.TextFormatError`); the message
        gives the file, line number(s) and the expected format.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "trials.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("1 a/1.wav a/2.wav\\n0 a/1.wav b/1.wav\\n")
    >>> read_trials(path)
    [(1, 'a/1.wav', 'a/2.wav'), (0, 'a/1.wav', 'b/1.wav')]
    >>> with open(path, "a") as f:
    ...     _ = f.write("1 a/1.wav\\n")
    >>> read_trials(path)
    Traceback (most recent call last):
    ...
    ValueError: ...trials.txt, line 3: expected 'label enrol test'...
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Trial list '{path}' not found. Create it with prepare_trials "
            "(recipes/prepare_seed_data.py) or fix the path."
        )
    expected = (
        "expected 'label enrol test' (label 1 for target, 0 for non-target; "
        "three fields separated by spaces)"
    )
    trials, seen, exists = [], {}, {}
    for lineno, fields in list_lines(path, "Trial list"):
        if len(fields) != 3 or fields[0] not in ("0", "1"):
            raise ValueError(
                f"{path}, line {lineno}: {expected}; got {' '.join(fields)!r}."
            )
        label, enrol, test = int(fields[0]), fields[1], fields[2]
        if enrol == test:
            raise ValueError(
                f"{path}, line {lineno}: '{enrol}' is compared with "
                "itself; remove the line."
            )
        if (enrol, test) in seen:
            raise ValueError(
                f"{path}, line {lineno}: duplicate trial '{enrol} "
                f"{test}' (first on line {seen[(enrol, test)]}); remove "
                "one."
            )
        seen[(enrol, test)] = lineno
        if root is not None:
            for name in (enrol, test):
                if name not in exists:
                    full = os.path.join(os.fspath(root), name)
                    exists[name] = os.path.isfile(full)
                if not exists[name]:
                    raise FileNotFoundError(
                        f"{path}, line {lineno}: audio file '{name}' "
                        f"not found under root '{root}'. Fix the root "
                        "or the trial list."
                    )
        trials.append((label, enrol, test))
    if not trials:
        raise ValueError(f"Trial list '{path}' holds no trial; {expected}.")
    return trials


# ---------------------------------------------------------------------------
# Signal helpers
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Corrupted test conditions
# ---------------------------------------------------------------------------


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
        lines = []
        for label, e, t in cond_trials:
            e = os.path.join(os.path.abspath(test_folder), e)
            t = os.path.join(test_root, t)
            _check_no_space(e, trials_path)
            _check_no_space(t, trials_path)
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
