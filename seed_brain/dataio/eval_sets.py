"""The dev set and the extra test sets of the SEED recipe's preparation.

The dev set (the validation split) is segments of a few held-out training
utterances, their test side corrupted with the *training* noise and RIRs;
the extra test sets (``test_short``, ``heldout_short``, ``heldout_long``)
are segments of the test or held-out files, corrupted like the main test.
:func:`seed_brain.dataio.prepare.prepare_seed_data` writes them.

Authors
 * seed-brain developers 2026
"""

import logging
import os

import numpy as np

from seed_brain.dataio.audio import (
    AudioError,
    load_audio,
    write_audio,
)
from seed_brain.dataio.conditions import (
    corrupt_utterance,
    prepare_test_conditions,
)
from seed_brain.dataio.splits import (
    heldout_plans,
    short_test_plan,
    write_segments,
)
from seed_brain.dataio.trials import prepare_trials
from seed_brain.utils.files import write_text

logger = logging.getLogger(__name__)


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


def _dev_kinds(noises, rirs):
    """The corruptions the training banks allow for the dev test side."""
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
    return kinds


def _dev_trials(segments):
    """Every (clean, noisy) pair of distinct dev segments, ``(label, a, b)``.

    Example
    -------
    >>> trials = _dev_trials({"u": ["u_0", "u_1"], "v": ["v_0"]})
    >>> len(trials), trials[0]
    (6, (1, 'dev_clean/u_0', 'dev_noisy/u_1'))
    """
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
    return trials


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
    kinds = _dev_kinds(noises, rirs)
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
    trials = _dev_trials(segments)
    write_text(
        os.path.join(out_folder, "dev_trials.txt"),
        "".join(f"{lab} {a} {b}\n" for lab, a, b in trials),
    )
    return {"items": items, "trials": trials}


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
