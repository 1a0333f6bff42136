"""Recipe glue: data preparation and datasets of the SEED recipe.

:func:`prepare_seed_data` runs every preparation step of ``train.py`` (on
the main process) from plain folders: a label-free training manifest, noise
and RIR CSVs for SpeechBrain's augmenters, a held-out dev trial list, the
test trial list and its noisy test conditions. :func:`train_dataset`
builds the ``DynamicItemDataset`` of random crops for online training.

The dev set needs no speaker labels either: a few training utterances are
held out, cut into segments, and segments of one utterance are target
trials (different segments, same speaker), segments of different
utterances non-target ones. The test side of each dev trial is corrupted
with the *training* noise and RIRs (never the test ones), so model
selection never sees the test conditions.

Authors
 * seed-brain developers 2026
"""

import json
import logging
import os
import zlib

import numpy as np
import speechbrain as sb
import torch

from seed_brain.dataio import manifests as dataprep
from seed_brain.dataio.audio import (
    AudioError,
    audio_info,
    check_audio,
    load_audio,
    write_audio,
)
from seed_brain.dataio.conditions import (
    _condition_rel,
    corrupt_utterance,
    prepare_test_conditions,
)
from seed_brain.dataio.trials import prepare_trials, read_trials
from seed_brain.utils.files import file_key, read_json, write_text
from seed_brain.utils.progress import progress
from seed_brain.views.cache import crop_starts, take_crop

logger = logging.getLogger(__name__)

PREPARED = "prepared.json"
CHECKS = "audio_check.json"


def _read_csv(path):
    import csv

    with open(path, newline="", encoding="utf-8") as fin:
        return list(csv.DictReader(fin))


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


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


def _prepare_test_set(folder, audio, trials, corrupt):
    """Corrupted conditions of one extra test set; its prepared entry."""
    conds = prepare_test_conditions(
        audio,
        trials,
        os.path.join(folder, "conditions"),
        conditions=corrupt["conditions"],
        noise_files=corrupt["noise"],
        rir_files=corrupt["rirs"],
        sample_rate=corrupt["sample_rate"],
        seed=corrupt["seed"],
    )
    trials = [list(t) for t in trials]
    for cond_name, cond in conds.items():
        # Segment files are .wav: every condition keeps the same paths.
        assert [list(t) for t in cond["trials"]] == trials, cond_name
    return {
        "trials": trials,
        "conditions": {
            cond_name: {
                "enrol_root": c["enrol_root"],
                "test_root": c["test_root"],
            }
            for cond_name, c in conds.items()
        },
    }


