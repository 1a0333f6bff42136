"""Benchmark the default run on the shared data: wall time by phase.

Runs the README's default command ("Unseen noise and rooms": train.py with
``hparams/seed_ge2e.yaml`` on ``../shared/data``) from scratch, once with
the settings to compare against and once with the defaults, in a fresh
output folder each, one after the other, in subprocesses started from
this process. Every line the run prints is time-stamped as it arrives; the
phases are cut at log lines both versions print:

=========== ==========================================================
phase       from ... to
=========== ==========================================================
prepare     start -> "Prepared ..." (manifests, noise / RIR CSVs, splits,
            trial lists, noisy test conditions, input checks)
cache       -> "Going into epoch 1" (the view-embedding cache, dev
            embeddings, the model)
training    -> "embed test:" (the epochs with their calibration and
            validation)
evaluation  -> "Results written" (test embeddings, scoring, bootstrap,
            plots, reports)
export      -> the end (the model folder)
=========== ==========================================================

Usage, from the repository root (about 15 minutes on two CPU cores)::

    python benchmarks/bench_default_run.py --out /tmp/bench_default \\
        [--before /path/to/other/checkout] [--before-args ...]

``--runs after`` times this checkout's defaults alone (``times.json``).

``--before`` runs the comparison in another checkout of the code (e.g.
``git worktree add --detach /tmp/wt-before <rev>``); without it, this
checkout runs with ``--before-args`` (default: the settings before the
speed-ups, ``--cache_precision=fp32 --number_of_epochs=10``). The table
gives each phase's seconds and the ratio after / before, then the results
of both runs: the EER change of SEED over the frozen encoder with the
bootstrap interval of the *before* run, and whether the after run's change
lies inside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

#: The phases, each ending at the first line holding its marker.
PHASES = (
    ("prepare", "Prepared "),
    ("cache", "Going into epoch 1"),
    ("training", "embed test:"),
    ("evaluation", "Results written"),
    ("export", None),
)

#: The settings of the default run before the speed-ups of issue #14.
BEFORE_ARGS = "--cache_precision=fp32 --number_of_epochs=10"


def default_command(data, output_folder):
    """The README's default command on ``data``, writing ``output_folder``.

    Example
    -------
    >>> cmd = default_command("/d", "/o")
    >>> cmd[:2], cmd[-1]
    (['train.py', 'hparams/seed_ge2e.yaml'], '--output_folder=/o')
    """
    speech = f"{data}/speech"
    held_out = "1737 1867 32 3242 3664 3947 460 4680 6272 669".split()
    return [
        "train.py",
        "hparams/seed_ge2e.yaml",
        f"--clean_folder=[{speech}/train-clean-100,{speech}/train-clean-5]",
        f"--heldout_folder={speech}/train-clean-100",
        "--heldout_exclude=[" + ",".join(f"{s}/*" for s in held_out) + "]",
        f"--test_folder={speech}/test-other",
        f"--noise_folder={data}/noise-esc10",
        f"--rir_folder={data}/rir-air",
        f"--test_noise_folder={data}/noise",
        f"--test_rir_folder={data}/rir",
        f"--output_folder={output_folder}",
    ]


def phase_times(stamped_lines, total):
    """Seconds of each phase from ``(seconds, line)`` pairs.

    A phase whose marker never appears gets None (and the next phase
    starts where the last found one ended).

    Example
    -------
    >>> lines = [(5.0, "x - Prepared 3 training utterances"),
    ...          (9.0, "Going into epoch 1"), (20.0, "embed test: 0 of 9"),
    ...          (30.0, "Results written to r.md")]
    >>> phase_times(lines, 31.0)
    {'prepare': 5.0, 'cache': 4.0, 'training': 11.0, 'evaluation': 10.0, \
'export': 1.0, 'total': 31.0}
    """
    times, start = {}, 0.0
    for name, marker in PHASES:
        end = total if marker is None else None
        if marker is not None:
            for seconds, line in stamped_lines:
                if seconds >= start and marker in line:
                    end = seconds
                    break
        times[name] = None if end is None else round(end - start, 1)
        if end is not None:
            start = end
    times["total"] = round(total, 1)
    return times


def run(code, args, log_path, threads):
    """Runs ``python <args>`` in ``code``, time-stamping what it prints."""
    env = dict(os.environ, PYTHONPATH=str(code), PYTHONUNBUFFERED="1")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    stamped = []
    with (
        open(log_path, "w", encoding="utf-8") as log,
        subprocess.Popen(
            [sys.executable, *args],
            cwd=code,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc,
    ):
        for line in proc.stdout:
            seconds = time.perf_counter() - start
            stamped.append((seconds, line))
            log.write(f"{seconds:8.1f} {line}")
        rc = proc.wait()
    total = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"the run failed (exit {rc}); see {log_path}")
    return phase_times(stamped, total)


def summary(results_path):
    """Per test set: (clean change, CI), (mean noisy relative change, CI)."""
    with open(results_path, encoding="utf-8") as f:
        results = json.load(f)
    sets = {"test": results}
    sets.update(results.get("test_sets", {}))
    out = {}
    for name, entry in sets.items():
        clean = next(c for c in entry["conditions"] if c["name"] == "clean")
        noisy = entry["mean_noisy_eer_change_ci"]
        out[name] = {
            "clean": (
                clean["eer_change_ci"]["delta"],
                clean["eer_change_ci"]["delta_ci"],
            ),
            "noisy": (noisy["relative"], noisy["relative_ci"]),
        }
    dev = results["dev"]
    out["dev"] = {"noisy_eer": (dev["baseline"]["eer"], dev["seed"]["eer"])}
    return out


def report(before, after, res_before, res_after):
    """The markdown tables of phase times and of results."""
    lines = [
        "| phase | before (s) | after (s) | after / before |",
        "|---|---:|---:|---:|",
    ]
    for name in [p for p, _ in PHASES] + ["total"]:
        b, a = before.get(name), after.get(name)
        ratio = f"{a / b:.2f}" if a is not None and b else "n/a"
        lines.append(f"| {name} | {b} | {a} | {ratio} |")
    lines += [
        "",
        "| test set | clean EER change, pp: before [CI] / after (inside) "
        "| mean noisy EER change, %: before [CI] / after (inside) |",
        "|---|---:|---:|",
    ]
    for name, entry in res_before.items():
        if name == "dev" or name not in res_after:
            continue
        cells = []
        for key in ("clean", "noisy"):
            (vb, (lo, hi)), va = entry[key], res_after[name][key][0]
            inside = "yes" if lo <= va <= hi else "NO"
            cells.append(
                f"{vb:+.2f} [{lo:+.2f}, {hi:+.2f}] / {va:+.2f} ({inside})"
            )
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    db, da = res_before["dev"]["noisy_eer"], res_after["dev"]["noisy_eer"]
    lines.append(
        f"\nValidation noisy EER: before {db[0]:.2f} -> {db[1]:.2f} %, "
        f"after {da[0]:.2f} -> {da[1]:.2f} %."
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="a new folder")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--before", default=str(REPO), help="a checkout")
    parser.add_argument("--before-args", default=BEFORE_ARGS)
    parser.add_argument("--after-args", default="")
    parser.add_argument(
        "--threads", type=int, default=0, help="0 = torch's default"
    )
    parser.add_argument(
        "--runs",
        choices=("both", "after"),
        default="both",
        help="after: time this checkout's defaults alone (no comparison)",
    )
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    if out.exists() and any(out.iterdir()):
        parser.error(f"--out {out} is not empty: name a new folder")
    out.mkdir(parents=True, exist_ok=True)
    times, res = {}, {}
    runs = [
        ("before", Path(args.before).resolve(), args.before_args),
        ("after", REPO, args.after_args),
    ]
    if args.runs == "after":
        runs = runs[1:]
    for name, code, extra in runs:
        folder = out / name
        cmd = default_command(args.data, folder) + shlex.split(extra)
        print(f"{name}: {' '.join(cmd)} (in {code})", flush=True)
        times[name] = run(code, cmd, out / f"{name}.log", args.threads)
        res[name] = summary(folder / "results.json")
        print(f"{name}: {times[name]}", flush=True)
    if args.runs == "after":
        (out / "times.json").write_text(json.dumps(times), encoding="utf-8")
        return
    text = report(times["before"], times["after"], res["before"], res["after"])
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
