"""Two-process (DDP, gloo) run of ``train.py`` on a slice of the real data.

``torchrun --standalone --nproc_per_node=2 train.py hparams/seed_ge2e.yaml
--distributed_backend=gloo`` on 12 train-clean-100 files and 3 test-other
speakers x 3 files, for a few steps: the embedding cache is built by both
processes (small chunks, so that each has some), training runs on both,
the main process scores. Both processes must finish, the cache must be
complete with its done flags merged, and the best checkpoint must load: a
single-process ``--test_only`` rerun reproduces ``results.json``.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seed_brain.cache import ViewCache
from seed_brain.lobes.ge2e import find_pretrained_ge2e

ROOT = Path(__file__).resolve().parents[1]
HPARAMS = ROOT / "hparams" / "seed_ge2e.yaml"


def _run(cmd, log):
    """Runs a command from the repository root; fails with the log tail."""
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=1200
        )
    if proc.returncode != 0:
        text = Path(log).read_text(encoding="utf-8", errors="replace")
        first = text.find("Traceback")  # the failing process's own error
        head = text[first : first + 4000] if first >= 0 else ""
        pytest.fail(
            f"{cmd[:4]} exited with {proc.returncode}:\n{head}\n...\n"
            f"{text[-2000:]}"
        )
    return Path(log).read_text(encoding="utf-8", errors="replace")


@pytest.mark.slow
def test_two_process_gloo_training(speech_slices, data_dir, tmp_path):
    """DDP training finishes on both processes; its checkpoint loads."""
    try:
        find_pretrained_ge2e()
    except FileNotFoundError:
        pytest.skip("GE2E weights missing: pip install --no-deps resemblyzer")
    speech_slices.clean(tmp_path / "clean", 12)
    speech_slices.test(tmp_path / "test", 3, 3)
    out = tmp_path / "out"
    args = [
        str(HPARAMS),
        f"--clean_folder={tmp_path / 'clean'}",
        f"--test_folder={tmp_path / 'test'}",
        f"--noise_folder={data_dir / 'noise'}",
        f"--rir_folder={data_dir / 'rir'}",
        "--crops_per_utt=2",
        "--cache_batch_size=4",  # 2 utterances per chunk: both shards work
        "--number_of_epochs=1",
        "--steps_per_epoch=2",
        "--batch_size=8",
        "--dev_utterances=3",
        "--n_bootstrap=0",
        f"--output_folder={out}",
    ]
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
    ]
    log = _run(
        [*torchrun, "train.py", *args, "--distributed_backend=gloo"],
        tmp_path / "ddp.log",
    )
    assert "in process 0 of 2" in log

    results = json.loads((out / "results.json").read_text())
    assert [c["name"] for c in results["conditions"]][0] == "clean"
    epochs = [
        line
        for line in (out / "train_log.txt").read_text().splitlines()
        if line.startswith("epoch:")
    ]
    assert len(epochs) == 1 and "dev_eer" in epochs[0]

    cache = ViewCache(str(out / "cache" / "views"))
    assert cache.complete()
    assert sorted(p.name for p in Path(cache.folder).glob("done*")) == [
        "done.json"
    ]
    assert len(cache.done()) == len(cache.index()["utterances"])

    first = (out / "results.json").read_text()
    log = _run(
        [sys.executable, "train.py", *args, "--test_only"],
        tmp_path / "test_only.log",
    )
    assert "Loading a checkpoint" in log
    assert "0 to compute" in log  # test embeddings reused from the cache
    assert (out / "results.json").read_text() == first
