"""Tests of the rdm_mlp denoiser."""

from pathlib import Path

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from seed_brain.lobes import RDMMLP

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("dim", [16, 192, 256])
def test_parameter_count_matches_method(dim):
    # METHOD.md: about 37 D^2 parameters; exactly 37 D^2 + 51 D for N = 3.
    model = RDMMLP(dim, num_blocks=3)
    count = sum(p.numel() for p in model.parameters())
    assert count == 37 * dim**2 + 51 * dim


def test_parameter_count_of_paper_sizes():
    count = sum(p.numel() for p in RDMMLP(512).parameters())
    assert 9.6e6 < count < 9.8e6  # "9.7 M for D = 512"


def test_fresh_model_outputs_zeros_with_right_shape():
    model = RDMMLP(32)
    out = model(torch.randn(5, 32), torch.randint(0, 1000, (5,)))
    assert out.shape == (5, 32)
    assert torch.count_nonzero(out) == 0


def test_scalar_step_broadcasts():
    model = RDMMLP(8)
    torch.nn.init.normal_(model.output_proj.weight)
    x = torch.randn(3, 8)
    assert torch.allclose(model(x, 7), model(x, torch.full((3,), 7)))


def test_wrong_embedding_size_names_the_fix():
    with pytest.raises(ValueError, match="embed_dim"):
        RDMMLP(8)(torch.randn(2, 9), torch.zeros(2, dtype=torch.long))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = RDMMLP(8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, t = torch.randn(16, 8), torch.randint(0, 1000, (16,))
    # Zero-initialised layers open up one step at a time: output first,
    # then the residual outputs, then everything behind them.
    for _ in range(3):
        opt.zero_grad()
        (model(x, t) - x).abs().mean().backward()
        opt.step()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_time_conditioning_changes_output():
    torch.manual_seed(0)
    model = RDMMLP(8)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(4, 8)
    a = model(x, torch.zeros(4, dtype=torch.long))
    b = model(x, torch.full((4,), 500))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("name", ["seed_ge2e", "seed_ecapa", "seed_resnet"])
def test_yaml_denoiser_size_keys(name):
    # denoiser_blocks / denoiser_width reach the denoiser from the command
    # line (top-level keys); the defaults are the method's 3 blocks of 2 D.
    text = (ROOT / "hparams" / f"{name}.yaml").read_text(encoding="utf-8")
    # Only the denoiser node and the keys it refers to are needed here.
    start = text.index("denoiser_blocks:")
    end = text.index("\n\n", text.index("denoiser: !new:"))
    body = "embedding_dim: 16\n" + text[start:end]
    for overrides, blocks, width in (
        ({}, 3, 2),
        ({"denoiser_blocks": 1, "denoiser_width": 1}, 1, 1),
    ):
        model = load_hyperpyyaml(body, overrides)["denoiser"]
        assert isinstance(model, RDMMLP)
        assert len(model.blocks) == blocks
        assert model.input_proj.out_features == width * 16
        if not overrides:
            count = sum(p.numel() for p in model.parameters())
            assert count == 37 * 16**2 + 51 * 16
