"""Smoke tests: the scripts of ``benchmarks/`` run and print their tables.

Tiny sizes only (a few utterances, steps and trials); the numbers are not
checked, only that each script finishes and prints a Markdown table.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench(name, *args):
    """Runs ``benchmarks/<name>`` and returns its standard output."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


@pytest.mark.slow
def test_bench_training_runs(data_dir):
    """Cached and online SEED steps are timed on a 4-utterance slice."""
    out = _bench(
        "bench_training.py",
        f"--data={data_dir}",
        "--utterances=4",
        "--crops-per-utt=2",
        "--batch-size=4",
        "--steps=2",
        "--repeats=1",
        "--e2e-steps=3",
    )
    assert "| cached embeddings |" in out
    assert "| online |" in out and "| cached |" in out


@pytest.mark.slow
def test_bench_embedding_runs(data_dir):
    """GE2E and a small ECAPA, ours vs EncoderClassifier, and SEED cost."""
    out = _bench(
        "bench_embedding.py",
        f"--data={data_dir}",
        "--files=2",
        "--batch-sizes",
        "1",
        "2",
        "--repeats=1",
        "--seed-repeats=2",
        "--small-ecapa",
    )
    # Table 1: SpeechBrain + 2 batch sizes; table 2: one row.
    assert out.count("| GE2E") == 4 and out.count("| ECAPA-TDNN") == 4
    assert ") 1.000000" in out  # GE2E: same embeddings both ways


@pytest.mark.slow
def test_bench_scoring_runs():
    """Ours and SpeechBrain's EER / minDCF on 2,000 trials."""
    out = _bench("bench_scoring.py", "--sizes", "2000", "--repeats", "1")
    assert "| 2,000 |" in out


@pytest.mark.slow
def test_bench_cache_scale_runs(tmp_path):
    """All four readings on tiny caches, which are deleted afterwards."""
    out = _bench(
        "bench_cache_scale.py",
        "--size-gb=0.02",
        "--small-gb=0.01",
        "--seconds=1",
        "--loader-seconds=1",
        "--warmup=1",
        "--threads=1",
        f"--folder={tmp_path}",
    )
    assert "| random rows, in RAM (baseline) |" in out
    assert "| block reading, larger than RAM |" in out
    assert list(tmp_path.iterdir()) == []  # the caches are gone


@pytest.mark.slow
def test_bench_projection_runs():
    """Encoder throughput and step time measured, the projection printed."""
    out = _bench(
        "bench_projection.py", "--repeats=1", "--batch-size=2", "--threads=1"
    )
    assert "| cache size, float16 |" in out and "| crops (" in out
