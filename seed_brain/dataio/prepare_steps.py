"""The steps of :func:`seed_brain.dataio.prepare.prepare_seed_data`.

The training banks (noise, music, RIR CSVs, with generated files added),
the screened clean manifest, the held-out dev and test rows drawn and
``train.csv`` written from the rest, the test trial list and the screened
sources of the test conditions, and the record of ``prepared.json``.

Authors
 * seed-brain developers 2026
"""

import logging
import os

from seed_brain.dataio import manifests as dataprep
from seed_brain.dataio.audio import AudioError
from seed_brain.dataio.checks import (
    _bad_files_message,
    _skipped_summary,
    screen_audio,
)
from seed_brain.dataio.splits import split_heldout
from seed_brain.dataio.trials import prepare_trials, read_trials
from seed_brain.utils.files import write_text

logger = logging.getLogger(__name__)


def _as_list(value):
    """``value`` as a list (None stays None)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _prepared_record(
    train_csv,
    augment,
    dev,
    conds,
    test_sets,
    n_train,
    n_dev,
    n_heldout,
    skipped,
):
    """The content of ``prepared.json``."""
    return {
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
        "n_train_utterances": n_train,
        "n_dev_utterances": n_dev,
        "n_heldout_test_utterances": n_heldout,
        "skipped": _skipped_summary(skipped),
    }


def _clean_rows(opts, skipped, check_json):
    """The rows of the clean manifest that pass the audio screening."""
    all_csv = os.path.join(opts.data_folder, "clean_all.csv")
    rows = dataprep.prepare_clean_manifest(
        _as_list(opts.clean_folder),
        all_csv,
        opts.sample_rate,
        opts.min_duration,
        skip_bad=opts.skip_bad_audio,
        skipped=skipped,
    )
    # Decoded once (results kept in audio_check.json): silent or NaN
    # files stop the run here, not in the middle of the embedding cache.
    bad = screen_audio([r["wav"] for r in rows], check_json)
    if bad and not opts.skip_bad_audio:
        raise AudioError(_bad_files_message(bad, "clean speech"))
    for path, reason in bad.items():
        logger.warning("Skipping %s (skip_bad_audio): %s", path, reason)
        skipped.append({"file": path, "reason": reason, "kind": "bad_audio"})
    rows = [r for r in rows if r["wav"] not in bad]
    return rows


def _split_training(rows, opts, skipped, check_json):
    """Held-out dev and test rows drawn; ``train.csv`` of the rest.

    Returns
    -------
    tuple
        ``(train_csv, train_rows, dev_rows, heldout_rows)``.
    """
    if opts.heldout_test_utterances and not (
        opts.heldout_test_utterances >= 2 and opts.heldout_segments >= 2
    ):
        raise ValueError(
            f"heldout_test_utterances={opts.heldout_test_utterances} and "
            f"heldout_segments={opts.heldout_segments}: the held-out test "
            "needs at least 2 files of at least 2 segments (or "
            "heldout_test_utterances: 0 to turn it off)."
        )
    candidates = rows
    if (
        opts.heldout_folder is not None
        or opts.heldout_include
        or opts.heldout_exclude
    ):
        candidates = _heldout_candidates(
            _as_list(opts.heldout_folder) or _as_list(opts.clean_folder),
            os.path.join(opts.data_folder, "heldout_all.csv"),
            _as_list(opts.heldout_include),
            _as_list(opts.heldout_exclude),
            opts.sample_rate,
            opts.min_duration,
            opts.skip_bad_audio,
            skipped,
            check_json,
        )
    _, dev_rows, heldout_rows = split_heldout(
        candidates,
        opts.dev_utterances,
        opts.heldout_test_utterances,
        opts.seed,
        dev_min_seconds=2 * opts.dev_segment_seconds,
        test_min_seconds=opts.heldout_segments
        * (opts.test_segment_seconds or 0.0),
    )
    held = {os.path.realpath(r["wav"]) for r in dev_rows + heldout_rows}
    train_rows = [r for r in rows if os.path.realpath(r["wav"]) not in held]
    if not train_rows:
        raise ValueError(
            f"The {len(held)} held-out utterances (dev_utterances="
            f"{opts.dev_utterances}, heldout_test_utterances="
            f"{opts.heldout_test_utterances}) leave no training utterance out "
            f"of {len(rows)}: lower them, or draw them from another folder "
            "(heldout_folder)."
        )
    train_csv = os.path.join(opts.data_folder, "train.csv")
    write_text(
        train_csv,
        "ID,duration,wav\n"
        + "".join(
            f"{r['ID']},{r['duration']},{r['wav']}\n" for r in train_rows
        ),
    )
    return train_csv, train_rows, dev_rows, heldout_rows


def _augment_sources(opts):
    """``{bank: (folder, include, exclude)}``; music falls back to noise."""
    noise = (opts.noise_folder, opts.noise_include, opts.noise_exclude)
    music = (opts.music_folder, opts.music_include, opts.music_exclude)
    if opts.music_folder is None:  # music falls back to the noise files
        music = (
            opts.noise_folder,
            opts.noise_include
            if opts.music_include is None
            else opts.music_include,
            opts.noise_exclude
            if opts.music_exclude is None
            else opts.music_exclude,
        )
    return {
        "noise": noise,
        "music": music,
        "rir": (opts.rir_folder, opts.rir_include, opts.rir_exclude),
    }


def _prepare_bank(
    data_folder,
    name,
    folder,
    include,
    exclude,
    synthetic,
    sample_rate,
    noise_max_seconds,
    skip_bad_audio,
    skipped,
    seed,
):
    """One training bank's CSV (with ``synthetic`` generated files added)."""
    if folder is None:
        return None
    csv_path = os.path.join(data_folder, f"{name}.csv")
    if synthetic:
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
    if synthetic:
        return _add_synthetic(
            data_folder, name, rows, synthetic, sample_rate, seed
        )
    return {"csv": csv_path, "files": files, "real_files": files}


def _write_test_trials(
    trials_path, test_trials, test_folder, max_target, max_nontarget, seed
):
    """``trials.txt``: a copy of ``test_trials``, or pairs of speakers."""
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


def _test_sources(
    noise_folder,
    noise_include,
    noise_exclude,
    rir_folder,
    rir_include,
    rir_exclude,
    check_json,
    skip_bad_audio,
    skipped,
):
    """The screened noise and RIR files of the test conditions."""
    test_noise = _select(noise_folder, noise_include, noise_exclude)
    test_rirs = _select(rir_folder, rir_include, rir_exclude)
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
    return test_noise, test_rirs


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
