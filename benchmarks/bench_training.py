"""Benchmark SEED training: cached view embeddings vs re-encoding each step.

Run from the repository root::

    python benchmarks/bench_training.py [--utterances 150] [--steps 10]

Both pipelines are the recipe's own code (``train.py`` /
``hparams/seed_ge2e.yaml``, :class:`seed_brain.model.brain.SEEDBrain`), with the
same frozen encoder (GE2E, resemblyzer's weights), the same batch of
``--batch-size`` crops (each in the yaml's 5 views) and the same optimiser:

* **cached**: the embedding cache (:class:`seed_brain.views.cache.ViewCache`) of
  ``--crops-per-utt`` crops x 5 views per training utterance is built once;
  a step reads ``[B, 5, D]`` embeddings from the memory map, draws fresh
  diffusion noise and updates the denoiser (``SEEDBrain.fit_batch``);
* **online** (the SEED authors' approach): a step loads random audio crops,
  builds the 5 views (SpeechBrain ``AddNoise`` / ``AddReverb``), runs the
  frozen encoder on all of them, then the same loss and update.

Table 1 gives optimiser steps per second and wall time for ``--steps`` steps
of each (after one untimed warm-up step), and their ratio. Table 2 is the
end-to-end comparison on a slice of the shared data (``--utterances``
train-clean-100 files): cache build + ``--e2e-steps`` cached steps against
``--e2e-steps`` online steps. The online time for ``--e2e-steps`` is the
measured time per online step times the number of steps (online steps are
independent and equally expensive) unless ``--online-e2e`` runs them all.
Data preparation and the dev / test embeddings are the same for both
pipelines and are not timed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import speechbrain as sb  # noqa: E402
import torch  # noqa: E402
from bench_common import add_numbers, parse_with_threads  # noqa: E402
from hyperpyyaml import load_hyperpyyaml  # noqa: E402
from speechbrain.dataio.sampler import ReproducibleRandomSampler  # noqa: E402

from seed_brain.model.brain import SEEDBrain  # noqa: E402

DEFAULT_DATA = REPO / ".." / "shared" / "data"
HPARAMS = REPO / "hparams" / "seed_ge2e.yaml"


def machine_line():
    """CPU model, core count, torch threads and load average.

    Example
    -------
    >>> "cores" in machine_line()
    True
    """
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), load average {load:.2f}"
    )


def link_slice(data, folder, utterances, test_speakers=2, test_utts=2):
    """Symlinks a slice of the shared data; returns the folder map."""
    clean = Path(folder) / "clean"
    test = Path(folder) / "test"
    clean.mkdir(parents=True)
    sources = sorted((data / "speech" / "train-clean-100").glob("*/*.flac"))
    if len(sources) < utterances:
        raise SystemExit(
            f"only {len(sources)} train-clean-100 files in {data}, "
            f"--utterances={utterances} asked"
        )
    for src in sources[:utterances]:
        (clean / src.name).symlink_to(src.resolve())
    speakers = sorted(p for p in (data / "speech" / "test-other").iterdir())
    for spk in [p for p in speakers if p.is_dir()][:test_speakers]:
        (test / spk.name).mkdir(parents=True)
        for src in sorted(spk.glob("*.flac"))[:test_utts]:
            (test / spk.name / src.name).symlink_to(src.resolve())
    return {
        "clean_folder": str(clean),
        "test_folder": str(test),
        "noise_folder": str((data / "noise").resolve()),
        "rir_folder": str((data / "rir").resolve()),
    }


def make_recipe(folders, work, args):
    """Hyperparameters, prepared data and a ``SEEDBrain`` of the recipe."""
    import train

    overrides = dict(
        folders,
        output_folder=str(Path(work) / "out"),
        crops_per_utt=args.crops_per_utt,
        batch_size=args.batch_size,
        dev_utterances=2,
        heldout_test_utterances=0,  # no extra test sets: training only
        test_segment_seconds=None,
        n_bootstrap=0,
    )
    with open(HPARAMS, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    prepared = train.prepare(hparams)
    brain = SEEDBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts={"device": args.device, "noprogressbar": True},
        checkpointer=None,
    )
    brain.init_optimizers()
    brain.modules.train()
    return train, hparams, prepared, brain


def prepared_rows(prepared):
    """Rows of the prepared training manifest."""
    import csv

    with open(prepared["train_csv"], newline="", encoding="utf-8") as fin:
        return list(csv.DictReader(fin))


def loader(brain, dataset, batch_size, steps, seed):
    """The recipe's training loader for ``steps`` batches."""
    sampler = ReproducibleRandomSampler(
        dataset, seed=seed, num_samples=steps * batch_size
    )
    return brain.make_dataloader(
        dataset,
        sb.Stage.TRAIN,
        ckpt_prefix=None,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=0,
    )


