"""Checks of the source a SEED model is loaded from.

Whether a source can only be meant as a local path, the error of a hub id
that cannot be fetched (offline, unreachable, or no such model), and the
refusal of a ``savedir`` that holds another model's files.

Authors
 * seed-brain developers 2026
"""

import filecmp
import os

from seed_brain.inference.model_files import ModelSourceError


def _looks_like_path(source):
    """True for sources that can only be meant as local paths."""
    text = os.fspath(source)
    return (
        text.startswith(("/", ".", "~"))
        or text.count("/") > 1
        or os.sep != "/"
        and os.sep in text
        or os.path.exists(text)
    )


def _hub_error(source, err):
    """A :class:`ModelSourceError` explaining a failed hub fetch."""
    unreachable = (
        "LocalEntryNotFound" in type(err).__name__
        or "Offline" in type(err).__name__
        or "Connection" in type(err).__name__
        or "Timeout" in type(err).__name__
        or os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
    )
    if unreachable:
        why = (
            "the Hugging Face hub is unreachable (no network, or "
            "HF_HUB_OFFLINE=1) and the model is not in the local cache"
        )
    else:
        why = "it is not a model on the Hugging Face hub"
    return ModelSourceError(
        f"Cannot load the SEED model '{source}': it is not a local folder "
        f"and {why} ({type(err).__name__}: {err}). Pass a local folder "
        "written by `seed-brain export RUN_FOLDER OUT_FOLDER` (or by "
        "train.py) as source=<folder>."
    )


def _check_savedir(source, savedir, names):
    """Refuses a savedir that holds another model's files.

    SpeechBrain's fetching reuses any file already in ``savedir`` without
    comparing it with the source, so a savedir used for another model
    would silently load that model.
    """
    for name in names:
        saved = os.path.join(os.fspath(savedir), name)
        original = os.path.join(source, name)
        if not (os.path.lexists(saved) and os.path.isfile(original)):
            continue
        if os.path.exists(saved) and (
            os.path.samefile(saved, original)
            or filecmp.cmp(saved, original, shallow=False)
        ):
            continue
        raise ValueError(
            f"savedir '{savedir}' already holds a '{name}' that is not the "
            f"one of '{source}' (it comes from another model). Use an empty "
            "savedir for each model, or savedir=None to load in place."
        )
