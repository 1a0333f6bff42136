"""ResNetSE34V2 speaker encoder, compatible with voxceleb_trainer checkpoints.

This is a re-implementation of the "ResNetSE34V2" (H/ASP) speaker embedding
network of clovaai/voxceleb_trainer (``models/ResNetSE34V2.py`` with the
``SEBasicBlock`` of ``models/ResNetBlocks.py`` and ``PreEmphasis`` of
``utils.py``), the speaker encoder used by SEED. Module, parameter and buffer
names are the same as in the original, so that its checkpoints (e.g. the
``official_resnetse34V2.model`` used by the SEED authors) load with
:meth:`ResNetSE34V2.load_voxceleb_trainer`.

Pipeline (all as in the original)::

    waveform [B, samples] (16 kHz)
      -> PreEmphasis(0.97) -> MelSpectrogram(512, 400, 160, hamming, 64)
      -> + 1e-6 -> log -> InstanceNorm1d            (float32, no gradient)
      -> conv 3x3 -> ReLU -> BN
      -> 4 stages of SE basic blocks, layers (3, 4, 6, 3),
         filters (32, 64, 128, 256), strides (1, 2, 2, 2)
      -> attentive statistics pooling (ASP) over time
      -> Linear -> embedding [B, embedding_dim]

Authors
-------
seed-brain contributors
"""

from collections.abc import Mapping, Sequence
from os import PathLike

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

__all__ = ["PreEmphasis", "SELayer", "SEBasicBlock", "ResNetSE34V2"]


