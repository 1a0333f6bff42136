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
import os
import zlib

import numpy as np
import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

from seed_brain.dataio.audio import load_audio
from seed_brain.model.checkpoints import (
    explain_load_errors,
    set_aside_incomplete_checkpoints,
)
from seed_brain.utils.distributed import (
    broadcast,
    gather_dict,
    gather_missing_on_main,
    rank_and_world,
)
from seed_brain.utils.files import file_key, save_torch
from seed_brain.utils.precision import autocast_dtype
from seed_brain.utils.progress import progress

logger = logging.getLogger(__name__)


@register_checkpoint_hooks
class GeneratorState:
    """A seeded ``torch.Generator`` whose state the Checkpointer keeps.

    The training noise (diffusion steps and forward noise) comes from it,
    so a resumed run draws the same noise as an uninterrupted one.

    Arguments
    ---------
    seed : int
        Initial seed.
    stream : int
        Process rank under DDP: each process draws its own noise, also
        after loading the state the main process saved.

    Example
    -------
    >>> state = GeneratorState(3)
    >>> a = torch.rand(2, generator=state.generator)
    >>> torch.equal(a, torch.rand(2, generator=GeneratorState(3).generator))
    True
    >>> b = torch.rand(2, generator=GeneratorState(3, stream=1).generator)
    >>> torch.equal(a, b)
    False
    """

    def __init__(self, seed, stream=0):
        self.stream = int(stream)
        self.generator = torch.Generator().manual_seed(
            int(seed) + 1000003 * self.stream
        )

    @mark_as_saver
    def _save(self, path):
        torch.save(self.generator.get_state(), path)

    @mark_as_loader
    def _load(self, path, end_of_epoch=None):
        state = torch.load(path, weights_only=True)
        self.generator.set_state(state)
        if self.stream:
            draw = int(torch.randint(2**62, (1,), generator=self.generator))
            self.generator.manual_seed(draw + self.stream)


def utterance_noise(ids, shape, seed, num_draws=1):
    """Forward noise seeded per utterance id (batch-independent).

    Arguments
    ---------
    ids : list of str
        Utterance ids.
    shape : int
        Embedding size ``D``.
    seed : int
        Global evaluation seed.
    num_draws : int
        Number of draws per utterance.

    Returns
    -------
    torch.Tensor
        ``[num_draws, B, D]`` standard normal noise.

    Example
    -------
    >>> a = utterance_noise(["u1", "u2"], 4, seed=0)
    >>> b = utterance_noise(["u2"], 4, seed=0)
    >>> torch.equal(a[:, 1], b[:, 0])
    True
    """
    out = torch.empty(num_draws, len(ids), shape)
    for i, uid in enumerate(ids):
        gen = torch.Generator().manual_seed(
            (zlib.crc32(uid.encode("utf-8")) + 1000003 * int(seed)) % 2**63
        )
        out[:, i] = torch.randn(num_draws, shape, generator=gen)
    return out


