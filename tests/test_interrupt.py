"""Interruption: a SIGKILLed run, rerun, ends as if never interrupted.

Each test starts a real process on the tiny slice of ``recipe_runs``,
kills it with SIGKILL at a random point of one stage (the point's seed is
printed; set ``SEED_KILL_SEED`` to replay it), reruns the same command,
and compares what it wrote with the uninterrupted reference run:

* data preparation and noisy-condition generation (a driver running
  ``train.prepare``): the data folder is identical, file for file;
* the embedding cache (``train.prepare`` + ``train.build_train_set``):
  ``views.f32`` and its index are identical, byte for byte;
* training (``train.py --ckpt_interval_steps=1``): the rerun resumes from
  the last intra-epoch checkpoint and its ``results.json`` equals the
  reference byte for byte (exact, not within a tolerance: the sampler,
  the data-loader position, the weights, the EMA, the optimiser and the
  training-noise generator are all checkpointed);
* a checkpoint save: the half-written checkpoint is set aside, the
  previous one loads, and ``results.json`` again equals the reference.
"""

import json
import shutil
from pathlib import Path

import pytest
from recipe_runs import (
    assert_same_weights,
    final_weights,
    finish,
    kill_when,
    recipe_args,
    reference_run,
    rng,
    run,
    start,
)

from seed_brain.model.checkpoints import _checkpoint_problem

pytestmark = pytest.mark.slow

# Runs the preparation (and the embedding cache) exactly as train.py does.
DRIVER = """
import sys
import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
import train
stage, argv = sys.argv[1], sys.argv[2:]
hparams_file, run_opts, overrides = sb.parse_arguments(argv)
with open(hparams_file, encoding="utf-8") as fin:
    hparams = load_hyperpyyaml(fin, overrides)
prepared = train.prepare(hparams)
if stage == "cache":
    brain = train.SEEDBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    train.build_train_set(hparams, brain, prepared)
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_dir):
    """(output folder, slice folder) of the uninterrupted run."""
    return reference_run(tmp_path_factory, data_dir)


def _files(folder):
    """Relative paths of the files below ``folder`` (temporaries apart)."""
    return {
        p.relative_to(folder)
        for p in Path(folder).rglob("*")
        if p.is_file() and not p.name.startswith(".") and ".tmp" not in p.name
    }


def _assert_same_tree(ref, new, ref_out, new_out, ignore=()):
    """Same files with the same bytes (output-folder paths aside)."""
    ref_files = {p for p in _files(ref) if p.name not in ignore}
    new_files = {p for p in _files(new) if p.name not in ignore}
    assert new_files == ref_files
    for rel in sorted(ref_files):
        a, b = (ref / rel).read_bytes(), (new / rel).read_bytes()
        if a != b:
            a = a.replace(str(ref_out).encode(), b"<OUT>")
            b = b.replace(str(new_out).encode(), b"<OUT>")
        assert a == b, f"{rel} differs from the uninterrupted run"


def _leftovers(folder):
    """Temporary files a killed writer left (never read by anything)."""
    return sorted(
        str(p.relative_to(folder))
        for p in Path(folder).rglob("*")
        if p.is_file() and (p.name.startswith(".") or ".tmp" in p.name)
    )


def _count(path, text):
    try:
        return Path(path).read_text(errors="replace").count(text)
    except FileNotFoundError:
        return 0


def _driver(stage, args):
    return ["-c", DRIVER, stage, *args]


def _fresh_run(reference, tmp_path):
    """(reference output, new output folder, recipe arguments into it)."""
    ref_out, slice_root = reference
    out = tmp_path / "out"
    return ref_out, out, recipe_args(slice_root, out)


def _rerun_prep_matches(args, tmp_path, ref_out, out):
    """Reruns the preparation; its data folder is the reference's."""
    run(_driver("prep", args), tmp_path / "rerun.log")
    _assert_same_tree(
        ref_out / "data", out / "data", ref_out, out, ["audio_check.json"]
    )


