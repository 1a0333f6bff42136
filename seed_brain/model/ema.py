"""Exponential moving average (EMA) of the denoiser weights.

Built on :class:`torch.optim.swa_utils.AveragedModel` with
:func:`torch.optim.swa_utils.get_ema_multi_avg_fn` rather than a
hand-written copy loop. The EMA copy is its own module with its own
checkpoint entry, so it never overwrites the trained weights (a fault of the
SEED authors' code).

Authors
 * seed-brain developers 2026
"""

from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class EMA(AveragedModel):
    """EMA copy of a module, updated with :meth:`update`.

    Arguments
    ---------
    model : torch.nn.Module
        The module to average (its weights are copied at construction).
    decay : float
        EMA decay in ``[0, 1)``; 0.999 keeps about the last 1,000 steps.

    Example
    -------
    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> ema = EMA(net, decay=0.5)
    >>> with torch.no_grad():
    ...     _ = net.weight.add_(1.0)
    >>> before = ema.module.weight.clone()
    >>> ema.update(net)
    >>> torch.allclose(ema.module.weight, before + 0.5)
    True
    """

    def __init__(self, model, decay=0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}.")
        super().__init__(
            model,
            multi_avg_fn=get_ema_multi_avg_fn(decay),
            use_buffers=True,
        )
        self.decay = decay
        # AveragedModel copies (rather than averages) on its first update
        # unless it counts the construction-time copy as one average.
        self.n_averaged.fill_(1)

    def update(self, model):
        """Moves the average one step toward ``model``'s weights."""
        self.update_parameters(model)
