"""Tests of the SEED diffusion process."""

import pytest
import torch
import torch.nn.functional as F
from tiny_models import random_denoiser

from seed_brain.lobes import RDMMLP
from seed_brain.model.diffusion import SEEDDiffusion, scaled_linear_betas
from seed_brain.model.ema import EMA


def test_scaled_linear_schedule_values():
    betas = scaled_linear_betas(1000)
    abar = torch.cumprod(1 - betas, 0)
    assert betas[0].item() == pytest.approx(1e-4)
    assert betas[-1].item() == pytest.approx(0.02)
    assert abar[50].item() == pytest.approx(0.990844, abs=5e-7)
    assert torch.all(betas[1:] > betas[:-1])
    d = SEEDDiffusion()
    assert d.alphas_cumprod[50].item() == pytest.approx(0.990844, abs=5e-7)


def test_q_sample_moments():
    d = SEEDDiffusion()
    x0 = torch.full((20000, 4), 2.0)
    t = torch.full((20000,), 600)
    noise = torch.randn(20000, 4, generator=torch.Generator().manual_seed(1))
    y = d.q_sample(x0, t, noise)
    abar = d.alphas_cumprod[600]
    assert y.mean().item() == pytest.approx(2 * abar.sqrt().item(), abs=0.02)
    assert y.var().item() == pytest.approx(1 - abar.item(), abs=0.02)


def test_embedding_convention_is_unit_rms_and_scale_free():
    d = SEEDDiffusion()
    emb = torch.randn(6, 256)
    x = d.to_space(emb)
    assert torch.allclose(x.pow(2).mean(1), torch.ones(6), atol=1e-5)
    assert torch.allclose(d.to_space(emb * 37.0), x, atol=1e-5)


def test_training_loss_uses_the_same_convention_as_sampling():
    # Under the l2 convention, the loss cannot depend on the raw norm of
    # the embeddings: training and sampling both see normalised inputs.
    d = SEEDDiffusion()
    model = random_denoiser()
    clean, noisy = torch.randn(5, 8), torch.randn(5, 8)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = d.training_loss(model, clean, noisy, generator=g1)
    b = d.training_loss(model, clean * 10, noisy * 0.1, generator=g2)
    assert a.item() == pytest.approx(b.item(), rel=1e-5)


def test_sampling_reproducible_under_a_generator():
    d = SEEDDiffusion()
    model = random_denoiser()
    emb = torch.randn(4, 8)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return d.enhance(model, emb, t=50, generator=g)

    assert torch.equal(run(7), run(7))
    assert not torch.allclose(run(7), run(8))