def enhance_with_ids(diffusion, denoiser, emb, ids, hp):
    """SEED inference with the yaml's sampling settings and per-id noise.

    The one place where the sampling settings (``sample_t``,
    ``sample_steps``, ``ensemble_weight``, ``num_draws``, ``eval_seed``)
    become a call of :meth:`SEEDDiffusion.enhance`, shared by
    :meth:`SEEDBrain.enhance` and the pretrained interface, so that both
    give the same output for the same ids.

    Arguments
    ---------
    diffusion : seed_brain.model.diffusion.SEEDDiffusion
        The diffusion process.
    denoiser : torch.nn.Module
        The denoiser, in eval mode.
    emb : torch.Tensor
        ``[B, D]`` encoder embeddings.
    ids : list of str
        Their ids (seed the forward noise, see :func:`utterance_noise`).
    hp : callable
        ``hp(name, default)`` returns a setting.

    Returns
    -------
    torch.Tensor
        ``[B, D]`` enhanced embeddings.

    Example
    -------
    >>> from seed_brain.model.diffusion import SEEDDiffusion
    >>> from seed_brain.lobes import RDMMLP
    >>> out = enhance_with_ids(SEEDDiffusion(), RDMMLP(4).eval(),
    ...                        torch.randn(2, 4), ["a", "b"],
    ...                        lambda name, default: default)
    >>> out.shape
    torch.Size([2, 4])
    """
    draws = int(hp("num_draws", 1))
    passes = int(hp("sample_passes", 1))
    if passes < 1:
        raise ValueError(f"sample_passes must be at least 1, got {passes}.")
    # The calibration kept with the weights (see SEEDBrain.calibrate).
    threshold = getattr(denoiser, "correction_threshold", None)
    centre = getattr(denoiser, "output_mean", None)
    if centre is not None and not bool(centre.any()):
        centre = None
    out = emb
    for p in range(passes):
        # Each pass noises the previous estimate afresh (its own seed);
        # centring only once, at the end.
        noise = utterance_noise(
            ids, emb.shape[-1], int(hp("eval_seed", 0)) + 7919 * p, draws
        ).to(emb.device)
        out = diffusion.enhance(
            denoiser,
            out,
            t=int(hp("sample_t", 50)),
            num_steps=int(hp("sample_steps", 1)),
            ensemble_weight=float(hp("ensemble_weight", 1.0)),
            num_draws=draws,
            noise=noise,
            correction_threshold=0.0 if threshold is None else float(threshold),
            centre=centre if p == passes - 1 else None,
        )
    return out


def baseline_with_backend(denoiser, emb):
    """The frozen encoder's embeddings, scored as SEED's are.

    Centred with the clean training mean that calibration recorded in the
    denoiser (``input_mean``) when the run centred its embeddings,
    unchanged otherwise. Shared by :class:`SEEDBrain` and the pretrained
    interface, so that both score the baseline alike.

    Arguments
    ---------
    denoiser : torch.nn.Module
        The (calibrated) denoiser.
    emb : torch.Tensor
        ``[B, D]`` encoder embeddings.

    Returns
    -------
    torch.Tensor
        ``[B, D]`` embeddings.

    Example
    -------
    >>> from seed_brain.lobes import RDMMLP
    >>> emb = torch.randn(2, 4)
    >>> torch.equal(baseline_with_backend(RDMMLP(4), emb), emb)
    True
    """
    mean = getattr(denoiser, "input_mean", None)
    if mean is None or not bool(mean.any()):
        return emb
    from seed_brain.model.diffusion import centre_embeddings

    return centre_embeddings(emb, mean)