def test_kill_during_data_preparation(reference, tmp_path):
    """Killed at a random step of the preparation; the rerun completes."""
    ref_out, out, args = _fresh_run(reference, tmp_path)
    r = rng()
    steps = [
        "noise.csv",
        "rir.csv",
        "clean_all.csv",
        "audio_check.json",
        "dev/clean",
        "dev/noisy",
        "trials.txt",
        "conditions/noise_5dB",
        "test_sets/test_short/audio",
        "test_sets/heldout_short/conditions/noise_5dB",
        "test_sets/heldout_long/trials.txt",
    ]
    for attempt in range(3):  # until a kill lands before the end
        step, delay = r.choice(steps), r.uniform(0.0, 0.05)
        proc = start(_driver("prep", args), tmp_path / f"killed{attempt}.log")
        killed = kill_when(
            proc, (out / "data" / step).exists, delay, poll=0.002
        )
        if killed and not (out / "data" / "prepared.json").exists():
            break
    else:
        pytest.fail("no kill landed inside the preparation")
    print("killed after", step, "+", delay, "s; left:", _leftovers(out))
    _rerun_prep_matches(args, tmp_path, ref_out, out)


def test_kill_during_condition_generation(reference, tmp_path):
    """Killed while noisy test files are written; no partial file is kept."""
    ref_out, out, args = _fresh_run(reference, tmp_path)
    r = rng()
    folder = out / "data" / "conditions" / "noise_5dB"
    summary = out / "data" / "conditions" / "conditions.json"
    for attempt in range(3):  # until a kill lands before the last file
        # A fresh folder per attempt: an attempt that finished the condition
        # would leave nothing for the next one to interrupt. 4 test files:
        # wait for 0 to 3 of them, so the kill can land before the last.
        shutil.rmtree(out, ignore_errors=True)
        count, delay = r.randint(0, 3), r.uniform(0.0, 0.01)

        def written(count=count):
            return (
                folder.is_dir() and len(list(folder.glob("*/*.wav"))) >= count
            )

        proc = start(_driver("prep", args), tmp_path / f"killed{attempt}.log")
        killed = kill_when(proc, written, delay, poll=0.001)
        entry = json.loads(summary.read_text())["conditions"]["noise_5dB"]
        if killed and not entry["complete"]:
            break
    else:
        pytest.fail("no kill landed inside the condition generation")
    print("killed after", count, "files; left:", _leftovers(out))
    _rerun_prep_matches(args, tmp_path, ref_out, out)


def test_kill_during_cache_building(reference, tmp_path):
    """Killed in the middle of the view-embedding cache; the rerun resumes."""
    ref_out, out, args = _fresh_run(reference, tmp_path)
    r = rng()
    views = out / "cache" / "views"
    for attempt in range(6):  # until a kill lands before the last chunk
        # 4 training utterances, one per chunk: kill in chunk 1, 2 or 3.
        # A chunk can take well under 0.1 s (bf16 encoder), so a missed
        # attempt halves the delay: the kill lands sooner next time.
        done_before = r.choice([0, 1, 2])
        delay = r.uniform(0.0, 0.2) / 2**attempt

        def started(done_before=done_before):
            if done_before == 0:
                return (views / "index.json").exists()
            return _count(views / "done.json", '"') >= 2 * done_before

        proc = start(_driver("cache", args), tmp_path / f"killed{attempt}.log")
        killed = kill_when(proc, started, delay, poll=0.002)
        done = _count(views / "done.json", '"') // 2
        if killed and done < 4:
            break
        shutil.rmtree(out / "cache")  # complete: try again from scratch
    else:
        pytest.fail("no kill landed inside the cache build")
    print(f"killed with {done} of 4 utterances cached ({delay:.3f} s late)")
    run(_driver("cache", args), tmp_path / "rerun.log")
    for name in ("views.f32", "index.json", "done.json"):
        assert (views / name).read_bytes() == (
            ref_out / "cache" / "views" / name
        ).read_bytes(), name


def _epoch_lines(folder):
    """Last logged line of each epoch in train_log.txt."""
    lines = {}
    for line in (folder / "train_log.txt").read_text().splitlines():
        if line.startswith("epoch:"):
            lines[line.split(",")[0]] = line
    return lines


