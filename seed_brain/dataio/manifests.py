"""Manifests: the clean-speech CSV and the augmentation CSVs.

All functions are idempotent: a second identical call writes nothing and
says so in the log. Every output is written atomically
(:mod:`seed_brain.utils.files`), so an interrupted run never leaves a
half-written file that a later run would reuse.

Outputs
-------
* :func:`prepare_clean_manifest`: SpeechBrain CSV ``ID,duration,wav`` over
  every audio file below one or more folders (no labels used).
* :func:`prepare_augment_csv`: converts noise or RIR files to mono WAV at
  one sample rate and writes the extended CSV
  ``ID,duration,wav,wav_format,wav_opts`` that
  ``speechbrain.augment.time_domain.AddNoise`` and ``AddReverb`` read.

Trial lists are :mod:`seed_brain.dataio.trials`; the noisy and reverberant
test conditions :mod:`seed_brain.dataio.conditions`.

Authors
 * seed-brain developers 2026
"""

import csv
import io
import logging
import os

from seed_brain.dataio.audio import (
    AudioError,
    audio_info,
    load_audio,
    write_audio,
)
from seed_brain.dataio.listing import (  # noqa: F401 (re-exported)
    _check_folder,
    _is_below,
    _make_id,
    _no_audio_error,
    _rel_posix,
    list_audio_files,
)
from seed_brain.utils.files import write_text
from seed_brain.utils.progress import progress

__all__ = [
    "list_audio_files",
    "prepare_augment_csv",
    "prepare_clean_manifest",
]

logger = logging.getLogger(__name__)


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


def _augment_files(folder, files, include, exclude, out_folder):
    """The source files of an augmentation CSV: ``files`` or the globs."""
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
    return sources


def _convert_augment_file(
    source, folder, out_folder, sample_rate, max_seconds, skip_bad
):
    """One file of an augmentation CSV, converted (once) and maybe split.

    Returns
    -------
    tuple
        ``(rows, files converted)``; ``(None, error)`` for an unusable file
        when ``skip_bad``.
    """
    rel = _rel_posix(source, folder)
    target = os.path.join(
        out_folder, *(os.path.splitext(rel)[0] + ".wav").split("/")
    )
    converted = 0
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
            return None, err
        write_audio(target, wav, sample_rate)
        converted += 1
    rate, frames, _ = audio_info(target)
    pieces = [(_make_id(rel), target, frames)]
    if max_seconds is not None and frames > max_seconds * rate:
        pieces, converted = _split_file(
            target, rel, int(max_seconds * rate), sample_rate, converted
        )
    return [
        {
            "ID": uid,
            "duration": f"{length / rate:.4f}",
            "wav": os.path.abspath(path),
            "wav_format": "wav",
            "wav_opts": "",
        }
        for uid, path, length in pieces
    ], converted


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
    sources = _augment_files(folder, files, include, exclude, out_folder)
    if not sources:
        raise _no_audio_error(folder, include, exclude)

    rows, converted = [], 0
    for source in progress(sources, f"Converting {folder}"):
        pieces, new = _convert_augment_file(
            source, folder, out_folder, sample_rate, max_seconds, skip_bad
        )
        if pieces is None:  # unusable, skipped
            _skip(skipped, source, new)
            continue
        converted += new
        rows.extend(pieces)
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
