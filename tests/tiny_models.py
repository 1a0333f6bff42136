"""Small models shared by the tests of the diffusion and its calibration."""

import torch

from seed_brain.lobes import RDMMLP


def random_denoiser(dim=8, seed=0):
    """An ``RDMMLP`` in eval mode with a non-zero (random) output layer.

    A fresh ``RDMMLP`` predicts zeros; this one acts like a trained model.
    """
    torch.manual_seed(seed)
    model = RDMMLP(dim)
    torch.nn.init.normal_(model.output_proj.weight, std=0.1)
    return model.eval()