def _new_checkpoints(save, seen, new):
    """Records checkpoint folders not seen before; returns how many.

    A folder is known by name and the time in its ``CKPT.yaml`` (written
    first): SpeechBrain reuses the name of a deleted checkpoint saved
    within the same second.
    """
    if save.is_dir():
        for path in sorted(save.glob("CKPT+*")):
            try:
                meta = (path / "CKPT.yaml").read_text()
            except FileNotFoundError:
                continue  # not written yet, or deleted meanwhile
            stamp = [x for x in meta.splitlines() if x.startswith("unixtime")]
            if not stamp:
                continue  # being written
            key = (path.name, stamp[0])
            if key not in seen:
                seen.add(key)
                new.append(path)
    return len(new)


def test_kill_during_training_resumes_exactly(reference, tmp_path):
    """SIGKILL after a random training step; the rerun finishes identically."""
    ref_out, slice_root = reference
    out = tmp_path / "out"
    args = [
        "train.py",
        *recipe_args(slice_root, out, "--ckpt_interval_steps=1"),
    ]
    r = rng()
    # 8 steps, each followed by an intra-epoch checkpoint (plus one at
    # the end of each epoch): kill a random time after a random one.
    step, delay = r.randint(1, 8), r.uniform(0.0, 0.5)
    seen, new = set(), []
    proc = start(args, tmp_path / "killed.log")
    killed = kill_when(
        proc,
        lambda: _new_checkpoints(out / "save", seen, new) >= step,
        delay,
        poll=0.002,
    )
    assert killed, f"train.py ended before the kill (step {step} + {delay} s)"
    assert not (out / "results.json").exists()
    print(f"killed {delay:.3f} s after checkpoint {step} ({new[-1].name})")
    run(args, tmp_path / "rerun.log")
    rerun_log = (tmp_path / "rerun.log").read_text()
    assert "Loading a checkpoint from" in rerun_log  # resumed, not restarted
    assert (out / "results.json").read_bytes() == (
        ref_out / "results.json"
    ).read_bytes()
    # Exact: the trained weights, EMA, optimiser and noise generator too.
    assert_same_weights(final_weights(out), final_weights(ref_out))
    assert _epoch_lines(out) == _epoch_lines(ref_out)  # same losses


def test_kill_during_checkpoint_save(reference, tmp_path):
    """Killed while a checkpoint is written: the previous one is used."""
    ref_out, slice_root = reference
    out = tmp_path / "out"
    save = out / "save"
    args = [
        "train.py",
        *recipe_args(slice_root, out, "--ckpt_interval_steps=1"),
    ]
    r = rng()
    broken = None
    for attempt in range(3):
        seen, new = set(), []
        _new_checkpoints(save, seen, new)  # those of the attempts before
        # The k-th save from now (the first attempt keeps one complete
        # checkpoint before it; later ones resume with few saves left).
        target = r.randint(2, 6) if attempt == 0 else r.randint(1, 2)
        delay = r.uniform(0.0, 0.02)
        new.clear()

        def saving(seen=seen, new=new, target=target):
            return _new_checkpoints(save, seen, new) >= target

        proc = start(args, tmp_path / f"killed{attempt}.log")
        killed = kill_when(proc, saving, delay, poll=0.0005)
        assert killed, "train.py ended before the kill"
        required = ["denoiser", "ema", "counter", "brain", "train_noise"]
        if new[-1].exists() and _checkpoint_problem(new[-1], required):
            broken = new[-1]
            break
    assert broken is not None, "no kill landed inside a checkpoint save"
    print(
        f"killed inside the save of {broken.name}:",
        _checkpoint_problem(broken, required),
    )
    previous = [p for p in save.glob("CKPT+*") if p != broken]
    assert previous, "no complete checkpoint before the broken one"
    finish(start(args, tmp_path / "rerun.log"))
    rerun_log = (tmp_path / "rerun.log").read_text()
    assert f"Checkpoint {broken} is incomplete" in rerun_log
    assert (save.parent / "save" / f"incomplete-{broken.name}").exists()
    assert (out / "results.json").read_bytes() == (
        ref_out / "results.json"
    ).read_bytes()
    assert_same_weights(final_weights(out), final_weights(ref_out))