def prepare_dev_set(
    dev_rows,
    out_folder,
    noise_files,
    rir_files,
    segment_seconds=3.0,
    max_segments=4,
    snr_range=(0.0, 10.0),
    sample_rate=16000,
    seed=1234,
):
    """Writes dev segments (clean and corrupted) and the dev trial list.

    Arguments
    ---------
    dev_rows : list of dict
        Held-out manifest rows.
    out_folder : str
        Where ``clean/``, ``noisy/`` and ``dev_trials.txt`` go.
    noise_files : list of str
        Training noise files (converted, at ``sample_rate``).
    rir_files : list of str
        Training RIR files (converted, at ``sample_rate``).
    segment_seconds : float
        Segment length.
    max_segments : int
        At most this many segments per utterance.
    snr_range : tuple
        Noise SNR range in dB.
    sample_rate : int
        Audio rate.
    seed : int
        Seed of every choice.

    Returns
    -------
    dict
        ``{"items": {id: path}, "trials": [(label, enrol_id, test_id)]}``.
    """
    seg = int(segment_seconds * sample_rate)
    noises = [load_audio(f, sample_rate) for f in noise_files]
    rirs = [load_audio(f, sample_rate) for f in rir_files]
    kinds = []
    if noises:
        kinds.append("noise")
    if rirs:
        kinds.append("reverb")
    if noises and rirs:
        kinds.append("reverb_noise")
    if not kinds:
        raise ValueError(
            "The dev set needs training noise or RIR files to corrupt its "
            "test side: give noise_folder and/or rir_folder."
        )
    items, segments = {}, {}
    for row in dev_rows:
        uid = row["ID"]
        wav = load_audio(row["wav"], sample_rate)
        count = min(max_segments, wav.numel() // seg)
        if count < 2:
            raise ValueError(
                f"Dev utterance {row['wav']} is shorter than two segments "
                f"of {segment_seconds} s: lower dev_segment_seconds or "
                "raise min_duration."
            )
        segments[uid] = []
        for k in range(count):
            sid = f"{uid}_{k}"
            chunk = wav[k * seg : (k + 1) * seg]
            rng = np.random.default_rng([seed, k, *map(ord, uid[-16:])])
            kind = kinds[int(rng.integers(len(kinds)))]
            snr = float(rng.uniform(*snr_range))
            cond = {
                "name": kind,
                "snr": None if kind == "reverb" else snr,
                "reverb": kind != "noise",
            }
            clean_path = os.path.join(out_folder, "clean", f"{sid}.wav")
            noisy_path = os.path.join(out_folder, "noisy", f"{sid}.wav")
            if not os.path.exists(clean_path):
                write_audio(clean_path, chunk, sample_rate)
            if not os.path.exists(noisy_path):
                if not bool(chunk.abs().max() > 0):
                    raise AudioError(
                        f"Dev segment {k} of '{row['wav']}' (from "
                        f"{k * segment_seconds} s) is all silent, so no SNR "
                        "can be set: remove that file from the clean folder "
                        "or change 'seed' to hold out other utterances."
                    )
                noisy = corrupt_utterance(chunk, cond, rng, noises, rirs)
                write_audio(noisy_path, noisy, sample_rate)
            items[f"dev_clean/{sid}"] = clean_path
            items[f"dev_noisy/{sid}"] = noisy_path
            segments[uid].append(sid)
    trials = []
    for uid, segs in segments.items():
        for other, osegs in segments.items():
            for a in segs:
                for b in osegs:
                    if a != b:
                        trials.append(
                            (
                                int(uid == other),
                                f"dev_clean/{a}",
                                f"dev_noisy/{b}",
                            )
                        )
    write_text(
        os.path.join(out_folder, "dev_trials.txt"),
        "".join(f"{lab} {a} {b}\n" for lab, a, b in trials),
    )
    return {"items": items, "trials": trials}


def prepare_seed_data(
    data_folder,
    clean_folder,
    test_folder,
    noise_folder=None,
    rir_folder=None,
    music_folder=None,
    test_noise_folder=None,
    test_rir_folder=None,
    noise_include=None,
    noise_exclude=None,
    rir_include=None,
    rir_exclude=None,
    music_include=None,
    music_exclude=None,
    test_noise_include=None,
    test_noise_exclude=None,
    test_rir_include=None,
    test_rir_exclude=None,
    conditions=None,
    max_target=None,
    max_nontarget=None,
    min_duration=1.0,
    dev_utterances=10,
    dev_segment_seconds=3.0,
    dev_max_segments=4,
    sample_rate=16000,
    seed=1234,
    noise_max_seconds=None,
    skip_bad_audio=False,
    synthetic_noise=0,
    synthetic_rirs=0,
    test_trials=None,
    heldout_folder=None,
    heldout_include=None,
    heldout_exclude=None,
    heldout_test_utterances=0,
    heldout_segments=3,
    heldout_long_seconds=6.0,
    test_segment_seconds=None,
):
    """Prepares everything the recipe reads, into ``data_folder``.

    Writes ``train.csv`` (label-free manifest, dev utterances removed),
    ``noise.csv`` / ``music.csv`` / ``rir.csv`` (SpeechBrain augmenter
    CSVs of converted 16 kHz mono files), ``dev/`` (dev segments and
    trials), ``trials.txt`` (test trials), ``conditions/`` (noisy test
    files), ``test_sets/`` (the short and held-out test sets below) and
    ``prepared.json`` describing it all. Every step is idempotent; see
    :mod:`seed_brain.dataio.manifests`.

    Held-out utterances (the dev set and the ``heldout_*`` test sets) are
    drawn from ``heldout_folder`` (default: the clean files); each file is
    its own identity, so no label is needed. Every held-out file is
    removed from ``train.csv`` (compared by real path), also when
    ``heldout_folder`` lies inside ``clean_folder``; held-out files that
    are not clean files pass the same checks (``min_duration``, audio
    screening).

    Extra test sets (``prepared["test_sets"]``; every ordered pair of
    distinct files, test side corrupted with the test conditions' noise
    and rooms, trial caps applied as for the main test):

    * ``test_short``: every file of the test trials cut to one seeded
      stretch of ``test_segment_seconds`` (shorter files kept whole), the
      trials of the main test;
    * ``heldout_short``: ``heldout_segments`` segments of
      ``test_segment_seconds`` of each held-out test file; target trials
      pair segments of one file;
    * ``heldout_long``: two segments of ``heldout_long_seconds`` (or the
      two halves) of each held-out test file.

    Arguments
    ---------
    data_folder : str
        Output folder.
    clean_folder : str or list of str
        Clean speech, any layout, no labels.
    test_folder : str
        Test speech, one sub-folder per speaker.
    noise_folder, rir_folder, music_folder : str or None
        Training augmentation sources (music defaults to noise).
    test_noise_folder, test_rir_folder : str or None
        Test-condition sources (default: the training ones).
    noise_include, noise_exclude, ... : list of str or None
        Glob patterns selecting files of each source (e.g. train on
        ``noise[1-5].wav`` and test on the rest of one folder).
    conditions : list of dict or None
        Test conditions (default: ``conditions.DEFAULT_CONDITIONS``).
    max_target, max_nontarget : int or None
        Trial caps.
    min_duration : float
        Shorter clean files are skipped.
    dev_utterances : int
        Clean utterances held out for the dev trials.
    dev_segment_seconds : float
        Length of dev segments.
    dev_max_segments : int
        Segments per dev utterance at most.
    sample_rate : int
        Audio rate.
    seed : int
        Seed of every random choice.
    noise_max_seconds : float or None
        Split training noise and music files into segments of at most this
        length (SpeechBrain's ``AddNoise`` pads a batch to its longest
        noise file); None keeps them whole.
    test_trials : str or None
        A ``label enrol test`` trial list to use instead of all pairs of
        ``test_folder``'s speaker folders; paths relative to
        ``test_folder``, or full paths (``test_folder`` may then be None).
    skip_bad_audio : bool
        Skip unusable clean, noise and RIR files (unreadable, NaN or
        infinite samples, all silent) instead of stopping with an error
        that names them; test files are never skipped. Skipped files are
        logged and listed in ``prepared["skipped"]``.
    synthetic_noise, synthetic_rirs : int
        Generated noise files / simulated rooms added to the *training*
        noise and RIR banks (:mod:`seed_brain.dataio.synthetic`); 0 adds none.
        The test conditions never use them.
    heldout_folder : str or list of str or None
        Where the held-out utterances are drawn from (None: the clean
        files).
    heldout_include, heldout_exclude : list of str or None
        Glob patterns picking held-out candidates (relative to
        ``heldout_folder``, or base names), e.g. ``["1737/*"]`` to keep a
        speaker that training also holds out of the held-out sets.
    heldout_test_utterances : int
        Held-out test files (never in training or dev); 0: no
        ``heldout_*`` sets.
    heldout_segments : int
        Segments per held-out file in ``heldout_short``.
    heldout_long_seconds : float
        Length of the two segments of ``heldout_long``.
    test_segment_seconds : float or None
        Segment length of ``test_short`` and ``heldout_short``; None: no
        short sets.

    Returns
    -------
    dict
        The content of ``prepared.json``; ``prepared["skipped"]`` counts
        the files left out (``too_short``: ``min_duration``;
        ``bad_audio``: ``skip_bad_audio``) and lists the bad ones.

    Raises
    ------
    FileNotFoundError, seed_brain.dataio.audio.AudioError, ValueError
        Unusable input (see :func:`validate_inputs`), named in the message
        with the fix, before any embedding or training.
    """
    os.makedirs(data_folder, exist_ok=True)
    if test_trials is not None:  # a bad line stops here, before any work
        read_trials(test_trials, root=test_folder or "/")
    if music_folder is None:  # music falls back to the noise files
        music_folder = noise_folder
        music_include = (
            noise_include if music_include is None else music_include
        )
        music_exclude = (
            noise_exclude if music_exclude is None else music_exclude
        )
    sources = {
        "noise": (noise_folder, noise_include, noise_exclude),
        "music": (music_folder, music_include, music_exclude),
        "rir": (rir_folder, rir_include, rir_exclude),
    }
    augment, skipped = {}, []
    synthetic = {"noise": synthetic_noise, "rir": synthetic_rirs}
    for name, (folder, include, exclude) in sources.items():
        if folder is None:
            augment[name] = None
            continue
        csv_path = os.path.join(data_folder, f"{name}.csv")
        if synthetic.get(name):
            csv_path = os.path.join(data_folder, f"{name}_real.csv")
        rows = dataprep.prepare_augment_csv(
            folder,
            csv_path,
            os.path.join(data_folder, "augment", name),
            sample_rate=sample_rate,
            include=_as_list(include),
            exclude=_as_list(exclude),
            max_seconds=None if name == "rir" else noise_max_seconds,
            skip_bad=skip_bad_audio,
            skipped=skipped,
        )
        files = [r["wav"] for r in rows]
        augment[name] = {"csv": csv_path, "files": files, "real_files": files}
        if synthetic.get(name):
            augment[name] = _add_synthetic(
                data_folder, name, rows, synthetic[name], sample_rate, seed
            )

    all_csv = os.path.join(data_folder, "clean_all.csv")
    rows = dataprep.prepare_clean_manifest(
        _as_list(clean_folder),
        all_csv,
        sample_rate,
        min_duration,
        skip_bad=skip_bad_audio,
        skipped=skipped,
    )
    # Decoded once (results kept in audio_check.json): silent or NaN
    # files stop the run here, not in the middle of the embedding cache.
    check_json = os.path.join(data_folder, CHECKS)
    bad = screen_audio([r["wav"] for r in rows], check_json)
    if bad and not skip_bad_audio:
        raise AudioError(_bad_files_message(bad, "clean speech"))
    for path, reason in bad.items():
        logger.warning("Skipping %s (skip_bad_audio): %s", path, reason)
        skipped.append({"file": path, "reason": reason, "kind": "bad_audio"})
    rows = [r for r in rows if r["wav"] not in bad]
    if heldout_test_utterances and not (
        heldout_test_utterances >= 2 and heldout_segments >= 2
    ):
        raise ValueError(
            f"heldout_test_utterances={heldout_test_utterances} and "
            f"heldout_segments={heldout_segments}: the held-out test needs "
            "at least 2 files of at least 2 segments (or "
            "heldout_test_utterances: 0 to turn it off)."
        )
    candidates = rows
    if heldout_folder is not None or heldout_include or heldout_exclude:
        candidates = _heldout_candidates(
            _as_list(heldout_folder) or _as_list(clean_folder),
            os.path.join(data_folder, "heldout_all.csv"),
            _as_list(heldout_include),
            _as_list(heldout_exclude),
            sample_rate,
            min_duration,
            skip_bad_audio,
            skipped,
            check_json,
        )
    _, dev_rows, heldout_rows = split_heldout(
        candidates,
        dev_utterances,
        heldout_test_utterances,
        seed,
        dev_min_seconds=2 * dev_segment_seconds,
        test_min_seconds=heldout_segments * (test_segment_seconds or 0.0),
    )
    held = {os.path.realpath(r["wav"]) for r in dev_rows + heldout_rows}
    train_rows = [r for r in rows if os.path.realpath(r["wav"]) not in held]
    if not train_rows:
        raise ValueError(
            f"The {len(held)} held-out utterances (dev_utterances="
            f"{dev_utterances}, heldout_test_utterances="
            f"{heldout_test_utterances}) leave no training utterance out "
            f"of {len(rows)}: lower them, or draw them from another folder "
            "(heldout_folder)."
        )
    train_csv = os.path.join(data_folder, "train.csv")
    write_text(
        train_csv,
        "ID,duration,wav\n"
        + "".join(
            f"{r['ID']},{r['duration']},{r['wav']}\n" for r in train_rows
        ),
    )
    dev = {"items": {}, "trials": []}
    if dev_rows:
        dev = prepare_dev_set(
            dev_rows,
            os.path.join(data_folder, "dev"),
            # Recorded files only: the dev set stays the same whatever
            # synthetic_noise / synthetic_rirs add to training.
            (augment["noise"] or {}).get("real_files", []),
            (augment["rir"] or {}).get("real_files", []),
            segment_seconds=dev_segment_seconds,
            max_segments=dev_max_segments,
            sample_rate=sample_rate,
            seed=seed,
        )

    trials_path = os.path.join(data_folder, "trials.txt")
    if test_trials is not None:
        # A given list (VoxCeleb1-O, VC-Mix): paths relative to test_folder
        # or full paths; copied as it is (the trial caps do not apply).
        if test_folder is None:
            test_folder = "/"
        listed = read_trials(test_trials, root=test_folder)
        if max_target is not None or max_nontarget is not None:
            logger.warning(
                "max_target / max_nontarget do not apply to test_trials "
                "(%s): every trial is used.",
                test_trials,
            )
        write_text(
            trials_path, "".join(f"{lab} {e} {t}\n" for lab, e, t in listed)
        )
    else:
        prepare_trials(
            test_folder, trials_path, max_target, max_nontarget, seed
        )
    test_noise = _select(
        test_noise_folder or noise_folder,
        test_noise_include,
        test_noise_exclude,
    )
    test_rirs = _select(
        test_rir_folder or rir_folder, test_rir_include, test_rir_exclude
    )
    for files in (test_noise, test_rirs):  # the test conditions' sources
        bad = screen_audio(files or [], check_json)
        if bad and not skip_bad_audio:
            raise AudioError(_bad_files_message(bad, "noise or RIR"))
        for path, reason in bad.items():
            logger.warning("Skipping %s (skip_bad_audio): %s", path, reason)
            skipped.append(
                {"file": path, "reason": reason, "kind": "bad_audio"}
            )
            files.remove(path)
    conds = prepare_test_conditions(
        test_folder,
        trials_path,
        os.path.join(data_folder, "conditions"),
        conditions=conditions,
        noise_files=test_noise,
        rir_files=test_rirs,
        sample_rate=sample_rate,
        seed=seed,
    )
    test_sets = _prepare_test_sets(
        data_folder,
        read_trials(trials_path),
        test_folder,
        heldout_rows,
        heldout_segments,
        heldout_long_seconds,
        test_segment_seconds,
        dict(
            conditions=conditions,
            noise=test_noise,
            rirs=test_rirs,
            sample_rate=sample_rate,
            seed=seed,
        ),
        max_target,
        max_nontarget,
    )
    prepared = {
        "train_csv": train_csv,
        "augment": augment,
        "dev": {
            "items": dev["items"],
            "trials": [list(t) for t in dev["trials"]],
        },
        "conditions": {
            name: {
                "enrol_root": c["enrol_root"],
                "test_root": c["test_root"],
                "trials": [list(t) for t in c["trials"]],
            }
            for name, c in conds.items()
        },
        "test_sets": test_sets,
        "n_train_utterances": len(train_rows),
        "n_dev_utterances": len(dev_rows),
        "n_heldout_test_utterances": len(heldout_rows),
        "skipped": _skipped_summary(skipped),
    }
    validate_inputs(prepared, check_json)
    write_text(
        os.path.join(data_folder, PREPARED),
        json.dumps(prepared, indent=1),  # keeps the conditions' order
    )
    logger.info(
        "Prepared %d training utterances, %d dev trials, %d test "
        "conditions in %s",
        len(train_rows),
        len(dev["trials"]),
        len(conds),
        data_folder,
    )
    return prepared


def _heldout_candidates(
    folders,
    csv_path,
    include,
    exclude,
    sample_rate,
    min_duration,
    skip_bad,
    skipped,
    check_json,
):
    """Manifest rows of the held-out candidates, checked like clean files.

    ``csv_path`` lists the files of ``folders`` matching the patterns that
    pass ``min_duration`` and the audio screening; unusable ones stop the
    preparation unless ``skip_bad`` (files the patterns leave out are not
    looked at).
    """
    selected = set()
    for folder in folders:
        dataprep._check_folder(folder, "Held-out folder")
        files = dataprep.list_audio_files(folder, include, exclude)
        if not files:
            raise dataprep._no_audio_error(folder, include, exclude)
        selected.update(os.path.abspath(f) for f in files)
    scanned = []
    rows = dataprep.prepare_clean_manifest(
        folders,
        os.path.splitext(csv_path)[0] + "_scan.csv",
        sample_rate,
        min_duration,
        skip_bad=True,  # below: only the selected files count
        skipped=scanned,
    )
    rows = [r for r in rows if r["wav"] in selected]
    found = [e for e in scanned if e["file"] in selected]
    bad = {e["file"]: e["reason"] for e in found if e["kind"] == "bad_audio"}
    bad.update(screen_audio([r["wav"] for r in rows], check_json))
    if bad and not skip_bad:
        raise AudioError(_bad_files_message(bad, "held-out speech"))
    found = [e for e in found if e["kind"] != "bad_audio"] + [
        {"file": path, "reason": reason, "kind": "bad_audio"}
        for path, reason in sorted(bad.items())
    ]
    # A file of both clean_folder and heldout_folder is counted once.
    known = {(os.path.realpath(e["file"]), e["kind"]) for e in skipped}
    for entry in found:
        key = (os.path.realpath(entry["file"]), entry["kind"])
        if key not in known:
            known.add(key)
            skipped.append(entry)
    rows = [r for r in rows if r["wav"] not in bad]
    if not rows:
        raise ValueError(
            f"No usable held-out candidate in {folders} (include={include}, "
            f"exclude={exclude}, min_duration={min_duration} s)."
        )
    write_text(csv_path, dataprep._csv_text(dataprep.MANIFEST_HEADER, rows))
    return rows


TEST_SETS = ("test_short", "heldout_short", "heldout_long")


def _prepare_test_sets(
    data_folder,
    main_trials,
    test_root,
    heldout_rows,
    heldout_segments,
    heldout_long_seconds,
    segment_seconds,
    corrupt,
    max_target,
    max_nontarget,
):
    """The short and held-out test sets below ``data_folder/test_sets``."""
    sample_rate, seed = corrupt["sample_rate"], corrupt["seed"]
    out = {}
    if segment_seconds is not None:
        folder = os.path.join(data_folder, "test_sets", "test_short")
        plan, mapping = short_test_plan(
            main_trials, test_root, segment_seconds, sample_rate, seed
        )
        audio = write_segments(
            folder,
            plan,
            sample_rate,
            {"seed": int(seed), "segment_seconds": segment_seconds},
        )
        trials = [(lab, mapping[e], mapping[t]) for lab, e, t in main_trials]
        write_text(
            os.path.join(folder, "trials.txt"),
            "".join(f"{lab} {e} {t}\n" for lab, e, t in trials),
        )
        out["test_short"] = _prepare_test_set(folder, audio, trials, corrupt)
        out["test_short"]["description"] = (
            f"every test file cut to one stretch of {segment_seconds} s "
            "(shorter files whole), the trials of the main test"
        )
    if heldout_rows:
        plans = heldout_plans(
            heldout_rows,
            heldout_segments,
            segment_seconds,
            heldout_long_seconds,
            sample_rate,
        )
        describe = {
            "heldout_short": f"{len(heldout_rows)} held-out files (never "
            f"in training) x {heldout_segments} segments of "
            f"{segment_seconds} s; target = same file",
            "heldout_long": f"{len(heldout_rows)} held-out files (never in "
            f"training) x 2 segments of {heldout_long_seconds} s (or the "
            "halves); target = same file",
        }
        for name, plan in plans.items():
            folder = os.path.join(data_folder, "test_sets", name)
            audio = write_segments(folder, plan, sample_rate)
            trials = prepare_trials(
                audio,
                os.path.join(folder, "trials.txt"),
                max_target,
                max_nontarget,
                seed,
            )
            out[name] = _prepare_test_set(folder, audio, trials, corrupt)
            out[name]["description"] = describe[name]
    return {name: out[name] for name in TEST_SETS if name in out}


def _add_synthetic(data_folder, name, rows, count, sample_rate, seed):
    """Adds generated files to a training bank: ``<name>.csv`` = real + them."""
    from seed_brain.dataio import synthetic

    writer = {
        "noise": synthetic.write_synthetic_noise,
        "rir": synthetic.write_synthetic_rirs,
    }[name]
    source = os.path.join(data_folder, "synthetic", name)
    writer(source, count, seed=seed, sample_rate=sample_rate)
    extra = dataprep.prepare_augment_csv(
        source,
        os.path.join(data_folder, f"{name}_synthetic.csv"),
        os.path.join(data_folder, "augment", f"synthetic_{name}"),
        sample_rate=sample_rate,
    )
    merged = rows + extra
    ids = [r["ID"] for r in merged]
    clash = sorted({i for i in ids if ids.count(i) > 1})
    if clash:
        raise ValueError(
            f"The {name} folder holds files named like the generated ones "
            f"({clash[:3]}): rename them, or set synthetic_"
            f"{'noise' if name == 'noise' else 'rirs'}: 0."
        )
    csv_path = os.path.join(data_folder, f"{name}.csv")
    write_text(
        csv_path,
        dataprep._csv_text(dataprep.AUGMENT_HEADER, merged),
    )
    return {
        "csv": csv_path,
        "files": [r["wav"] for r in merged],
        "real_files": [r["wav"] for r in rows],
    }


def _select(folder, include, exclude):
    """Absolute paths of the audio files of a folder matching the globs."""
    if folder is None:
        return None
    files = dataprep.list_audio_files(
        folder, include=_as_list(include), exclude=_as_list(exclude)
    )
    if not files:
        raise ValueError(
            f"No audio file in {folder} matches include={include} "
            f"exclude={exclude}: fix the patterns in the yaml."
        )
    return [os.path.abspath(f) for f in files]


def _skipped_summary(skipped):
    """``prepared["skipped"]``: counts, and the bad files with reasons."""
    bad = {e["file"]: e for e in skipped if e["kind"] == "bad_audio"}
    bad = [bad[f] for f in sorted(bad)]  # music may reuse the noise folder
    summary = {
        "too_short": sum(e["kind"] == "too_short" for e in skipped),
        "bad_audio": len(bad),
        "bad_files": [{"file": e["file"], "reason": e["reason"]} for e in bad],
    }
    if bad:
        logger.warning(
            "Skipped %d unusable audio file(s) (skip_bad_audio: True); "
            "they are listed in prepared.json and results.json.",
            len(bad),
        )
    return summary


def _bad_files_message(bad, what, shown=5):
    """Error text naming the unusable files and the two fixes."""
    items = sorted(bad.items())
    lines = "\n".join(f"  {reason}" for _, reason in items[:shown])
    more = (
        f"\n  ... and {len(items) - shown} more" if len(items) > shown else ""
    )
    fix = (
        f"Remove them from the {what} folder, or set skip_bad_audio: True "
        "in the yaml (or --skip_bad_audio=True) to skip them; skipped "
        "files are counted in results.json."
        if what in ("clean speech", "held-out speech", "noise or RIR")
        else "Remove or replace them: test and dev files are never skipped, "
        "so that the trial list stays the one asked for."
    )
    return f"{len(items)} {what} file(s) cannot be used:\n{lines}{more}\n{fix}"


def screen_audio(paths, cache_path=None):
    """Decodes every file once and returns the ones that cannot be used.

    Each file goes through :func:`seed_brain.dataio.audio.check_audio` (missing,
    empty, corrupt, truncated, zero-length, NaN or infinite samples, all
    silent). With ``cache_path`` the verdicts are kept in a JSON file keyed
    by path, size and modification time, so a rerun decodes only new or
    changed files.

    Arguments
    ---------
    paths : list of str
        Audio files.
    cache_path : str or None
        JSON file of earlier verdicts (written atomically).

    Returns
    -------
    dict
        ``{path: reason}`` of the unusable files (empty when all are fine).

    Example
    -------
    >>> import os, tempfile, torch
    >>> root = tempfile.mkdtemp()
    >>> good, silent = (os.path.join(root, n) for n in ("a.wav", "b.wav"))
    >>> write_audio(good, torch.randn(800))
    >>> write_audio(silent, torch.zeros(800))
    >>> bad = screen_audio([good, silent], os.path.join(root, "checks.json"))
    >>> list(bad) == [silent], "all silent" in bad[silent]
    (True, True)
    """
    known = read_json(cache_path, {}) if cache_path else {}
    bad, changed = {}, 0
    for path in progress(paths, "Checking audio"):
        key = file_key(path, missing_ok=True)
        entry = known.get(path)
        if key is None or entry is None or entry[0] != key:
            try:
                check_audio(path)
                reason = None
            except (AudioError, FileNotFoundError) as err:
                reason = str(err)
            entry = known[path] = [key, reason]
            changed += 1
            if cache_path and changed % 1000 == 0:
                write_text(cache_path, json.dumps(known, sort_keys=True))
        if entry[1] is not None:
            bad[path] = entry[1]
    if cache_path and changed:
        write_text(cache_path, json.dumps(known, sort_keys=True))
    return bad


def _check_trials(trials, where, resolve):
    """Checks a trial list; errors name ``where`` and the line."""
    seen, files = {}, {}
    for lineno, trial in enumerate(trials, start=1):
        at = f"{where}, line {lineno}"
        if (
            not isinstance(trial, (list, tuple))
            or len(trial) != 3
            or trial[0] not in (0, 1)
            or not all(isinstance(x, str) and x for x in trial[1:])
        ):
            raise ValueError(
                f"{at}: malformed trial {trial!r}; expected (label, enrol, "
                "test) with label 1 (target) or 0 (non-target). Delete the "
                "data folder's trial lists and rerun the preparation."
            )
        _, enrol, test = trial
        if (enrol, test) in seen:
            raise ValueError(
                f"{at}: duplicate trial '{enrol} {test}' (first on line "
                f"{seen[(enrol, test)]}); each pair must be scored once. "
                "Remove one."
            )
        seen[(enrol, test)] = lineno
        if os.path.splitext(enrol)[0] == os.path.splitext(test)[0]:
            raise ValueError(
                f"{at}: '{enrol}' is compared with itself; remove the line."
            )
        for side, name in (("enrol", enrol), ("test", test)):
            path = resolve(side, name)
            if path is None:
                raise ValueError(
                    f"{at}: unknown utterance '{name}' ({side} side): it is "
                    "not one of the prepared files. Delete the data folder's "
                    "trial lists and rerun the preparation."
                )
            if path not in files:
                files[path] = os.path.isfile(path)
            if not files[path]:
                raise FileNotFoundError(
                    f"{at}: audio file '{path}' ({side} side) not found. "
                    "Was it moved or deleted after the preparation? Restore "
                    "it, or rerun the preparation to rebuild the trials."
                )
    return sorted(files)


def validate_inputs(prepared, check_cache=None):
    """Checks every file and trial a run will read, before any long work.

    * every row of the training manifest and of the noise / music / RIR
      CSVs: the file exists and has a readable header with samples
      (:func:`seed_brain.dataio.audio.audio_info`); errors name the CSV and
      line;
    * every dev and test trial (also of the extra test sets): label 0 or
      1, two known utterances whose files exist, no duplicate pair, no
      file compared with itself; errors name the trial list and line;
    * every dev and test audio file (enrolment and test side of every
      condition): decoded once by :func:`screen_audio` (finite, not
      silent); test files are never skipped.

    :func:`prepare_seed_data` calls it before writing ``prepared.json``.

    Arguments
    ---------
    prepared : dict
        Output of :func:`prepare_seed_data`.
    check_cache : str or None
        Verdict cache of :func:`screen_audio`.

    Returns
    -------
    dict
        ``{"files": n, "trials": m}`` checked.

    Raises
    ------
    FileNotFoundError, seed_brain.dataio.audio.AudioError, ValueError
        Naming the file or trial line and the fix.

    Example
    -------
    >>> prepared = {"train_csv": "", "augment": {}, "conditions": {},
    ...             "dev": {"items": {}, "trials": [[1, "a", "a"]]}}
    >>> validate_inputs(prepared)
    Traceback (most recent call last):
    ...
    ValueError: ...line 1: 'a' is compared with itself; remove the line.
    """
    data_folder = os.path.dirname(os.path.abspath(prepared["train_csv"]))
    csvs = [prepared["train_csv"]] if prepared["train_csv"] else []
    csvs += [a["csv"] for a in prepared["augment"].values() if a]
    n_files = 0
    for csv_path in csvs:
        for lineno, row in enumerate(_read_csv(csv_path), start=2):
            try:
                audio_info(row["wav"])
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f"{csv_path}, line {lineno}: {err}"
                ) from err
            except AudioError as err:
                raise AudioError(f"{csv_path}, line {lineno}: {err}") from err
            n_files += 1
    dev_items = prepared["dev"]["items"]
    files = _check_trials(
        prepared["dev"]["trials"],
        os.path.join(data_folder, "dev", "dev_trials.txt"),
        lambda side, name: dev_items.get(name),
    )
    n_trials = len(prepared["dev"]["trials"])
    for name, cond in prepared["conditions"].items():

        def resolve(side, rel, cond=cond):
            root = cond["enrol_root"] if side == "enrol" else cond["test_root"]
            return os.path.join(root, rel)

        files += _check_trials(
            cond["trials"],
            os.path.join(data_folder, "conditions", f"trials_{name}.txt"),
            resolve,
        )
        n_trials += len(cond["trials"])
    for set_name, entry in prepared.get("test_sets", {}).items():
        for name, cond in entry["conditions"].items():

            def resolve(side, rel, cond=cond):
                key = "enrol_root" if side == "enrol" else "test_root"
                return os.path.join(cond[key], rel)

            where = os.path.join(data_folder, "test_sets", set_name)
            files += _check_trials(
                entry["trials"], f"{where} ({name})", resolve
            )
            n_trials += len(entry["trials"])
    files = sorted(set(files))
    bad = screen_audio(files, check_cache)
    if bad:
        raise AudioError(_bad_files_message(bad, "dev or test"))
    return {"files": n_files + len(files), "trials": n_trials}