def time_steps(brain, dataset, batch_size, steps, seed):
    """Wall time of ``steps`` optimiser steps (data loading included)."""
    batches = iter(loader(brain, dataset, batch_size, steps, seed))
    start = time.perf_counter()
    for batch in batches:
        brain.fit_batch(batch)
    return time.perf_counter() - start


def run(args):
    """Runs the benchmark; returns the two tables as Markdown lines."""
    work = Path(tempfile.mkdtemp(prefix="bench_training_"))
    try:
        folders = link_slice(Path(args.data), work / "data", args.utterances)
        train, hparams, prepared, brain = make_recipe(folders, work, args)
        batch = args.batch_size
        views = len(hparams["views"])
        machine_before = machine_line()

        # --- cached: build the cache (timed), then steps.
        start = time.perf_counter()
        cached_set = train.build_train_set(hparams, brain, prepared)
        build_s = time.perf_counter() - start
        n_crops = len(cached_set)
        n_train = len(prepared_rows(prepared))
        time_steps(brain, cached_set, batch, 1, seed=1)  # warm-up
        cached_runs = [
            time_steps(brain, cached_set, batch, args.steps, seed=2 + r)
            for r in range(args.repeats)
        ]
        cached_s = statistics.median(cached_runs)
        e2e_cached_steps_s = time_steps(
            brain, cached_set, batch, args.e2e_steps, seed=100
        )

        # --- online: audio crops -> views -> frozen encoder every step.
        hparams["use_cache"] = False
        online_set = train.build_train_set(hparams, brain, prepared)
        time_steps(brain, online_set, batch, 1, seed=1)  # warm-up
        online_s = time_steps(brain, online_set, batch, args.steps, seed=2)
        if args.online_e2e:
            e2e_online_s = time_steps(
                brain, online_set, batch, args.e2e_steps, seed=100
            )
            online_how = "measured"
        else:
            e2e_online_s = online_s / args.steps * args.e2e_steps
            online_how = f"{args.steps} steps measured, x {args.e2e_steps}"
        machine_after = machine_line()
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    cached_rate = args.steps / cached_s
    online_rate = args.steps / online_s
    e2e_cached = build_s + e2e_cached_steps_s
    lines = [
        f"Machine: {machine_before} (before); load average "
        f"{machine_after.rsplit(' ', 1)[-1]} (after).",
        "",
        f"Table 1: SEED optimiser steps, batch {batch} crops x {views} views"
        f" ({batch * (views - 1)} diffusion pairs), GE2E encoder, "
        f"{args.steps} steps.",
        "",
        "| pipeline | steps/s | wall time for "
        f"{args.steps} steps (s) | ratio |",
        "|---|---:|---:|---:|",
        f"| online (re-encode every view each step) | {online_rate:.3f} | "
        f"{online_s:.2f} | 1x |",
        f"| cached embeddings | {cached_rate:.1f} | {cached_s:.3f} | "
        f"{cached_rate / online_rate:,.0f}x |",
        "",
        f"Cached: median of {args.repeats} runs of {args.steps} steps.",
        "",
        f"Table 2: end to end on {args.utterances} train-clean-100 "
        f"utterances ({n_train} for training, the others in the dev set; "
        f"{args.crops_per_utt} crops each: {n_crops:,} crops x {views} "
        f"views in the cache), {args.e2e_steps} steps of batch {batch}.",
        "",
        "| pipeline | cache build (s) | training (s) | total (s) | speed-up |",
        "|---|---:|---:|---:|---:|",
        f"| online | - | {e2e_online_s:.1f} ({online_how}) | "
        f"{e2e_online_s:.1f} | 1x |",
        f"| cached | {build_s:.1f} | {e2e_cached_steps_s:.2f} | "
        f"{e2e_cached:.1f} | {e2e_online_s / e2e_cached:.1f}x |",
    ]
    per_online = online_s / args.steps
    per_cached = cached_s / args.steps
    if per_online > 5 * per_cached:
        breakeven = 5 * build_s / (per_online - 5 * per_cached)
        lines += [
            "",
            f"Cache build = {build_s / per_online:.0f} online steps; the "
            f"end-to-end speed-up reaches 5x from {breakeven:.0f} steps.",
        ]
    return lines


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    add_numbers(parser, utterances=150, crops_per_utt=30, batch_size=128)
    add_numbers(parser, steps=10, repeats=5)
    parser.add_argument(
        "--e2e-steps",
        type=int,
        default=1000,
        help="steps of the end-to-end comparison (yaml: 10 x 100)",
    )
    parser.add_argument(
        "--online-e2e",
        action="store_true",
        help="run all --e2e-steps online steps instead of extrapolating",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", action="store_true")
    args = parse_with_threads(parser, argv)
    print("\n".join(run(args)))


if __name__ == "__main__":
    main()
