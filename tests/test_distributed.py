"""Two-process (DDP, gloo) run of ``train.py`` on a slice of the real data.

``torchrun --standalone --nproc_per_node=2 train.py hparams/seed_ge2e.yaml
--distributed_backend=gloo`` on 12 train-clean-100 files and 3 test-other
speakers x 3 files, for a few steps: the embedding cache is built by both
processes (small chunks, so that each has some), training runs on both,
the main process scores. Both processes must finish, the cache must be
complete with its done flags merged, and the best checkpoint must load: a
single-process ``--test_only`` rerun reproduces ``results.json``.

A faster test checks the gather / broadcast helpers of
:mod:`seed_brain.utils.distributed` in two spawned gloo processes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from recipe_runs import HPARAMS, ROOT, slice_args

from seed_brain.lobes.ge2e import find_pretrained_ge2e
from seed_brain.utils.distributed import (
    broadcast,
    gather_dict,
    gather_missing_on_main,
    rank_and_world,
)
from seed_brain.views.cache import ViewCache


def _helpers_worker(rank, world, init_file, out_dir):
    """One process of :func:`test_helpers_in_two_processes`."""
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
    )
    try:
        assert rank_and_world() == (rank, world)
        merged = gather_dict({f"k{rank}": torch.tensor([rank]), "both": rank})
        # Rank 0 holds a, b; rank 1 holds b (again) and c only.
        local = {"a": 0, "b": 0} if rank == 0 else {"b": 1, "c": 1}
        gather_missing_on_main(local)
        stats = broadcast({"eer": 1.5} if rank == 0 else None)
        result = {
            "merged": {k: int(v) for k, v in merged.items()},
            "local": local,
            "stats": stats,
        }
        with open(os.path.join(out_dir, f"{rank}.json"), "w") as fout:
            json.dump(result, fout)
    finally:
        dist.destroy_process_group()


def test_helpers_in_two_processes(tmp_path):
    """gather_dict, gather_missing_on_main and broadcast over gloo."""
    mp.spawn(
        _helpers_worker,
        args=(2, str(tmp_path / "init"), str(tmp_path)),
        nprocs=2,
    )
    r0 = json.loads((tmp_path / "0.json").read_text())
    r1 = json.loads((tmp_path / "1.json").read_text())
    for result in (r0, r1):
        assert result["merged"] == {"k0": 0, "k1": 1, "both": 0}
        assert result["stats"] == {"eer": 1.5}
    assert r0["local"] == {"a": 0, "b": 0, "c": 1}  # main keeps its own b
    assert r1["local"] == {"b": 1, "c": 1}  # others are left as they were


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
        # A process killed by a signal (a C++ abort) leaves no traceback:
        # what it printed comes before torchrun's "failed (exitcode" line.
        end = text.find("failed (exitcode")
        before = text[max(0, end - 3000) : end] if end >= 0 else ""
        pytest.fail(
            f"{cmd[:4]} exited with {proc.returncode}:\n{before}\n...\n"
            f"{head}\n...\n{text[-2000:]}"
        )
    return Path(log).read_text(encoding="utf-8", errors="replace")


#: The large-cache settings: proportional crops, float16, block reading.
SCALE = [
    "--crop_mode=proportional",
    "--crops_per_second=0.2",
    "--cache_dtype=float16",
    "--cache_reading=block",
    "--cache_block_rows=4",
    "--cache_buffer_blocks=2",
]


@pytest.mark.slow
@pytest.mark.parametrize("cache", [[], SCALE], ids=["default", "scale"])
def test_two_process_gloo_training(speech_slices, data_dir, tmp_path, cache):
    """DDP training finishes on both processes; its checkpoint loads
    (also with proportional crops, a float16 cache and block reading)."""
    try:
        find_pretrained_ge2e()
    except FileNotFoundError:
        pytest.skip("GE2E weights missing: pip install --no-deps resemblyzer")
    speech_slices.clean(tmp_path / "clean", 12)
    speech_slices.test(tmp_path / "test", 3, 3)
    out = tmp_path / "out"
    args = [
        str(HPARAMS),
        *slice_args(
            tmp_path,
            data_dir,
            out,
            cache_batch_size=4,  # 2 utterances per chunk: both shards work
            number_of_epochs=1,
            steps_per_epoch=2,
            batch_size=8,
        ),
        *cache,
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