def check_overrides(hparams_file, overrides):
    """Stops with a clear error when a ``--key=value`` names no yaml key.

    ``hyperpyyaml`` refuses such overrides too, but with a ``KeyError``
    listing every key of the file; this names the bad option(s) and the
    closest keys, before anything is loaded or created.

    Arguments
    ---------
    hparams_file : str
        The yaml file.
    overrides : str or dict or None
        Overrides as returned by ``speechbrain.parse_arguments`` (a yaml
        string) or a dict.

    Raises
    ------
    ValueError
        An override whose top-level key is not in the yaml.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "h.yaml")
    >>> with open(path, "w") as f:
    ...     _ = f.write("batch_size: 8\\nlr: !ref <batch_size>\\n")
    >>> check_overrides(path, "batch_size: 4\\n")
    >>> check_overrides(path, "batch_sise: 4\\n")
    Traceback (most recent call last):
    ...
    ValueError: Unknown option --batch_sise (did you mean --batch_size?): ...
    """
    import difflib

    import ruamel.yaml

    if not overrides:
        return
    loader = ruamel.yaml.YAML()
    if isinstance(overrides, str):
        try:
            overrides = loader.load(overrides) or {}
        except ruamel.yaml.constructor.DuplicateKeyError as err:
            key = getattr(err, "problem", "") or str(err)
            raise ValueError(
                f"An option is given twice on the command line ({key}): "
                "keep one --key=value for each key."
            ) from None
    with open(hparams_file, encoding="utf-8") as fin:
        keys = list(loader.load(fin) or {})
    unknown = [k for k in overrides if k not in keys]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), keys, n=1)
        hint = f" (did you mean --{close[0]}?)" if close else ""
        hints.append(f"--{key}{hint}")
    raise ValueError(
        f"Unknown option {', '.join(hints)}: {hparams_file} has no such "
        "key. Every --key=value must name a top-level key of the yaml or "
        "be a SpeechBrain option (see --help); fix the spelling."
    )


