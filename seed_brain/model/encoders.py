"""Pretrained speaker encoders for SEED: SpeechBrain's ECAPA-TDNN and
voxceleb_trainer's ResNetSE34V2, loaded from ``pretrained_path``.

:class:`ECAPAEncoder` is the embedding pipeline of SpeechBrain's published
VoxCeleb model (``speechbrain/spkrec-ecapa-voxceleb``) as one module, with
the same sub-module names as that model's ``hyperparams.yaml``:

* ``compute_features``: ``speechbrain.lobes.features.Fbank`` (80 bins);
* ``mean_var_norm``: ``InputNormalization(norm_type="sentence",
  std_norm=False)``;
* ``embedding_model``: ``speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN``
  (C = 1024, 3072-channel MFA, 192-d output);
* ``mean_var_norm_emb``: ``InputNormalization(norm_type="global",
  std_norm=False)``, the embedding statistics (used only when
  ``normalize_embeddings`` is True, as ``EncoderClassifier.encode_batch``
  does only with ``normalize=True``).

Its weights are loaded through SpeechBrain's ``Pretrainer`` from a local
folder or a Hugging Face hub id holding ``embedding_model.ckpt`` and
``mean_var_norm_emb.ckpt``, with **strict** key matching: a checkpoint of a
different architecture is an error listing the missing, unexpected and
mis-shaped keys, never a silent partial load. Offline, a hub id fails with
an error that says so and how to point ``pretrained_path`` at a folder.

:class:`ResNetEncoder` is :class:`seed_brain.lobes.ResNetSE34V2` loading a
voxceleb_trainer checkpoint (``__S__.``-prefixed or not) from a file, a
folder holding one ``*.model`` file, or an ``http(s)://`` URL (downloaded
once, resumably, with :func:`seed_brain.dataio.download.download`).

:func:`export_ecapa` and :func:`export_voxceleb_trainer` write such folders
from trained modules (see ``recipes/train_backbone.py``).

Authors
 * seed-brain developers 2026
"""

import logging
import os
import re

import torch
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
from speechbrain.processing.features import InputNormalization

from seed_brain.lobes.resnet import ResNetSE34V2
from seed_brain.utils.errors import UserError
from seed_brain.utils.files import save_torch, write_text

__all__ = [
    "ECAPAEncoder",
    "PUBLISHED_ECAPA",
    "PretrainedUnavailableError",
    "ResNetEncoder",
    "VOXCELEB_TRAINER_RESNET",
    "check_state_dict",
    "export_ecapa",
    "export_voxceleb_trainer",
    "resolve_source",
]

logger = logging.getLogger(__name__)

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


