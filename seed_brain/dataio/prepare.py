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
from types import SimpleNamespace

from seed_brain.dataio.checks import validate_inputs
from seed_brain.dataio.conditions import prepare_test_conditions
from seed_brain.dataio.eval_sets import (  # noqa: F401 (TEST_SETS re-exported)
    TEST_SETS,
    _prepare_test_sets,
    prepare_dev_set,
)
from seed_brain.dataio.prepare_steps import (
    _augment_sources,
    _clean_rows,
    _prepare_bank,
    _prepared_record,
    _split_training,
    _test_sources,
    _write_test_trials,
)
from seed_brain.dataio.trials import read_trials
from seed_brain.utils.files import write_text

__all__ = [
    "prepare_dev_set",
    "prepare_seed_data",
]

logger = logging.getLogger(__name__)

PREPARED = "prepared.json"
CHECKS = "audio_check.json"


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
    # The arguments, by name, for the steps that read many of them.
    opts = SimpleNamespace(**locals())
    os.makedirs(data_folder, exist_ok=True)
    if test_trials is not None:  # a bad line stops here, before any work
        read_trials(test_trials, root=test_folder or "/")
    augment, skipped = {}, []
    sources = _augment_sources(opts)
    synthetic = {"noise": synthetic_noise, "rir": synthetic_rirs}
    for name, (folder, include, exclude) in sources.items():
        augment[name] = _prepare_bank(
            data_folder,
            name,
            folder,
            include,
            exclude,
            synthetic.get(name),
            sample_rate,
            noise_max_seconds,
            skip_bad_audio,
            skipped,
            seed,
        )

    check_json = os.path.join(data_folder, CHECKS)
    rows = _clean_rows(opts, skipped, check_json)
    train_csv, train_rows, dev_rows, heldout_rows = _split_training(
        rows, opts, skipped, check_json
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

    if test_trials is not None and test_folder is None:
        test_folder = "/"  # the given trial list holds full paths
    trials_path = os.path.join(data_folder, "trials.txt")
    _write_test_trials(
        trials_path, test_trials, test_folder, max_target, max_nontarget, seed
    )
    test_noise, test_rirs = _test_sources(
        test_noise_folder or noise_folder,
        test_noise_include,
        test_noise_exclude,
        test_rir_folder or rir_folder,
        test_rir_include,
        test_rir_exclude,
        check_json,
        skip_bad_audio,
        skipped,
    )
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
    prepared = _prepared_record(
        train_csv,
        augment,
        dev,
        conds,
        test_sets,
        len(train_rows),
        len(dev_rows),
        len(heldout_rows),
        skipped,
    )
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
