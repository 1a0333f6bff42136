"""Beta schedules of the SEED diffusion, and its noise draws.

The ``scaled_linear`` schedule SEED uses and DDPM's plain ``linear`` one
(:data:`SCHEDULES`, by their yaml names), as float64 betas, and the
standard normal draws of :class:`seed_brain.model.diffusion.SEEDDiffusion`
from a given generator.

Authors
 * seed-brain developers 2026
"""

import math

import torch


def linear_betas(num_timesteps=1000, beta_start=1e-4, beta_end=0.02):
    """The plain linear schedule of DDPM (SpeechBrain's only one).

    Arguments
    ---------
    num_timesteps : int
        Number of diffusion steps ``T``.
    beta_start : float
        First beta.
    beta_end : float
        Last beta.

    Returns
    -------
    torch.Tensor
        ``[T]`` float64 betas.

    Example
    -------
    >>> linear_betas(3, 0.1, 0.3).tolist()
    [0.1, 0.2, 0.3]
    """
    return torch.linspace(
        beta_start, beta_end, num_timesteps, dtype=torch.float64
    )


def scaled_linear_betas(num_timesteps=1000, beta_start=1e-4, beta_end=0.02):
    """The "scaled_linear" schedule: ``linspace(sqrt(b0), sqrt(b1), T)^2``.

    :func:`linear_betas` spaced in the square roots of the betas.

    Arguments
    ---------
    num_timesteps, beta_start, beta_end
        As in :func:`linear_betas`: ``T``, the first and the last beta.

    Returns
    -------
    torch.Tensor
        ``[T]`` float64 betas, quadratic in the step.

    Example
    -------
    >>> betas = scaled_linear_betas(1000)
    >>> abar = torch.cumprod(1 - betas, 0)
    >>> round(abar[50].item(), 6)
    0.990844
    """
    roots = linear_betas(
        num_timesteps, math.sqrt(beta_start), math.sqrt(beta_end)
    )
    return roots**2


SCHEDULES = {"scaled_linear": scaled_linear_betas, "linear": linear_betas}


def _randn(shape, generator, device, dtype):
    """Standard normal noise drawn from ``generator`` (or the global RNG)."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(
        shape, generator=generator, device=gen_device, dtype=dtype
    ).to(device)
