"""Checkpoints that cannot be used: incomplete ones set aside before a
resumed run, and load errors explained in one line.

Authors
 * seed-brain developers 2026
"""

import contextlib
import logging
import os

import speechbrain as sb

__all__ = [
    "explain_load_errors",
    "set_aside_incomplete_checkpoints",
]

logger = logging.getLogger(__name__)


def _checkpoint_problem(path, required):
    """Why a checkpoint folder is unusable (None when it is complete).

    SpeechBrain writes ``CKPT.yaml`` first, then one file per recoverable
    straight to its final name, so a save killed half-way leaves a folder
    that looks like a checkpoint but misses files or holds a truncated
    one; a delete killed half-way (``rmtree``) misses files too.
    """
    import zipfile

    import yaml

    meta = os.path.join(path, "CKPT.yaml")
    try:
        with open(meta, encoding="utf-8") as fin:
            if not isinstance(yaml.safe_load(fin), dict):
                return "its CKPT.yaml is empty"
    except (OSError, yaml.YAMLError):
        return "its CKPT.yaml is missing or unreadable"
    names = set(os.listdir(path))
    missing = sorted(f"{n}.ckpt" for n in required if f"{n}.ckpt" not in names)
    if missing:
        return f"{', '.join(missing)} missing"
    for name in sorted(names):
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            continue
        if os.path.getsize(file) == 0:
            return f"{name} is empty"
        with open(file, "rb") as fin:
            zipped = fin.read(4) == b"PK\x03\x04"  # torch.save format
        if zipped and not zipfile.is_zipfile(file):
            return f"{name} is truncated"
    return None


def set_aside_incomplete_checkpoints(checkpointer):
    """Moves checkpoints left incomplete by a killed save out of the way.

    A folder ``CKPT+...`` that misses a file of a registered recoverable,
    holds an empty or truncated one, or has no readable ``CKPT.yaml`` is
    renamed ``incomplete-CKPT+...`` (the Checkpointer ignores it), with a
    warning, so that resuming loads the last complete checkpoint instead
    of failing on the broken one. Main process only; a no-op without a
    checkpointer.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer or None
        The run's checkpointer.

    Returns
    -------
    list of str
        The folders set aside (their new paths).

    Example
    -------
    >>> import os, tempfile, torch
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> ckpt = Checkpointer(tempfile.mkdtemp(), {"w": torch.nn.Linear(2, 2)})
    >>> good = ckpt.save_checkpoint()
    >>> bad = ckpt.save_checkpoint(name="killed")
    >>> os.remove(os.path.join(bad.path, "w.ckpt"))
    >>> moved = set_aside_incomplete_checkpoints(ckpt)
    >>> [os.path.basename(p) for p in moved]
    ['incomplete-CKPT+killed']
    >>> ckpt.find_checkpoint().path == good.path
    True
    """
    moved = []
    if checkpointer is None or not sb.utils.distributed.if_main_process():
        sb.utils.distributed.ddp_barrier()
        return moved
    folder = str(checkpointer.checkpoints_dir)
    # As SpeechBrain's loader: optional and data-loader entries may lack.
    optional = getattr(checkpointer, "optional_load", set())
    required = [
        n
        for n in checkpointer.recoverables
        if n not in optional and "dataloader" not in n
    ]
    if getattr(checkpointer, "allow_partial_load", False):
        required = []
    names = os.listdir(folder) if os.path.isdir(folder) else []
    for name in sorted(names):
        path = os.path.join(folder, name)
        if not name.startswith("CKPT+") or not os.path.isdir(path):
            continue
        problem = _checkpoint_problem(path, required)
        if problem is None:
            continue
        target = os.path.join(folder, f"incomplete-{name}")
        while os.path.exists(target):
            target += "+"
        os.replace(path, target)
        logger.warning(
            "Checkpoint %s is incomplete (%s: the run was killed while "
            "saving or deleting it); moved it to %s and resuming from the "
            "last complete checkpoint. Delete it when you no longer need it.",
            path,
            problem,
            target,
        )
        moved.append(target)
    sb.utils.distributed.ddp_barrier()
    return moved


@contextlib.contextmanager
def explain_load_errors(checkpointer, max_key=None, min_key=None):
    """Turns a checkpoint that does not fit the model into a clear error.

    SpeechBrain's ``load_state_dict`` error ("size mismatch for ...")
    says neither which checkpoint nor what to do; this names the
    checkpoint folder and the fix.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer or None
        The run's checkpointer.
    max_key, min_key : str or None
        The keys the checkpoint is picked with (to name it).

    Example
    -------
    >>> import os, tempfile, torch
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> folder = tempfile.mkdtemp()
    >>> _ = Checkpointer(folder, {"w": torch.nn.Linear(4, 4)}).save_checkpoint()
    >>> ckpt = Checkpointer(folder, {"w": torch.nn.Linear(8, 8)})
    >>> with explain_load_errors(ckpt):
    ...     _ = ckpt.recover_if_possible()
    Traceback (most recent call last):
    ...
    RuntimeError: The checkpoint .../CKPT+... does not fit the model...
    """
    try:
        yield
    except (RuntimeError, KeyError) as err:
        text = str(err)
        shapes = ("size mismatch", "Missing key", "Unexpected key")
        if checkpointer is None or not any(s in text for s in shapes):
            raise
        found = checkpointer.find_checkpoint(max_key=max_key, min_key=min_key)
        where = found.path if found else checkpointer.checkpoints_dir
        detail = next(
            (line.strip() for line in text.splitlines() if "size" in line),
            text.splitlines()[0],
        )
        raise RuntimeError(
            f"The checkpoint {where} does not fit the model ({detail}). It "
            "was saved by a run with another encoder or embedding_dim. Fix: "
            "give this run a new --output_folder (or delete "
            f"{checkpointer.checkpoints_dir} and the cache folder) to train "
            "from scratch, or set the encoder and embedding_dim back to "
            "those of that run."
        ) from err