def load_prepared(data_folder):
    """Reads ``prepared.json`` written by :func:`prepare_seed_data`."""
    path = os.path.join(data_folder, PREPARED)
    with open(path, encoding="utf-8") as fin:
        return json.load(fin)


def test_items(prepared):
    """Every audio file the test stage embeds, keyed ``<condition>/<path>``.

    Enrolment files are keyed ``clean/<path>``; the test side of condition
    ``c`` is keyed ``c/<path>`` (paths as written in the trial list).

    Arguments
    ---------
    prepared : dict
        Output of :func:`prepare_seed_data`.

    Returns
    -------
    tuple
        ``(items, conditions)``: ``{key: audio path}`` and
        ``{condition: [(label, enrol, test)]}``.
    """
    items, conditions = {}, {}
    for name, cond in prepared["conditions"].items():
        trials = [tuple(t) for t in cond["trials"]]
        conditions[name] = trials
        for _, enrol, test in trials:
            items[f"clean/{enrol}"] = os.path.join(cond["enrol_root"], enrol)
            items[f"{name}/{test}"] = os.path.join(cond["test_root"], test)
    return items, conditions


def test_set_items(prepared):
    """Every audio file of the extra test sets, keys prefixed by the set.

    The enrolment side of set ``s`` is keyed ``test_sets/s/clean/<path>``,
    the test side of its condition ``c`` ``test_sets/s/c/<path>``, so that
    the keys of different sets (and of :func:`test_items`) never collide
    and all of them can be embedded in one
    :meth:`seed_brain.SEEDBrain.embed_files` call.

    Arguments
    ---------
    prepared : dict
        Output of :func:`prepare_seed_data`.

    Returns
    -------
    tuple
        ``(items, sets)``: ``{key: audio path}`` and ``{set: {
        "description": str, "conditions": {condition: [(label, enrol key,
        test key)]}}}``, in the order of :data:`TEST_SETS`.

    Example
    -------
    >>> prepared = {"conditions": {}, "test_sets": {"test_short": {
    ...     "description": "", "trials": [[1, "a/1.wav", "a/2.wav"]],
    ...     "conditions": {"clean": {"enrol_root": "/s", "test_root": "/s"}}}}}
    >>> items, sets = test_set_items(prepared)
    >>> sets["test_short"]["conditions"]["clean"][0][1:]
    ('test_sets/test_short/clean/a/1.wav', 'test_sets/test_short/clean/a/2.wav')
    >>> items["test_sets/test_short/clean/a/1.wav"]
    '/s/a/1.wav'
    """
    main, _ = test_items(prepared)
    items, sets = {}, {}
    for name, entry in prepared.get("test_sets", {}).items():
        conditions = {}
        for cond, roots in entry["conditions"].items():
            trials = []
            for label, enrol, test in entry["trials"]:
                e_key = f"test_sets/{name}/clean/{enrol}"
                t_key = f"test_sets/{name}/{cond}/{test}"
                items[e_key] = os.path.join(roots["enrol_root"], enrol)
                items[t_key] = os.path.join(roots["test_root"], test)
                trials.append((int(label), e_key, t_key))
            conditions[cond] = trials
        sets[name] = {
            "description": entry.get("description", ""),
            "conditions": conditions,
        }
    clash = sorted(set(items) & set(main))
    if clash:
        raise ValueError(
            f"Test file key '{clash[0]}' is used by the main test and an "
            "extra test set: rename the test condition called 'test_sets'."
        )
    return items, sets


def train_dataset(train_csv, crop_samples, sample_rate=16000):
    """``DynamicItemDataset`` of random crops (``sig``) for online training.

    Arguments
    ---------
    train_csv : str
        Manifest with ``ID,duration,wav``.
    crop_samples : int
        Samples per crop; shorter utterances are repeated to fill it.
    sample_rate : int
        Rate to load at.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id`` and ``sig``.
    """
    dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(train_csv)

    @sb.utils.data_pipeline.takes("wav", "id")
    @sb.utils.data_pipeline.provides("sig")
    def crop(wav, uid):
        audio = load_audio(wav, sample_rate)
        start = int(torch.randint(0, 2**31 - 1, (1,)).item())
        start = int(crop_starts(uid, audio.numel(), crop_samples, 1, start)[0])
        return take_crop(audio, start, crop_samples)

    dataset.add_dynamic_item(crop)
    dataset.set_output_keys(["id", "sig"])
    return dataset
