"""Tests of the design that keeps clean embeddings where they are (#12).

The residual prediction, training on small steps, the clean-pair weight,
the soft threshold of corrections and the centring calibration.
"""

import pytest
import speechbrain as sb
import torch
import torch.nn.functional as F
from tiny_models import random_denoiser

from seed_brain.lobes import RDMMLP
from seed_brain.model.brain import SEEDBrain
from seed_brain.model.diffusion import SEEDDiffusion, centre_embeddings


def test_fresh_residual_denoiser_is_the_identity():
    d = SEEDDiffusion(prediction="residual")
    emb = torch.randn(5, 8)
    out = d.enhance(RDMMLP(8).eval(), emb, t=50, ensemble_weight=1.0)
    # x0 = y0 + 0: the input, in encoder scale (unit length).
    assert torch.allclose(out, F.normalize(emb, dim=-1), atol=1e-6)
    sample = SEEDDiffusion(prediction="sample")
    zeros = sample.enhance(RDMMLP(8).eval(), emb, t=50)
    assert zeros.abs().max() == 0  # SEED's x0 prediction starts at zero


def test_residual_target_is_the_correction():
    d = SEEDDiffusion(prediction="residual", loss="l2")
    clean = torch.randn(6, 8)
    # Clean input: the target correction is exactly zero, so a fresh
    # (zero-output) residual denoiser has zero loss on clean pairs ...
    loss = d.training_loss(RDMMLP(8), clean, clean, reduction="none")
    assert torch.allclose(loss, torch.zeros(6), atol=1e-10)
    # ... and a positive one on corrupted pairs.
    noisy = clean + torch.randn(6, 8)
    assert d.training_loss(RDMMLP(8), clean, noisy) > 0


def test_residual_needs_the_input():
    d = SEEDDiffusion(prediction="residual")
    with pytest.raises(ValueError, match="y0"):
        d.predict_x0(RDMMLP(4), torch.randn(2, 4), torch.tensor([1, 1]))


def test_max_train_t_bounds_training_steps():
    seen = []

    class Spy(RDMMLP):
        def forward(self, x_t, t):
            seen.append(t.clone())
            return super().forward(x_t, t)

    d = SEEDDiffusion(max_train_t=20)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 4)
    d.training_loss(Spy(4), x, x, generator=g)
    steps = torch.cat(seen)
    assert int(steps.max()) == 19 and int(steps.min()) == 0
    with pytest.raises(ValueError, match="max_train_t"):
        SEEDDiffusion(max_train_t=0)
    with pytest.raises(ValueError, match="max_train_t"):
        SEEDDiffusion(num_timesteps=100, max_train_t=101)


def test_soft_threshold_removes_small_corrections_only():
    d = SEEDDiffusion(prediction="residual")
    model = random_denoiser()
    emb = torch.randn(64, 8)
    noise = torch.randn(1, 64, 8)
    norms = d.correction_norms(model, emb, t=50, noise=noise[0])
    threshold = float(norms.median())
    plain = d.enhance(model, emb, t=50, noise=noise)
    shrunk = d.enhance(
        model, emb, t=50, noise=noise, correction_threshold=threshold
    )
    unit = F.normalize(emb, dim=-1)
    small, large = norms <= threshold, norms > threshold
    # Corrections up to the threshold vanish: the input comes back.
    assert torch.allclose(
        F.normalize(shrunk[small], dim=-1), unit[small], atol=1e-5
    )
    # Larger ones are kept, shortened: between the input and the output.
    to_plain = 1 - F.cosine_similarity(shrunk[large], plain[large])
    to_input = 1 - F.cosine_similarity(shrunk[large], unit[large])
    full = 1 - F.cosine_similarity(plain[large], unit[large])
    assert bool((to_input > 1e-6).all()) and bool((to_input < full).all())
    assert bool((to_plain < full).all())


def test_centring_removes_the_shared_direction():
    torch.manual_seed(0)
    shared = torch.ones(16)
    emb = shared + 0.3 * torch.randn(200, 16)
    mean = F.normalize(emb, dim=-1).mean(0)
    raw = F.normalize(emb, dim=-1)
    centred = centre_embeddings(emb, mean)
    off = ~torch.eye(200, dtype=torch.bool)
    raw_cos = (raw @ raw.T)[off].mean()
    centred_cos = (centred @ centred.T)[off].mean()
    assert raw_cos > 0.8
    assert abs(float(centred_cos)) < 0.05
    assert torch.allclose(centred.norm(dim=-1), torch.ones(200))


