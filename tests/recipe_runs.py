"""Tiny real-data runs of ``train.py`` shared by the reliability tests.

``test_reproducibility.py`` and ``test_interrupt.py`` run the recipe as a
user would (subprocesses from the repository root) on one tiny slice of
the shared data: 8 clean train-clean-100 files (2 held out for the dev
set, 2 for the held-out test sets, 4 trained on), 2 test-other speakers x
2 files, one noise file and one RIR, two test conditions, one crop per
utterance, 2 epochs of 4 steps. The
uninterrupted reference run is made once per pytest session (under the
session's base temporary folder) and reused by both modules.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HPARAMS = ROOT / "hparams" / "seed_ge2e.yaml"
CONDITIONS = (
    "[{name: clean, snr: null, reverb: False}, "
    "{name: noise_5dB, snr: 5.0, reverb: False}]"
)
TIMEOUT = 900


def make_slice(data_dir, root):
    """Symlinked tiny slice of the shared data under ``root`` (idempotent)."""
    root = Path(root)
    if (root / "ready").exists():
        return root
    for name in ("clean", "test", "noise", "rir"):
        (root / name).mkdir(parents=True, exist_ok=True)
    speech = data_dir / "speech"
    clean = sorted((speech / "train-clean-100").glob("*/*.flac"))[:8]
    for source in clean:
        (root / "clean" / source.name).symlink_to(source)
    speakers = sorted(
        p for p in (speech / "test-other").iterdir() if p.is_dir()
    )
    for spk in speakers[:2]:
        (root / "test" / spk.name).mkdir()
        for source in sorted(spk.glob("*.flac"))[:2]:
            (root / "test" / spk.name / source.name).symlink_to(source)
    (root / "noise" / "noise1.wav").symlink_to(
        data_dir / "noise" / "noise1.wav"
    )
    (root / "rir" / "rir1.wav").symlink_to(data_dir / "rir" / "rir1.wav")
    (root / "ready").touch()
    return root


def recipe_args(slice_root, out, *extra):
    """train.py arguments of the tiny run into ``out``."""
    slice_root = Path(slice_root)
    return [
        str(HPARAMS),
        f"--clean_folder={slice_root / 'clean'}",
        f"--test_folder={slice_root / 'test'}",
        f"--noise_folder={slice_root / 'noise'}",
        f"--rir_folder={slice_root / 'rir'}",
        f"--test_conditions={CONDITIONS}",
        "--crops_per_utt=1",
        "--cache_batch_size=1",  # 1 utterance per cache chunk: 4 chunks
        "--number_of_epochs=2",
        "--steps_per_epoch=4",
        "--batch_size=8",
        "--dev_utterances=2",
        "--dev_max_segments=2",
        "--heldout_test_utterances=2",
        "--n_bootstrap=0",
        f"--output_folder={out}",
        *extra,
    ]


#: The defaults of :func:`slice_args`.
SHORT_RUN = {
    "crops_per_utt": 2,
    "number_of_epochs": 2,
    "steps_per_epoch": 3,
    "batch_size": 16,
    "dev_utterances": 3,
    "heldout_test_utterances": 2,
    "n_bootstrap": 0,
}


def slice_args(slices, data_dir, out, **settings):
    """train.py arguments of a short run on ``slices`` into ``out``.

    ``slices/clean`` and ``slices/test`` are the training and test folders,
    the shared data's noise and RIR folders the noise sources. ``settings``
    (name=value) replace or add to :data:`SHORT_RUN`.
    """
    values = dict(SHORT_RUN, **settings)
    return [
        f"--clean_folder={Path(slices) / 'clean'}",
        f"--test_folder={Path(slices) / 'test'}",
        f"--noise_folder={data_dir / 'noise'}",
        f"--rir_folder={data_dir / 'rir'}",
        *(f"--{name}={value}" for name, value in values.items()),
        f"--output_folder={out}",
    ]


def launch(cmd, log, env=None):
    """Starts ``cmd`` from the repository root, its output into ``log``."""
    handle = open(log, "w", encoding="utf-8")
    proc = subprocess.Popen(
        [str(arg) for arg in cmd],
        cwd=ROOT,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=env,
    )
    proc.log_handle = handle
    proc.log_path = Path(log)
    return proc


def start(script_args, log):
    """Starts ``python <script_args>`` from the repository root."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    return launch([sys.executable, *script_args], log, env)


def finish(proc, timeout=TIMEOUT):
    """Waits for a process; fails the test with its log tail on an error."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # as subprocess.run does: no process left behind
        proc.wait()
        raise
    finally:
        proc.log_handle.close()
    if proc.returncode != 0:
        tail = proc.log_path.read_text(encoding="utf-8", errors="replace")
        pytest.fail(
            f"{proc.args} exited with {proc.returncode}:\n{tail[-4000:]}"
        )


def run(script_args, log):
    """Runs a script to completion (see :func:`finish`)."""
    finish(start(script_args, log))


def run_to_log(cmd, log, timeout=TIMEOUT, env=None):
    """Runs ``cmd`` to completion (see :func:`launch` and :func:`finish`)."""
    finish(launch(cmd, log, env), timeout)


def kill_when(proc, condition, delay=0.0, timeout=TIMEOUT, poll=0.001):
    """SIGKILLs ``proc`` ``delay`` s after ``condition()`` first holds.

    Returns True when the process was killed, False when it ended first
    (the caller decides whether that makes the attempt void).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            proc.log_handle.close()
            return False
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"kill condition never held for {proc.args}")
        time.sleep(poll)
    if delay:
        time.sleep(delay)
    if proc.poll() is not None:
        proc.log_handle.close()
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.log_handle.close()
    assert proc.returncode == -signal.SIGKILL
    return True


def rng():
    """A random generator whose seed is printed (rerun a failure with it)."""
    seed = int(
        os.environ.get(
            "SEED_KILL_SEED", random.SystemRandom().randint(0, 2**31)
        )
    )
    print(f"kill-point seed: SEED_KILL_SEED={seed}")
    return random.Random(seed)


def final_weights(out):
    """Denoiser and EMA tensors of the end-of-training checkpoint."""
    import torch
    import yaml

    for ckpt in sorted((Path(out) / "save").glob("CKPT+*")):
        meta = yaml.safe_load((ckpt / "CKPT.yaml").read_text())
        epoch = (ckpt / "counter.ckpt").read_text().strip()
        if meta.get("end-of-epoch") and epoch == "2":
            return {
                name: torch.load(ckpt / f"{name}.ckpt", weights_only=True)
                for name in ("denoiser", "ema", "optimizer", "train_noise")
            }
    raise AssertionError(f"no end-of-training checkpoint in {out}/save")


def assert_same_weights(a, b):
    """Exactly equal tensors (nested dicts, lists, tensors)."""
    import torch

    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_weights(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_weights(x, y)
    else:
        assert a == b


def reference_run(tmp_path_factory, data_dir):
    """The uninterrupted tiny run, made once per session; returns its folder."""
    from seed_brain.lobes.ge2e import find_pretrained_ge2e

    try:
        find_pretrained_ge2e()
    except FileNotFoundError:
        pytest.skip("GE2E weights missing: pip install --no-deps resemblyzer")
    base = tmp_path_factory.getbasetemp() / "seed_reference"
    slice_root = make_slice(data_dir, base / "slice")
    out = base / "out"
    if not (base / "done").exists():
        run(["train.py", *recipe_args(slice_root, out)], base / "train.log")
        (base / "done").touch()
    return out, slice_root