class ECAPAEncoder(torch.nn.Module):
    """SpeechBrain's ECAPA-TDNN embedding pipeline, loadable from a folder.

    ``forward(wavs, wav_lens)`` computes exactly what
    ``EncoderClassifier.encode_batch`` of SpeechBrain's published VoxCeleb
    ECAPA model computes (Fbank -> sentence mean normalisation ->
    ECAPA-TDNN, optionally the global embedding normalisation), returned
    as ``[B, lin_neurons]``.

    Arguments
    ---------
    pretrained_path : str or None
        Local folder or hub id with ``embedding_model.ckpt`` and
        ``mean_var_norm_emb.ckpt`` (default: :data:`PUBLISHED_ECAPA`);
        None keeps the random initialisation (for training).
    savedir : str or None
        Where the ``Pretrainer`` collects (symlinks to) the files; None
        fetches them in place (hub files stay in the hub cache).
    n_mels : int
        Filterbank size (80 for the published model).
    channels, kernel_sizes, dilations : list of int
        ECAPA-TDNN layers (published: ``[1024, 1024, 1024, 1024, 3072]``,
        ``[5, 3, 3, 3, 1]``, ``[1, 2, 3, 4, 1]``).
    attention_channels : int
        Attentive statistics pooling size (128).
    lin_neurons : int
        Embedding size (192).
    res2net_scale, se_channels : int
        ECAPA block settings (8, 128 as SpeechBrain's defaults).
    global_context : bool
        Pooling with global context (True).
    normalize_embeddings : bool
        Apply ``mean_var_norm_emb`` (global mean removal) to the output, as
        ``encode_batch(..., normalize=True)``. The published model's
        verification interface does not (False).
    load_embedding_norm : bool
        Also load ``mean_var_norm_emb.ckpt`` (always done when
        ``normalize_embeddings`` is True).

    Example
    -------
    >>> encoder = ECAPAEncoder(
    ...     pretrained_path=None, channels=[16, 16, 16, 16, 48],
    ...     lin_neurons=8, attention_channels=8, se_channels=8).eval()
    >>> encoder(torch.randn(2, 16000), torch.tensor([1.0, 0.7])).shape
    torch.Size([2, 8])
    >>> for name, _ in encoder.named_children():
    ...     print(name)
    compute_features
    mean_var_norm
    embedding_model
    mean_var_norm_emb
    """

    def __init__(
        self,
        pretrained_path=PUBLISHED_ECAPA,
        savedir=None,
        n_mels=80,
        channels=(1024, 1024, 1024, 1024, 3072),
        kernel_sizes=(5, 3, 3, 3, 1),
        dilations=(1, 2, 3, 4, 1),
        attention_channels=128,
        lin_neurons=192,
        res2net_scale=8,
        se_channels=128,
        global_context=True,
        normalize_embeddings=False,
        load_embedding_norm=True,
    ):
        super().__init__()
        self.config = {
            "n_mels": int(n_mels),
            "channels": [int(c) for c in channels],
            "kernel_sizes": [int(k) for k in kernel_sizes],
            "dilations": [int(d) for d in dilations],
            "attention_channels": int(attention_channels),
            "lin_neurons": int(lin_neurons),
            "res2net_scale": int(res2net_scale),
            "se_channels": int(se_channels),
            "global_context": bool(global_context),
        }
        self.embedding_dim = int(lin_neurons)
        self.normalize_embeddings = bool(normalize_embeddings)
        self.compute_features = Fbank(n_mels=n_mels)
        self.mean_var_norm = InputNormalization(
            norm_type="sentence", std_norm=False
        )
        self.embedding_model = ECAPA_TDNN(
            input_size=n_mels,
            channels=list(channels),
            kernel_sizes=list(kernel_sizes),
            dilations=list(dilations),
            attention_channels=attention_channels,
            lin_neurons=lin_neurons,
            res2net_scale=res2net_scale,
            se_channels=se_channels,
            global_context=global_context,
        )
        self.mean_var_norm_emb = InputNormalization(
            norm_type="global", std_norm=False
        )
        self.pretrained_path = pretrained_path
        if pretrained_path is not None:
            self.load_pretrained(
                pretrained_path,
                savedir=savedir,
                load_embedding_norm=load_embedding_norm
                or self.normalize_embeddings,
            )

    def _hint(self):
        cfg = self.config
        return (
            "The yaml's encoder settings must be those the checkpoint was "
            f"trained with (here n_mels={cfg['n_mels']}, "
            f"channels={cfg['channels']}, lin_neurons={cfg['lin_neurons']}, "
            f"attention_channels={cfg['attention_channels']}): override "
            "them (e.g. --ecapa_channels=[...] --embedding_dim=...) or "
            "point pretrained_path at a folder of SpeechBrain's ECAPA "
            "layout (embedding_model.ckpt, mean_var_norm_emb.ckpt)."
        )

    def _strict_module_hook(self, what):
        def hook(obj, path):
            state = torch.load(path, map_location="cpu", weights_only=True)
            check_state_dict(obj, state, f"{what} ({path})", self._hint())
            obj.load_state_dict(state, strict=True)

        return hook

    def _stats_hook(self, obj, path):
        stats = torch.load(path, map_location="cpu", weights_only=True)
        keys = {"count", "glob_mean", "glob_std"}
        if not isinstance(stats, dict) or not keys <= set(stats):
            got = sorted(stats) if isinstance(stats, dict) else type(stats)
            raise ValueError(
                f"mean_var_norm_emb ({path}) is not an InputNormalization "
                f"statistics file: expected the keys {sorted(keys)}, got "
                f"{got}."
            )
        for key in ("glob_mean", "glob_std"):
            value = stats[key]
            if value.numel() != self.embedding_dim:
                raise ValueError(
                    f"mean_var_norm_emb ({path}): {key} has "
                    f"{value.numel()} entries, the embeddings "
                    f"{self.embedding_dim}. {self._hint()}"
                )
        obj._load_statistics_dict(
            {k: stats[k] for k in ("count", "glob_mean", "glob_std")}
        )

    def load_pretrained(self, pretrained_path, savedir=None, **kwargs):
        """Loads the weights with SpeechBrain's ``Pretrainer``, strictly.

        Arguments
        ---------
        pretrained_path : str
            Local folder or hub id (see the class description).
        savedir : str or None
            Collection folder of the ``Pretrainer``.
        **kwargs
            ``load_embedding_norm`` (bool, default True).

        Returns
        -------
        ECAPAEncoder
            ``self``.

        Raises
        ------
        FileNotFoundError
            A local folder without the files, or a path that does not
            exist.
        PretrainedUnavailableError
            A hub id while the hub is unreachable.
        ValueError
            A checkpoint that does not match the architecture.
        """
        from speechbrain.utils.distributed import run_on_main
        from speechbrain.utils.parameter_transfer import Pretrainer

        load_norm = kwargs.pop("load_embedding_norm", True)
        if kwargs:
            raise TypeError(f"Unknown arguments {sorted(kwargs)}")
        kind, source = resolve_source(pretrained_path)
        if kind == "url":
            raise ValueError(
                "ECAPAEncoder loads from a local folder or a Hugging Face "
                f"hub id, not a URL ('{source}'); download the folder and "
                "pass its path."
            )
        names = ["embedding_model"] + (
            ["mean_var_norm_emb"] if load_norm else []
        )
        if kind == "local":
            if not os.path.isdir(source):
                raise FileNotFoundError(
                    f"pretrained_path '{source}' is a file; pass the folder "
                    "that holds embedding_model.ckpt and "
                    "mean_var_norm_emb.ckpt."
                )
            absent = [
                ECAPA_FILES[n]
                for n in names
                if not os.path.isfile(os.path.join(source, ECAPA_FILES[n]))
            ]
            if absent:
                raise FileNotFoundError(
                    f"pretrained_path '{source}' lacks {', '.join(absent)}. "
                    "It must be a folder in the layout of SpeechBrain's "
                    f"'{PUBLISHED_ECAPA}' (embedding_model.ckpt, "
                    "mean_var_norm_emb.ckpt), e.g. written by "
                    "recipes/train_backbone.py."
                )
        loadables = {n: getattr(self, n) for n in names}
        hooks = {"embedding_model": self._strict_module_hook("embedding_model")}
        if load_norm:
            hooks["mean_var_norm_emb"] = self._stats_hook
        if savedir is not None:
            os.makedirs(savedir, exist_ok=True)
        pretrainer = Pretrainer(
            collect_in=savedir,
            loadables=loadables,
            paths={n: f"{source}/{ECAPA_FILES[n]}" for n in names},
            custom_hooks=hooks,
        )
        try:
            # Main process first (it downloads), then the others (cache).
            run_on_main(
                pretrainer.collect_files, post_func=pretrainer.collect_files
            )
        except Exception as err:  # noqa: BLE001 - classified below
            if kind == "hub" and _is_offline_error(err):
                example = (
                    "python train.py hparams/seed_ecapa.yaml "
                    "--pretrained_path=/data/models/spkrec-ecapa-voxceleb"
                )
                raise PretrainedUnavailableError(
                    _offline_message(
                        source,
                        f"{type(err).__name__}: {err}".splitlines()[0],
                        [ECAPA_FILES[n] for n in names],
                        example,
                    )
                ) from err
            raise
        pretrainer.load_collected()
        logger.info("Loaded the ECAPA-TDNN weights of %s", source)
        return self

    def forward(self, wavs, wav_lens=None):
        """Speaker embeddings of a batch of 16 kHz waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, samples]`` (or ``[samples]``).
        wav_lens : torch.Tensor or None
            ``[B]`` relative lengths (None: all full).

        Returns
        -------
        torch.Tensor
            ``[B, lin_neurons]`` embeddings.
        """
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        wavs = wavs.float()
        wav_lens = wav_lens.to(wavs.device)
        feats = self.compute_features(wavs)
        feats = self.mean_var_norm(feats, wav_lens)
        emb = self.embedding_model(feats, wav_lens)
        if self.normalize_embeddings:
            norm = self.mean_var_norm_emb
            if norm.count == 0:
                raise RuntimeError(
                    "normalize_embeddings=True but no embedding statistics "
                    "were loaded (mean_var_norm_emb.ckpt)."
                )
            norm.glob_mean = norm.glob_mean.to(emb.device)
            norm.glob_std = norm.glob_std.to(emb.device)
            emb = norm(emb, torch.ones(emb.shape[0], device=emb.device))
        return emb.squeeze(1)