class PreEmphasis(nn.Module):
    """First-order pre-emphasis filter ``y[t] = x[t] - coef * x[t - 1]``.

    The first sample is reflect-padded so that the output has the input
    length. The filter taps are kept in the buffer ``flipped_filter`` (the
    name used by voxceleb_trainer).

    Arguments
    ---------
    coef : float
        Pre-emphasis coefficient.

    Example
    -------
    >>> pre = PreEmphasis(0.97)
    >>> pre(torch.tensor([[1.0, 1.0, 2.0]]))
    tensor([[0.0300, 0.0300, 1.0300]])
    """

    def __init__(self, coef: float = 0.97):
        super().__init__()
        self.coef = coef
        # conv1d computes a cross-correlation, hence the flipped taps.
        self.register_buffer(
            "flipped_filter",
            torch.tensor([-coef, 1.0], dtype=torch.float32).view(1, 1, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filters a batch of waveforms.

        Arguments
        ---------
        x : torch.Tensor
            Waveforms, shape ``[B, samples]``.

        Returns
        -------
        torch.Tensor
            Filtered waveforms, shape ``[B, samples]``.
        """
        if x.dim() != 2:
            raise ValueError(
                f"PreEmphasis expects a [batch, samples] tensor, got shape "
                f"{tuple(x.shape)}"
            )
        x = F.pad(x.unsqueeze(1), (1, 0), mode="reflect")
        return F.conv1d(x, self.flipped_filter).squeeze(1)


class SELayer(nn.Module):
    """Squeeze-and-excitation channel gate (voxceleb_trainer ``SELayer``).

    Arguments
    ---------
    channel : int
        Number of channels of the input.
    reduction : int
        Channel reduction factor of the bottleneck.

    Example
    -------
    >>> se = SELayer(16, reduction=8)
    >>> se(torch.randn(2, 16, 5, 7)).shape
    torch.Size([2, 16, 5, 7])
    """

    def __init__(self, channel: int, reduction: int = 8):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rescales each channel of ``x`` ([B, C, H, W]) by a learnt gate.

        Arguments
        ---------
        x : torch.Tensor
            Feature maps, shape ``[B, C, H, W]``.

        Returns
        -------
        torch.Tensor
            Gated feature maps, same shape as ``x``.
        """
        b, c = x.shape[:2]
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y


class SEBasicBlock(nn.Module):
    """Residual basic block with squeeze-and-excitation.

    Same layer order as voxceleb_trainer's ``SEBasicBlock``: conv -> ReLU ->
    BN -> conv -> BN -> SE, plus the (optionally downsampled) shortcut, then
    ReLU.

    Arguments
    ---------
    inplanes : int
        Input channels.
    planes : int
        Output channels.
    stride : int or tuple
        Stride of the first convolution.
    downsample : torch.nn.Module, optional
        Projection applied to the shortcut.
    reduction : int
        SE reduction factor.

    Example
    -------
    >>> block = SEBasicBlock(8, 8)
    >>> block(torch.randn(1, 8, 6, 10)).shape
    torch.Size([1, 8, 6, 10])
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride=1,
        downsample: nn.Module | None = None,
        reduction: int = 8,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(
            inplanes,
            planes,
            kernel_size=3,
            stride=stride,
            padding=1,
            bias=False,
        )
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(
            planes, planes, kernel_size=3, padding=1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.se = SELayer(planes, reduction)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Applies the block.

        Arguments
        ---------
        x : torch.Tensor
            Feature maps, shape ``[B, inplanes, H, W]``.

        Returns
        -------
        torch.Tensor
            Feature maps, shape ``[B, planes, H / stride, W / stride]``.
        """
        residual = x if self.downsample is None else self.downsample(x)
        out = self.bn1(self.relu(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + residual)


class ResNetSE34V2(nn.Module):
    """ResNetSE34V2 speaker encoder of voxceleb_trainer (SEED's encoder).

    The module tree, and so every state-dict key, matches voxceleb_trainer's
    ``ResNetSE`` built by ``models/ResNetSE34V2.MainModel``; load its
    checkpoints with :meth:`load_voxceleb_trainer`.

    Lengths: the original pools over all frames of the (unpadded) utterance
    it is given, and pads nothing. To stay faithful for padded batches, when
    ``wav_lens`` marks items as shorter than the padded length, each item is
    encoded on its own unpadded samples (items of the same length are
    batched together), so the instance norm, the frame count and the
    attentive pooling all see exactly what the original sees for that
    utterance alone. If ``wav_lens`` is ``None`` or all lengths are full, the
    whole batch goes through in one pass. In training mode the batch-norm
    statistics are then those of each same-length group.

    Arguments
    ---------
    n_mels : int
        Number of mel bands (must be a multiple of 8).
    num_filters : sequence of int
        Channels of the four residual stages.
    layers : sequence of int
        Number of SE basic blocks in each stage.
    embedding_dim : int
        Output size (``nOut`` in voxceleb_trainer).
    encoder_type : str
        ``"ASP"`` (attentive statistics pooling: weighted mean and standard
        deviation) or ``"SAP"`` (self-attentive pooling: weighted mean).
    log_input : bool
        Take the log of the mel spectrogram (as the original does by
        default).
    sample_rate : int
        Sample rate of the input, used by the mel filterbank.

    Example
    -------
    >>> model = ResNetSE34V2().eval()
    >>> wavs = torch.randn(2, 16000)
    >>> model(wavs).shape
    torch.Size([2, 512])
    >>> model(wavs, torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 512])
    >>> model.embedding_dim
    512
    """

    def __init__(
        self,
        n_mels: int = 64,
        num_filters: Sequence[int] = (32, 64, 128, 256),
        layers: Sequence[int] = (3, 4, 6, 3),
        embedding_dim: int = 512,
        encoder_type: str = "ASP",
        log_input: bool = True,
        sample_rate: int = 16000,
    ):
        super().__init__()
        if len(num_filters) != 4 or len(layers) != 4:
            raise ValueError(
                "num_filters and layers must have 4 entries (one per stage)"
            )
        if n_mels % 8 != 0:
            raise ValueError(
                f"n_mels must be a multiple of 8 (the frequency axis is "
                f"downsampled 3 times by 2), got {n_mels}"
            )
        if encoder_type not in ("SAP", "ASP"):
            raise ValueError(
                f"encoder_type must be 'SAP' or 'ASP', got {encoder_type!r}"
            )
        self.n_mels = n_mels
        self.num_filters = tuple(num_filters)
        self.layers = tuple(layers)
        self.embedding_dim = embedding_dim
        self.encoder_type = encoder_type
        self.log_input = log_input
        self.sample_rate = sample_rate
        self.inplanes = num_filters[0]

        self.conv1 = nn.Conv2d(
            1, num_filters[0], kernel_size=3, stride=1, padding=1
        )
        self.relu = nn.ReLU(inplace=True)
        self.bn1 = nn.BatchNorm2d(num_filters[0])

        self.layer1 = self._make_layer(num_filters[0], layers[0])
        self.layer2 = self._make_layer(num_filters[1], layers[1], (2, 2))
        self.layer3 = self._make_layer(num_filters[2], layers[2], (2, 2))
        self.layer4 = self._make_layer(num_filters[3], layers[3], (2, 2))

        self.instancenorm = nn.InstanceNorm1d(n_mels)
        self.torchfb = nn.Sequential(
            PreEmphasis(0.97),
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate,
                n_fft=512,
                win_length=400,
                hop_length=160,
                window_fn=torch.hamming_window,
                n_mels=n_mels,
            ),
        )

        channels = num_filters[3] * (n_mels // 8)
        self.attention = nn.Sequential(
            nn.Conv1d(channels, 128, kernel_size=1),
            nn.ReLU(),
            nn.BatchNorm1d(128),
            nn.Conv1d(128, channels, kernel_size=1),
            nn.Softmax(dim=2),
        )
        out_dim = channels * 2 if encoder_type == "ASP" else channels
        self.fc = nn.Linear(out_dim, embedding_dim)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode="fan_out", nonlinearity="relu"
                )
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride=1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * SEBasicBlock.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(
                    self.inplanes,
                    planes * SEBasicBlock.expansion,
                    kernel_size=1,
                    stride=stride,
                    bias=False,
                ),
                nn.BatchNorm2d(planes * SEBasicBlock.expansion),
            )
        modules = [SEBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * SEBasicBlock.expansion
        for _ in range(1, blocks):
            modules.append(SEBasicBlock(self.inplanes, planes))
        return nn.Sequential(*modules)

    def compute_features(self, wavs: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel features, as the original's front end.

        Computed without gradient and in float32 (autocast disabled).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, shape ``[B, samples]``.

        Returns
        -------
        torch.Tensor
            Features, shape ``[B, 1, n_mels, frames]`` with
            ``frames = samples // 160 + 1``.

        Example
        -------
        >>> model = ResNetSE34V2()
        >>> model.compute_features(torch.randn(1, 16000)).shape
        torch.Size([1, 1, 64, 101])
        """
        with (
            torch.no_grad(),
            torch.autocast(device_type=wavs.device.type, enabled=False),
        ):
            x = self.torchfb(wavs.float()) + 1e-6
            if self.log_input:
                x = x.log()
            return self.instancenorm(x).unsqueeze(1)

    def _encode(self, wavs: torch.Tensor) -> torch.Tensor:
        x = self.compute_features(wavs)

        x = self.bn1(self.relu(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)

        x = x.reshape(x.shape[0], -1, x.shape[-1])
        w = self.attention(x)
        mu = torch.sum(x * w, dim=2)
        if self.encoder_type == "ASP":
            sg = torch.sqrt(
                (torch.sum((x**2) * w, dim=2) - mu**2).clamp(min=1e-5)
            )
            x = torch.cat((mu, sg), 1)
        else:
            x = mu
        return self.fc(x.view(x.shape[0], -1))

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Computes speaker embeddings.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms at ``sample_rate``, shape ``[B, samples]``.
        wav_lens : torch.Tensor, optional
            SpeechBrain relative lengths in ``[0, 1]``, shape ``[B]``. Items
            shorter than ``samples`` are encoded on their own unpadded
            samples (see the class description); ``None`` means all full.

        Returns
        -------
        torch.Tensor
            Embeddings (not normalised), shape ``[B, embedding_dim]``.
        """
        if wavs.dim() != 2:
            raise ValueError(
                f"ResNetSE34V2 expects waveforms of shape [batch, samples], "
                f"got {tuple(wavs.shape)}"
            )
        if wav_lens is None:
            return self._encode(wavs)
        if wav_lens.shape != (wavs.shape[0],):
            raise ValueError(
                f"wav_lens must have shape [{wavs.shape[0]}], got "
                f"{tuple(wav_lens.shape)}"
            )
        n_samples = wavs.shape[1]
        lengths = torch.round(wav_lens.detach().float().cpu() * n_samples)
        lengths = lengths.long().clamp(1, n_samples)
        if bool((lengths == n_samples).all()):
            return self._encode(wavs)
        parts = []
        for length in torch.unique(lengths).tolist():
            idx = torch.nonzero(lengths == length).squeeze(1)
            idx = idx.to(wavs.device)
            parts.append((idx, self._encode(wavs[idx, :length])))
        out = parts[0][1].new_empty((wavs.shape[0], parts[0][1].shape[1]))
        for idx, emb in parts:
            out[idx] = emb.to(out.dtype)
        return out

    def load_voxceleb_trainer(self, checkpoint) -> "ResNetSE34V2":
        """Loads weights saved by voxceleb_trainer, strictly.

        Accepts the model state dict of a voxceleb_trainer ``ResNetSE34V2``
        (``MainModel``) such as SEED's ``official_resnetse34V2.model``, as a
        path or as a mapping. Keys may be prefixed ``__S__.`` (the speaker
        model inside ``SpeakerNet``; the prefix is removed), ``__L__.`` keys
        (the training loss head) are dropped, and a leading ``module.``
        (``DataParallel``/``WrappedModel``) is removed.

        All parameters and batch-norm running statistics are required. The
        front-end buffers (``torchfb.*``: pre-emphasis taps, STFT window, mel
        filterbank) and batch-norm ``num_batches_tracked`` counters are
        loaded when present (as the original's ``loadParameters`` does),
        and keep their computed values when absent; an empty front-end
        buffer (old torchaudio saved the mel filterbank lazily) counts as
        absent.

        Arguments
        ---------
        checkpoint : str, os.PathLike or Mapping[str, torch.Tensor]
            Path to a ``torch.save``'d state dict (read with
            ``weights_only=True`` onto the CPU) or the state dict itself.

        Returns
        -------
        ResNetSE34V2
            ``self``, with the weights loaded.

        Raises
        ------
        ValueError
            If keys are missing, unexpected or of the wrong shape; the
            message lists them. Nothing is loaded in that case.

        Example
        -------
        >>> source = ResNetSE34V2()
        >>> saved = {"__S__." + k: v for k, v in source.state_dict().items()}
        >>> saved["__L__.W"] = torch.zeros(512, 10)
        >>> model = ResNetSE34V2().load_voxceleb_trainer(saved)
        >>> bool(torch.equal(model.fc.weight, source.fc.weight))
        True
        """
        if isinstance(checkpoint, (str, bytes, PathLike)):
            checkpoint = torch.load(
                checkpoint, map_location="cpu", weights_only=True
            )
        if not isinstance(checkpoint, Mapping):
            raise TypeError(
                f"Expected a path or a state dict (mapping of names to "
                f"tensors), got {type(checkpoint).__name__}"
            )

        state = {}
        for key, value in checkpoint.items():
            name = key[len("module.") :] if key.startswith("module.") else key
            if name.startswith("__L__."):
                continue
            if name.startswith("__S__."):
                name = name[len("__S__.") :]
            if name in state:
                raise ValueError(
                    f"Checkpoint key {key!r} maps to {name!r}, which another "
                    f"key already provides"
                )
            state[name] = value

        expected = self.state_dict()
        for name in [k for k in state if k.startswith("torchfb.")]:
            value = state[name]
            if isinstance(value, torch.Tensor) and value.numel() == 0:
                del state[name]

        def optional(name):
            return name.startswith("torchfb.") or name.endswith(
                "num_batches_tracked"
            )

        missing = [k for k in expected if k not in state and not optional(k)]
        unexpected = [k for k in state if k not in expected]
        mismatched = [
            f"{k}: checkpoint {tuple(v.shape)} vs model "
            f"{tuple(expected[k].shape)}"
            if isinstance(v, torch.Tensor)
            else f"{k}: not a tensor ({type(v).__name__})"
            for k, v in state.items()
            if k in expected
            and not (
                isinstance(v, torch.Tensor) and v.shape == expected[k].shape
            )
        ]
        if missing or unexpected or mismatched:
            raise ValueError(
                self._mismatch_message(missing, unexpected, mismatched)
            )

        self.load_state_dict(state, strict=False)
        return self

    def _mismatch_message(self, missing, unexpected, mismatched) -> str:
        def listing(title, names):
            shown = ", ".join(repr(n) for n in names[:10])
            more = f", ... ({len(names) - 10} more)" if len(names) > 10 else ""
            return f"{len(names)} {title}: [{shown}{more}]"

        return (
            "Checkpoint does not match ResNetSE34V2("
            f"n_mels={self.n_mels}, num_filters={self.num_filters}, "
            f"layers={self.layers}, embedding_dim={self.embedding_dim}, "
            f"encoder_type={self.encoder_type!r}): "
            + "; ".join(
                [
                    listing("missing key(s)", missing),
                    listing("unexpected key(s)", unexpected),
                    listing("key(s) with wrong shape", mismatched),
                ]
            )
            + ". Expected a voxceleb_trainer ResNetSE34V2 state dict (e.g. "
            "SEED's official_resnetse34V2.model) with parameter names such "
            "as 'conv1.weight', 'layer1.0.se.fc.0.weight', "
            "'attention.0.weight', 'fc.weight', optionally prefixed "
            "'__S__.' ('__L__.' loss keys are ignored)."
        )