def test_old_checkpoints_load_without_calibration():
    model = RDMMLP(8)
    state = {
        k: v
        for k, v in model.state_dict().items()
        if k not in ("correction_threshold", "output_mean")
    }
    fresh = RDMMLP(8)
    fresh.load_state_dict(state, strict=True)
    assert float(fresh.correction_threshold) == 0.0
    assert not fresh.output_mean.any()
    # A calibrated one keeps its values through a save / load.
    model.correction_threshold.fill_(1.5)
    model.output_mean.fill_(0.25)
    again = RDMMLP(8)
    again.load_state_dict(model.state_dict())
    assert float(again.correction_threshold) == 1.5
    assert torch.all(again.output_mean == 0.25)


class _Mean(torch.nn.Module):
    def forward(self, wavs, lens=None):
        return wavs.reshape(wavs.shape[0], 8, -1).mean(-1)


def _brain(**hp):
    hparams = {
        "diffusion": SEEDDiffusion(prediction="residual"),
        "seed": 0,
        "ensemble_weight": 1.0,
    }
    hparams.update(hp)
    return SEEDBrain(
        modules={"encoder": _Mean(), "denoiser": random_denoiser()},
        opt_class=lambda p: torch.optim.AdamW(p, lr=1e-3),
        hparams=hparams,
    )


def test_calibrate_sets_threshold_and_means():
    brain = _brain(correction_quantile=0.5, centre_embeddings=True)
    emb = torch.randn(300, 8) + 2.0
    ids = [f"crop{i}" for i in range(300)]
    brain.calibration_emb = (ids, emb)
    brain.calibrate()
    den = brain.modules.denoiser
    diffusion = brain.hparams.diffusion
    from seed_brain.model.brain import utterance_noise

    noise = utterance_noise(ids, 8, 0)[0]
    norms = diffusion.correction_norms(den, emb, noise=noise)
    assert float(den.correction_threshold) == pytest.approx(
        float(torch.quantile(norms, 0.5)), rel=1e-5
    )
    # Half the clean crops get no correction at all: their output is the
    # input, centred.
    out = brain.enhance(emb, ids)
    same = torch.isclose(
        out, centre_embeddings(emb, den.output_mean), atol=1e-5
    ).all(dim=-1)
    assert int(same.sum()) == 150
    # The SEED mean is that of its (uncentred) output on the crops, the
    # baseline is centred with its own mean.
    assert den.output_mean.norm() > 0.5
    assert torch.allclose(
        brain.baseline_mean, F.normalize(emb, dim=-1).mean(0), atol=1e-6
    )
    centred = brain.enhance(emb, ids)
    assert abs(float(centred.mean(0).norm())) < 0.1
    # Calibrating again gives the same values (it starts from zero).
    before = den.correction_threshold.clone(), den.output_mean.clone()
    brain.calibrate()
    assert torch.equal(before[0], den.correction_threshold)
    assert torch.allclose(before[1], den.output_mean)


def test_no_calibration_without_settings():
    brain = _brain(correction_quantile=None, centre_embeddings=False)
    brain.calibration_emb = (["a", "b"], torch.randn(2, 8))
    brain.calibrate()
    assert float(brain.modules.denoiser.correction_threshold) == 0.0
    assert not brain.modules.denoiser.output_mean.any()
    assert brain.baseline_mean is None


def test_clean_pair_weight_weights_the_clean_pairs():
    from speechbrain.dataio.batch import PaddedBatch

    views = ["clean", "clean", "noise"]
    torch.manual_seed(0)
    batch = PaddedBatch([{"emb": torch.randn(3, 8)} for _ in range(4)])
    losses = {}
    for weight in (1.0, 10.0):
        brain = _brain(views=views, clean_pair_weight=weight)
        brain.train_noise.generator.manual_seed(0)
        emb = batch.emb.data
        losses[weight] = brain.compute_objectives(
            emb, batch, stage=sb.Stage.TRAIN
        ).detach()
    brain = _brain(views=views)
    per = brain.hparams.diffusion.training_loss(
        brain.modules.denoiser,
        batch.emb.data[:, :1].expand(-1, 2, -1).reshape(-1, 8),
        batch.emb.data[:, 1:].reshape(-1, 8),
        generator=torch.Generator().manual_seed(0),
        reduction="none",
    ).detach()
    clean, noisy = per.reshape(4, 2)[:, 0], per.reshape(4, 2)[:, 1]
    expected = (10 * clean.sum() + noisy.sum()) / (10 * 4 + 4)
    assert float(losses[10.0]) == pytest.approx(float(expected), rel=1e-5)
    assert float(losses[1.0]) == pytest.approx(float(per.mean()), rel=1e-5)
    wrong = _brain(views=["clean", "noise"], clean_pair_weight=3.0)
    with pytest.raises(ValueError, match="views"):
        wrong.compute_objectives(batch.emb.data, batch, stage=sb.Stage.TRAIN)
