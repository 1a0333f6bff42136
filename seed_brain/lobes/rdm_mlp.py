"""The ``rdm_mlp`` denoiser of SEED.

A residual MLP that maps a noised embedding ``x_t`` and its diffusion step
``t`` to a prediction (by default the clean embedding ``x0``). It follows the
"rdm_mlp" network of the SEED authors (``../shared/METHOD.md``): an input
projection to twice the embedding size, a sinusoidal time embedding, ``N``
pre-norm residual blocks conditioned on time, and a zero-initialised output
projection, so a freshly built model outputs zeros.

The sinusoidal time embedding is SpeechBrain's own
:func:`speechbrain.nnet.unet.timestep_embedding`.

Authors
 * seed-brain developers 2026
"""

import torch
from speechbrain.nnet.unet import timestep_embedding
from torch import nn


class ZeroInitLinear(nn.Linear):
    """A linear layer whose weight and bias start at zero.

    Arguments
    ---------
    in_features : int
        Input size.
    out_features : int
        Output size.

    Example
    -------
    >>> layer = ZeroInitLinear(4, 3)
    >>> layer(torch.ones(2, 4)).abs().sum().item()
    0.0
    """

    def reset_parameters(self):
        """Sets weight and bias to zero."""
        nn.init.zeros_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class ResidualBlock(nn.Module):
    """One time-conditioned pre-norm residual block of ``rdm_mlp``.

    ``h = Linear(SiLU(LayerNorm(x))) + Linear(SiLU(temb))``,
    ``h = ZeroInitLinear(SiLU(LayerNorm(h)))``, returns ``x + h``.

    Arguments
    ---------
    hidden_dim : int
        Width of the residual stream (``2 D``).
    time_dim : int
        Size of the time embedding (``D``).
    dropout : float
        Dropout applied before the zero-initialised projection.

    Example
    -------
    >>> block = ResidualBlock(8, 4)
    >>> x = torch.randn(3, 8)
    >>> torch.equal(block(x, torch.randn(3, 4)), x)
    True
    """

    def __init__(self, hidden_dim, time_dim, dropout=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_dim)
        self.linear1 = nn.Linear(hidden_dim, hidden_dim)
        self.time_proj = nn.Linear(time_dim, hidden_dim)
        self.norm2 = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = ZeroInitLinear(hidden_dim, hidden_dim)
        self.act = nn.SiLU()

    def forward(self, x, temb):
        """Returns ``x`` plus the time-conditioned residual."""
        h = self.linear1(self.act(self.norm1(x)))
        h = h + self.time_proj(self.act(temb))
        h = self.linear2(self.dropout(self.act(self.norm2(h))))
        return x + h


class RDMMLP(nn.Module):
    """The ``rdm_mlp`` denoiser: ``model(x_t, t)`` on ``[B, D]`` embeddings.

    About ``37 D^2 + 51 D`` parameters for ``num_blocks=3`` (9.7 M for
    ``D = 512``, 2.4 M for ``D = 256``).

    Arguments
    ---------
    embed_dim : int
        Size ``D`` of the speaker embedding.
    num_blocks : int
        Number of residual blocks ``N``.
    hidden_mult : int
        Width of the residual stream as a multiple of ``D`` (2 in SEED).
    dropout : float
        Dropout inside the residual blocks (0 in SEED).

    Example
    -------
    >>> model = RDMMLP(embed_dim=16)
    >>> out = model(torch.randn(4, 16), torch.tensor([0, 10, 50, 999]))
    >>> out.shape
    torch.Size([4, 16])
    >>> out.abs().max().item()  # zero-initialised output layer
    0.0
    """

    def __init__(self, embed_dim, num_blocks=3, hidden_mult=2, dropout=0.0):
        super().__init__()
        if embed_dim < 1 or num_blocks < 0:
            raise ValueError(
                f"RDMMLP needs embed_dim >= 1 and num_blocks >= 0, got "
                f"embed_dim={embed_dim}, num_blocks={num_blocks}."
            )
        self.embed_dim = embed_dim
        hidden = hidden_mult * embed_dim
        self.time_embed_dim = hidden
        self.input_proj = nn.Linear(embed_dim, hidden)
        self.time_mlp = nn.Sequential(
            nn.Linear(hidden, embed_dim),
            nn.SiLU(),
            nn.Linear(embed_dim, embed_dim),
        )
        self.blocks = nn.ModuleList(
            [
                ResidualBlock(hidden, embed_dim, dropout)
                for _ in range(num_blocks)
            ]
        )
        self.out_norm = nn.LayerNorm(hidden, eps=1e-6)
        self.out_act = nn.SiLU()
        self.output_proj = ZeroInitLinear(hidden, embed_dim)
        # Calibration of the enhancement, measured on clean training views
        # after training (SEEDBrain.calibrate), kept with the weights so
        # that the recipe and an exported model enhance alike: corrections
        # up to this norm are shrunk to zero (soft threshold), and this
        # mean of the enhanced clean embeddings is removed before scoring
        # (input_mean: the frozen encoder's own, for its baseline scores).
        # Zeros (the default, and what older checkpoints load as) change
        # nothing.
        self.register_buffer("correction_threshold", torch.zeros(()))
        self.register_buffer("output_mean", torch.zeros(embed_dim))
        self.register_buffer("input_mean", torch.zeros(embed_dim))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before the calibration buffers existed.
        for name in ("correction_threshold", "output_mean", "input_mean"):
            state_dict.setdefault(prefix + name, getattr(self, name).clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x_t, t):
        """Predicts from noised embeddings and their diffusion steps.

        Arguments
        ---------
        x_t : torch.Tensor
            ``[B, D]`` noised embeddings.
        t : torch.Tensor
            ``[B]`` integer diffusion steps (or a scalar for all).

        Returns
        -------
        torch.Tensor
            ``[B, D]`` prediction.
        """
        if x_t.dim() != 2 or x_t.shape[1] != self.embed_dim:
            raise ValueError(
                f"RDMMLP expects [batch, {self.embed_dim}] embeddings, got "
                f"shape {tuple(x_t.shape)}: check that the encoder's "
                "embedding size matches the denoiser's embed_dim."
            )
        t = torch.as_tensor(t, device=x_t.device)
        if t.dim() == 0:
            t = t.expand(x_t.shape[0])
        temb = self.time_mlp(
            timestep_embedding(t, self.time_embed_dim).to(x_t.dtype)
        )
        h = self.input_proj(x_t)
        for block in self.blocks:
            h = block(h, temb)
        return self.output_proj(self.out_act(self.out_norm(h)))
