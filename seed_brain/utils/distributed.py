"""Small helpers for SpeechBrain's multi-process (DDP) path.

``torchrun --nproc_per_node=N train.py hparams/seed_ge2e.yaml
--distributed_backend=gloo`` (CPU) or ``nccl`` (GPUs) starts ``N``
processes; SpeechBrain's ``Brain`` shards the training batches. The recipe
shards the rest of the work with these helpers: the embedding cache and
the dev / test embeddings are encoded ``1 / N`` per process and gathered.

Every helper is a no-op in a single process, and also inside SpeechBrain's
``run_on_main`` (where only the main process runs, so a collective call
would block).

Authors
 * seed-brain developers 2026
"""

import torch
from speechbrain.utils.distributed import (
    ddp_barrier,
    ddp_broadcast,
    ddp_prevent_block,
)

__all__ = [
    "barrier",
    "broadcast",
    "gather_dict",
    "gather_missing_on_main",
    "rank_and_world",
]


def rank_and_world():
    """This process's rank and the number of processes.

    Returns
    -------
    tuple of int
        ``(rank, world_size)``; ``(0, 1)`` without a process group or
        inside ``run_on_main``.

    Example
    -------
    >>> rank_and_world()
    (0, 1)
    """
    if ddp_prevent_block():
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def barrier():
    """Waits for every process (no-op in a single process).

    Example
    -------
    >>> barrier()
    """
    ddp_barrier()


def broadcast(obj, src=0):
    """``obj`` of process ``src``, on every process (picklable objects).

    Arguments
    ---------
    obj : object
        The object (only ``src``'s value matters).
    src : int
        Source rank.

    Returns
    -------
    object
        ``src``'s object.

    Example
    -------
    >>> broadcast({"eer": 1.0})
    {'eer': 1.0}
    """
    return ddp_broadcast(obj, src=src)


def _all_gather(obj, world):
    """``obj`` of every process, by rank (a collective call)."""
    parts = [None] * world
    torch.distributed.all_gather_object(parts, obj)
    return parts


def gather_dict(local):
    """Union of the dictionaries of all processes, on every process.

    Arguments
    ---------
    local : dict
        This process's part (picklable values, e.g. CPU tensors).

    Returns
    -------
    dict
        Every process's entries; for a key held by several processes the
        value of the lowest rank wins.

    Example
    -------
    >>> gather_dict({"a": 1})
    {'a': 1}
    """
    _, world = rank_and_world()
    if world == 1:
        return dict(local)
    merged = {}
    for part in reversed(_all_gather(local, world)):
        merged.update(part)
    return merged


def gather_missing_on_main(local):
    """Adds to the main process's dictionary what only other processes hold.

    Only the keys travel first; values cross processes only for keys the
    main process lacks (none when every process saw all the data, e.g. the
    unsharded evaluation of SpeechBrain 1.1).

    Arguments
    ---------
    local : dict
        This process's entries; updated in place on the main process.

    Returns
    -------
    dict
        ``local`` (completed on the main process).

    Example
    -------
    >>> entries = {"a": 1}
    >>> gather_missing_on_main(entries) is entries
    True
    """
    rank, world = rank_and_world()
    if world == 1:
        return local
    keys = _all_gather(sorted(local), world)
    known = set(keys[0])
    for lower in keys[1:rank]:
        known.update(lower)
    send = {k: local[k] for k in local if k not in known} if rank else None
    parts = [None] * world if rank == 0 else None
    torch.distributed.gather_object(send, parts, dst=0)
    if rank == 0:
        for part in parts[1:]:
            local.update(part)
    return local
