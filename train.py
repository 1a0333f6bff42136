#!/usr/bin/env python3
"""Recipe: train SEED over a frozen speaker encoder, then report.

    python train.py hparams/seed_ge2e.yaml \
        --clean_folder=<clean speech> --noise_folder=<noise> \
        --rir_folder=<RIRs> --test_folder=<one sub-folder per speaker> \
        --output_folder=results/ge2e

With no data arguments it runs on a generated demonstration corpus.
``--test_only`` evaluates the best checkpoint without training.

A mistake in the input (a missing folder, a bad file, a setting out of
range, a full disk, an output folder in use by another run) ends in one
line, ``train.py: error: ...``, exit status 1 (``SEED_BRAIN_DEBUG=1`` or
``--debug`` shows the traceback). One run at a time uses an output
folder: it holds ``<output_folder>/.lock`` (``seed_brain.utils.lock``).

Authors
 * seed-brain developers 2026
"""

import logging
import os
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.sampler import ReproducibleRandomSampler
from speechbrain.utils.distributed import run_on_main

from seed_brain.dataio.checks import check_overrides
from seed_brain.dataio.prepare import prepare_seed_data
from seed_brain.model.brain import SEEDBrain, embeddings_dataset
from seed_brain.utils.distributed import rank_and_world
from seed_brain.utils.errors import run_main
from seed_brain.utils.lock import lock_output_folder
from seed_brain.views.cache import ViewCache
from seed_brain.views.datasets import (
    load_prepared,
    test_items,
    test_set_items,
    train_dataset,
)

logger = logging.getLogger(__name__)

SOURCES = [
    "clean_folder",
    "test_folder",
    "noise_folder",
    "rir_folder",
    "music_folder",
    "test_noise_folder",
    "test_rir_folder",
    "heldout_folder",
]


def use_demo_data(hparams):
    """Generates the demonstration data and points the folders at it."""
    from seed_brain.dataio.demo import make_demo_data

    paths = make_demo_data(hparams["demo_folder"], seed=hparams["demo_seed"])
    hparams["clean_folder"] = str(paths["clean"])
    hparams["test_folder"] = str(paths["test"])
    hparams["noise_folder"] = str(paths["noise"])
    hparams["rir_folder"] = str(paths["rir"])
    hparams["test_noise_folder"] = str(paths["test_noise"])
    hparams["test_rir_folder"] = str(paths["test_rir"])
    logger.info("Running on the demonstration data in %s", paths["root"])


def with_demo_overrides(overrides, demo):
    """Merges the yaml's ``demo_overrides`` under the command line's."""
    import yaml

    merged = dict(demo)
    merged.update(yaml.safe_load(overrides) or {})
    return yaml.safe_dump(merged, default_flow_style=None, sort_keys=False)


def prepare(hparams):
    """Runs the data preparation (main process only)."""
    keys = [k for k in SOURCES] + [
        f"{src}_{kind}"
        for src in (
            "noise",
            "rir",
            "music",
            "test_noise",
            "test_rir",
            "heldout",
        )
        for kind in ("include", "exclude")
    ]
    keys += [
        "data_folder",
        "max_target",
        "max_nontarget",
        "min_duration",
        "dev_utterances",
        "dev_segment_seconds",
        "dev_max_segments",
        "sample_rate",
        "seed",
        "noise_max_seconds",
        "synthetic_noise",
        "synthetic_rirs",
        "test_trials",
        "heldout_test_utterances",
        "heldout_segments",
        "heldout_long_seconds",
        "test_segment_seconds",
    ]
    kwargs = {k: hparams[k] for k in keys}
    kwargs.update(
        conditions=hparams["test_conditions"],
        skip_bad_audio=hparams.get("skip_bad_audio", False),
    )
    run_on_main(prepare_seed_data, kwargs=kwargs)
    return load_prepared(hparams["data_folder"])


#: The choices of the cache settings of the yaml.
CROP_MODES = ("fixed", "proportional")
CACHE_READINGS = ("random", "block")


