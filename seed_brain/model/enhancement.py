"""Enhancement noise seeded by item ids, and the enhancement of embeddings.

What training, evaluation and the inference interface share: the seeded
generator the Checkpointer keeps (:class:`GeneratorState`), the
forward-process noise of an utterance drawn from its id
(:func:`utterance_noise`), so that an embedding is enhanced the same way
whatever batch it is in (:func:`enhance_with_ids`), and the baseline under
the same backend (:func:`baseline_with_backend`).

Authors
 * seed-brain developers 2026
"""

import zlib

import torch
import torch.nn.functional as F
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)


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
        ``[B, D]`` embeddings after ``sample_passes`` enhancements.

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
    return centre_embeddings(emb, mean)


def centre_embeddings(emb, centre):
    """Unit-length ``emb`` minus ``centre``, normalised again.

    Centring with the mean of clean training embeddings removes the
    direction that every embedding shares (GE2E's entries are all
    positive), which otherwise raises the cosine of different speakers.
    The recipe centres the frozen encoder's embeddings (with their own
    mean) when it centres SEED's, so that both are scored alike.

    Arguments
    ---------
    emb : torch.Tensor
        ``[B, D]`` embeddings.
    centre : torch.Tensor
        ``[D]`` mean of unit-length embeddings.

    Returns
    -------
    torch.Tensor
        ``[B, D]`` unit-length centred embeddings.

    Example
    -------
    >>> emb = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    >>> out = centre_embeddings(emb, torch.tensor([0.5, 0.5]))
    >>> [[round(v, 4) for v in row] for row in out.tolist()]
    [[0.7071, 0.7071], [0.7071, -0.7071]]
    """
    centred = F.normalize(emb.float(), dim=-1) - centre.to(emb.device)
    return F.normalize(centred, dim=-1)
