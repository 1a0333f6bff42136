"""A SpeechBrain pretrained interface for SEED models.

:class:`SEEDSpeakerRecognition` loads a folder written by
:func:`seed_brain.inference.export.export_model` (or ``seed-brain export``) the
way
SpeechBrain's ``SpeakerRecognition`` loads its models::

    from seed_brain.inference import SEEDSpeakerRecognition

    model = SEEDSpeakerRecognition.from_hparams(source="results/model")
    score, same = model.verify_files("a.wav", "b.wav")
    emb = model.encode_batch(wavs)          # SEED-enhanced, [B, D]

The folder holds ``hyperparams.yaml`` (``modules:`` and ``pretrainer:``),
``encoder.ckpt`` (the frozen speaker encoder) and ``denoiser.ckpt`` (the
SEED denoiser, its EMA weights when the run used EMA). Weights are loaded
with ``torch.load(..., weights_only=True)`` and strict key matching.

Reproducibility
---------------
SEED's output depends on the forward noise it adds before its one
denoising step. As in :class:`seed_brain.model.brain.SEEDBrain`, that noise is
drawn per item from :func:`seed_brain.model.enhancement.utterance_noise`,
seeded by the item's *id* and the model's ``eval_seed``, so an embedding
never depends on the batch it is in, and ``enhance_embeddings(emb, ids)`` equals
``SEEDBrain.enhance(emb, ids)`` of the training run bit for bit. When no
ids are given, the id of an item is a hash of its content:
:func:`waveform_id` of the (unpadded) waveform in :meth:`encode_batch`,
:func:`embedding_id` of the embedding in :meth:`enhance_embeddings`. The
same audio therefore always gives the same enhanced embedding. To
reproduce the numbers of a training run, pass the ids the recipe used
(``clean/<path>`` for enrolment files, ``<condition>/<path>`` for test
files, paths as written in the trial list).

Authors
 * seed-brain developers 2026
"""

import logging
import os
import re

import torch
import torch.nn.functional as F
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.fetching import fetch

from seed_brain.dataio.audio import load_audio
from seed_brain.inference.audio_files import AudioFiles
from seed_brain.inference.item_ids import embedding_id, waveform_id
from seed_brain.inference.model_files import (
    MODEL_FILES,
    REFETCH,
    ModelSourceError,
    check_model_folder,
)
from seed_brain.inference.sources import (
    _check_savedir,
    _hub_error,
    _looks_like_path,
)
from seed_brain.model.enhancement import baseline_with_backend, enhance_with_ids
from seed_brain.utils.errors import ModelFileError

logger = logging.getLogger(__name__)

__all__ = [
    "ModelFileError",
    "ModelSourceError",
    "SEEDSpeakerRecognition",
    "embedding_id",
    "waveform_id",
]


def _resolve_model_source(source, hparams_file, savedir, overrides):
    """Checks a model source; sets ``pretrained_path`` in ``overrides``.

    A local folder (its files checked, as an absolute path), or a hub id
    whose ``hyperparams.yaml`` is fetched (:class:`ModelSourceError` when
    it cannot be); anything else is returned as it is.

    Returns
    -------
    tuple
        The source to load and the names of the files that differ from
        the checksums of ``hyperparams.yaml``.
    """
    replaced = []
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if os.path.isdir(text):
            source = os.path.abspath(text)
            hparams_path = os.path.join(source, hparams_file)
            if not os.path.isfile(hparams_path):
                raise FileNotFoundError(
                    f"'{source}' holds no {hparams_file}: it is not a "
                    "SEED model folder. Write one with `seed-brain export "
                    "RUN_FOLDER OUT_FOLDER`."
                )
            replaced = check_model_folder(source, hparams_file)
            if savedir is not None:
                _check_savedir(source, savedir, (hparams_file,) + MODEL_FILES)
        elif _looks_like_path(text):
            raise FileNotFoundError(
                f"SEED model folder '{text}' not found. Pass the folder "
                "written by `seed-brain export RUN_FOLDER OUT_FOLDER`."
            )
        else:
            source = text
            try:
                hparams_path = fetch(
                    filename=hparams_file, source=source, savedir=savedir
                )
            except Exception as err:  # huggingface_hub / network errors
                raise _hub_error(source, err) from err
        with open(hparams_path, encoding="utf-8") as fin:
            has_path = re.search(r"^pretrained_path:", fin.read(), re.M)
        if has_path:
            overrides.setdefault("pretrained_path", source)
    return source, replaced


