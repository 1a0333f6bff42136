"""The SEED diffusion process over speaker embeddings.

SEED (``../shared/METHOD.md``) is a DDPM over embeddings with a
*cross-embedding* objective: the input view ``y0`` (noisy or clean speech)
is noised with the forward process, ``y_t = sqrt(abar_t) y0 +
sqrt(1 - abar_t) eps``, and the denoiser learns to recover the embedding of
the *clean* view ``x0`` from ``(y_t, t)``. At test time one step at a small
``t`` maps a test embedding to its enhanced version.

Why not :mod:`speechbrain.nnet.diffusion`: its ``DenoisingDiffusion`` only
offers a linear beta schedule and noise (epsilon) prediction of the noised
input itself, while SEED needs the scaled-linear schedule, prediction of a
*different* (clean) target and one-step sampling from a chosen ``t``. What
we reuse from SpeechBrain is its sinusoidal ``timestep_embedding`` (in the
denoiser) and its training machinery (``Brain``, ``Checkpointer``).

One embedding convention holds in training *and* sampling (a fault of the
authors' code is that it trained on raw embeddings but sampled on
normalised ones): :class:`SEEDDiffusion` maps every embedding into
"diffusion space" with :meth:`SEEDDiffusion.to_space` in both
:meth:`SEEDDiffusion.training_loss` and :meth:`SEEDDiffusion.enhance`.
The default is L2 normalisation times ``sqrt(D)``, so that entries have
unit RMS and the forward noise is on the same scale at any ``D``.

Authors
 * seed-brain developers 2026
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

# Re-exported: these lived here and are imported from here.
from seed_brain.model.enhancement import centre_embeddings
from seed_brain.model.schedules import (  # noqa: F401
    SCHEDULES,
    _randn,
    linear_betas,
    scaled_linear_betas,
)

PREDICTIONS = ("sample", "residual", "epsilon", "v")
LOSSES = ("l1", "l2", "huber", "cosine")


class SEEDDiffusion(nn.Module):
    """The SEED forward process, training objective and samplers.

    Arguments
    ---------
    num_timesteps : int
        ``T`` (1000 in SEED).
    beta_schedule : str
        ``"scaled_linear"`` (SEED) or ``"linear"``.
    beta_start : float
        First beta.
    beta_end : float
        Last beta.
    prediction : str
        What the denoiser outputs: ``"sample"`` (the clean embedding, SEED's
        choice), ``"residual"`` (the correction ``x0 - y0`` of the input
        embedding ``y0``, so that the estimate is ``y0 + f(y_t, t)``: a
        zero-initialised denoiser starts as the identity, and a clean input
        is trained towards a zero correction instead of being regenerated
        from the training speakers), ``"epsilon"`` or ``"v"``. For the two
        latter the target noise is the one that links ``y_t`` to the
        *clean* ``x0``: ``eps* = (y_t - sqrt(abar) x0) / sqrt(1 - abar)``.
    loss : str
        ``"l1"`` (SEED), ``"l2"`` or ``"huber"``, on the prediction; or
        ``"cosine"``: ``1 - cos(x0_hat, x0)`` of the estimate and the clean
        embedding, the angle that cosine scoring sees (its length is
        normalised away when scoring).
    huber_delta : float
        Delta of the Huber loss.
    max_train_t : int or None
        Training steps are drawn from ``U{0..max_train_t - 1}`` (None: all
        ``T``); inference uses small ``t`` only, so training there spends
        the denoiser's capacity where it is used.
    embedding_norm : str
        ``"l2"``: embeddings are L2-normalised, then multiplied by
        ``embedding_scale``; ``"none"``: raw embeddings times the scale.
    embedding_scale : float or None
        Scale of diffusion space; None means ``sqrt(D)`` (unit RMS entries).
    clip_sigma : float or None
        Predicted clean embeddings are clamped to ``+-clip_sigma`` times the
        RMS of an entry (``scale / sqrt(D)``), as SEED clamps to ``+-3``.
        None disables clamping.

    Example
    -------
    >>> from seed_brain.lobes import RDMMLP
    >>> diffusion = SEEDDiffusion()
    >>> model = RDMMLP(8)
    >>> clean, noisy = torch.randn(4, 8), torch.randn(4, 8)
    >>> loss = diffusion.training_loss(model, clean, noisy)
    >>> loss.shape
    torch.Size([])
    >>> g = torch.Generator().manual_seed(0)
    >>> diffusion.enhance(model, noisy, t=50, generator=g).shape
    torch.Size([4, 8])
    """

    def __init__(
        self,
        num_timesteps=1000,
        beta_schedule="scaled_linear",
        beta_start=1e-4,
        beta_end=0.02,
        prediction="sample",
        loss="l1",
        huber_delta=1.0,
        max_train_t=None,
        embedding_norm="l2",
        embedding_scale=None,
        clip_sigma=3.0,
    ):
        super().__init__()
        if beta_schedule not in SCHEDULES:
            raise ValueError(
                f"Unknown beta_schedule {beta_schedule!r}; choose one of "
                f"{sorted(SCHEDULES)}."
            )
        if prediction not in PREDICTIONS:
            raise ValueError(
                f"Unknown prediction {prediction!r}; choose one of "
                f"{PREDICTIONS}."
            )
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r}; choose one of {LOSSES}.")
        if embedding_norm not in ("l2", "none"):
            raise ValueError(
                f"Unknown embedding_norm {embedding_norm!r}; choose 'l2' "
                "or 'none'."
            )
        self.num_timesteps = int(num_timesteps)
        if max_train_t is not None and not (
            1 <= int(max_train_t) <= self.num_timesteps
        ):
            raise ValueError(
                f"max_train_t={max_train_t} must be in [1, {num_timesteps}] "
                "(or null for all steps)."
            )
        self.max_train_t = (
            self.num_timesteps if max_train_t is None else int(max_train_t)
        )
        self.prediction = prediction
        self.loss = loss
        self.huber_delta = huber_delta
        self.embedding_norm = embedding_norm
        self.embedding_scale = embedding_scale
        self.clip_sigma = clip_sigma
        betas = SCHEDULES[beta_schedule](
            self.num_timesteps, beta_start, beta_end
        )
        abar = torch.cumprod(1.0 - betas, dim=0)
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alphas_cumprod", abar.float(), persistent=False)

    # ----------------------------------------------------------- convention
    def scale_for(self, dim):
        """Scale of diffusion space for embeddings of size ``dim``.

        Example
        -------
        >>> SEEDDiffusion().scale_for(256)
        16.0
        """
        if self.embedding_scale is None:
            return math.sqrt(dim)
        return float(self.embedding_scale)

    def to_space(self, emb):
        """Maps encoder embeddings ``[B, D]`` into diffusion space.

        Example
        -------
        >>> x = SEEDDiffusion().to_space(torch.randn(2, 4))
        >>> [round(v, 4) for v in x.norm(dim=1).tolist()]
        [2.0, 2.0]
        """
        emb = emb.float()
        if self.embedding_norm == "l2":
            emb = F.normalize(emb, dim=-1)
        return emb * self.scale_for(emb.shape[-1])

    def from_space(self, x):
        """Inverse of :meth:`to_space` up to the lost norm.

        Example
        -------
        >>> d = SEEDDiffusion(embedding_norm="none", embedding_scale=2.0)
        >>> d.from_space(d.to_space(torch.ones(1, 3))).tolist()
        [[1.0, 1.0, 1.0]]
        """
        return x / self.scale_for(x.shape[-1])

    def _clamp(self, x0):
        if self.clip_sigma is None:
            return x0
        dim = x0.shape[-1]
        limit = self.clip_sigma * self.scale_for(dim) / math.sqrt(dim)
        return x0.clamp(-limit, limit)

    # ------------------------------------------------------ forward process
    def _abar(self, t, like):
        abar = self.alphas_cumprod.to(like.device)[t.to(like.device)]
        return abar.to(like.dtype).unsqueeze(-1)

    def q_sample(self, x0, t, noise):
        """Forward process ``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``.

        Arguments
        ---------
        x0 : torch.Tensor
            ``[B, D]`` embeddings in diffusion space.
        t : torch.Tensor
            ``[B]`` integer steps in ``[0, T)``.
        noise : torch.Tensor
            ``[B, D]`` standard normal noise.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` noised embeddings.

        Example
        -------
        >>> d = SEEDDiffusion()
        >>> x = torch.ones(1, 2)
        >>> d.q_sample(x, torch.tensor([0]), torch.zeros(1, 2)).shape
        torch.Size([1, 2])
        """
        abar = self._abar(t, x0)
        return abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise

    @staticmethod
    def _noise(like, generator, noise):
        if noise is None:
            return _randn(like.shape, generator, like.device, like.dtype)
        if noise.shape != like.shape:
            raise ValueError(
                f"noise of shape {tuple(noise.shape)} does not match the "
                f"embeddings' {tuple(like.shape)}."
            )
        return noise.to(like.device, like.dtype)

    def _check_t(self, t):
        if not 0 <= int(t) < self.num_timesteps:
            raise ValueError(
                f"Diffusion step t={t} is outside [0, {self.num_timesteps}); "
                "set the sampling t (sample_t in the yaml) below T."
            )

    def _targets(self, x0, y_t, t, y0=None):
        """The regression target for the chosen prediction type."""
        if self.prediction == "sample":
            return x0
        if self.prediction == "residual":
            return x0 - y0
        abar = self._abar(t, x0)
        eps = (y_t - abar.sqrt() * x0) / (1.0 - abar).sqrt()
        if self.prediction == "epsilon":
            return eps
        return abar.sqrt() * eps - (1.0 - abar).sqrt() * x0

    def predict_x0(self, model, y_t, t, y0=None):
        """The denoiser's estimate of the clean embedding, clamped.

        Arguments
        ---------
        model : torch.nn.Module
            Denoiser called as ``model(y_t, t)``.
        y_t : torch.Tensor
            ``[B, D]`` noised embeddings in diffusion space.
        t : torch.Tensor
            ``[B]`` integer steps.
        y0 : torch.Tensor or None
            ``[B, D]`` input embeddings before the forward noise (diffusion
            space); needed by ``prediction="residual"``.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` clean-embedding estimate in diffusion space.

        Example
        -------
        >>> from seed_brain.lobes import RDMMLP
        >>> d = SEEDDiffusion()
        >>> steps = torch.tensor([5, 5])
        >>> x0 = d.predict_x0(RDMMLP(4), torch.randn(2, 4), steps)
        >>> x0.abs().sum().item()  # a fresh denoiser predicts zeros
        0.0
        """
        return self._x0_from_output(model(y_t, t), y_t, t, y0)

    def _x0_from_output(self, out, y_t, t, y0):
        """The clean-embedding estimate of a denoiser output, clamped."""
        if self.prediction == "sample":
            x0 = out
        elif self.prediction == "residual":
            if y0 is None:
                raise ValueError(
                    'prediction="residual" needs the input embedding y0.'
                )
            x0 = y0 + out
        else:
            abar = self._abar(t, y_t)
            if self.prediction == "epsilon":
                x0 = (y_t - (1.0 - abar).sqrt() * out) / abar.sqrt()
            else:
                x0 = abar.sqrt() * y_t - (1.0 - abar).sqrt() * out
        return self._clamp(x0)

    # ------------------------------------------------------------- training
    def training_loss(
        self, model, target, inputs, generator=None, reduction="mean"
    ):
        """SEED's cross-embedding loss for paired (clean, input) embeddings.

        ``t ~ U{0..max_train_t-1}``,
        ``y_t = q_sample(to_space(inputs), t, eps)``;
        the denoiser's output on ``(y_t, t)`` is regressed onto the target
        of the chosen prediction type (the clean embedding for ``sample``).

        Arguments
        ---------
        model : torch.nn.Module
            Denoiser called as ``model(y_t, t)``.
        target : torch.Tensor
            ``[B, D]`` embeddings of the clean views (encoder space).
        inputs : torch.Tensor
            ``[B, D]`` embeddings of the paired input views (encoder space).
        generator : torch.Generator or None
            Source of ``t`` and ``eps``.
        reduction : str
            ``"mean"`` or ``"none"`` (per-example loss ``[B]``).

        Returns
        -------
        torch.Tensor
            The loss.

        Example
        -------
        >>> from seed_brain.lobes import RDMMLP
        >>> d = SEEDDiffusion(loss="l2")
        >>> d.training_loss(RDMMLP(4), torch.randn(3, 4), torch.randn(3, 4),
        ...                 reduction="none").shape
        torch.Size([3])
        """
        if target.shape != inputs.shape or target.dim() != 2:
            raise ValueError(
                "training_loss needs target and inputs of the same [B, D] "
                f"shape, got {tuple(target.shape)} and {tuple(inputs.shape)}."
            )
        x0 = self.to_space(target)
        y0 = self.to_space(inputs)
        batch = x0.shape[0]
        gen_device = generator.device if generator is not None else x0.device
        t = torch.randint(
            0,
            self.max_train_t,
            (batch,),
            generator=generator,
            device=gen_device,
        ).to(x0.device)
        eps = _randn(y0.shape, generator, y0.device, y0.dtype)
        y_t = self.q_sample(y0, t, eps)
        pred = model(y_t, t)
        goal = self._targets(x0, y_t, t, y0)
        if self.loss == "cosine":
            # 1 - cos(estimate, clean): the angle that cosine scoring sees.
            x0_hat = self._x0_from_output(pred, y_t, t, y0)
            err = 1.0 - F.cosine_similarity(x0_hat, x0, dim=-1)
            return err.mean() if reduction == "mean" else err
        if self.loss == "l1":
            err = F.l1_loss(pred, goal, reduction="none")
        elif self.loss == "l2":
            err = F.mse_loss(pred, goal, reduction="none")
        else:
            err = F.huber_loss(
                pred, goal, reduction="none", delta=self.huber_delta
            )
        err = err.mean(dim=-1)
        return err.mean() if reduction == "mean" else err

    # ------------------------------------------------------------- sampling
    def one_step(self, model, emb, t, generator=None, noise=None):
        """One-step SEED: noise ``emb`` to step ``t``, predict ``x0``.

        Arguments
        ---------
        model : torch.nn.Module
            Denoiser.
        emb : torch.Tensor
            ``[B, D]`` encoder embeddings.
        t : int
            The fixed small step (SEED uses 50).
        generator : torch.Generator or None
            Source of the forward noise; fix it for reproducible output.
        noise : torch.Tensor or None
            ``[B, D]`` forward noise to use instead of drawing it.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` :meth:`predict_x0` at step ``t`` (diffusion space).

        Example
        -------
        >>> from seed_brain.lobes import RDMMLP
        >>> d = SEEDDiffusion()
        >>> d.one_step(RDMMLP(4), torch.randn(2, 4), t=50).shape
        torch.Size([2, 4])
        """
        self._check_t(t)
        y0 = self.to_space(emb)
        steps = torch.full((y0.shape[0],), int(t), device=y0.device)
        eps = self._noise(y0, generator, noise)
        y_t = self.q_sample(y0, steps, eps)
        return self.predict_x0(model, y_t, steps, y0)

    def ddim(
        self,
        model,
        emb,
        t_start,
        num_steps,
        generator=None,
        eta=0.0,
        noise=None,
    ):
        """Multi-step DDIM sampling from ``t_start`` down to a clean estimate.

        The test embedding is noised to ``t_start``; ``num_steps`` evenly
        spaced DDIM updates follow, the last one landing on the predicted
        ``x0``. With ``num_steps=1`` this is exactly :meth:`one_step`.

        Arguments
        ---------
        model : torch.nn.Module
            Denoiser, called once per update.
        emb : torch.Tensor
            ``[B, D]`` encoder embeddings.
        t_start : int
            First step.
        num_steps : int
            Number of denoiser calls.
        generator : torch.Generator or None
            Source of all noise.
        eta : float
            DDIM stochasticity (0 is deterministic after the first noise).
        noise : torch.Tensor or None
            ``[B, D]`` first forward noise to use instead of drawing it.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` clean estimate of the last update (diffusion space).

        Example
        -------
        >>> from seed_brain.lobes import RDMMLP
        >>> d = SEEDDiffusion()
        >>> d.ddim(RDMMLP(4), torch.randn(2, 4), 100, 4).shape
        torch.Size([2, 4])
        """
        self._check_t(t_start)
        if num_steps < 1:
            raise ValueError(f"DDIM needs num_steps >= 1, got {num_steps}.")
        y0 = self.to_space(emb)
        ts = [round(t_start * (1.0 - i / num_steps)) for i in range(num_steps)]
        steps = torch.full((y0.shape[0],), ts[0], device=y0.device)
        eps = self._noise(y0, generator, noise)
        x = self.q_sample(y0, steps, eps)
        for i, t in enumerate(ts):
            steps = torch.full((x.shape[0],), t, device=x.device)
            x0 = self.predict_x0(model, x, steps, y0)
            if i == len(ts) - 1:
                return x0
            abar = self._abar(steps, x)
            abar_prev = self._abar(torch.full_like(steps, ts[i + 1]), x)
            eps_hat = (x - abar.sqrt() * x0) / (1.0 - abar).sqrt()
            sigma = (
                eta
                * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
                .clamp(min=0)
                .sqrt()
            )
            x = (
                abar_prev.sqrt() * x0
                + (1.0 - abar_prev - sigma**2).clamp(min=0).sqrt() * eps_hat
            )
            if eta > 0:
                x = x + sigma * _randn(x.shape, generator, x.device, x.dtype)
        return x  # pragma: no cover (loop always returns)

    @torch.no_grad()
    def enhance(
        self,
        model,
        emb,
        t=50,
        num_steps=1,
        ensemble_weight=1.0,
        num_draws=1,
        generator=None,
        noise=None,
        correction_threshold=0.0,
        centre=None,
    ):
        """Enhanced embeddings for scoring (the SEED inference path).

        Arguments
        ---------
        model : torch.nn.Module
            Denoiser (in eval mode).
        emb : torch.Tensor
            ``[B, D]`` encoder embeddings.
        t : int
            Sampling step (one-step mode) or first step (DDIM).
        num_steps : int
            1 for one-step SEED, more for DDIM.
        ensemble_weight : float
            Weight ``w`` of SEED's output in the feature ensemble
            ``(1 - w) normalise(emb) + w normalise(f)``; 1.0 returns SEED's
            output alone (back in encoder scale).
        num_draws : int
            Number of forward-noise draws whose estimates are averaged.
        generator : torch.Generator or None
            Source of the forward noise; fix it for reproducible output.
        noise : torch.Tensor or None
            ``[num_draws, B, D]`` forward noise to use instead of drawing it
            (lets a caller seed each utterance on its own, so that its
            enhanced embedding does not depend on the batch it is in).
        correction_threshold : float
            Soft threshold on the correction ``x0 - y0`` (diffusion space):
            a correction of norm ``n`` is scaled by ``max(0, 1 - c / n)``,
            so that the small corrections the denoiser makes to clean
            input vanish and large ones (corruption) stay. 0 keeps all.
        centre : torch.Tensor or None
            ``[D]`` mean of enhanced clean embeddings, removed from the
            (unit-length) output, which is then normalised again.

        Returns
        -------
        torch.Tensor
            ``[B, D]`` enhanced embeddings.

        Example
        -------
        >>> from seed_brain.lobes import RDMMLP
        >>> d = SEEDDiffusion()
        >>> emb = torch.randn(3, 4)
        >>> out = d.enhance(RDMMLP(4), emb, t=0, ensemble_weight=0.0)
        >>> torch.allclose(out, F.normalize(emb, dim=-1))
        True
        """
        if not 0.0 <= ensemble_weight <= 1.0:
            raise ValueError(
                f"ensemble_weight must be in [0, 1], got {ensemble_weight}."
            )
        estimates = []
        for k in range(max(1, int(num_draws))):
            eps = None if noise is None else noise[k]
            if num_steps == 1:
                x0 = self.one_step(model, emb, t, generator, noise=eps)
            else:
                x0 = self.ddim(model, emb, t, num_steps, generator, noise=eps)
            estimates.append(x0)
        x0 = torch.stack(estimates).mean(0)
        if float(correction_threshold) > 0.0:
            y0 = self.to_space(emb)
            delta = x0 - y0
            size = delta.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            keep = (1.0 - float(correction_threshold) / size).clamp(min=0.0)
            x0 = y0 + keep * delta
        if ensemble_weight == 1.0:
            out = self.from_space(x0)
        else:
            mixed = (1.0 - ensemble_weight) * F.normalize(
                emb.float(), dim=-1
            ) + ensemble_weight * F.normalize(x0, dim=-1)
            out = F.normalize(mixed, dim=-1)
        if centre is not None:
            out = centre_embeddings(out, centre)
        return out

    @torch.no_grad()
    def correction_norms(self, model, emb, t=50, noise=None):
        """Norms of the one-step corrections ``x0 - y0`` (diffusion space).

        What :meth:`enhance`'s ``correction_threshold`` is compared with;
        measured on clean training views to set it.

        Arguments
        ---------
        model : torch.nn.Module
            Denoiser (in eval mode).
        emb : torch.Tensor
            ``[B, D]`` encoder embeddings (of clean views, to calibrate).
        t : int
            Sampling step.
        noise : torch.Tensor or None
            ``[B, D]`` forward noise.

        Returns
        -------
        torch.Tensor
            ``[B]`` norms.

        Example
        -------
        >>> from seed_brain.lobes import RDMMLP
        >>> d = SEEDDiffusion(prediction="residual")
        >>> d.correction_norms(RDMMLP(4), torch.randn(3, 4)).tolist()
        [0.0, 0.0, 0.0]
        """
        x0 = self.one_step(model, emb, t, noise=noise)
        return (x0 - self.to_space(emb)).norm(dim=-1)