def _choice(hparams, key, choices):
    """``hparams[key]``, refused (naming the key) if not one of ``choices``."""
    value = hparams.get(key, choices[0])
    if value not in choices:
        raise ValueError(
            f"{key}: {value!r} is not one of {', '.join(choices)}: set it "
            f"in the yaml or with --{key}=..."
        )
    return value


def build_train_set(hparams, brain, prepared):
    """Cached view embeddings, or random audio crops for online training."""
    if hparams["use_cache"]:
        import csv

        with open(prepared["train_csv"], newline="", encoding="utf-8") as f:
            rows = [
                (r["ID"], r["wav"], r.get("duration"))
                for r in csv.DictReader(f)
            ]
        proportional = _choice(hparams, "crop_mode", CROP_MODES) != "fixed"
        cache = ViewCache(hparams["cache_folder"] + "/views")
        # Every process takes part: under torchrun the build is sharded.
        cache.build(
            brain=brain,
            rows=rows,
            crops_per_utt=hparams["crops_per_utt"],
            crop_samples=hparams["crop_samples"],
            seed=hparams["seed"],
            batch_size=hparams["cache_batch_size"],
            sample_rate=hparams["sample_rate"],
            config={
                "backbone": hparams["backbone"],
                "augment": hparams["view_builder"].signature(),
            },
            crops_per_second=(
                hparams["crops_per_second"] if proportional else None
            ),
            max_crops_per_utt=hparams.get("max_crops_per_utt"),
            dtype=hparams.get("cache_dtype", "float32"),
            precision=hparams.get("cache_precision", "fp32"),
        )
        if _choice(hparams, "cache_reading", CACHE_READINGS) == "block":
            return cache.dataset(
                block_rows=hparams["cache_block_rows"],
                buffer_blocks=hparams["cache_buffer_blocks"],
            )
        return cache.dataset()
    return train_dataset(
        prepared["train_csv"], hparams["crop_samples"], hparams["sample_rate"]
    )


def train_sampler(hparams, train_set):
    """The order of training rows: random rows, or blocks of the cache.

    ``cache_reading: block`` (with ``use_cache``) reads the cache in blocks
    of ``cache_block_rows`` contiguous rows shuffled ``cache_buffer_blocks``
    at a time (:class:`seed_brain.views.cache.BlockShuffleSampler`); otherwise
    SpeechBrain's ``ReproducibleRandomSampler``. Either way an epoch is
    ``steps_per_epoch`` x ``batch_size`` rows.
    """
    num_samples = hparams["steps_per_epoch"] * hparams["batch_size"]
    block = hparams["use_cache"] and (
        _choice(hparams, "cache_reading", CACHE_READINGS) == "block"
    )
    if block:
        from seed_brain.views.cache import BlockShuffleSampler

        return BlockShuffleSampler(
            len(train_set),
            block_rows=hparams["cache_block_rows"],
            buffer_blocks=hparams["cache_buffer_blocks"],
            seed=hparams["seed"],
            num_samples=num_samples,
        )
    return ReproducibleRandomSampler(
        train_set, seed=hparams["seed"], num_samples=num_samples
    )


