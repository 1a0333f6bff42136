"""Checks of a model folder's files: strict state-dict loading, readable
checkpoints, SHA-256 checksums against those ``hyperparams.yaml`` records.

Authors
 * seed-brain developers 2026
"""

import hashlib
import os
import re

import torch

from seed_brain.utils.errors import ModelFileError, UserError

__all__ = [
    "ModelSourceError",
    "check_model_folder",
    "file_sha256",
    "load_state_dict_strict",
    "read_checkpoint",
    "recorded_checksums",
]

#: Files of a model folder besides ``hyperparams.yaml``.
MODEL_FILES = ("encoder.ckpt", "denoiser.ckpt")


#: How to get a sound model folder again.
REFETCH = (
    "copy the model folder again from where it came from, or write it again "
    "with `seed-brain export RUN_FOLDER OUT_FOLDER`"
)


_CHECKSUMS = re.compile(r"^checksums:[ \t]*\n((?:[ \t]+.*\n?)*)", re.M)


_CHECKSUM_LINE = re.compile(r"^\s+([\w.-]+):\s*([0-9a-f]{64})\s*$")


class ModelSourceError(UserError, OSError):
    """A model source that is neither a local folder nor reachable.

    Example
    -------
    >>> isinstance(ModelSourceError("x"), OSError)
    True
    """


def load_state_dict_strict(obj, path):
    """Pretrainer hook: ``torch.load(weights_only=True)`` and a strict load.

    SpeechBrain's default transfer hook only logs missing or unexpected
    keys; a SEED model whose weights do not fit must fail instead.

    Arguments
    ---------
    obj : torch.nn.Module
        Module to load into.
    path : str or os.PathLike
        A ``state_dict`` saved with ``torch.save``.

    Raises
    ------
    seed_brain.utils.errors.ModelFileError
        The file is missing, truncated or not a checkpoint, or its keys or
        shapes do not match the module (another embedding size, another
        encoder). A ``RuntimeError``.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "lin.ckpt")
    >>> torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    >>> load_state_dict_strict(torch.nn.Linear(2, 2), path)
    >>> load_state_dict_strict(torch.nn.Linear(3, 2), path)
    Traceback (most recent call last):
    ...
    seed_brain.utils.errors.ModelFileError: Weights in ...lin.ckpt do not ...
    """
    state = read_checkpoint(path)
    try:
        obj.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())
        raise ModelFileError(
            f"Weights in {path} do not fit {type(obj).__name__}: {detail}. "
            "The checkpoint and hyperparams.yaml come from different models "
            f"(another embedding size or encoder): {REFETCH}."
        ) from err


def read_checkpoint(path, fix=REFETCH):
    """``torch.load(path, weights_only=True)`` of a state dict, on the CPU.

    Arguments
    ---------
    path : str or os.PathLike
        A file written by ``torch.save``.
    fix : str
        What to do about a bad file (ends the message).

    Returns
    -------
    dict
        The state dict.

    Raises
    ------
    seed_brain.utils.errors.ModelFileError
        The file is missing, truncated (an interrupted copy), corrupted,
        or holds no state dict; the message names it and the fix.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "cut.ckpt")
    >>> torch.save(torch.nn.Linear(4, 4).state_dict(), path)
    >>> data = open(path, "rb").read()
    >>> _ = open(path, "wb").write(data[: len(data) // 2])
    >>> read_checkpoint(path)
    Traceback (most recent call last):
    ...
    seed_brain.utils.errors.ModelFileError: Cannot read ...cut.ckpt ...
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"Model file {path} is missing: {fix}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and EOF errors of torch.load
        size = os.path.getsize(path)
        detail = " ".join(str(err).split())[:200]
        raise ModelFileError(
            f"Cannot read {path} ({size} bytes): it is truncated (e.g. an "
            f"interrupted copy) or corrupted ({type(err).__name__}: "
            f"{detail}); {fix}."
        ) from err
    if not isinstance(state, dict):
        raise ModelFileError(
            f"{path} holds a {type(state).__name__}, not a state dict of "
            f"weights: {fix}."
        )
    return state


def file_sha256(path, chunk=1 << 20):
    """Hexadecimal SHA-256 of a file.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "f")
    >>> _ = open(path, "wb").write(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fin:
        for block in iter(lambda: fin.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def recorded_checksums(hparams_text):
    """The ``checksums:`` mapping of a model folder's ``hyperparams.yaml``.

    Arguments
    ---------
    hparams_text : str
        The file's text.

    Returns
    -------
    dict
        ``{file name: sha256 hex}``; empty for folders written before
        checksums were recorded.

    Example
    -------
    >>> text = "a: 1\\nchecksums:\\n    x.ckpt: " + "ab" * 32 + "\\n"
    >>> recorded_checksums(text)["x.ckpt"][:8]
    'abababab'
    >>> recorded_checksums("a: 1\\n")
    {}
    """
    found = _CHECKSUMS.search(hparams_text)
    if not found:
        return {}
    out = {}
    for line in found.group(1).splitlines():
        match = _CHECKSUM_LINE.match(line)
        if match:
            out[match.group(1)] = match.group(2)
    return out


def check_model_folder(folder, hparams_file="hyperparams.yaml"):
    """Checks the files of a local model folder before they are loaded.

    Every weight file must exist and be readable; when ``hyperparams.yaml``
    records checksums (folders written by :mod:`seed_brain.inference.export`),
    each file must match its own.

    Arguments
    ---------
    folder : str
        The model folder.
    hparams_file : str
        Name of its hyperparameter file.

    Returns
    -------
    list of str
        Files that are readable checkpoints but differ from the recorded
        checksum (replaced after the export): the caller reports them if
        loading them does not fail with a more precise error first.

    Raises
    ------
    seed_brain.utils.errors.ModelFileError
        A missing, empty, truncated or corrupted file, or a
        ``hyperparams.yaml`` that is not UTF-8 text.
    """
    hparams_path = os.path.join(folder, hparams_file)
    try:
        with open(hparams_path, encoding="utf-8") as fin:
            text = fin.read()
    except UnicodeDecodeError as err:
        raise ModelFileError(
            f"{hparams_path} is not UTF-8 text (corrupted?): {REFETCH}."
        ) from err
    sums = recorded_checksums(text)
    if sums and not text.rstrip().endswith(
        "# end of the seed-brain model folder"
    ):
        raise ModelFileError(
            f"{hparams_path} is truncated (it lacks its last line, '# end "
            f"of the seed-brain model folder'): {REFETCH}."
        )
    replaced = []
    for name in MODEL_FILES + tuple(n for n in sums if n not in MODEL_FILES):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            if name in sums or "pretrainer:" in text:
                raise ModelFileError(
                    f"Model file {path} is missing (the folder is "
                    f"incomplete): {REFETCH}."
                )
            continue
        if os.path.getsize(path) == 0:
            raise ModelFileError(
                f"Model file {path} is empty (0 bytes): {REFETCH}."
            )
        if name in sums and file_sha256(path) != sums[name]:
            read_checkpoint(path)  # truncated or corrupted: say so
            replaced.append(path)
    return replaced