class SEEDSpeakerRecognition(AudioFiles, Pretrained):
    """Speaker embeddings and verification with SEED enhancement.

    A SpeechBrain ``Pretrained`` interface over a frozen speaker encoder
    and a SEED denoiser. Build it with :meth:`from_hparams` from a folder
    written by :func:`seed_brain.inference.export.export_model`.

    Embeddings are ``[B, D]`` (SpeechBrain's ``SpeakerRecognition`` returns
    ``[B, 1, D]``). Enhanced embeddings are L2-normalised when the model
    uses the feature ensemble (``ensemble_weight < 1``, the default).

    Arguments
    ---------
    *args : tuple
        Forwarded to ``Pretrained`` (``modules``, ``hparams``, ...).
    **kwargs : dict
        Forwarded to ``Pretrained`` (e.g. ``run_opts={"device": "cpu"}``).

    Example
    -------
    >>> import tempfile
    >>> from seed_brain.inference.model_folder import (
    ...     write_untrained_model_folder,
    ... )
    >>> _ = torch.manual_seed(0)
    >>> folder = write_untrained_model_folder(
    ...     os.path.join(tempfile.mkdtemp(), "model")
    ... )
    >>> model = SEEDSpeakerRecognition.from_hparams(
    ...     source=folder, run_opts={"device": "cpu"}
    ... )
    >>> wavs = 0.1 * torch.randn(2, 16000)
    >>> emb = model.encode_batch(wavs)
    >>> emb.shape
    torch.Size([2, 256])
    >>> torch.equal(emb, model.encode_batch(wavs))  # reproducible
    True
    >>> # the same item alone (other batch, so float rounding may differ)
    >>> torch.allclose(emb[1], model.encode_batch(wavs[1:])[0], atol=1e-5)
    True
    >>> base = model.encode_batch(wavs, enhance=False)
    >>> with torch.no_grad():  # as SEEDBrain.encode runs the encoder
    ...     own = model.mods.encoder(wavs)
    >>> torch.equal(base, own)
    True
    >>> score, same = model.verify_batch(wavs[:1], wavs[:1])
    >>> round(score.item(), 4), same.tolist()
    (1.0, [True])
    """

    MODULES_NEEDED = ["encoder", "denoiser", "diffusion"]
    HPARAMS_NEEDED = [
        "sample_t",
        "sample_steps",
        "num_draws",
        "ensemble_weight",
        "eval_seed",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        missing = [m for m in self.MODULES_NEEDED if m not in self.mods]
        if missing:
            raise ValueError(
                f"hyperparams.yaml lacks the module(s) {missing} under "
                "'modules:'; re-export the model with `seed-brain export`."
            )
        self.mods.encoder.eval()
        self.mods.denoiser.eval()

    # ------------------------------------------------------------ loading
    @classmethod
    def from_hparams(
        cls,
        source,
        hparams_file="hyperparams.yaml",
        savedir=None,
        overrides=None,
        **kwargs,
    ):
        """Loads a SEED model from a local folder or a hub id.

        A local folder is read in place when ``savedir`` is None (else its
        files are linked into ``savedir``, SpeechBrain's default). Its
        ``pretrained_path`` is set to the folder, so the folder can be
        moved or copied anywhere. Any other string is taken as a Hugging
        Face hub id; offline (or when the hub is unreachable) this raises
        :class:`ModelSourceError` saying so and asking for a local folder.

        Arguments
        ---------
        source : str or os.PathLike
            Model folder, or hub id ``namespace/name``.
        hparams_file : str
            Name of the hyperparameter file in the source.
        savedir : str or os.PathLike or None
            Where SpeechBrain collects the files (links for local folders).
        overrides : dict or None
            Overrides of the yaml (e.g. ``{"sample_t": 30}``).
        **kwargs : dict
            Forwarded to ``Pretrained.from_hparams`` (``run_opts``, ...).

        Returns
        -------
        SEEDSpeakerRecognition
            The loaded model, in eval mode, parameters frozen.

        Raises
        ------
        FileNotFoundError
            A local-looking source that does not exist, or a folder that
            lacks ``hyperparams.yaml``.
        ModelSourceError
            A hub id that cannot be fetched.
        seed_brain.utils.errors.ModelFileError
            A weight file of the folder that is missing, truncated,
            corrupted, of another model (it does not fit the modules), or
            that differs from the checksum recorded in ``hyperparams.yaml``;
            a ``hyperparams.yaml`` that cannot be parsed.

        Example
        -------
        >>> SEEDSpeakerRecognition.from_hparams("/no/such/model")
        Traceback (most recent call last):
        ...
        FileNotFoundError: SEED model folder '/no/such/model' not found...
        """
        overrides = dict(overrides or {})
        source, replaced = _resolve_model_source(
            source, hparams_file, savedir, overrides
        )
        try:
            model = super().from_hparams(
                source,
                hparams_file=hparams_file,
                savedir=savedir,
                overrides=overrides,
                **kwargs,
            )
        except (OSError, ValueError) as err:
            if isinstance(source, str) and not os.path.isdir(source):
                if not isinstance(err, ModelSourceError):
                    raise _hub_error(source, err) from err
            raise
        except Exception as err:
            if type(err).__module__.startswith("ruamel"):  # a YAML error
                detail = " ".join(str(err).split())[:300]
                raise ModelFileError(
                    f"{os.path.join(os.fspath(source), hparams_file)} cannot "
                    f"be parsed (truncated or edited?): {detail}; {REFETCH}."
                ) from err
            raise
        if replaced:
            raise ModelFileError(
                f"{', '.join(replaced)} differ(s) from the file(s) exported "
                "with this hyperparams.yaml (SHA-256 in its 'checksums:'): "
                "replaced or changed after the export, e.g. by another "
                f"model's file; {REFETCH}."
            )
        return model

    def load_audio(self, path, savedir=None):
        """Loads an audio file as the recipe does: mono, at the model rate.

        Uses :func:`seed_brain.dataio.audio.load_audio` (the loader of
        ``SEEDBrain.embed_files``), so embeddings match the recipe's.
        Non-local paths (URLs, hub files) are fetched first.

        Arguments
        ---------
        path : str or os.PathLike
            Audio file.
        savedir : str or None
            Where to put fetched remote files.

        Returns
        -------
        torch.Tensor
            ``[samples]`` float32 waveform on the CPU.
        """
        path = os.fspath(path)
        if not os.path.exists(path) and re.match(r"^https?://", path):
            source, name = path.rsplit("/", 1)
            path = os.fspath(fetch(name, source=source, savedir=savedir))
        return load_audio(path, self.sample_rate)

    # --------------------------------------------------------- properties
    def _hp(self, name, default=None):
        return getattr(self.hparams, name, default)

    @property
    def sample_rate(self):
        """Sampling rate the encoder expects (Hz)."""
        return int(self._hp("sample_rate", 16000))

    @property
    def threshold(self):
        """Decision threshold of SEED scores (from the training run)."""
        value = self._hp("threshold")
        return 0.5 if value is None else float(value)

    @property
    def threshold_baseline(self):
        """Decision threshold of the encoder's own scores."""
        value = self._hp("threshold_baseline")
        return self.threshold if value is None else float(value)

    # ---------------------------------------------------------- embedding
    def _prepare(self, wavs, wav_lens):
        if not isinstance(wavs, torch.Tensor):
            raise TypeError(f"wavs must be a torch.Tensor, got {type(wavs)}")
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wavs.dim() != 2:
            raise ValueError(
                f"wavs must be [batch, samples] or [samples], got shape "
                f"{tuple(wavs.shape)}"
            )
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0])
        wav_lens = torch.as_tensor(wav_lens, dtype=torch.float32)
        if wav_lens.shape != (wavs.shape[0],):
            raise ValueError(
                f"wav_lens must have shape [{wavs.shape[0]}], got "
                f"{tuple(wav_lens.shape)}"
            )
        return wavs.float(), wav_lens

    @staticmethod
    def _check_ids(ids, n):
        ids = list(ids)
        if len(ids) != n or not all(isinstance(i, str) for i in ids):
            raise ValueError(
                f"ids must be a list of {n} strings (one per item), got {ids!r}"
            )
        return ids

    def waveform_ids(self, wavs, wav_lens=None):
        """Default ids of a batch: :func:`waveform_id` of each item.

        Only the first ``round(wav_lens[i] * samples)`` samples of item
        ``i`` count (as for the encoder), so padding does not change the id.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, samples]`` or ``[samples]``.
        wav_lens : torch.Tensor or None
            ``[B]`` relative lengths.

        Returns
        -------
        list of str
            One id per item.
        """
        wavs, wav_lens = self._prepare(wavs, wav_lens)
        total = wavs.shape[1]
        ends = torch.round(wav_lens.double() * total).long().clamp(max=total)
        return [waveform_id(w[:n]) for w, n in zip(wavs, ends.tolist())]

    def encode_batch(
        self, wavs, wav_lens=None, enhance=True, ids=None, normalize=False
    ):
        """Speaker embeddings of a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, samples]`` (or ``[samples]``) waveforms at
            :attr:`sample_rate`, zero-padded at the end.
        wav_lens : torch.Tensor or None
            ``[B]`` relative lengths (SpeechBrain convention); None means
            every item spans the whole tensor.
        enhance : bool
            True: SEED-enhanced embeddings; False: the encoder's own, as
            they are (what :meth:`enhance_embeddings` takes; scoring them
            as the recipe's baseline does is :meth:`baseline_embeddings`).
        ids : list of str or None
            Ids seeding the forward noise of each item (see the module
            docstring); None: :meth:`waveform_ids`.
        normalize : bool
            L2-normalise the returned embeddings.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` float32 embeddings on the model's device.
        """
        wavs, wav_lens = self._prepare(wavs, wav_lens)
        if enhance:
            ids = (
                self.waveform_ids(wavs, wav_lens)
                if ids is None
                else self._check_ids(ids, wavs.shape[0])
            )
        encoder = self.mods.encoder
        encoder.eval()
        with torch.no_grad():
            emb = encoder(wavs.to(self.device), wav_lens.to(self.device))
        emb = emb.reshape(emb.shape[0], -1).float()
        if not torch.isfinite(emb).all():
            raise FloatingPointError(
                "The encoder produced a non-finite embedding: check the "
                "input audio for NaN/inf samples or silence."
            )
        if enhance:
            emb = self.enhance_embeddings(emb, ids)
        return F.normalize(emb, dim=-1) if normalize else emb

    def baseline_embeddings(self, emb):
        """The frozen encoder's embeddings with the run's backend.

        Centred with the clean training mean the run recorded
        (``input_mean`` of the denoiser) when it centred its embeddings,
        as the recipe's baseline is scored; unchanged otherwise.

        Arguments
        ---------
        emb : torch.Tensor
            ``[B, D]`` encoder embeddings.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` embeddings, as
            :func:`~seed_brain.model.enhancement.baseline_with_backend`
            gives them for the loaded denoiser.
        """
        return baseline_with_backend(self.mods.denoiser, emb)

    def forward(self, wavs, wav_lens=None):
        """Same as :meth:`encode_batch` (enhanced embeddings)."""
        return self.encode_batch(wavs, wav_lens)

    def enhance_embeddings(self, emb, ids=None):
        """SEED-enhances encoder embeddings (as ``SEEDBrain.enhance``).

        One step at ``t = sample_t`` (DDIM when ``sample_steps > 1``) with
        per-item seeded forward noise, averaged over ``num_draws`` draws,
        then the feature ensemble with ``ensemble_weight``: the settings of
        the training run's evaluation, stored in ``hyperparams.yaml``.

        Arguments
        ---------
        emb : torch.Tensor
            ``[B, D]`` (or ``[D]``, or ``[B, 1, D]``) encoder embeddings.
        ids : list of str or None
            Ids seeding the noise; None: :func:`embedding_id` of each row.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` (``[D]`` for a ``[D]`` input) enhanced embeddings.
        """
        if not isinstance(emb, torch.Tensor):
            raise TypeError(f"emb must be a torch.Tensor, got {type(emb)}")
        single = emb.dim() == 1
        emb = emb.reshape(1, -1) if single else emb.reshape(emb.shape[0], -1)
        emb = emb.float().to(self.device)
        if ids is None:
            ids = [embedding_id(e) for e in emb]
        ids = self._check_ids(ids, emb.shape[0])
        if emb.shape[0] == 0:
            return emb[0] if single else emb
        denoiser = self.mods.denoiser
        denoiser.eval()
        out = enhance_with_ids(
            self.mods.diffusion, denoiser, emb, ids, self._hp
        )
        return out[0] if single else out

    # -------------------------------------------------------- verification
    @staticmethod
    def cosine(emb1, emb2):
        """Row-wise cosine similarity in float64 (as the recipe scores).

        Example
        -------
        >>> a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 3.0]])
        >>> round(SEEDSpeakerRecognition.cosine(a, b).item(), 6)
        0.707107
        """
        a = F.normalize(emb1.double(), dim=-1, eps=1e-8)
        b = F.normalize(emb2.double(), dim=-1, eps=1e-8)
        return (a * b).sum(-1)

    def verify_batch(
        self,
        wavs1,
        wavs2,
        wav1_lens=None,
        wav2_lens=None,
        threshold=None,
        enhance=True,
    ):
        """Verification scores and decisions for pairs of waveforms.

        Arguments
        ---------
        wavs1, wavs2 : torch.Tensor
            ``[B, samples]`` waveforms at :attr:`sample_rate` (pair ``i`` is
            ``wavs1[i]`` vs ``wavs2[i]``).
        wav1_lens, wav2_lens : torch.Tensor or None
            ``[B]`` relative lengths.
        threshold : float or None
            Accept when ``score > threshold``; None: the model's threshold
            (:attr:`threshold`, or :attr:`threshold_baseline` without
            enhancement).
        enhance : bool
            Score SEED-enhanced embeddings (True) or the encoder's own.

        Returns
        -------
        score : torch.Tensor
            ``[B]`` float64 cosine similarities.
        decision : torch.Tensor
            ``[B]`` booleans, True for "same speaker".
        """
        if threshold is None:
            threshold = self.threshold if enhance else self.threshold_baseline
        emb1 = self.encode_batch(wavs1, wav1_lens, enhance=enhance)
        emb2 = self.encode_batch(wavs2, wav2_lens, enhance=enhance)
        if not enhance:  # the baseline, with the run's backend
            emb1 = self.baseline_embeddings(emb1)
            emb2 = self.baseline_embeddings(emb2)
        score = self.cosine(emb1, emb2)
        return score, score > threshold
