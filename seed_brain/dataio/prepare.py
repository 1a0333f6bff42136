"""The data preparation of the SEED recipe.

:func:`prepare_seed_data` runs every preparation step of ``train.py`` (on
the main process) from plain folders: a label-free training manifest, noise
and RIR CSVs for SpeechBrain's augmenters, a held-out dev trial list, the
test trial list and its noisy test conditions (the splits are
:mod:`seed_brain.dataio.splits`, the input checks
:mod:`seed_brain.dataio.checks`; the datasets built on the result
:mod:`seed_brain.views.datasets`).

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

import numpy as np

from seed_brain.dataio import manifests as dataprep
from seed_brain.dataio.audio import (
    AudioError,
    load_audio,
    write_audio,
)
from seed_brain.dataio.checks import (
    _bad_files_message,
    _skipped_summary,
    screen_audio,
    validate_inputs,
)
from seed_brain.dataio.conditions import (
    corrupt_utterance,
    prepare_test_conditions,
)
from seed_brain.dataio.splits import (
    heldout_plans,
    short_test_plan,
    split_heldout,
    write_segments,
)
from seed_brain.dataio.trials import prepare_trials, read_trials
from seed_brain.utils.files import write_text

__all__ = [
    "prepare_dev_set",
    "prepare_seed_data",
]

logger = logging.getLogger(__name__)

PREPARED = "prepared.json"
CHECKS = "audio_check.json"


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


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