def test_ddim_with_one_step_equals_one_step():
    d = SEEDDiffusion()
    model = random_denoiser()
    emb = torch.randn(4, 8)
    a = d.one_step(model, emb, 50, torch.Generator().manual_seed(5))
    b = d.ddim(model, emb, 50, 1, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    c = d.ddim(model, emb, 50, 5, torch.Generator().manual_seed(5))
    assert c.shape == a.shape and not torch.allclose(a, c)


@pytest.mark.parametrize("prediction", ["sample", "epsilon", "v"])
def test_oracle_prediction_recovers_clean_target(prediction):
    # A model that outputs exactly the training target must be turned back
    # into the clean embedding by predict_x0, for every prediction type.
    d = SEEDDiffusion(prediction=prediction, clip_sigma=None)
    x0 = d.to_space(torch.randn(3, 8))
    y_t = torch.randn(3, 8)
    t = torch.tensor([1, 50, 700])

    def oracle(inp, steps):
        return d._targets(x0, inp, steps)

    assert torch.allclose(d.predict_x0(oracle, y_t, t), x0, atol=1e-4)


def test_clamping_limits_predictions():
    d = SEEDDiffusion(clip_sigma=3.0)

    def wild(inp, steps):
        return torch.full_like(inp, 100.0)

    out = d.predict_x0(wild, torch.zeros(2, 16), torch.tensor([0, 0]))
    assert out.max().item() == pytest.approx(3.0)


@pytest.mark.parametrize("loss", ["l1", "l2", "huber"])
def test_denoiser_learns_to_remove_a_corruption(loss):
    # Clean embeddings on a few directions, inputs corrupted by a fixed
    # offset plus noise: training must bring enhanced inputs closer to
    # their clean targets than the corrupted inputs were.
    torch.manual_seed(0)
    dim = 16
    d = SEEDDiffusion(loss=loss)
    model = RDMMLP(dim)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    centres = F.normalize(torch.randn(4, dim), dim=-1)
    offset = F.normalize(torch.randn(1, dim), dim=-1)

    def batch(n):
        clean = centres[torch.randint(0, 4, (n,))]
        noisy = clean + 0.8 * offset + 0.05 * torch.randn(n, dim)
        return clean, noisy

    for _ in range(300):
        clean, noisy = batch(64)
        opt.zero_grad()
        d.training_loss(model, clean, noisy).backward()
        opt.step()
    clean, noisy = batch(256)
    model.eval()
    out = d.enhance(model, noisy, t=10, generator=torch.Generator())
    before = F.cosine_similarity(noisy, clean).mean()
    after = F.cosine_similarity(out, clean).mean()
    assert after > before + 0.05
    assert after > 0.95


def test_ensemble_weight_interpolates():
    d = SEEDDiffusion()
    model = random_denoiser()
    emb = torch.randn(3, 8)
    zero = d.enhance(model, emb, t=0, ensemble_weight=0.0)
    assert torch.allclose(zero, F.normalize(emb, dim=-1), atol=1e-6)
    half = d.enhance(model, emb, t=0, ensemble_weight=0.5)
    assert not torch.allclose(half, zero)
    with pytest.raises(ValueError, match="ensemble_weight"):
        d.enhance(model, emb, ensemble_weight=1.5)


def test_bad_step_and_options_are_rejected():
    d = SEEDDiffusion(num_timesteps=100)
    with pytest.raises(ValueError, match="sample_t"):
        d.one_step(random_denoiser(), torch.randn(1, 8), t=100)
    with pytest.raises(ValueError, match="prediction"):
        SEEDDiffusion(prediction="x")
    with pytest.raises(ValueError, match="loss"):
        SEEDDiffusion(loss="l3")


def test_ema_tracks_weights_without_touching_the_model():
    net = torch.nn.Linear(3, 1)
    ema = EMA(net, decay=0.9)
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    for _ in range(3):
        ema.update(net)
    expected = start + 1.0 - 0.9**3
    assert torch.allclose(ema.module.weight, expected, atol=1e-6)
    assert torch.allclose(net.weight, start + 1.0)


def test_cosine_loss_is_the_angle_of_the_estimate():
    """loss="cosine": 1 - cos(estimate, clean), blind to the length."""
    from seed_brain.lobes import RDMMLP

    def pairs(n):
        # Clean embeddings span the first 2 of 8 dims: noise off that
        # plane is what a denoiser can learn to remove.
        x = F.pad(F.normalize(torch.randn(n, 2), dim=-1), (0, 6))
        return x, x + 0.5 * torch.randn(n, 8)

    torch.manual_seed(0)
    clean, noisy = pairs(256)
    d = SEEDDiffusion(prediction="residual", loss="cosine", max_train_t=1)
    model = RDMMLP(8)  # zero-initialised: the estimate is the input
    per = d.training_loss(model, clean, noisy, reduction="none").detach()
    # t = 0 noises hardly at all, so the loss is the input's own angle.
    want = 1.0 - F.cosine_similarity(noisy, clean, dim=-1)
    assert torch.allclose(per, want, atol=1e-3)
    # A clean input, at any length, costs nothing.
    same = d.training_loss(model, clean, 3.0 * clean, reduction="none")
    same = same.detach()
    assert float(same.abs().max()) < 1e-3
    # Training on it shrinks the angle of held-out pairs.
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        d.training_loss(model, *pairs(128)).backward()
        opt.step()
    after = d.training_loss(model, clean, noisy).item()
    assert after < 0.5 * float(want.mean())