class ResNetEncoder(ResNetSE34V2):
    """:class:`~seed_brain.lobes.ResNetSE34V2` loaded from a path or URL.

    Arguments
    ---------
    pretrained_path : str or None
        A voxceleb_trainer checkpoint: a file, a folder holding exactly one
        ``*.model`` file, or an ``http(s)://`` URL (downloaded once into
        ``savedir``, resumably; default
        :data:`VOXCELEB_TRAINER_RESNET`). None keeps the random
        initialisation (for training).
    savedir : str or None
        Where a URL is downloaded to (required for URLs).
    checksum : str or None
        Published checksum of the downloaded file (``"md5:<hex>"``...).
    **kwargs
        :class:`~seed_brain.lobes.ResNetSE34V2` arguments (``n_mels``,
        ``num_filters``, ``layers``, ``embedding_dim``, ``encoder_type``,
        ``log_input``).

    Example
    -------
    >>> import os, tempfile
    >>> small = dict(num_filters=[8, 8, 8, 8], layers=[1, 1, 1, 1],
    ...              embedding_dim=16)
    >>> trained = ResNetEncoder(pretrained_path=None, **small)
    >>> folder = tempfile.mkdtemp()
    >>> export_voxceleb_trainer(trained, os.path.join(folder, "x.model"))
    >>> loaded = ResNetEncoder(pretrained_path=folder, **small).eval()
    >>> bool(torch.equal(loaded.fc.weight, trained.fc.weight))
    True
    """

    def __init__(
        self,
        pretrained_path=VOXCELEB_TRAINER_RESNET,
        savedir=None,
        checksum=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pretrained_path = pretrained_path
        if pretrained_path is not None:
            path = self.fetch(pretrained_path, savedir, checksum)
            self.load_voxceleb_trainer(path)
            logger.info("Loaded the ResNetSE34V2 weights of %s", path)

    @staticmethod
    def fetch(pretrained_path, savedir=None, checksum=None):
        """Local checkpoint file of ``pretrained_path`` (downloading it).

        Arguments
        ---------
        pretrained_path : str
            File, folder with one ``*.model`` file, or URL.
        savedir : str or None
            Download folder for URLs.
        checksum : str or None
            Published checksum of the URL's file.

        Returns
        -------
        str
            Path of the checkpoint file.
        """
        from seed_brain.dataio.download import DownloadError, download

        kind, source = resolve_source(pretrained_path)
        if kind == "hub":
            raise FileNotFoundError(
                f"pretrained_path '{source}' does not exist. ResNetEncoder "
                "loads a voxceleb_trainer checkpoint from a file, a folder "
                "holding one *.model file, or an http(s) URL."
            )
        if kind == "url":
            if savedir is None:
                raise ValueError("savedir is needed to download a URL.")
            name = os.path.basename(source.split("?")[0]) or "resnet.model"
            dest = os.path.join(savedir, name)
            try:
                return download(source, dest, checksum=checksum)
            except DownloadError as err:
                raise PretrainedUnavailableError(
                    f"Cannot download the ResNetSE34V2 checkpoint {source} "
                    f"({err}). Offline? Point `pretrained_path` at a local "
                    "voxceleb_trainer checkpoint (a file, or a folder "
                    "holding one *.model file), e.g. `python train.py "
                    "hparams/seed_resnet.yaml "
                    "--pretrained_path=/data/models/baseline_v2_ap.model`, "
                    "or train one with `python recipes/train_backbone.py "
                    "hparams/train_resnet.yaml`."
                ) from err
        if os.path.isdir(source):
            found = sorted(
                f for f in os.listdir(source) if f.endswith(".model")
            )
            if len(found) != 1:
                raise FileNotFoundError(
                    f"pretrained_path folder '{source}' holds "
                    f"{len(found)} *.model files ({found[:5]}); it must "
                    "hold exactly one, or pass the file itself."
                )
            return os.path.join(source, found[0])
        return source


_ECAPA_HPARAMS = """\
# ECAPA-TDNN speaker encoder written by seed_brain.model.encoders.export_ecapa,
# in the layout of SpeechBrain's {published}: load it with
#   EncoderClassifier.from_hparams(source=<this folder>, savedir=<any>)
# or as SEED's pretrained_path (hparams/seed_ecapa.yaml).
# NOTE: hyperpyyaml files execute code; load only files you trust.

n_mels: {n_mels}
out_n_neurons: {out_neurons}

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {channels}
    kernel_sizes: {kernel_sizes}
    dilations: {dilations}
    attention_channels: {attention_channels}
    lin_neurons: {lin_neurons}
    res2net_scale: {res2net_scale}
    se_channels: {se_channels}
    global_context: {global_context}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {lin_neurons}
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

# No paths: every file is <source>/<name>.ckpt of the folder given as source.
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
"""


def export_ecapa(encoder, folder, classifier=None, label_encoder=None):
    """Writes an ECAPA folder in the layout of SpeechBrain's published model.

    Files: ``embedding_model.ckpt`` (state dict of
    ``encoder.embedding_model``), ``mean_var_norm_emb.ckpt`` (its
    embedding statistics), ``classifier.ckpt`` and ``label_encoder.txt``
    (also as ``label_encoder.ckpt``, the name SpeechBrain's loader looks
    for by default) when given, and an inference ``hyperparams.yaml``, so
    that both :class:`ECAPAEncoder` (``pretrained_path``) and SpeechBrain's
    ``EncoderClassifier.from_hparams(source=folder)`` load it.

    Arguments
    ---------
    encoder : ECAPAEncoder
        Trained encoder; ``encoder.mean_var_norm_emb`` must hold statistics
        (update it in train mode over training embeddings first).
    folder : str
        Output folder (created).
    classifier : speechbrain.lobes.models.ECAPA_TDNN.Classifier or None
        The speaker classifier of the training.
    label_encoder : speechbrain.dataio.encoder.CategoricalEncoder or None
        The speaker label encoder of the training.

    Returns
    -------
    str
        ``folder``.

    Example
    -------
    >>> import tempfile
    >>> small = dict(channels=[8, 8, 8, 8, 24], lin_neurons=4,
    ...              attention_channels=4, se_channels=4)
    >>> enc = ECAPAEncoder(pretrained_path=None, **small)
    >>> _ = enc.mean_var_norm_emb.train()(torch.randn(6, 1, 4))
    >>> folder = export_ecapa(enc, tempfile.mkdtemp())
    >>> loaded = ECAPAEncoder(pretrained_path=folder, **small).eval()
    >>> x = torch.randn(1, 8000)
    >>> bool(torch.allclose(loaded(x), enc.eval()(x)))
    True
    """
    norm = encoder.mean_var_norm_emb
    if norm.count == 0:
        raise ValueError(
            "encoder.mean_var_norm_emb holds no statistics: run it in train "
            "mode over training embeddings ([N, 1, D]) before exporting."
        )
    os.makedirs(folder, exist_ok=True)
    save_torch(
        encoder.embedding_model.state_dict(),
        os.path.join(folder, "embedding_model.ckpt"),
    )
    stats = norm._statistics_dict()
    stats = {
        "count": int(stats["count"]),
        "glob_mean": stats["glob_mean"].detach().cpu().reshape(-1),
        "glob_std": stats["glob_std"].detach().cpu().reshape(-1),
    }
    save_torch(stats, os.path.join(folder, "mean_var_norm_emb.ckpt"))
    out_neurons = 0
    if classifier is not None:
        out_neurons = int(classifier.weight.shape[0])
        save_torch(
            classifier.state_dict(), os.path.join(folder, "classifier.ckpt")
        )
    if label_encoder is not None:
        for name in ("label_encoder.txt", "label_encoder.ckpt"):
            path = os.path.join(folder, name)
            tmp = f"{path}.tmp{os.getpid()}"
            label_encoder.save(tmp)
            os.replace(tmp, path)
    cfg = dict(encoder.config)
    text = _ECAPA_HPARAMS.format(
        published=PUBLISHED_ECAPA,
        out_neurons=out_neurons,
        **cfg,
    )
    if classifier is None or label_encoder is None:
        # Without them, the inference yaml cannot load: drop both entries.
        text = text.replace(
            "        classifier: !ref <classifier>\n"
            "        label_encoder: !ref <label_encoder>\n",
            "",
        )
    write_text(os.path.join(folder, "hyperparams.yaml"), text)
    return folder


def export_voxceleb_trainer(model, path, classifier=None):
    """Saves a ResNetSE34V2 as a voxceleb_trainer checkpoint.

    The state dict of ``model`` is saved with the ``__S__.`` prefix of
    voxceleb_trainer's ``SpeakerNet``; the classifier's weight, when
    given, as ``__L__.weight`` (the loss head, which loaders drop).

    Arguments
    ---------
    model : seed_brain.lobes.ResNetSE34V2
        The trained encoder.
    path : str
        Output file (``*.model``).
    classifier : torch.nn.Module or None
        The AAM-softmax classifier of the training.

    Example
    -------
    >>> import os, tempfile
    >>> model = ResNetSE34V2(num_filters=[8, 8, 8, 8], layers=[1, 1, 1, 1])
    >>> path = os.path.join(tempfile.mkdtemp(), "resnet.model")
    >>> export_voxceleb_trainer(model, path)
    >>> next(iter(torch.load(path, weights_only=True))).startswith("__S__.")
    True
    """
    state = {f"__S__.{k}": v for k, v in model.state_dict().items()}
    if classifier is not None:
        for key, value in classifier.state_dict().items():
            state[f"__L__.{key}"] = value
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    save_torch(state, path)