class SEEDBrain(sb.Brain):
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

    def _score(self, trials, enrol_key, test_key, system):
        """Labels and cosine scores of trials for one system."""
        from seed_brain.scoring import cosine_scores

        col = 0 if system == "baseline" else 1
        labels = torch.tensor([t[0] for t in trials])
        enrol = torch.stack([self.stored[enrol_key(t[1])][col] for t in trials])
        test = torch.stack([self.stored[test_key(t[2])][col] for t in trials])
        scores = cosine_scores(enrol, test)
        cohort = getattr(self, "cohort", None)
        if cohort is not None:
            scores = self._normalise(trials, enrol_key, test_key, col, scores)
        return labels.numpy(), scores

    def _normalise(self, trials, enrol_key, test_key, col, scores):
        """Adaptive s-norm of trial scores with the label-free cohort.

        The cohort is the clean training crops of the calibration, as each
        system sees them (see :meth:`calibrate`); ``cohort_top_k`` of
        their highest scores per embedding set the statistics.
        """
        from seed_brain.scoring.backend import _cohort_stats, cohort_scores

        method = self._hp("score_norm")
        if method != "s-norm":
            raise ValueError(
                f"score_norm must be null or s-norm, got {method!r}."
            )
        cohort = self.cohort["baseline" if col == 0 else "seed"]
        keys = sorted(
            {enrol_key(t[1]) for t in trials} | {test_key(t[2]) for t in trials}
        )
        index = {k: i for i, k in enumerate(keys)}
        emb = torch.stack([self.stored[k][col] for k in keys])
        top_k = self._hp("cohort_top_k")
        top_k = None if top_k is None else min(int(top_k), len(cohort))
        # Statistics per embedding once, then per trial by index.
        mean, std = _cohort_stats(
            cohort_scores(emb, cohort), top_k, 1, "score_norm cohort"
        )
        e = np.array([index[enrol_key(t[1])] for t in trials])
        s = np.array([index[test_key(t[2])] for t in trials])
        scores = np.asarray(scores, dtype=np.float64)
        return 0.5 * ((scores - mean[e]) / std[e] + (scores - mean[s]) / std[s])

    def _compare(self, trials, enrol_key, test_key):
        """Labels, both systems' scores, and their EER / minDCF entries."""
        labels, base = self._score(trials, enrol_key, test_key, "baseline")
        _, seed = self._score(trials, enrol_key, test_key, "seed")
        entry = {
            "baseline": self._metrics(labels, base),
            "seed": self._metrics(labels, seed),
        }
        return labels, base, seed, entry

    def _metrics(self, labels, scores):
        from seed_brain.scoring import compute_eer, compute_min_dcf

        pos, neg = scores[labels == 1], scores[labels == 0]
        eer, _ = compute_eer(pos, neg)
        min_dcf, _ = compute_min_dcf(
            pos,
            neg,
            p_target=self._hp("p_target", 0.05),
            c_miss=self._hp("c_miss", 1.0),
            c_fa=self._hp("c_fa", 1.0),
            normalise=True,
        )
        return {"eer": 100.0 * float(eer), "min_dcf": float(min_dcf)}

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

    def _dev_stats(self):
        def key(uid):
            return uid

        labels, seed_scores = self._score(self.dev_trials, key, key, "seed")
        stats = {"dev_eer": round(self._metrics(labels, seed_scores)["eer"], 4)}
        if self.baseline_dev_eer is None:
            _, base = self._score(self.dev_trials, key, key, "baseline")
            self.baseline_dev_eer = self._metrics(labels, base)["eer"]
        stats["dev_eer_baseline"] = round(self.baseline_dev_eer, 4)
        return stats

    def _dev_results(self):
        """Baseline and SEED on the dev trials, when their embeddings are in.

        The dev trials (held-out training speech, test side corrupted with
        the training banks) are the validation split: settings such as
        ``ensemble_weight`` or ``sample_t`` are chosen on them, never on
        the test trials. ``None`` when the dev embeddings were not given.
        """
        trials = getattr(self, "dev_trials", None)
        if not trials or any(
            t[1] not in self.stored or t[2] not in self.stored for t in trials
        ):
            return None

        def key(uid):
            return uid

        labels, _, _, entry = self._compare(trials, key, key)
        out = {
            "n_target": int((labels == 1).sum()),
            "n_nontarget": int((labels == 0).sum()),
            **entry,
        }
        # The same trials with the clean test segments: what SEED does to
        # clean speech, on the validation split.
        clean = [
            (t[0], t[1], t[2].replace("dev_noisy/", "dev_clean/", 1))
            for t in trials
        ]
        if all(t[2] in self.stored for t in clean):
            out["clean"] = self._compare(clean, key, key)[3]
        return out

    def _score_conditions(self, conditions, enrol_key, test_key, n_boot):
        """Both systems on each condition's trials, with the paired CIs.

        Returns the condition entries of ``results.json``, the joint
        bootstrap of the mean noisy EER change (None when it does not
        apply) and the scores of each condition (for the plots).
        """
        from seed_brain.scoring import (
            bootstrap_eer_change,
            bootstrap_mean_eer_change,
        )

        entries, scores, noisy = [], {}, []
        for name, trials in conditions.items():
            labels, base, seed, metrics = self._compare(
                trials, enrol_key, lambda uid, name=name: test_key(name, uid)
            )
            entry = {
                "name": name,
                "n_target": int((labels == 1).sum()),
                "n_nontarget": int((labels == 0).sum()),
                **metrics,
            }
            if name != "clean":
                noisy.append((labels, base, seed))
            if n_boot > 0:
                entry["eer_change_ci"] = bootstrap_eer_change(
                    labels, base, seed, n_boot=n_boot, seed=0
                )
            entries.append(entry)
            scores[name] = (labels, base, seed)
        mean_ci = None
        if n_boot > 0 and len(noisy) > 1:
            same = all(
                x[0].shape == noisy[0][0].shape and (x[0] == noisy[0][0]).all()
                for x in noisy
            )
            if same:  # one trial list corrupted several ways
                mean_ci = bootstrap_mean_eer_change(
                    noisy[0][0],
                    [x[1] for x in noisy],
                    [x[2] for x in noisy],
                    n_boot=n_boot,
                    seed=0,
                )
        return entries, mean_ci, scores

    def _test_set_results(self):
        """The extra test sets (short test, held-out speech), if given.

        ``self.test_sets`` maps a set name to ``{"description": str,
        "conditions": {condition: [(label, enrol key, test key)]}}`` (see
        :func:`seed_brain.views.datasets.test_set_items`). Each set is scored
        like the main test, baseline and SEED with the same cosine backend and
        ``n_bootstrap`` paired-bootstrap replicates (about 20 s for the
        three default sets at 1,000 on two CPU cores).
        """
        sets = getattr(self, "test_sets", None) or {}
        n_boot = int(self._hp("n_bootstrap", 0))

        def enrol_key(uid):  # the trials hold the full keys
            return uid

        def test_key(condition, uid):
            return uid

        out = {}
        for name, entry in sets.items():
            conditions = entry["conditions"]
            if not conditions:
                continue
            entries, mean_ci, _ = self._score_conditions(
                conditions, enrol_key, test_key, n_boot
            )
            result = {
                "description": entry.get("description", ""),
                "n_target": entries[0]["n_target"],
                "n_nontarget": entries[0]["n_nontarget"],
                "conditions": entries,
            }
            if mean_ci is not None:
                result["mean_noisy_eer_change_ci"] = mean_ci
            out[name] = result
        return out

    def _test_results(self):
        from seed_brain.scoring import (
            plot_det,
            plot_score_histograms,
            write_results,
        )

        n_boot = int(self._hp("n_bootstrap", 0))

        def enrol_key(uid):
            return f"clean/{uid}"

        def test_key(name, uid):
            return f"{name}/{uid}"

        conditions, mean_ci, scores = self._score_conditions(
            self.test_conditions, enrol_key, test_key, n_boot
        )
        curves, histos = {}, {}
        for name, (labels, base, seed) in scores.items():
            pos, neg = labels == 1, labels == 0
            curves[f"{name} baseline"] = (base[pos], base[neg])
            curves[f"{name} SEED"] = (seed[pos], seed[neg])
            histos[f"{name} baseline"] = (base[pos], base[neg])
            histos[f"{name} SEED"] = (seed[pos], seed[neg])
        results = {
            "backbone": str(self._hp("backbone", "encoder")),
            "conditions": conditions,
            "seed": {
                "train_seed": int(self._hp("seed", 0)),
                "eval_seed": int(self._hp("eval_seed", 0)),
                "sample_t": int(self._hp("sample_t", 50)),
                "sample_steps": int(self._hp("sample_steps", 1)),
                "ensemble_weight": float(self._hp("ensemble_weight", 1.0)),
                "num_draws": int(self._hp("num_draws", 1)),
                "use_ema": bool(self._hp("use_ema", True)),
            },
        }
        if mean_ci is not None:
            results["mean_noisy_eer_change_ci"] = mean_ci
        test_sets = self._test_set_results()
        if test_sets:
            results["test_sets"] = test_sets
        dev = self._dev_results()
        if dev is not None:
            results["dev"] = dev
        if self._hp("skipped") is not None:
            results["skipped"] = self.hparams.skipped
        folder = self._hp("results_folder") or self._hp("output_folder", ".")
        os.makedirs(folder, exist_ok=True)
        if sb.utils.distributed.if_main_process():
            write_results(results, folder)
            plot_det(
                curves,
                os.path.join(folder, "det.png"),
                title=f"SEED over {results['backbone']}",
            )
            plot_score_histograms(histos, os.path.join(folder, "scores.png"))
            logger.info(
                "Results written to %s",
                os.path.join(folder, "results.md"),
            )
        return results

    # ---------------------------------------------------------- embedding
    def embed_files(self, items, cache_path=None, batch_size=8, desc="embed"):
        """Embeds whole audio files with the frozen encoder, with a cache.

        Files are sorted by length and batched, so that padding stays small.
        The embeddings are saved to ``cache_path`` (keyed by id, path and
        file size) and reused by later runs, e.g. when another checkpoint is
        evaluated.

        Arguments
        ---------
        items : dict
            Maps utterance id to audio path.
        cache_path : str or None
            Where to keep the embeddings.
        batch_size : int
            Files per encoder call.
        desc : str
            Progress-bar label.

        Returns
        -------
        dict
            Maps id to a ``[D]`` float32 embedding.
        """
        cached = {}
        if cache_path and os.path.exists(cache_path):
            blob = torch.load(cache_path, weights_only=True)
            cached = {
                uid: emb
                for uid, emb, key in zip(blob["ids"], blob["emb"], blob["keys"])
                if uid in items
                and key == file_key(items[uid])
                and emb.shape[-1] == self.embedding_dim  # same encoder size
            }
        todo = [uid for uid in items if uid not in cached]
        logger.info(
            "%s: %d of %d embeddings reused from the cache, %d to compute",
            desc,
            len(cached),
            len(items),
            len(todo),
        )
        if todo:
            sizes = {uid: os.path.getsize(items[uid]) for uid in todo}
            todo.sort(key=lambda u: (sizes[u], u))
            sample_rate = int(self._hp("sample_rate", 16000))
            # Under DDP each process embeds every N-th batch; the batches
            # are the same as in one process, so are the embeddings.
            rank, world = rank_and_world()
            batches = [
                todo[start : start + batch_size]
                for start in range(0, len(todo), batch_size)
            ][rank::world]
            new = {}
            with progress(
                total=sum(len(chunk) for chunk in batches),
                desc=desc,
                always=True,
                disable=rank != 0,
            ) as bar:
                for chunk in batches:
                    wavs = [load_audio(items[u], sample_rate) for u in chunk]
                    for uid, wav in zip(chunk, wavs):
                        if wav.numel() == 0 or wav.abs().max() == 0:
                            raise ValueError(
                                f"{items[uid]} is empty or all silent: "
                                "remove it from the test set or trial list."
                            )
                    batch = sb.dataio.batch.PaddedBatch(
                        [{"sig": w} for w in wavs]
                    )
                    sig, lens = batch.sig
                    with torch.inference_mode():
                        emb = self.encode(
                            sig.to(self.device),
                            lens.to(self.device),
                            names=[items[u] for u in chunk],
                        )
                    emb = emb.cpu().clone()  # a normal tensor again
                    for uid, e in zip(chunk, emb):
                        new[uid] = e
                    bar.update(len(chunk))
            cached.update(gather_dict(new))
            if cache_path and sb.utils.distributed.if_main_process():
                ids = sorted(cached)
                save_torch(
                    {
                        "ids": ids,
                        "emb": torch.stack([cached[u] for u in ids]),
                        "keys": [file_key(items[u]) for u in ids],
                    },
                    cache_path,
                )
            sb.utils.distributed.ddp_barrier()
        return {uid: cached[uid] for uid in items}


def embeddings_dataset(embeddings):
    """A ``DynamicItemDataset`` of stored utterance embeddings.

    Arguments
    ---------
    embeddings : dict
        Maps id to a ``[D]`` embedding.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id`` and ``emb``.

    Example
    -------
    >>> ds = embeddings_dataset({"a": torch.zeros(4)})
    >>> ds[0]["emb"].shape
    torch.Size([4])
    """
    data = {uid: {"emb": emb} for uid, emb in embeddings.items()}
    return sb.dataio.dataset.DynamicItemDataset(data, output_keys=["id", "emb"])
