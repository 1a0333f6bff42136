"""Benchmark SEED training on an embedding cache larger than RAM.

Run from the repository root::

    python benchmarks/bench_cache_scale.py [--size-gb 36] [--seconds 60]

A synthetic cache in the real layout (:class:`seed_brain.views.cache.ViewCache`:
``views.f32`` ``[N, V, D]`` float32 plus ``index.json``; random
embeddings, ``--views`` 7 x ``--dim`` 512 as the paper's ResNet with the
recipe's 7 views) is written in chunks, at least 1.5 x this machine's RAM
by default, and a small one that fits in RAM (``--small-gb``). Each mode
runs in its own subprocess for ``--seconds`` (or ``--steps``) after
``--warmup`` steps: the recipe's training step (``SEEDBrain.fit_batch``
with the denoiser, diffusion and EMA of ``hparams/seed_resnet.yaml``) on
batches of ``--batch-size`` rows from the recipe's loader
(``SEEDBrain.make_dataloader`` over ``ViewCache.dataset``):

* **random rows, in RAM**: the small cache, read once beforehand so that it
  is in the page cache; ``ReproducibleRandomSampler`` (the baseline);
* **random rows, larger than RAM**: the same sampler on the big cache;
* **block reading, larger than RAM**: :class:`BlockShuffleSampler` with
  ``ViewCache.dataset(block_rows, buffer_blocks)``;
* **block reading, in RAM**: the same on the small cache.

Before each big-cache mode the file's pages are dropped from the page cache
(``posix_fadvise(DONTNEED)``); the big file exceeds RAM, so it can never be
cached whole. Reported per mode: steps/s, ratio to the in-RAM baseline,
bytes read from storage (``/proc/self/io`` ``read_bytes``) and peak RSS
(``VmHWM`` of the subprocess; ``RssFile``: pages of the memory map counted
in it). The cache files are deleted at the end, also on failure or
Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_common import add_numbers  # noqa: E402
from bench_training import machine_line  # noqa: E402

HPARAMS = REPO / "hparams" / "seed_resnet.yaml"
GIB = 1024**3
MODES = {
    "ram_random": ("random rows, in RAM (baseline)", "small", None),
    "big_random": ("random rows, larger than RAM", "big", None),
    "big_block": ("block reading, larger than RAM", "big", "block"),
    "ram_block": ("block reading, in RAM", "small", "block"),
}


def ram_bytes():
    """Total RAM (``MemTotal`` of ``/proc/meminfo``)."""
    with open("/proc/meminfo", encoding="utf-8") as fin:
        for line in fin:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def write_cache(folder, rows, views, dim, chunk_rows=4096, seed=0, pool=16):
    """A synthetic cache ``[rows, views, dim]`` in the real layout.

    Written in chunks of ``chunk_rows`` rows, so that memory stays at
    ``pool`` chunks: ``pool`` chunks of random values in [-0.5, 0.5) are
    drawn once and written in turn (drawing 36 GB of random numbers would
    take longer than writing them; what is read, not its values, is what
    is measured). Returns the seconds it took.

    Example
    -------
    >>> import tempfile
    >>> from seed_brain.views.cache import ViewCache
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_cache(folder, 10, 3, 4, chunk_rows=4)
    >>> ViewCache(folder).array().shape
    (10, 3, 4)
    """
    import numpy as np

    os.makedirs(folder, exist_ok=True)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    chunks = [
        (rng.random((chunk_rows, views, dim), dtype=np.float32) - 0.5)
        for _ in range(min(pool, -(-rows // chunk_rows)))
    ]
    path = os.path.join(folder, "views.f32")
    with open(path, "wb") as fout:
        for k, first in enumerate(range(0, rows, chunk_rows)):
            n = min(chunk_rows, rows - first)
            fout.write(memoryview(chunks[k % len(chunks)][:n]).cast("B"))
        fout.flush()
        os.fsync(fout.fileno())
    per_utt = 10
    index = {
        "config": {"synthetic": True},
        "utterances": [f"u{k}" for k in range(-(-rows // per_utt))],
        "crops": [f"u{i // per_utt}/{i % per_utt}" for i in range(rows)],
        "shape": [rows, views, dim],
    }
    with open(os.path.join(folder, "index.json"), "w") as fout:
        json.dump(index, fout)
    with open(os.path.join(folder, "done.json"), "w") as fout:
        json.dump(index["utterances"], fout)
    return time.perf_counter() - start


def drop_from_page_cache(path):
    """Evicts a file's clean pages from the page cache (no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm_page_cache(path, chunk=64 * 1024**2):
    """Reads a file once so that it sits in the page cache."""
    with open(path, "rb") as fin:
        while fin.read(chunk):
            pass


