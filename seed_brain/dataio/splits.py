"""Splits of the recipe's data: the dev utterances, the held-out speakers,
the short-segment test plans and the segment files they are cut into.

Authors
 * seed-brain developers 2026
"""

import json
import logging
import os
import zlib

import numpy as np

from seed_brain.dataio.audio import (
    audio_info,
    load_audio,
    write_audio,
)
from seed_brain.dataio.conditions import (
    _condition_rel,
)
from seed_brain.utils.files import write_text
from seed_brain.utils.progress import progress

logger = logging.getLogger(__name__)

__all__ = [
    "heldout_plans",
    "short_test_plan",
    "split_dev",
    "split_heldout",
    "spread_starts",
    "write_segments",
]


def split_dev(rows, dev_utterances, seed, min_seconds=0.0):
    """Holds ``dev_utterances`` manifest rows out of training (seeded).

    Arguments
    ---------
    rows : list of dict
        Manifest rows (``ID``, ``duration``, ``wav``).
    dev_utterances : int
        How many to hold out, drawn at random among the rows of at least
        ``min_seconds``.
    seed : int
        Seed of the choice.
    min_seconds : float
        Shortest eligible utterance (room for two dev segments).

    Returns
    -------
    tuple
        ``(train_rows, dev_rows)``.

    Example
    -------
    >>> rows = [{"ID": str(i), "duration": "5", "wav": ""} for i in range(6)]
    >>> train, dev = split_dev(rows, 2, seed=0)
    >>> len(train), len(dev), set(r["ID"] for r in train + dev) == set(
    ...     r["ID"] for r in rows)
    (4, 2, True)
    """
    if dev_utterances <= 0:
        return list(rows), []
    if dev_utterances >= len(rows):
        raise ValueError(
            f"dev_utterances={dev_utterances} would leave no training "
            f"utterance out of {len(rows)}: lower dev_utterances."
        )
    eligible = [
        i for i, r in enumerate(rows) if float(r["duration"]) >= min_seconds
    ]
    if len(eligible) < dev_utterances:
        raise ValueError(
            f"Only {len(eligible)} clean utterances last {min_seconds} s or "
            f"more, {dev_utterances} are needed for the dev set: lower "
            "dev_utterances or dev_segment_seconds."
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(eligible)
    dev_idx = set(order[:dev_utterances].tolist())
    train = [r for i, r in enumerate(rows) if i not in dev_idx]
    dev = [r for i, r in enumerate(rows) if i in dev_idx]
    return train, dev


def split_heldout(
    rows,
    dev_utterances,
    test_utterances,
    seed,
    dev_min_seconds=0.0,
    test_min_seconds=0.0,
):
    """Draws the dev and the held-out test utterances out of ``rows``.

    The dev draw is the one of :func:`split_dev` (same seed, same rows);
    the held-out test utterances are then drawn, with their own seeded
    stream, among the rows left. No label is used: every row is its own
    identity.

    Arguments
    ---------
    rows : list of dict
        Candidate manifest rows (``ID``, ``duration``, ``wav``).
    dev_utterances : int
        How many dev utterances (0: none).
    test_utterances : int
        How many held-out test utterances (0: none).
    seed : int
        Seed of both draws.
    dev_min_seconds : float
        Shortest eligible dev utterance.
    test_min_seconds : float
        Shortest eligible held-out test utterance.

    Returns
    -------
    tuple
        ``(rest, dev_rows, test_rows)``, each in manifest order.

    Example
    -------
    >>> rows = [{"ID": str(i), "duration": str(i), "wav": ""}
    ...         for i in range(10)]
    >>> rest, dev, test = split_heldout(rows, 2, 3, seed=0,
    ...                                 test_min_seconds=5)
    >>> len(rest), len(dev), len(test)
    (5, 2, 3)
    >>> all(float(r["duration"]) >= 5 for r in test)
    True
    >>> len({r["ID"] for r in rest + dev + test})
    10
    """

    def draw(count, min_seconds, taken, key, what):
        eligible = [
            i
            for i, r in enumerate(rows)
            if i not in taken and float(r["duration"]) >= min_seconds
        ]
        if len(eligible) < count:
            raise ValueError(
                f"Only {len(eligible)} held-out candidate utterances last "
                f"{min_seconds} s or more{' after the dev draw' * bool(taken)}"
                f", {count} are needed for the {what}, or give more files "
                "(heldout_folder)."
            )
        order = np.random.default_rng(key).permutation(eligible)
        return set(order[:count].tolist())

    dev_idx, test_idx = set(), set()
    if dev_utterances > 0:
        dev_idx = draw(
            dev_utterances,
            dev_min_seconds,
            set(),
            seed,
            "dev set: lower dev_utterances or dev_segment_seconds",
        )
    if test_utterances > 0:
        test_idx = draw(
            test_utterances,
            test_min_seconds,
            dev_idx,
            [seed, zlib.crc32(b"heldout")],
            "held-out test: lower heldout_test_utterances, "
            "heldout_segments or test_segment_seconds",
        )
    rest = [r for i, r in enumerate(rows) if i not in dev_idx | test_idx]
    dev = [r for i, r in enumerate(rows) if i in dev_idx]
    test = [r for i, r in enumerate(rows) if i in test_idx]
    return rest, dev, test


def spread_starts(num_samples, length, count):
    """Start samples of ``count`` stretches of ``length`` spread over a file.

    The first starts at 0, the last ends at the end of the file, the
    others are evenly spaced between; they do not overlap when the file
    holds ``count * length`` samples.

    Arguments
    ---------
    num_samples : int
        Length of the file.
    length : int
        Length of each stretch (at most ``num_samples``).
    count : int
        Number of stretches.

    Returns
    -------
    list of int

    Example
    -------
    >>> spread_starts(100, 30, 3)
    [0, 35, 70]
    >>> spread_starts(100, 50, 2)
    [0, 50]
    """
    if not 0 < length <= num_samples:
        raise ValueError(
            f"A stretch of {length} samples does not fit in {num_samples}."
        )
    if count == 1:
        return [0]
    span = num_samples - length
    return [int(k * span // (count - 1)) for k in range(count)]


def _native_samples(path, sample_rate):
    """Samples of a file once loaded at ``sample_rate`` (rounded down)."""
    rate, frames, _ = audio_info(path)
    return frames * sample_rate // rate


def heldout_plans(
    rows,
    segments=3,
    segment_seconds=3.0,
    long_seconds=6.0,
    sample_rate=16000,
):
    """What the held-out test sets cut out of each held-out file.

    ``heldout_short``: ``segments`` stretches of ``segment_seconds``
    spread over the file (:func:`spread_starts`); ``heldout_long``: two
    stretches of ``long_seconds``, or the two halves of a shorter file.
    Each file gets its own folder (its own identity), so that
    :func:`seed_brain.dataio.trials.prepare_trials` makes segments of one
    file target trials.

    Arguments
    ---------
    rows : list of dict
        Held-out manifest rows (``ID``, ``wav``).
    segments : int
        Short segments per file.
    segment_seconds : float or None
        Short-segment length; None: no ``heldout_short`` plan.
    long_seconds : float
        Longest long segment.
    sample_rate : int
        Rate of the segments.

    Returns
    -------
    dict
        ``{set name: {relative output path: [source, start, length]}}``.
    """
    plans = {"heldout_short": {}, "heldout_long": {}}
    if segment_seconds is None:
        del plans["heldout_short"]
    for row in rows:
        uid, src = row["ID"], os.path.abspath(row["wav"])
        total = _native_samples(src, sample_rate)
        if segment_seconds is not None:
            seg = int(round(segment_seconds * sample_rate))
            if seg > total:
                raise ValueError(
                    f"Held-out file {src} is shorter than one segment of "
                    f"{segment_seconds} s: lower test_segment_seconds."
                )
            for k, start in enumerate(spread_starts(total, seg, segments)):
                plans["heldout_short"][f"{uid}/s{k}.wav"] = [src, start, seg]
        half = min(int(round(long_seconds * sample_rate)), total // 2)
        for k, start in enumerate(spread_starts(total, half, 2)):
            plans["heldout_long"][f"{uid}/h{k}.wav"] = [src, start, half]
    return plans


def short_test_plan(trials, root, segment_seconds, sample_rate=16000, seed=0):
    """One seeded stretch of ``segment_seconds`` of every file of a trial list.

    Files shorter than that are kept whole. The stretch of a file keeps
    its relative path (extension ``.wav``; a full path loses its leading
    ``/``), so the trial structure stays the one of the list.

    Arguments
    ---------
    trials : list of tuple
        ``(label, enrol, test)``, paths relative to ``root`` or full.
    root : str
        Folder the trial paths are relative to.
    segment_seconds : float
        Stretch length.
    sample_rate : int
        Rate of the stretches.
    seed : int
        Seed of the offsets (one stream per file).

    Returns
    -------
    tuple
        ``(plan, mapping)``: ``{output path: [source, start, length]}``
        (length None: the whole file) and ``{trial path: output path}``.
    """
    seg = int(round(segment_seconds * sample_rate))
    plan, mapping = {}, {}
    for path in sorted({p for _, e, t in trials for p in (e, t)}):
        out = _condition_rel(path)
        if out in plan:
            first = next(k for k, v in mapping.items() if v == out)
            raise ValueError(
                f"Test files '{first}' and '{path}' would both be cut to "
                f"'{out}'; rename one."
            )
        src = os.path.abspath(os.path.join(root, path))
        total = _native_samples(src, sample_rate)
        if total <= seg:
            plan[out] = [src, 0, None]
        else:
            rng = np.random.default_rng(
                [int(seed) & 0xFFFFFFFF, zlib.crc32(path.encode("utf-8"))]
            )
            plan[out] = [src, int(rng.integers(0, total - seg + 1)), seg]
        mapping[path] = out
    return plan, mapping


def write_segments(folder, plan, sample_rate=16000, settings=None):
    """Writes the stretches of a plan below ``folder/audio``, resumably.

    ``folder/segments.json`` records the plan and ``settings``; when they
    differ from those recorded, the whole ``folder`` (segments, trials,
    corrupted copies) is deleted first, so nothing stale survives. Files
    are written atomically and once: a rerun (also after a crash) writes
    only the missing ones.

    Arguments
    ---------
    folder : str
        The test set's folder.
    plan : dict
        ``{relative path: [source, start, length or None]}``.
    sample_rate : int
        Rate the sources are loaded at.
    settings : dict or None
        More settings to record (JSON values).

    Returns
    -------
    str
        ``folder/audio``, the root of the written files.

    Example
    -------
    >>> import os, tempfile, torch
    >>> root = tempfile.mkdtemp()
    >>> src = os.path.join(root, "a.wav")
    >>> write_audio(src, torch.arange(1, 11).float())
    >>> audio = write_segments(os.path.join(root, "set"),
    ...                        {"a/s0.wav": [src, 2, 3]})
    >>> load_audio(os.path.join(audio, "a", "s0.wav")).tolist()
    [3.0, 4.0, 5.0]
    """
    import shutil

    record = {
        "sample_rate": int(sample_rate),
        "settings": settings or {},
        "files": {k: list(v) for k, v in sorted(plan.items())},
    }
    json_path = os.path.join(folder, "segments.json")
    audio = os.path.join(folder, "audio")
    old = None
    if os.path.isfile(json_path):
        try:
            with open(json_path, encoding="utf-8") as fin:
                old = json.load(fin)
        except ValueError:
            old = None
    same = old is not None and all(old.get(k) == v for k, v in record.items())
    if not same and os.path.isdir(folder):
        logger.info("%s: other settings than recorded; rebuilt.", folder)
        shutil.rmtree(folder)
    if same and old.get("complete"):
        missing = [
            rel
            for rel in record["files"]
            if not os.path.isfile(os.path.join(audio, *rel.split("/")))
        ]
    else:
        missing = list(record["files"])
    if not missing:
        return audio
    write_text(json_path, json.dumps({**record, "complete": False}))
    by_source = {}
    for rel in missing:
        by_source.setdefault(record["files"][rel][0], []).append(rel)
    for src, rels in progress(
        sorted(by_source.items()), f"Cutting {os.path.basename(folder)}"
    ):
        wav = None
        for rel in rels:
            target = os.path.join(audio, *rel.split("/"))
            if os.path.isfile(target):
                continue
            if wav is None:
                wav = load_audio(src, sample_rate)
            _, start, length = record["files"][rel]
            end = wav.numel() if length is None else start + length
            write_audio(target, wav[start:end], sample_rate)
    write_text(json_path, json.dumps({**record, "complete": True}))
    return audio
