"""Projection of the paper's setting (1,000 h, ResNet 512-d) from measurements.

Run from the repository root::

    python benchmarks/bench_projection.py [--hours 1000] [--device cpu]

Measured here, on ``--device``: the throughput of the frozen encoder of
``hparams/seed_resnet.yaml`` (``ResNetSE34V2`` + ASP, 512-d; random
weights, which cost the same as the published ones) on the recipe's
2.015 s crops in batches of ``--batch-size``, and the time of the recipe's
SEED training step (``SEEDBrain.fit_batch``: 128 rows x 7 views x 512,
the yaml's denoiser, diffusion and EMA). Projected from them: the crops
of ``--hours`` of speech at ``--crops-per-second`` (the yaml's
proportional mode), the cache size in float32 and float16, the encoder
time of the cache build (distinct views only: the two clean views are one
pass), and the training time of the yaml's ``number_of_epochs`` x
``steps_per_epoch`` steps. Audio decoding and augmentation are not in the
build estimate (the encoder dominates on a CPU); on another device, run
the script there: these are extrapolations, not runs at that scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from bench_common import add_numbers, parse_with_threads  # noqa: E402
from bench_training import machine_line  # noqa: E402
from hyperpyyaml import load_hyperpyyaml  # noqa: E402
from speechbrain.dataio.batch import PaddedBatch  # noqa: E402

from seed_brain.model.brain import SEEDBrain  # noqa: E402

HPARAMS = REPO / "hparams" / "seed_resnet.yaml"


def load_recipe(device):
    """The ResNet yaml (random encoder weights) and its SEEDBrain."""
    overrides = {
        "output_folder": tempfile.mkdtemp(prefix="bench_projection_"),
        "pretrained_path": None,
    }
    with open(HPARAMS, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    brain = SEEDBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts={"device": device, "noprogressbar": True},
        checkpointer=None,
    )
    brain.init_optimizers()
    return hparams, brain


def encoder_crops_per_s(brain, crop_samples, batch_size, repeats):
    """Crops per second through the frozen encoder (median of repeats)."""
    wavs = 0.1 * torch.randn(batch_size, crop_samples, device=brain.device)
    brain.encode(wavs)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        brain.encode(wavs)
        if str(brain.device).startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return batch_size / statistics.median(times)


def step_seconds(brain, hparams, repeats):
    """Seconds of one SEED training step (median of repeats)."""
    views, dim = len(hparams["views"]), hparams["embedding_dim"]
    batch = PaddedBatch(
        [{"emb": torch.randn(views, dim)} for _ in range(hparams["batch_size"])]
    )
    brain.modules.train()
    brain.fit_batch(batch)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        brain.fit_batch(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hours(seconds):
    """Seconds as hours text.

    Example
    -------
    >>> hours(5400)
    '1.50 h'
    """
    return f"{seconds / 3600:,.2f} h"


def run(args):
    """Measures, projects; returns the table as Markdown lines."""
    before = machine_line()
    hparams, brain = load_recipe(args.device)
    crop = hparams["crop_samples"]
    views = list(hparams["views"])
    distinct = len(hparams["view_builder"].distinct_views()[0])
    dim = hparams["embedding_dim"]
    rate = encoder_crops_per_s(brain, crop, args.batch_size, args.repeats)
    step = step_seconds(brain, hparams, args.repeats)
    after = machine_line()

    crops = int(args.hours * 3600 * args.crops_per_second)
    size32 = crops * len(views) * dim * 4
    build = crops * distinct / rate
    build_all = crops * len(views) / rate
    steps = hparams["number_of_epochs"] * hparams["steps_per_epoch"]
    gb = 1e9
    return [
        f"Machine: {before} (before); load average "
        f"{after.rsplit(' ', 1)[-1]} (after); device {args.device}.",
        "",
        f"Measured: ResNetSE34V2 ({dim}-d) {rate:.1f} crops/s of "
        f"{crop / 16000:.3f} s (batch {args.batch_size}, median of "
        f"{args.repeats}); SEED step {step:.3f} s (batch "
        f"{hparams['batch_size']} x {len(views)} views).",
        "",
        "| quantity | value |",
        "|---|---:|",
        f"| speech | {args.hours:,.0f} h |",
        f"| crops ({args.crops_per_second:g} per second of speech) | "
        f"{crops:,} |",
        f"| views stored / encoded (distinct) | {len(views)} / {distinct} |",
        f"| cache size, float32 | {size32 / gb:.1f} GB |",
        f"| cache size, float16 | {size32 / 2 / gb:.1f} GB |",
        f"| encoder passes | {crops * distinct:,} |",
        f"| cache build, encoder only, this device | {hours(build)} "
        f"({hours(build_all)} without sharing the clean pass) |",
        f"| training, {steps:,} steps of the yaml | {hours(steps * step)} |",
    ]


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_numbers(
        parser, hours=1000.0, crops_per_second=0.25, batch_size=16, repeats=3
    )
    parser.add_argument("--device", default="cpu")
    args = parse_with_threads(parser, argv)
    print("\n".join(run(args)))


if __name__ == "__main__":
    main()