def proc_status():
    """``VmHWM``, ``VmRSS``, ``RssFile`` of this process, in MiB."""
    out = {}
    with open("/proc/self/status", encoding="utf-8") as fin:
        for line in fin:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssFile", "RssAnon"):
                out[key] = int(value.split()[0]) / 1024
    return out


def read_bytes():
    """Bytes this process made the storage layer fetch."""
    with open("/proc/self/io", encoding="utf-8") as fin:
        for line in fin:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    return 0


def child(args):
    """One mode, in its own process: prints a JSON line of its numbers."""
    import speechbrain as sb
    import torch
    from hyperpyyaml import load_hyperpyyaml
    from speechbrain.dataio.sampler import ReproducibleRandomSampler

    from seed_brain.model.brain import SEEDBrain
    from seed_brain.views.cache import BlockShuffleSampler, ViewCache

    if args.threads:
        torch.set_num_threads(args.threads)
    _, _, reading = MODES[args.child]
    cache = ViewCache(args.cache)
    rows, views, dim = cache.index()["shape"]
    work = tempfile.mkdtemp(prefix="bench_scale_child_")
    try:
        overrides = {
            "output_folder": work,
            "embedding_dim": dim,
            "pretrained_path": None,  # the encoder is not used: no download
        }
        with open(HPARAMS, encoding="utf-8") as fin:
            hparams = load_hyperpyyaml(fin, overrides)
        hparams["views"] = hparams["views"][:views]
        brain = SEEDBrain(
            modules=hparams["modules"],  # the frozen encoder is not run
            opt_class=hparams["opt_class"],
            hparams=hparams,
            run_opts={"device": "cpu", "noprogressbar": True},
            checkpointer=None,
        )
        brain.init_optimizers()
        brain.modules.train()
        total = (args.warmup + args.steps + args.loader_batches) * (
            args.batch_size
        )
        if reading == "block":
            dataset = cache.dataset(
                block_rows=args.block_rows, buffer_blocks=args.buffer_blocks
            )
            sampler = BlockShuffleSampler(
                rows,
                block_rows=args.block_rows,
                buffer_blocks=args.buffer_blocks,
                seed=1,
                num_samples=total,
            )
        else:
            dataset = cache.dataset()
            sampler = ReproducibleRandomSampler(
                dataset, seed=1, num_samples=total
            )
        setup = proc_status()
        batches = iter(
            brain.make_dataloader(
                dataset,
                sb.Stage.TRAIN,
                ckpt_prefix=None,
                batch_size=args.batch_size,
                sampler=sampler,
                num_workers=0,
            )
        )
        for _ in range(args.warmup):
            brain.fit_batch(next(batches))
        # Reading alone (what a GPU step would wait for), then training.
        io_start, start, loads = read_bytes(), time.perf_counter(), 0
        for batch in batches:
            loads += 1
            if time.perf_counter() - start >= args.loader_seconds:
                break
        load_s = time.perf_counter() - start
        load_io = read_bytes() - io_start
        io_start, start, steps = read_bytes(), time.perf_counter(), 0
        for batch in batches:
            brain.fit_batch(batch)
            steps += 1
            if time.perf_counter() - start >= args.seconds:
                break
        elapsed = time.perf_counter() - start
        status = proc_status()
        print(
            json.dumps(
                {
                    "loader_batches": loads,
                    "loader_batches_per_s": loads / load_s,
                    "loader_read_mib": load_io / 1024**2,
                    "steps": steps,
                    "seconds": elapsed,
                    "steps_per_s": steps / elapsed,
                    "read_mib": (read_bytes() - io_start) / 1024**2,
                    "hwm_mib": status["VmHWM"],
                    "rss_file_mib": status.get("RssFile", 0.0),
                    "setup_rss_mib": setup["VmRSS"],
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_child(args, mode, cache):
    """Runs one mode in a subprocess; returns its numbers."""
    cmd = [
        sys.executable,
        __file__,
        f"--child={mode}",
        f"--cache={cache}",
        f"--seconds={args.seconds}",
        f"--steps={args.steps}",
        f"--warmup={args.warmup}",
        f"--loader-seconds={args.loader_seconds}",
        f"--loader-batches={args.loader_batches}",
        f"--batch-size={args.batch_size}",
        f"--block-rows={args.block_rows}",
        f"--buffer-blocks={args.buffer_blocks}",
    ]
    if args.threads:
        cmd.append(f"--threads={args.threads}")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"mode {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(args):
    """Writes the caches, runs every mode, deletes the caches; the table."""
    ram = ram_bytes()
    big_bytes = int(args.size_gb * GIB) if args.size_gb else int(1.5 * ram)
    row_bytes = args.views * args.dim * 4
    big_rows = -(-big_bytes // row_bytes)
    small_rows = int(args.small_gb * GIB) // row_bytes
    need = (big_rows + small_rows) * row_bytes
    free = shutil.disk_usage(args.folder).free
    if need + 2 * GIB > free:
        raise SystemExit(
            f"{args.folder} has {free / GIB:.1f} GiB free; the caches need "
            f"{need / GIB:.1f} GiB (+2 GiB margin): use --folder elsewhere "
            "or a smaller --size-gb."
        )
    root = Path(tempfile.mkdtemp(prefix="seed_cache_scale_", dir=args.folder))

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    results, writes = {}, {}
    try:
        before = machine_line()
        writes["small"] = write_cache(
            root / "small", small_rows, args.views, args.dim
        )
        writes["big"] = write_cache(
            root / "big", big_rows, args.views, args.dim, seed=1
        )
        for mode in args.modes:
            which = MODES[mode][1]
            data = root / which / "views.f32"
            if which == "big":
                drop_from_page_cache(data)
            else:
                warm_page_cache(data)
            results[mode] = run_child(args, mode, root / which)
        after = machine_line()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
        print(f"deleted {root}", file=sys.stderr)

    big_gib = big_rows * row_bytes / GIB
    small_gib = small_rows * row_bytes / GIB
    base = results.get("ram_random", {}).get("steps_per_s")
    base_load = results.get("ram_random", {}).get("loader_batches_per_s")
    lines = [
        f"Machine: {before} (before); load average "
        f"{after.rsplit(' ', 1)[-1]} (after); RAM {ram / GIB:.1f} GiB.",
        "",
        f"Caches: big {big_rows:,} rows x {args.views} views x {args.dim} "
        f"float32 = {big_gib:.1f} GiB ({big_gib * GIB / ram:.2f} x RAM, "
        f"written in {writes['big']:.0f} s); small {small_rows:,} rows = "
        f"{small_gib:.1f} GiB. Batch {args.batch_size} rows, "
        f"{args.loader_seconds:g} s of reading alone then {args.seconds:g} s "
        f"of training per mode, after {args.warmup} warm-up steps; "
        f"blocks of {args.block_rows} rows, {args.buffer_blocks} per buffer.",
        "",
        "| reading | cache | training steps/s | vs in-RAM random | batches "
        "read/s (no step) | vs in-RAM random | read from storage (MiB) | "
        "peak RSS (MiB) | of it file pages (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in args.modes:
        r = results[mode]
        ratio = f"{100 * r['steps_per_s'] / base:.0f} %" if base else "-"
        load_ratio = (
            f"{100 * r['loader_batches_per_s'] / base_load:.0f} %"
            if base_load
            else "-"
        )
        size = (
            f"{big_gib:.1f} GiB"
            if MODES[mode][1] == "big"
            else (f"{small_gib:.1f} GiB")
        )
        lines.append(
            f"| {MODES[mode][0]} | {size} | {r['steps_per_s']:.3f} "
            f"({r['steps']} steps) | {ratio} | "
            f"{r['loader_batches_per_s']:.1f} | {load_ratio} | "
            f"{r['read_mib'] + r['loader_read_mib']:,.0f} | "
            f"{r['hwm_mib']:,.0f} | {r['rss_file_mib']:,.0f} |"
        )
    return lines


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size-gb",
        type=float,
        default=None,
        help="big cache size in GiB (default: 1.5 x RAM)",
    )
    add_numbers(parser, small_gb=2.0)
    parser.add_argument("--folder", default=tempfile.gettempdir())
    add_numbers(parser, views=7, dim=512, batch_size=128)
    add_numbers(parser, seconds=60.0, steps=5000, warmup=3)
    parser.add_argument(
        "--loader-seconds",
        type=float,
        default=30.0,
        help="seconds of reading batches alone, before the training steps",
    )
    add_numbers(parser, loader_batches=20000, block_rows=256, buffer_blocks=32)
    parser.add_argument(
        "--modes", nargs="+", default=list(MODES), choices=list(MODES)
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--child", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return
    print("\n".join(run(args)))


if __name__ == "__main__":
    main()
