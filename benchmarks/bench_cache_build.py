"""Benchmark the default recipe's cache build: another checkout vs this one.

Run from the repository root, with a checkout of the code to compare
against (e.g. ``git worktree add --detach /tmp/wt-before main``) and the
``data`` folder of a run of the default command (its prepared
``train.csv`` and noise / RIR CSVs)::

    python benchmarks/bench_cache_build.py --before /tmp/wt-before \\
        --data results/unseen/data [--utterances 12]

The first ``--utterances`` rows of the prepared training manifest are
cached with ``hparams/seed_ge2e.yaml``'s settings (its crops x 7 views,
GE2E) by each checkout's own ``train.build_train_set``, in a subprocess
each, in the order before, after, after, before (so that a load that
changes over time weighs on both alike); the table gives the build times
and checks that the two arrays are byte-identical.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
code, data, subset, cache = sys.argv[1:5]
sys.path.insert(0, code)
os.chdir(code)
from hyperpyyaml import load_hyperpyyaml
import train
from seed_brain.model.brain import SEEDBrain
overrides = {"output_folder": cache, "data_folder": data, "cache_folder": cache}
with open("hparams/seed_ge2e.yaml", encoding="utf-8") as fin:
    hparams = load_hyperpyyaml(fin, overrides)
brain = SEEDBrain(
    modules=hparams["modules"],
    opt_class=hparams["opt_class"],
    hparams=hparams,
    run_opts={"device": "cpu", "noprogressbar": True},
    checkpointer=None,
)
start = time.perf_counter()
dataset = train.build_train_set(hparams, brain, {"train_csv": subset})
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(dataset)}))
"""


def build(code, data, subset, cache):
    """Cache build time of one checkout (a subprocess); its JSON line."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(code), data, subset, cache],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"build with {code} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def digest(cache):
    """SHA-1 of the cache array."""
    path = Path(cache) / "views" / "views.f32"
    sha = hashlib.sha1()
    with open(path, "rb") as fin:
        for chunk in iter(lambda: fin.read(1 << 24), b""):
            sha.update(chunk)
    return sha.hexdigest()[:16]


def run(args):
    """ABBA builds; the table as Markdown lines."""
    from bench_training import machine_line

    work = Path(tempfile.mkdtemp(prefix="bench_cache_build_"))
    try:
        with open(Path(args.data) / "train.csv", newline="") as fin:
            rows = list(csv.DictReader(fin))[: args.utterances]
        subset = work / "train.csv"
        with open(subset, "w", newline="") as fout:
            writer = csv.DictWriter(fout, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        before = machine_line()
        times = {"before": [], "after": []}
        crop_rows = {}
        digests = {}
        for k, which in enumerate(("before", "after", "after", "before")):
            code = Path(args.before) if which == "before" else REPO
            cache = work / f"cache{k}"
            start = time.perf_counter()
            out = build(
                code, str(Path(args.data).resolve()), str(subset), str(cache)
            )
            times[which].append(out["seconds"])
            crop_rows[which] = out["rows"]
            digests.setdefault(which, digest(cache))
            shutil.rmtree(cache)
            total = time.perf_counter() - start
            print(
                f"{which}: {out['seconds']:.1f} s ({total:.1f} s in all)",
                file=sys.stderr,
            )
        after = machine_line()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    b, a = statistics.mean(times["before"]), statistics.mean(times["after"])
    crops = crop_rows["after"]
    return [
        f"Machine: {before} (before); load average "
        f"{after.rsplit(' ', 1)[-1]} (after).",
        "",
        f"{len(rows)} utterances x {crops // len(rows)} crops x 7 views "
        "(GE2E; the crops of this checkout's yaml), order before, after, "
        "after, before.",
        "",
        "| code | build times (s) | mean (s) | crops/s | ratio | array SHA-1 |",
        "|---|---|---:|---:|---:|---|",
        f"| before ({args.before}) | "
        f"{', '.join(f'{t:.1f}' for t in times['before'])} | {b:.1f} | "
        f"{crops / b:.1f} | 1x | {digests['before']} |",
        f"| after (this checkout) | "
        f"{', '.join(f'{t:.1f}' for t in times['after'])} | {a:.1f} | "
        f"{crops / a:.1f} | {b / a:.2f}x | {digests['after']} |",
        "",
        "Byte-identical arrays: "
        + ("yes" if digests["before"] == digests["after"] else "NO"),
    ]


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="checkout to compare")
    parser.add_argument("--data", required=True, help="prepared data folder")
    parser.add_argument("--utterances", type=int, default=12)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "benchmarks"))
    print("\n".join(run(args)))


if __name__ == "__main__":
    main()
