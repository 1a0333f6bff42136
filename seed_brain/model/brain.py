"""SEEDBrain: trains the SEED denoiser over a frozen speaker encoder.

The SpeechBrain ``Brain`` subclass of the recipe. Training batches are
either audio crops (``batch.sig``), turned into views by the yaml's
``view_builder`` and embedded by the frozen encoder on the fly, or cached
view embeddings (``batch.emb``, ``[B, V, D]``, see
:mod:`seed_brain.views.cache`). View 0 is the clean target; every other view is
an input paired with it.

Validation and test batches hold utterance embeddings computed once by
:meth:`SEEDBrain.embed_files` (cached on disk, so that evaluating another
checkpoint only reruns the tiny denoiser). Validation scores a small noisy
dev trial list (its EER picks the best checkpoint); the test stage scores
every condition, baseline (the frozen encoder) against SEED, and writes
``results.json``, ``results.md`` and the plots.

Authors
 * seed-brain developers 2026
"""

import logging

import speechbrain as sb
import torch

from seed_brain.model.checkpoints import (
    explain_load_errors,
    set_aside_incomplete_checkpoints,
)

# Re-exported: these lived here and are imported from here.
from seed_brain.model.embedding import FileEmbedding, embeddings_dataset  # noqa: F401
from seed_brain.model.enhancement import (  # noqa: F401
    GeneratorState,
    baseline_with_backend,
    enhance_with_ids,
    utterance_noise,
)
from seed_brain.model.evaluation import TrialEvaluation
from seed_brain.utils.distributed import (
    broadcast,
    gather_missing_on_main,
    rank_and_world,
)
from seed_brain.utils.precision import autocast_dtype

logger = logging.getLogger(__name__)


