"""Benchmark seed_brain.scoring against SpeechBrain's EER and minDCF.

Run from the repository root::

    python benchmarks/bench_scoring.py [--sizes 10000 40000 159536]

For each trial count it writes synthetic 256-d float32 embedding pairs
(10 % targets) to a temporary folder, then measures in separate child
processes (one per measurement, so peak memory is not shared):

* ``ours``: ``cosine_scores`` + ``compute_eer`` + ``compute_min_dcf``
  (p_target 0.05) in a NumPy-only process (``seed_brain.scoring`` does not
  import torch);
* ``ours+torch``: the same with ``torch`` imported first, as in a
  SpeechBrain recipe;
* ``SB EER`` / ``SB minDCF``: ``speechbrain.utils.metric_stats.EER`` and
  ``minDCF(p_target=0.05)`` on the very same float64 scores (loaded from
  the ``ours`` run). ``minDCF`` is skipped when its ``thresholds x trials``
  matrices (float64 copy + bool mask + int64 cast of the mask in ``sum``,
  17 bytes per element, estimated from the number of unique scores) would
  exceed ``--max-matrix-gib``.

Times are wall-clock (``time.perf_counter``); ours is the best of
``--repeats`` runs, SpeechBrain's a single run. Peak memory is the peak
resident set size (``ru_maxrss``) of each child, read by the parent with
``os.wait4``; the child also reports its ``ru_maxrss`` right after imports
and data loading ("base"), so the increase is the metric's own working
memory. Children leave with ``os._exit`` once measured, because torch's
interpreter teardown alone adds ~170 MiB to ``ru_maxrss``. Prints Markdown
tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
P_TARGET = 0.05
TARGET_FRACTION = 0.10


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------
# Children
# ---------------------------------------------------------------------------


def _child_ours(folder: Path, repeats: int, with_torch: bool) -> dict:
    if with_torch:
        import torch  # noqa: F401  (only to measure its memory)
    from seed_brain.scoring import compute_eer, compute_min_dcf, cosine_scores

    enrol = np.load(folder / "enrol.npy")
    test = np.load(folder / "test.npy")
    is_target = np.load(folder / "labels.npy").astype(bool)
    base = _maxrss_mib()
    best = {"cosine": np.inf, "eer": np.inf, "min_dcf": np.inf, "total": np.inf}
    for _ in range(repeats):
        t0 = time.perf_counter()
        scores = cosine_scores(enrol, test)
        t1 = time.perf_counter()
        pos, neg = scores[is_target], scores[~is_target]
        eer = compute_eer(pos, neg)
        t2 = time.perf_counter()
        dcf = compute_min_dcf(pos, neg, p_target=P_TARGET)
        t3 = time.perf_counter()
        for key, value in (
            ("cosine", t1 - t0),
            ("eer", t2 - t1),
            ("min_dcf", t3 - t2),
            ("total", t3 - t0),
        ):
            best[key] = min(best[key], value)
    if not with_torch:
        np.save(folder / "scores.npy", scores)
    return {"time": best, "eer": eer, "min_dcf": dcf, "base_mib": base}


def _child_speechbrain(folder: Path, metric: str) -> dict:
    import torch
    from speechbrain.utils.metric_stats import EER, minDCF

    scores = np.load(folder / "scores.npy")
    is_target = np.load(folder / "labels.npy").astype(bool)
    pos = torch.from_numpy(scores[is_target])
    neg = torch.from_numpy(scores[~is_target])
    base = _maxrss_mib()
    t0 = time.perf_counter()
    if metric == "eer":
        value = EER(pos, neg)
    else:
        value = minDCF(pos, neg, p_target=P_TARGET)
    elapsed = time.perf_counter() - t0
    return {"time": elapsed, "value": value, "base_mib": base}


def _child_main(mode: str, folder: str, repeats: int) -> None:
    folder_path = Path(folder)
    if mode in ("ours", "ours+torch"):
        result = _child_ours(folder_path, repeats, mode == "ours+torch")
    else:
        result = _child_speechbrain(folder_path, mode.split()[-1])
    print(json.dumps(result), flush=True)
    # Skip interpreter teardown: with torch loaded it raises ru_maxrss by
    # ~170 MiB at exit, which is not the metric's memory.
    os._exit(0)


# ---------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------


def _run_child(mode: str, folder: Path, repeats: int, timeout: float) -> dict:
    """Run one measurement in a child; add its peak RSS (from os.wait4)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    cmd = [sys.executable, __file__, "--child", mode, str(folder)]
    cmd += ["--repeats", str(repeats)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, env=env
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            if proc.returncode < 0:
                return {"error": f"killed after {timeout:.0f} s (timeout)"}
            return {"error": f"exit {proc.returncode}: {tail}"}
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_mib"] = usage.ru_maxrss / 1024.0
    return result


def _make_data(folder: Path, n_trials: int, dim: int) -> None:
    """Embedding pairs whose cosine is ~0.2 (targets) or ~0 (non-targets).

    Scores have a standard deviation of ~1 / sqrt(dim), giving an EER of a
    few percent.
    """
    rng = np.random.default_rng(n_trials)
    is_target = np.zeros(n_trials, dtype=bool)
    is_target[: round(TARGET_FRACTION * n_trials)] = True
    rng.shuffle(is_target)
    enrol = rng.standard_normal((n_trials, dim), dtype=np.float32)
    test = rng.standard_normal((n_trials, dim), dtype=np.float32)
    test[is_target] += np.float32(0.2) * enrol[is_target]
    np.save(folder / "enrol.npy", enrol)
    np.save(folder / "test.npy", test)
    np.save(folder / "labels.npy", is_target.astype(np.int8))


def _speechbrain_matrix_gib(folder: Path) -> float:
    """Peak bytes of SpeechBrain's minDCF: thresholds x trials matrices.

    ``minDCF`` stacks the scores once per threshold (float64 here, 8 bytes),
    compares them with the thresholds (bool, 1 byte) and sums the mask
    (which torch casts to int64 first, 8 bytes), first for the targets then
    for the non-targets; the larger class sets the peak. (Checked at 10,000
    trials: 2.85 GiB estimated, 2.87 GiB measured above the base RSS.)
    """
    scores = np.load(folder / "scores.npy")
    is_target = np.load(folder / "labels.npy").astype(bool)
    n_thresholds = 2 * np.unique(scores).size - 1
    n_class = max(int(is_target.sum()), int((~is_target).sum()))
    return n_thresholds * n_class * (scores.itemsize + 1 + 8) / 2**30


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fmt_mem(result: dict) -> str:
    if "error" in result:
        return result["error"]
    return f"{result['peak_mib']:.0f} (base {result['base_mib']:.0f})"


def _print_rows(rows: list[list[str]]) -> None:
    """Prints the alignment line and the rows of a Markdown table."""
    print("|" + "---:|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 40_000, 159_536]
    )
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-matrix-gib", type=float, default=4.0)
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="per child, seconds"
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"))
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.child[0], args.child[1], args.repeats)
        return

    timing_rows, memory_rows, checks = [], [], []
    for n_trials in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"bench_scoring_{n_trials}_"))
        try:
            _make_data(folder, n_trials, args.dim)
            print(f"[{n_trials} trials] ours ...", file=sys.stderr)
            ours = _run_child("ours", folder, args.repeats, args.timeout)
            if "error" in ours:
                raise RuntimeError(f"ours failed: {ours['error']}")
            ours_t = _run_child(
                "ours+torch", folder, args.repeats, args.timeout
            )
            print(f"[{n_trials} trials] SpeechBrain EER ...", file=sys.stderr)
            sb_eer = _run_child("sb eer", folder, 1, args.timeout)
            gib = _speechbrain_matrix_gib(folder)
            if gib > args.max_matrix_gib:
                sb_dcf = {"error": f"skipped (matrix est. {gib:.1f} GiB)"}
            else:
                print(
                    f"[{n_trials} trials] SpeechBrain minDCF ({gib:.1f} GiB)"
                    " ...",
                    file=sys.stderr,
                )
                sb_dcf = _run_child("sb min_dcf", folder, 1, args.timeout)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

        n_targets = round(TARGET_FRACTION * n_trials)
        t = ours["time"]
        sb_eer_t = sb_eer.get("time")
        sb_dcf_t = sb_dcf.get("time")
        diffs = []
        if sb_eer_t is not None:
            diffs.append(abs(ours["eer"][0] - sb_eer["value"][0]))
        if sb_dcf_t is not None:
            diffs.append(abs(ours["min_dcf"][0] - sb_dcf["value"][0]))
        timing_rows.append(
            [
                f"{n_trials:,}",
                f"{n_targets:,}",
                _fmt_s(t["cosine"]),
                _fmt_s(t["eer"]),
                _fmt_s(t["min_dcf"]),
                _fmt_s(t["total"]),
                sb_eer.get("error") or _fmt_s(sb_eer_t),
                sb_dcf.get("error") or _fmt_s(sb_dcf_t),
                "-" if sb_eer_t is None else f"{sb_eer_t / t['eer']:,.0f}x",
                "-" if sb_dcf_t is None else f"{sb_dcf_t / t['min_dcf']:,.0f}x",
                f"{100 * ours['eer'][0]:.3f}",
                f"{ours['min_dcf'][0]:.4f}",
                "-" if not diffs else f"{max(diffs):.1e}",
            ]
        )
        memory_rows.append(
            [
                f"{n_trials:,}",
                _fmt_mem(ours),
                _fmt_mem(ours_t),
                _fmt_mem(sb_eer),
                _fmt_mem(sb_dcf),
            ]
        )
        checks.append((n_trials, t["total"], ours["peak_mib"], ours_t))

    print(
        "| trials | targets | ours cosine (s) | ours EER (s) | ours minDCF (s)"
        " | ours total (s) | SB EER (s) | SB minDCF (s) | EER speed-up"
        " | minDCF speed-up | EER (%) | minDCF | max abs diff vs SB |"
    )
    _print_rows(timing_rows)
    print(
        "| trials | ours peak RSS MiB (NumPy only) | ours peak RSS MiB (torch"
        " imported) | SB EER peak RSS MiB | SB minDCF peak RSS MiB |"
    )
    _print_rows(memory_rows)
    print(
        f"ours = cosine_scores + compute_eer + compute_min_dcf(p_target="
        f"{P_TARGET}), best of {args.repeats}; SB = speechbrain "
        "EER / minDCF, one run, same float64 scores. Peak RSS = child "
        "ru_maxrss via os.wait4 (base = ru_maxrss after imports and data "
        f"loading; the {args.dim}-d float32 embedding pairs are part of "
        "ours' base). minDCF is skipped when its thresholds x trials "
        f"matrix would exceed {args.max_matrix_gib:g} GiB."
    )
    for n_trials, total, peak, with_torch in checks:
        peak_t = with_torch.get("peak_mib", float("nan"))
        print(
            f"- {n_trials:,} trials: total {total:.3f} s "
            f"({'<' if total < 2 else '>='} 2 s), peak RSS {peak:.0f} MiB "
            f"NumPy-only / {peak_t:.0f} MiB with torch imported "
            f"({'<' if max(peak, peak_t) < 1024 else '>='} 1 GiB)"
        )


if __name__ == "__main__":
    main()
