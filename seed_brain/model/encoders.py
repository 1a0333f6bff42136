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

import torch
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
from speechbrain.processing.features import InputNormalization

from seed_brain.lobes.resnet import ResNetSE34V2

# Re-exported: these lived here and are imported from here.
from seed_brain.model.encoder_export import (
    export_ecapa,
    export_voxceleb_trainer,
)
from seed_brain.model.pretrained import (
    ECAPA_FILES,
    PUBLISHED_ECAPA,
    VOXCELEB_TRAINER_RESNET,
    PretrainedUnavailableError,
    _is_offline_error,
    _offline_message,
    check_state_dict,
    resolve_source,
)

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
