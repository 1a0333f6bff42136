"""Where pretrained encoder weights come from, and checks of what is loaded.

The published sources (SpeechBrain's ECAPA-TDNN on the hub,
voxceleb_trainer's ResNetSE34V2), how a ``pretrained_path`` is read (a
local path, a URL or a hub id), the error of weights that cannot be
fetched, and the strict state-dict check that names missing and
unexpected keys. :mod:`seed_brain.model.encoders` loads with them.

Authors
 * seed-brain developers 2026
"""

import os
import re

import torch

from seed_brain.utils.errors import UserError

#: SpeechBrain's ECAPA-TDNN trained on VoxCeleb 1 + 2 (Hugging Face hub).
PUBLISHED_ECAPA = "speechbrain/spkrec-ecapa-voxceleb"


#: voxceleb_trainer's published ResNetSE34V2 (ASP, 64 log-mel, 512-d).
VOXCELEB_TRAINER_RESNET = (
    "http://www.robots.ox.ac.uk/~joon/data/baseline_v2_ap.model"
)


#: Files of an ECAPA folder that the encoder loads.
ECAPA_FILES = {
    "embedding_model": "embedding_model.ckpt",
    "mean_var_norm_emb": "mean_var_norm_emb.ckpt",
}


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class PretrainedUnavailableError(UserError, RuntimeError):
    """Pretrained weights could not be fetched (hub or URL unreachable).

    Example
    -------
    >>> isinstance(PretrainedUnavailableError("x"), RuntimeError)
    True
    """


def resolve_source(pretrained_path):
    """Classifies ``pretrained_path`` as a local path, URL or hub id.

    Arguments
    ---------
    pretrained_path : str or os.PathLike
        A local folder or file, an ``http(s)://`` URL, or a Hugging Face
        hub id (``owner/name``).

    Returns
    -------
    tuple
        ``("local", absolute path)``, ``("url", url)`` or ``("hub", id)``.

    Raises
    ------
    FileNotFoundError
        A path that is neither an existing file or folder nor a hub id.

    Example
    -------
    >>> resolve_source("speechbrain/spkrec-ecapa-voxceleb")
    ('hub', 'speechbrain/spkrec-ecapa-voxceleb')
    >>> resolve_source("https://example.org/a.model")[0]
    'url'
    >>> import tempfile
    >>> resolve_source(tempfile.gettempdir())[0]
    'local'
    """
    text = os.fspath(pretrained_path)
    if os.path.exists(os.path.expanduser(text)):
        return "local", os.path.abspath(os.path.expanduser(text))
    if text.startswith(("http://", "https://")):
        return "url", text
    looks_local = text.startswith(("/", ".", "~")) or os.sep + os.sep in text
    if _HUB_ID.match(text) and not looks_local:
        return "hub", text
    raise FileNotFoundError(
        f"pretrained_path '{text}' does not exist (working directory "
        f"'{os.getcwd()}') and is not a Hugging Face hub id (owner/name) "
        "or an http(s) URL. Fix the path."
    )


def check_state_dict(module, state, what, hint=""):
    """Raises ValueError unless ``state`` has exactly ``module``'s keys.

    Arguments
    ---------
    module : torch.nn.Module
        The module to load into.
    state : Mapping
        The checkpoint's state dict.
    what : str
        Name of the checkpoint in the message.
    hint : str
        Appended to the message (how to fix it).

    Raises
    ------
    ValueError
        Lists missing, unexpected and mis-shaped keys (at most 10 each).

    Example
    -------
    >>> lin = torch.nn.Linear(2, 3)
    >>> check_state_dict(lin, lin.state_dict(), "linear")
    >>> check_state_dict(lin, {"weight": torch.zeros(3, 2)}, "linear")
    Traceback (most recent call last):
    ...
    ValueError: linear does not match the model: 1 missing key(s): ['bias']...
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected
        and isinstance(v, torch.Tensor)
        and v.shape != expected[k].shape
    ]
    if not (missing or unexpected or mismatched):
        return

    def listing(title, names):
        shown = ", ".join(repr(n) for n in names[:10])
        more = f", ... ({len(names) - 10} more)" if len(names) > 10 else ""
        return f"{len(names)} {title}: [{shown}{more}]"

    parts = [
        listing(title, names)
        for title, names in (
            ("missing key(s)", missing),
            ("unexpected key(s)", unexpected),
            ("key(s) with the wrong shape", mismatched),
        )
        if names
    ]
    raise ValueError(
        f"{what} does not match the model: " + "; ".join(parts) + ". " + hint
    )


def _offline_message(source, err, files, example):
    return (
        f"Cannot fetch {', '.join(files)} of the pretrained encoder "
        f"'{source}': the Hugging Face hub is unreachable (offline or "
        f"blocked?) and the files are not in the local cache ({err}). Point "
        "`pretrained_path` at a local folder holding these files instead, "
        f"e.g. `{example}`. Get that folder on a machine with internet "
        f"access (`huggingface-cli download {source} --local-dir "
        f"<folder>`, or `git clone https://huggingface.co/{source}`) and "
        "copy it over, or train one with `python recipes/train_backbone.py "
        "hparams/train_ecapa.yaml --train_folder=<one sub-folder per "
        "speaker>`, which writes such a folder."
    )


def _is_offline_error(err):
    """Whether ``err`` (from hub fetching) means the hub is unreachable."""
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - very old huggingface_hub
        LocalEntryNotFoundError = ()
    if LocalEntryNotFoundError and isinstance(err, LocalEntryNotFoundError):
        return True
    names = {cls.__name__ for cls in type(err).__mro__}
    if names & {"RepositoryNotFoundError", "EntryNotFoundError"}:
        return False
    if isinstance(err, (ConnectionError, TimeoutError, OSError)):
        return True
    return bool(
        names
        & {"ConnectError", "ConnectTimeout", "ReadTimeout", "NetworkError"}
    )