class SEEDBrain(TrialEvaluation, FileEmbedding, sb.Brain):
    """Brain for SEED over a frozen speaker encoder.

    Expects ``modules`` with ``encoder`` (frozen; called as
    ``encoder(wavs, wav_lens)`` and returning ``[B, D]`` or ``[B, 1, D]``)
    and ``denoiser``; ``hparams`` with ``diffusion``
    (:class:`seed_brain.model.diffusion.SEEDDiffusion`), ``view_builder`` (for
    audio batches), and the sampling and scoring settings of the yaml.

    Example
    -------
    >>> from seed_brain.model.diffusion import SEEDDiffusion
    >>> from seed_brain.lobes import RDMMLP
    >>> class Mean(torch.nn.Module):
    ...     def forward(self, wavs, lens=None):
    ...         return wavs.reshape(wavs.shape[0], 8, -1).mean(-1)
    >>> brain = SEEDBrain(
    ...     modules={"encoder": Mean(), "denoiser": RDMMLP(8)},
    ...     opt_class=lambda p: torch.optim.AdamW(p, lr=1e-3),
    ...     hparams={"diffusion": SEEDDiffusion(), "seed": 0},
    ... )
    >>> brain.init_optimizers()  # fit() does this in on_fit_start
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> batch = PaddedBatch([{"emb": torch.randn(3, 8)} for _ in range(4)])
    >>> loss = brain.fit_batch(batch)
    >>> bool(loss > 0)
    True
    """

    def __init__(self, *args, **kwargs):
        # Subnormal floats (the zero-initialised denoiser's tiny gradients
        # and Adam moments) make CPU arithmetic many times slower: flushing
        # them to zero made a training step 9x faster here, same loss.
        torch.set_flush_denormal(True)
        super().__init__(*args, **kwargs)
        encoder = self.modules.encoder
        for param in encoder.parameters():
            param.requires_grad_(False)
        encoder.eval()
        ema = self._hp("ema")
        if ema is not None:
            ema.to(self.device)  # not in modules, so Brain does not move it
        self.train_noise = GeneratorState(
            self._hp("seed", 1234), stream=rank_and_world()[0]
        )
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("train_noise", self.train_noise)
        self.dev_trials = None
        self.test_conditions = None
        self.stored = {}
        self.baseline_dev_eer = None
        self.calibration_emb = None  # see calibrate()
        self.embedding_dim = self._check_embedding_dim()

    def _check_embedding_dim(self):
        """Encoder output size, checked against the denoiser's input size."""
        probe = torch.randn(
            1, 16000, generator=torch.Generator().manual_seed(0)
        )
        dim = self.encode(0.1 * probe.to(self.device)).shape[-1]
        expected = getattr(self.modules.denoiser, "embed_dim", dim)
        if dim != expected:
            raise ValueError(
                f"The encoder gives {dim}-d embeddings but the denoiser "
                f"takes {expected}-d ones: set embedding_dim: {dim} in the "
                f"yaml (or --embedding_dim={dim})."
            )
        return dim

    # ------------------------------------------------------------ helpers
    def _hp(self, name, default=None):
        return getattr(self.hparams, name, default)

    @property
    def eval_denoiser(self):
        """The denoiser used to enhance: the EMA copy when enabled."""
        ema = self._hp("ema")
        if ema is not None and self._hp("use_ema", True):
            return ema.module
        return self.modules.denoiser

    @property
    def inference_denoiser(self):
        """:attr:`eval_denoiser` without its DDP wrapper (no collectives)."""
        denoiser = self.eval_denoiser
        if isinstance(denoiser, torch.nn.parallel.DistributedDataParallel):
            return denoiser.module
        return denoiser

    @property
    def baseline_mean(self):
        """The encoder's clean training mean the baseline is centred with.

        ``None`` when the run does not centre (see :meth:`calibrate`).
        """
        mean = getattr(self.inference_denoiser, "input_mean", None)
        if mean is None or not bool(mean.any()):
            return None
        return mean.detach().cpu().clone()

    def encode(self, wavs, wav_lens=None, names=None, precision="fp32"):
        """Frozen-encoder embeddings ``[B, D]`` (no gradients, eval mode).

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, L]`` 16 kHz waveforms.
        wav_lens : torch.Tensor or None
            ``[B]`` relative lengths.
        names : list of str or None
            What each waveform comes from (file paths), named in the error
            when an embedding is not finite.
        precision : str
            ``fp32`` (default), or ``bf16`` / ``fp16`` autocast: what the
            view cache uses under ``cache_precision``
            (:mod:`seed_brain.utils.precision`).

        Returns
        -------
        torch.Tensor
            ``[B, D]`` float32 embeddings.
        """
        encoder = self.modules.encoder
        encoder.eval()
        # The frozen encoder runs in float32 even under --precision bf16 /
        # fp16 (SpeechBrain's autocast of the denoiser's training), so dev
        # and test embeddings, and the frozen-encoder baseline, are exact;
        # only the cache may ask for bf16 (cache_precision).
        device_type = torch.device(self.device).type
        dtype = autocast_dtype(precision)
        with (
            torch.no_grad(),
            torch.autocast(
                device_type, dtype=dtype or torch.bfloat16, enabled=bool(dtype)
            ),
        ):
            emb = encoder(wavs.float(), wav_lens)
        emb = emb.reshape(emb.shape[0], -1).float()
        if not torch.isfinite(emb).all():
            bad = (~torch.isfinite(emb).all(dim=1)).nonzero()[:, 0].tolist()
            what = f"row(s) {bad} of the batch"
            if names is not None:
                what = ", ".join(repr(str(names[i])) for i in bad)
            raise FloatingPointError(
                f"The encoder produced a non-finite embedding for {what}: "
                "check that audio for NaN/inf samples or silence, and "
                "remove it (or set skip_bad_audio: True for training files)."
            )
        return emb

    def enhance(self, emb, ids):
        """SEED-enhanced embeddings with per-utterance seeded noise.

        Arguments
        ---------
        emb : torch.Tensor
            ``[B, D]`` encoder embeddings.
        ids : list of str
            Their utterance ids (seed the forward noise).

        Returns
        -------
        torch.Tensor
            ``[B, D]`` enhanced embeddings.
        """
        denoiser = self.inference_denoiser
        was_training = denoiser.training
        if was_training:  # train()/eval() walk every submodule: ~1 ms
            denoiser.eval()
        out = enhance_with_ids(
            self.hparams.diffusion, denoiser, emb, ids, self._hp
        )
        if was_training:
            denoiser.train()
        if not torch.isfinite(out).all():
            bad = (~torch.isfinite(out).all(dim=-1)).nonzero()[:, 0].tolist()
            raise FloatingPointError(
                "SEED produced a non-finite embedding for "
                f"{[ids[i] for i in bad]}: the denoiser weights diverged. "
                "Train again with a lower lr, or evaluate another checkpoint."
            )
        return out

    # ----------------------------------------------------------- training
    def init_optimizers(self):
        """Optimises the denoiser only (the encoder stays frozen)."""
        if self.opt_class is None:
            return
        self.optimizer = self.opt_class(self.modules.denoiser.parameters())
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def on_fit_start(self):
        """Sets incomplete checkpoints aside, then resumes (clear errors)."""
        set_aside_incomplete_checkpoints(self.checkpointer)
        with explain_load_errors(self.checkpointer):
            super().on_fit_start()

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Loads the best complete checkpoint (clear errors)."""
        set_aside_incomplete_checkpoints(self.checkpointer)
        with explain_load_errors(self.checkpointer, max_key, min_key):
            super().on_evaluate_start(max_key=max_key, min_key=min_key)

    def on_stage_start(self, stage, epoch=None):
        """Keeps the encoder in eval mode; resets the store; calibrates."""
        self.modules.encoder.eval()
        if stage != sb.Stage.TRAIN:
            self.stored = {}
            self.calibrate()

    def calibrate(self):
        """Sets the enhancement's calibration from clean training views.

        With ``calibration_emb`` (``(ids, [N, D] embeddings)`` of clean
        training crops, set by the recipe) the evaluation denoiser gets:

        - ``correction_threshold``: the ``correction_quantile`` quantile of
          the norms of its corrections of those clean embeddings (none
          when ``correction_quantile`` is null), so that corrections as
          small as those of clean speech are shrunk to zero;
        - ``output_mean``: the mean of its enhanced clean embeddings when
          ``centre_embeddings`` is on; the frozen encoder's embeddings are
          then centred with their own mean (``input_mean``, also
          ``baseline_mean``), so that both systems are scored with the
          same backend.

        Label-free: only clean views of the training speech are used. The
        values are buffers of the denoiser, so the checkpoint and the
        exported model carry them.
        """
        calib = getattr(self, "calibration_emb", None)
        denoiser = self.inference_denoiser
        if calib is None or not hasattr(denoiser, "output_mean"):
            return
        ids, emb = calib
        emb = emb.to(self.device).float()
        denoiser.correction_threshold.zero_()
        denoiser.output_mean.zero_()
        denoiser.input_mean.zero_()
        quantile = self._hp("correction_quantile")
        was_training = denoiser.training
        denoiser.eval()
        if quantile is not None:
            noise = utterance_noise(
                ids, emb.shape[-1], int(self._hp("eval_seed", 0))
            )[0].to(emb.device)
            norms = self.hparams.diffusion.correction_norms(
                denoiser, emb, t=int(self._hp("sample_t", 50)), noise=noise
            )
            denoiser.correction_threshold.fill_(
                float(torch.quantile(norms.double(), float(quantile)))
            )
        if self._hp("centre_embeddings", False):
            with torch.no_grad():
                out = enhance_with_ids(
                    self.hparams.diffusion, denoiser, emb, ids, self._hp
                )
            denoiser.output_mean.copy_(
                torch.nn.functional.normalize(out, dim=-1).mean(0)
            )
            denoiser.input_mean.copy_(
                torch.nn.functional.normalize(emb, dim=-1).mean(0)
            )
        self.cohort = None
        if self._hp("score_norm") is not None:
            with torch.no_grad():
                seed = enhance_with_ids(
                    self.hparams.diffusion, denoiser, emb, ids, self._hp
                )
            base = baseline_with_backend(denoiser, emb)
            self.cohort = {"baseline": base.cpu(), "seed": seed.float().cpu()}
        if was_training:
            denoiser.train()

    def compute_forward(self, batch, stage):
        """Training: ``[B, V, D]`` view embeddings; else enhanced ``[B, D]``."""
        batch = batch.to(self.device)
        if stage == sb.Stage.TRAIN:
            if hasattr(batch, "emb"):
                return batch.emb.data.float()
            wavs, lens = batch.sig
            views = self.hparams.view_builder(wavs, lens)
            b, v, length = views.shape
            emb = self.encode(
                views.reshape(b * v, length),
                lens.repeat_interleave(v),
                names=[uid for uid in batch.id for _ in range(v)],
            )
            return emb.reshape(b, v, -1)
        emb = batch.emb.data.float()
        return self.enhance(emb, batch.id)

    def compute_objectives(self, predictions, batch, stage):
        """SEED loss over (clean view, other view) pairs."""
        if stage == sb.Stage.TRAIN:
            views = predictions
            v = views.shape[1]
            target = views[:, :1].expand(-1, v - 1, -1)
            inputs = views[:, 1:]
            weights = self._pair_weights(v)
            loss = self.hparams.diffusion.training_loss(
                self.modules.denoiser,
                target.reshape(-1, views.shape[-1]),
                inputs.reshape(-1, views.shape[-1]),
                generator=self.train_noise.generator,
                reduction="mean" if weights is None else "none",
            )
            if weights is None:
                return loss
            weights = weights.to(loss.device).repeat(views.shape[0])
            return (loss * weights).sum() / weights.sum()
        return torch.tensor(0.0)

    def _pair_weights(self, num_views):
        """Loss weight of each input view (``clean_pair_weight`` for clean).

        A weight above 1 for the (clean, clean) pairs trains the denoiser
        harder to leave clean input where it is. None: all pairs alike.
        """
        weight = float(self._hp("clean_pair_weight", 1.0) or 1.0)
        names = self._hp("views")
        if weight == 1.0 or names is None:
            return None
        if len(names) != num_views:
            raise ValueError(
                f"The batch has {num_views} views but the yaml lists "
                f"{len(names)} ({list(names)}): the view cache was built "
                "with other views; give a new cache_folder."
            )
        return torch.tensor(
            [weight if n == "clean" else 1.0 for n in list(names)[1:]]
        )

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Updates the EMA copy after each optimiser step."""
        ema = self._hp("ema")
        if should_step and ema is not None:
            ema.update(self.modules.denoiser)

    # --------------------------------------------------------- evaluation
    def evaluate_batch(self, batch, stage):
        """Enhances a batch of stored embeddings and keeps both versions."""
        with torch.no_grad(), self.evaluation_ctx:
            enhanced = self.compute_forward(batch, stage)
        # The same backend as SEED's (centring, when the run centres).
        base = baseline_with_backend(
            self.inference_denoiser, batch.emb.data.float().cpu()
        )
        enhanced = enhanced.float().cpu()
        for i, uid in enumerate(batch.id):
            self.stored[uid] = (base[i], enhanced[i])
        return torch.tensor(0.0)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs, validates on dev trials, checkpoints, writes results."""
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        # Under DDP, score on the main process with every embedding (a
        # sharded evaluation leaves each process a part of them); the
        # others receive its numbers.
        gather_missing_on_main(self.stored)
        main = sb.utils.distributed.if_main_process()
        if stage == sb.Stage.VALID:
            stats = broadcast(self._dev_stats() if main else None)
            lr = self.optimizer.param_groups[0]["lr"]
            if self._hp("train_logger") is not None:
                self.hparams.train_logger.log_stats(
                    stats_meta={"epoch": epoch, "lr": lr},
                    train_stats={"loss": self.train_loss},
                    valid_stats=stats,
                )
            if self.checkpointer is not None:
                self.checkpointer.save_and_keep_only(
                    meta={"dev_eer": stats["dev_eer"]},
                    min_keys=["dev_eer"],
                )
            return
        if stage == sb.Stage.TEST:
            self.results = broadcast(self._test_results() if main else None)
