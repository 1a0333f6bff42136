"""Writing a model folder: ``hyperparams.yaml`` (the modules as yaml nodes,
the pretrainer, the checksums of the weights), the weights and a README,
staged and then moved in place.

Authors
 * seed-brain developers 2026
"""

import os
import shutil
from pathlib import Path

import yaml

from seed_brain.inference.model_files import MODEL_FILES
from seed_brain.utils.errors import disk_space
from seed_brain.utils.files import save_torch, write_bytes, write_text

__all__ = [
    "node_yaml",
    "write_model_folder",
    "write_untrained_model_folder",
]


# ------------------------------------------------------------------ yaml
def _scalar(value):
    """A YAML scalar (flow style, one line)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    if text.endswith("..."):
        text = text[:-3].strip()
    return text


#: First line of every ``hyperparams.yaml`` this module writes; a folder
#: with it may be overwritten by a new export.
MARKER = "# seed-brain model folder"


#: Last line of that file (a file without it was cut short).
END_MARKER = "# end of the seed-brain model folder"


#: The diffusion of the recipe's yaml (SEED's settings).
DEFAULT_DIFFUSION_YAML = """!new:seed_brain.model.diffusion.SEEDDiffusion
    num_timesteps: 1000
    beta_schedule: scaled_linear
    prediction: sample
    loss: l1
    embedding_norm: l2
    embedding_scale: null
    clip_sigma: 3.0"""


#: Settings written to ``hyperparams.yaml`` and their defaults.
DEFAULT_SETTINGS = {
    "backbone": "speaker encoder",
    "sample_rate": 16000,
    "embedding_dim": None,
    "sample_t": 50,
    "sample_steps": 1,
    "num_draws": 1,
    "sample_passes": 1,
    "ensemble_weight": 0.5,
    "eval_seed": 0,
    "use_ema": True,
    "threshold": None,
    "threshold_baseline": None,
    "p_target": 0.05,
    "c_miss": 1.0,
    "c_fa": 1.0,
}


#: Encoder arguments that load weights at construction (set to null in
#: the inference yaml, whose pretrainer loads ``encoder.ckpt``).
LOAD_ARGS = ("weights", "pretrained_path", "savedir", "checksum")


#: Prefix of the hidden folder an export writes its files to first.
PARTIAL = ".partial-"


def _tag_of(node):
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", tag)
    return value if isinstance(value, str) and value.startswith("!") else None


def _emit(node, indent, replace=None):
    """Lines of ``node`` (a ruamel round-trip node), without comments.

    ``replace`` overrides keys of a top-level mapping.
    """
    pad = " " * indent
    tag = _tag_of(node)
    prefix = f"{tag} " if tag else ""
    if isinstance(node, dict):
        items = dict(node.items())
        items.update(replace or {})
        if not items:
            return [f"{prefix}{{}}"]
        lines = [prefix.rstrip()]
        for key, value in items.items():
            sub = _emit(value, indent + 4)
            lines.append(f"{pad}{_scalar(str(key))}: {sub[0]}".rstrip())
            lines.extend(sub[1:])
        return lines
    if isinstance(node, (list, tuple)):
        if not node:
            return [f"{prefix}[]"]
        lines = [prefix.rstrip()]
        for value in node:
            sub = _emit(value, indent + 4)
            lines.append(f"{pad}- {sub[0]}".rstrip())
            lines.extend(sub[1:])
        return lines
    if tag is not None:  # tagged scalar
        inner = getattr(node, "value", "")
        return [f"{tag} {_scalar(inner)}" if inner != "" else tag]
    if isinstance(node, bool) or node is None:
        return [_scalar(node)]
    if isinstance(node, int):
        return [str(int(node))]
    if isinstance(node, float):
        return [_scalar(float(node))]
    return [_scalar(str(node))]


def node_yaml(node, replace=None):
    """YAML text of one hyperpyyaml node (tags kept, comments dropped).

    The first line holds the tag (e.g. ``!new:module.Class``); the
    arguments follow, indented by 4 spaces, ready to be written after
    ``key: ``.

    Arguments
    ---------
    node : object
        A node of a ruamel round-trip load of a (resolved) yaml file, or
        plain Python data.
    replace : dict or None
        Values replacing (or adding) keys of a mapping node.

    Returns
    -------
    str
        The node's YAML text.

    Example
    -------
    >>> from ruamel.yaml import YAML
    >>> data = YAML().load(
    ...     "a: !new:torch.nn.Linear  # a layer\\n"
    ...     "    in_features: 2\\n    out_features: 3\\n"
    ... )
    >>> print(node_yaml(data["a"], replace={"bias": False}))
    !new:torch.nn.Linear
        in_features: 2
        out_features: 3
        bias: false
    """
    # An untagged mapping or list starts with an empty first line, so that
    # ``key: <text>`` stays valid YAML.
    return "\n".join(_emit(node, 4, replace)).rstrip()


def _encoder_yaml(node):
    """The encoder node for inference: built without loading weights.

    The arguments of :data:`LOAD_ARGS` present in the node (GE2E's
    ``weights``, ``ECAPAEncoder`` / ``ResNetEncoder``'s
    ``pretrained_path``, ``savedir`` and ``checksum``) become null: the
    weights come from ``encoder.ckpt`` instead.

    Example
    -------
    >>> from ruamel.yaml import YAML
    >>> node = YAML().load(
    ...     "e: !new:seed_brain.model.encoders.ECAPAEncoder\\n"
    ...     "    pretrained_path: speechbrain/spkrec-ecapa-voxceleb\\n"
    ...     "    savedir: /runs/1/save/pretrained_encoder\\n"
    ...     "    lin_neurons: 192\\n"
    ... )["e"]
    >>> print(_encoder_yaml(node))
    !new:seed_brain.model.encoders.ECAPAEncoder
        pretrained_path: null
        savedir: null
        lin_neurons: 192
    """
    if isinstance(node, dict):
        replace = {key: None for key in LOAD_ARGS if key in node}
        return node_yaml(node, replace=replace)
    return node_yaml(node)


def _state_bytes(state):
    return sum(v.numel() * v.element_size() for v in state.values())


def _sha256(path):
    from seed_brain.inference import file_sha256

    return file_sha256(path)


def _remove_partials(out):
    """Removes what exports that were stopped left in ``out``."""
    from seed_brain.utils.lock import _alive

    for entry in out.iterdir():
        name = entry.name
        if not entry.is_dir() or not name.startswith((PARTIAL, ".export")):
            continue
        pid = name[len(PARTIAL) :] if name.startswith(PARTIAL) else ""
        if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
            continue  # another export writing right now
        shutil.rmtree(entry, ignore_errors=True)


def _state_dict(module):
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _hparams_text(settings, encoder_yaml, diffusion_yaml, denoiser_yaml, src):
    lines = [
        MARKER,
        "# ##########################################################"
        "##################",
        "# SEED (speaker embedding enhancement diffusion) inference model.",
        "#",
        "#   from seed_brain.inference import SEEDSpeakerRecognition",
        '#   model = SEEDSpeakerRecognition.from_hparams(source="<folder>")',
        '#   score, same = model.verify_files("a.wav", "b.wav")',
        "#",
        f"# Exported from: {src}"
        if src
        else "# Written by seed_brain.inference.export",
        "# NOTE: hyperpyyaml files execute code (!new:, !name:): load only",
        "# model folders from sources you trust.",
        "# ##########################################################"
        "##################",
        "",
        "# SHA-256 of the weight files; loading checks them, and that this",
        f"# file ends with '{END_MARKER}' (not cut short).",
        "checksums:",
        *(
            f"    {name}: {digest}"
            for name, digest in settings.get("checksums", {}).items()
        ),
        "",
        "# Folder of encoder.ckpt and denoiser.ckpt; from_hparams sets it to",
        "# the source it loads from.",
        f"pretrained_path: {_scalar(settings['pretrained_path'])}",
        "",
        f"backbone: {_scalar(settings['backbone'])}",
        f"sample_rate: {_scalar(settings['sample_rate'])}",
        f"embedding_dim: {_scalar(settings['embedding_dim'])}",
        "",
        "# SEED sampling, as in the training run's evaluation: one step at",
        "# t = sample_t (DDIM when sample_steps > 1), forward noise seeded",
        "# per item id and eval_seed, num_draws draws averaged, feature",
        "# ensemble (1 - w) norm(y) + w norm(f(y_t, t)) with w =",
        "# ensemble_weight.",
        f"sample_t: {_scalar(settings['sample_t'])}",
        f"sample_steps: {_scalar(settings['sample_steps'])}",
        f"num_draws: {_scalar(settings['num_draws'])}",
        "# sample_passes > 1: the enhanced embedding is enhanced again.",
        f"sample_passes: {_scalar(settings['sample_passes'])}",
        f"ensemble_weight: {_scalar(settings['ensemble_weight'])}",
        f"eval_seed: {_scalar(settings['eval_seed'])}",
        "# denoiser.ckpt holds the EMA weights when use_ema is true.",
        f"use_ema: {_scalar(settings['use_ema'])}",
        "",
        "# Decisions accept when cosine score > threshold (SEED scores) or",
        "# > threshold_baseline (the encoder's own scores).",
        f"threshold: {_scalar(settings['threshold'])}",
        f"threshold_baseline: {_scalar(settings['threshold_baseline'])}",
        f"p_target: {_scalar(settings['p_target'])}",
        f"c_miss: {_scalar(settings['c_miss'])}",
        f"c_fa: {_scalar(settings['c_fa'])}",
        "",
        f"encoder: {encoder_yaml}",
        "",
        f"diffusion: {diffusion_yaml}",
        "",
        f"denoiser: {denoiser_yaml}",
        "",
        "modules:",
        "    encoder: !ref <encoder>",
        "    diffusion: !ref <diffusion>",
        "    denoiser: !ref <denoiser>",
        "",
        "pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer",
        "    loadables:",
        "        encoder: !ref <encoder>",
        "        denoiser: !ref <denoiser>",
        "    paths:",
        "        encoder: !ref <pretrained_path>/encoder.ckpt",
        "        denoiser: !ref <pretrained_path>/denoiser.ckpt",
        "    custom_hooks:",
        "        encoder: !name:seed_brain.inference.load_state_dict_strict",
        "        denoiser: !name:seed_brain.inference.load_state_dict_strict",
        "",
        END_MARKER,
        "",
    ]
    return "\n".join(lines)


def _prepare_out(out_folder, overwrite):
    out = Path(out_folder).resolve()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder.")
    if out.is_dir():
        _remove_partials(out)
    if out.is_dir() and any(out.iterdir()):
        hp = out / "hyperparams.yaml"
        ours = hp.is_file() and hp.read_text(
            encoding="utf-8", errors="replace"
        ).startswith(MARKER)
        if not ours:
            raise FileExistsError(
                f"{out} is not empty and holds no seed-brain model: choose "
                "a new or empty output folder."
            )
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds a seed-brain model; pass "
                "overwrite=True (--overwrite) to replace it."
            )
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_model_folder(
    out_folder,
    encoder,
    encoder_yaml,
    denoiser,
    denoiser_yaml,
    diffusion_yaml=DEFAULT_DIFFUSION_YAML,
    settings=None,
    readme=None,
    source=None,
    overwrite=False,
    extra_files=None,
):
    """Writes an inference folder from modules and their yaml definitions.

    The low-level writer behind :func:`export_model`; also handy for
    models trained outside the recipe.

    Arguments
    ---------
    out_folder : str or os.PathLike
        Folder to write (created; a non-empty folder is refused unless it
        holds a model written here and ``overwrite`` is True).
    encoder : torch.nn.Module or dict
        The encoder, or its ``state_dict``.
    encoder_yaml : str
        HyperPyYAML node that builds the encoder *without* loading
        weights (e.g. ``"!new:seed_brain.lobes.ge2e.GE2E\\n    weights:
        null"``).
    denoiser : torch.nn.Module or dict
        The denoiser (with the weights to use, e.g. the EMA copy's
        ``module``), or its ``state_dict``.
    denoiser_yaml : str
        HyperPyYAML node that builds the denoiser.
    diffusion_yaml : str
        HyperPyYAML node of the
        :class:`seed_brain.model.diffusion.SEEDDiffusion`.
    settings : dict or None
        Overrides of :data:`DEFAULT_SETTINGS`.
    readme : str or None
        Text of ``README.md`` (a short default when None).
    source : str or None
        What the model was exported from (a comment in the yaml).
    overwrite : bool
        Replace a model folder written earlier.
    extra_files : dict or None
        ``{name: source path}`` of files copied in too (``results.md``).

    Returns
    -------
    pathlib.Path
        The absolute path of the folder.

    Raises
    ------
    seed_brain.utils.errors.DiskFullError
        No room for the files (the message names the folder and the
        space needed); nothing of this export is left behind.

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.lobes import RDMMLP
    >>> folder = write_model_folder(
    ...     os.path.join(tempfile.mkdtemp(), "m"),
    ...     encoder=torch.nn.Linear(8, 4),
    ...     encoder_yaml="!new:torch.nn.Linear\\n    in_features: 8\\n"
    ...     "    out_features: 4",
    ...     denoiser=RDMMLP(4),
    ...     denoiser_yaml="!new:seed_brain.lobes.RDMMLP\\n    embed_dim: 4",
    ... )
    >>> sorted(p.name for p in folder.iterdir())
    ['README.md', 'denoiser.ckpt', 'encoder.ckpt', 'hyperparams.yaml']
    >>> "checksums:" in (folder / "hyperparams.yaml").read_text()
    True
    """
    out = _prepare_out(out_folder, overwrite)
    merged = dict(DEFAULT_SETTINGS)
    merged.update(settings or {})
    merged["pretrained_path"] = str(out)
    enc_state = encoder if isinstance(encoder, dict) else _state_dict(encoder)
    den_state = (
        denoiser if isinstance(denoiser, dict) else _state_dict(denoiser)
    )
    if merged["embedding_dim"] is None:
        dims = [
            v.shape[0]
            for k, v in den_state.items()
            if k.endswith("output_proj.bias")
        ]
        merged["embedding_dim"] = int(dims[0]) if dims else None
    if readme is None:
        readme = (
            f"# SEED model over {merged['backbone']}\n\n"
            "Load with `SEEDSpeakerRecognition.from_hparams(source=<this "
            "folder>)` (`seed_brain.inference`).\n"
        )
    extra = {name: Path(src) for name, src in (extra_files or {}).items()}

    def needed():
        return (
            _state_bytes(enc_state)
            + _state_bytes(den_state)
            + sum(p.stat().st_size for p in extra.values())
            + 64 * 1024
        )

    stage = out / f"{PARTIAL}{os.getpid()}"
    try:
        with disk_space(out, needed, "the model folder"):
            stage.mkdir(exist_ok=True)
            save_torch(enc_state, stage / "encoder.ckpt")
            save_torch(den_state, stage / "denoiser.ckpt")
            merged["checksums"] = {
                name: _sha256(stage / name) for name in MODEL_FILES
            }
            write_text(stage / "README.md", readme)
            for name, src in extra.items():
                write_bytes(stage / name, Path(src).read_bytes())
            text = _hparams_text(
                merged,
                encoder_yaml.rstrip(),
                diffusion_yaml.rstrip(),
                denoiser_yaml.rstrip(),
                source,
            )
            write_text(stage / "hyperparams.yaml", text)
        # Complete: move in, hyperparams.yaml (and its checksums) last.
        names = [n for n in os.listdir(stage) if n != "hyperparams.yaml"]
        for name in sorted(names) + ["hyperparams.yaml"]:
            os.replace(stage / name, out / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def write_untrained_model_folder(out_folder):
    """Writes a model folder of untrained modules, for examples and tests.

    A GE2E encoder built without its published weights and a fresh
    :class:`seed_brain.lobes.RDMMLP` denoiser (which predicts zeros), so
    that nothing is downloaded; their weights come from torch's global
    RNG (seed it for a reproducible folder).

    Arguments
    ---------
    out_folder : str or os.PathLike
        Folder to write, as for :func:`write_model_folder`.

    Returns
    -------
    pathlib.Path
        The absolute path of the folder.

    Example
    -------
    >>> import os, tempfile
    >>> folder = write_untrained_model_folder(
    ...     os.path.join(tempfile.mkdtemp(), "model")
    ... )
    >>> "embedding_dim: 256" in (folder / "hyperparams.yaml").read_text()
    True
    """
    from seed_brain.lobes import RDMMLP
    from seed_brain.lobes.ge2e import GE2E

    return write_model_folder(
        out_folder,
        encoder=GE2E(weights=None),
        encoder_yaml="!new:seed_brain.lobes.ge2e.GE2E\n    weights: null",
        denoiser=RDMMLP(256),
        denoiser_yaml="!new:seed_brain.lobes.RDMMLP\n    embed_dim: 256",
    )
