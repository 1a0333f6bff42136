"""Trial lists: writing VoxCeleb-style lists (one ``label enrol test`` line
per trial) over speaker folders, and reading them back.

Authors
 * seed-brain developers 2026
"""

import logging
import os
import re
import zlib

import numpy as np

from seed_brain.dataio.audio import (
    is_audio_file,
)
from seed_brain.dataio.manifests import (
    _check_folder,
    _rel_posix,
    list_audio_files,
)
from seed_brain.utils.files import write_text
from seed_brain.utils.textio import list_lines

logger = logging.getLogger(__name__)

__all__ = [
    "prepare_trials",
    "read_trials",
]


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


#: Any whitespace character (what str.isspace() counts, Unicode included).
_WHITESPACE = re.compile(r"\s")


def _check_no_space(path, where):
    """Trial lists are whitespace-separated: refuse paths with spaces."""
    if _WHITESPACE.search(path):
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


def _note_pair(seen, pair, lineno, at, fix="remove one."):
    """Records where the trial ``pair`` stands; a second time raises.

    ``seen`` maps each ``(enrol, test)`` pair to its first line; the error
    names ``at``, the first line, and ends with ``fix``.
    """
    if pair in seen:
        raise ValueError(
            f"{at}: duplicate trial '{pair[0]} {pair[1]}' (first on line "
            f"{seen[pair]}); {fix}"
        )
    seen[pair] = lineno


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
        _note_pair(seen, (enrol, test), lineno, f"{path}, line {lineno}")
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