def calibration_embeddings(hparams, dev_emb):
    """Clean embeddings that SEEDBrain.calibrate measures (label-free).

    Evenly spaced rows of the view cache's clean target view (training
    crops); without a complete cache (``use_cache: False``), the clean dev
    segments.
    """
    import numpy as np
    import torch

    count = int(hparams.get("calibration_crops", 2000))
    cache = ViewCache(hparams["cache_folder"] + "/views")
    if hparams["use_cache"] and cache.complete():
        crops = cache.index()["crops"]
        rows = np.unique(np.linspace(0, len(crops) - 1, count).astype(int))
        emb = torch.from_numpy(np.array(cache.array()[rows, 0])).float()
        return [crops[i] for i in rows], emb
    ids = sorted(u for u in dev_emb if u.startswith("dev_clean/"))
    logger.warning(
        "No view cache: calibrating SEED on the %d clean dev segments.",
        len(ids),
    )
    return ids, torch.stack([dev_emb[u] for u in ids])


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    try:  # a misspelt --key stops here, before any work
        check_overrides(hparams_file, overrides)
    except ValueError as err:
        sys.exit(f"train.py: error: {err}")
    sb.utils.distributed.ddp_init_group(run_opts)  # no-op without torchrun
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    if hparams["clean_folder"] is None and hparams.get("demo_overrides"):
        # The demonstration runs smaller; the user's own overrides win.
        overrides = with_demo_overrides(overrides, hparams["demo_overrides"])
        with open(hparams_file, encoding="utf-8") as fin:
            hparams = load_hyperpyyaml(fin, overrides)
    # One run per output folder (the main process locks it; a stale lock of
    # a killed run is taken over), before anything is written there.
    lock_output_folder(hparams["output_folder"])
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    if hparams["clean_folder"] is None:
        run_on_main(use_demo_data, args=[hparams])
        if sb.utils.distributed.if_main_process() is False:
            use_demo_data(hparams)  # paths only: the data exists by now
    prepared = prepare(hparams)
    hparams["skipped"] = prepared.get("skipped")  # into results.json

    brain = SEEDBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    cache = hparams["cache_folder"]
    dev_emb = brain.embed_files(
        prepared["dev"]["items"],
        cache_path=os.path.join(cache, "dev_embeddings.pt"),
        batch_size=hparams["embed_batch_size"],
        desc="embed dev",
    )
    brain.dev_trials = [tuple(t) for t in prepared["dev"]["trials"]]

    if not run_opts.get("test_only", False):
        train_set = build_train_set(hparams, brain, prepared)
        sampler = train_sampler(hparams, train_set)
        brain.train_sampler = sampler  # so that fit() calls set_epoch
        brain.calibration_emb = calibration_embeddings(hparams, dev_emb)
        # Under DDP, batch_size stays the batch of one optimiser step: each
        # of the N processes takes batch_size / N crops of it (SpeechBrain
        # splits the sampler), so the run matches a single-process one.
        world = rank_and_world()[1]
        if hparams["batch_size"] % world:
            raise ValueError(
                f"batch_size={hparams['batch_size']} must be a multiple of "
                f"the number of processes ({world})."
            )
        brain.fit(
            hparams["epoch_counter"],
            train_set,
            embeddings_dataset(dev_emb),
            train_loader_kwargs=dict(
                hparams["train_dataloader_opts"],
                sampler=sampler,
                batch_size=hparams["batch_size"] // world,
            ),
            valid_loader_kwargs=hparams["valid_dataloader_opts"],
        )

    if brain.calibration_emb is None:  # --test_only
        brain.calibration_emb = calibration_embeddings(hparams, dev_emb)
    items, conditions = test_items(prepared)
    # The short and held-out test sets (keys prefixed with their set)
    # are embedded in the same call, with the same cache.
    set_items, brain.test_sets = test_set_items(prepared)
    test_emb = brain.embed_files(
        {**items, **set_items},
        cache_path=os.path.join(cache, "test_embeddings.pt"),
        batch_size=hparams["embed_batch_size"],
        desc="embed test",
    )
    brain.test_conditions = conditions
    # The dev embeddings ride along so that results.json also reports the
    # validation split (what settings are chosen on) next to the test.
    brain.evaluate(
        embeddings_dataset({**dev_emb, **test_emb}),
        min_key="dev_eer",
        test_loader_kwargs=hparams["test_dataloader_opts"],
    )
    if hparams.get("export_model", True):
        # An inference folder for SEEDSpeakerRecognition.from_hparams.
        from seed_brain.inference.export import export_model

        run_on_main(
            export_model,
            args=[
                hparams["output_folder"],
                os.path.join(hparams["output_folder"], "model"),
            ],
            kwargs={"overwrite": True},
        )


if __name__ == "__main__":
    sys.exit(run_main(main, sys.argv[1:], prog="train.py"))
