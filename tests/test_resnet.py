"""Tests for the ResNetSE34V2 port (seed_brain.lobes.resnet)."""

import math
from pathlib import Path

import pytest
import torch

from seed_brain.lobes.resnet import ResNetSE34V2

SAMPLE_RATE = 16000
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _audio(batch=2, seconds=2.0, seed=0):
    """Sine tones plus noise, shape [batch, samples]."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    freqs = torch.tensor([220.0 * (k + 1) for k in range(batch)])
    sine = 0.5 * torch.sin(2 * math.pi * freqs[:, None] * t[None, :])
    return sine + 0.05 * torch.randn(batch, t.numel(), generator=gen)


def _randomise_bn(model, seed):
    """Gives batch norms non-default running statistics and affine terms."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
            m.weight.data.copy_(1 + 0.1 * torch.randn(n, generator=gen))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=gen))
            m.num_batches_tracked.fill_(7)


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(1)
    model = ResNetSE34V2()
    _randomise_bn(model, seed=2)
    return model.eval()


@pytest.fixture(scope="module")
def audio():
    return _audio()


@pytest.fixture(scope="module")
def source_out(source, audio):
    with torch.no_grad():
        return source(audio)


def _expected_parameter_shapes(
    n_mels=64, filters=(32, 64, 128, 256), layers=(3, 4, 6, 3), n_out=512
):
    """Parameter names/shapes of voxceleb_trainer's ResNetSE34V2 (ASP).

    Written out from the original's layer definitions (conv1, bn1,
    layer1..4 of SEBasicBlock with SELayer reduction 8 and 1x1 downsample
    convs, attention Sequential, fc), independently of the port.
    """
    shapes = {
        "conv1.weight": (filters[0], 1, 3, 3),
        "conv1.bias": (filters[0],),
    }
    shapes["bn1.weight"] = shapes["bn1.bias"] = (filters[0],)
    inplanes = filters[0]
    for stage, (planes, blocks) in enumerate(zip(filters, layers), start=1):
        stride = 1 if stage == 1 else 2
        for b in range(blocks):
            p = f"layer{stage}.{b}."
            shapes[p + "conv1.weight"] = (planes, inplanes, 3, 3)
            shapes[p + "conv2.weight"] = (planes, planes, 3, 3)
            for bn in ("bn1", "bn2"):
                shapes[p + bn + ".weight"] = (planes,)
                shapes[p + bn + ".bias"] = (planes,)
            r = planes // 8
            shapes[p + "se.fc.0.weight"] = (r, planes)
            shapes[p + "se.fc.0.bias"] = (r,)
            shapes[p + "se.fc.2.weight"] = (planes, r)
            shapes[p + "se.fc.2.bias"] = (planes,)
            if b == 0 and (stride != 1 or inplanes != planes):
                shapes[p + "downsample.0.weight"] = (planes, inplanes, 1, 1)
                shapes[p + "downsample.1.weight"] = (planes,)
                shapes[p + "downsample.1.bias"] = (planes,)
            inplanes = planes
    channels = filters[3] * (n_mels // 8)
    shapes["attention.0.weight"] = (128, channels, 1)
    shapes["attention.0.bias"] = (128,)
    shapes["attention.2.weight"] = shapes["attention.2.bias"] = (128,)
    shapes["attention.3.weight"] = (channels, 128, 1)
    shapes["attention.3.bias"] = (channels,)
    shapes["fc.weight"] = (n_out, 2 * channels)
    shapes["fc.bias"] = (n_out,)
    return shapes


def test_output_shape_and_finite(source_out):
    assert source_out.shape == (2, 512)
    assert torch.isfinite(source_out).all()
    # The two different inputs give different embeddings.
    assert not torch.allclose(source_out[0], source_out[1])


def test_embedding_dim_attribute():
    model = ResNetSE34V2(embedding_dim=256)
    assert model.embedding_dim == 256
    assert model.fc.out_features == 256


def test_parameter_names_shapes_and_count(source):
    expected = _expected_parameter_shapes()
    got = {k: tuple(v.shape) for k, v in source.named_parameters()}
    assert got == expected
    count = sum(p.numel() for p in source.parameters())
    assert count == sum(math.prod(s) for s in expected.values())
    assert count == 8_028_492
    assert 7_500_000 < count < 8_500_000


def test_buffers_have_original_names(source):
    buffers = dict(source.named_buffers())
    assert buffers["torchfb.0.flipped_filter"].shape == (1, 1, 2)
    assert torch.allclose(
        buffers["torchfb.0.flipped_filter"].flatten(),
        torch.tensor([-0.97, 1.0]),
    )
    assert buffers["torchfb.1.spectrogram.window"].shape == (400,)
    assert buffers["torchfb.1.mel_scale.fb"].shape == (257, 64)
    assert "layer3.0.downsample.1.running_var" in buffers
    assert "attention.2.running_mean" in buffers


@pytest.mark.parametrize("prefix", ["__S__.", ""])
def test_load_voxceleb_trainer_state_dict(source, audio, source_out, prefix):
    saved = {prefix + k: v.clone() for k, v in source.state_dict().items()}
    saved["__L__.W"] = torch.randn(512, 5994)
    torch.manual_seed(123)
    model = ResNetSE34V2().eval()
    with torch.no_grad():
        before = model(audio)
    assert not torch.allclose(before, source_out)
    assert model.load_voxceleb_trainer(saved) is model
    with torch.no_grad():
        after = model(audio)
    assert torch.equal(after, source_out)
    for k, v in source.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_load_from_path(source, audio, source_out, tmp_path):
    path = tmp_path / "official_resnetse34V2.model"
    saved = {"__S__." + k: v for k, v in source.state_dict().items()}
    saved["__L__.W"] = torch.randn(512, 10)
    torch.save(saved, path)
    model = ResNetSE34V2().eval().load_voxceleb_trainer(str(path))
    with torch.no_grad():
        assert torch.equal(model(audio), source_out)
    model = ResNetSE34V2().eval().load_voxceleb_trainer(path)
    with torch.no_grad():
        assert torch.equal(model(audio), source_out)


def test_front_end_buffers_optional(source, audio, source_out):
    saved = {
        k: v
        for k, v in source.state_dict().items()
        if not k.startswith("torchfb.") and "num_batches_tracked" not in k
    }
    # Old torchaudio could save the mel filterbank empty (built lazily).
    saved["torchfb.1.mel_scale.fb"] = torch.empty(0)
    model = ResNetSE34V2().eval().load_voxceleb_trainer(saved)
    with torch.no_grad():
        assert torch.equal(model(audio), source_out)


def test_front_end_buffers_loaded_when_present(source, audio, source_out):
    saved = dict(source.state_dict())
    saved["torchfb.0.flipped_filter"] = torch.tensor([[[-0.5, 1.0]]])
    model = ResNetSE34V2().eval().load_voxceleb_trainer(saved)
    assert torch.equal(
        model.torchfb[0].flipped_filter, torch.tensor([[[-0.5, 1.0]]])
    )
    with torch.no_grad():
        assert not torch.allclose(model(audio), source_out)


def test_renamed_key_raises(source):
    saved = {"__S__." + k: v for k, v in source.state_dict().items()}
    saved["__S__.fc.weights"] = saved.pop("__S__.fc.weight")
    model = ResNetSE34V2()
    reference = model.fc.weight.detach().clone()
    with pytest.raises(ValueError) as err:
        model.load_voxceleb_trainer(saved)
    message = str(err.value)
    assert "missing" in message and "unexpected" in message
    assert "'fc.weight'" in message
    assert "'fc.weights'" in message
    assert "voxceleb_trainer" in message
    # Nothing was loaded.
    assert torch.equal(model.fc.weight, reference)


def test_wrong_shape_raises(source):
    saved = dict(source.state_dict())
    saved["fc.weight"] = torch.zeros(256, 4096)
    with pytest.raises(ValueError, match="fc.weight"):
        ResNetSE34V2().load_voxceleb_trainer(saved)


def test_many_missing_keys_are_truncated_and_counted():
    with pytest.raises(ValueError) as err:
        ResNetSE34V2().load_voxceleb_trainer({"__L__.W": torch.zeros(1)})
    message = str(err.value)
    n_required = len(_expected_parameter_shapes()) + 2 * 37  # + BN stats
    assert f"{n_required} missing key(s)" in message
    assert "more)" in message
    assert "0 unexpected key(s)" in message


def test_eval_determinism(source, audio, source_out):
    with torch.no_grad():
        again = source(audio)
    assert torch.equal(again, source_out)


def test_wav_lens(source, audio, source_out):
    with torch.no_grad():
        full = source(audio, torch.ones(2))
        half = source(audio, torch.tensor([1.0, 0.5]))
        alone = source(audio[1:, : audio.shape[1] // 2])
    assert torch.equal(full, source_out)
    assert torch.allclose(half[0], source_out[0], atol=1e-5)
    assert torch.allclose(half[1], alone[0], atol=1e-5)
    # Padding is not pooled over: the result differs from the padded one.
    assert not torch.allclose(half[1], source_out[1], atol=1e-3)


def test_front_end_float32_without_grad():
    model = ResNetSE34V2(num_filters=(8, 8, 16, 16), layers=(1, 1, 1, 1))
    wavs = _audio(batch=1, seconds=0.5).double().requires_grad_(True)
    feats = model.compute_features(wavs)
    assert feats.dtype == torch.float32
    assert not feats.requires_grad
    assert feats.shape == (1, 1, 64, wavs.shape[1] // 160 + 1)
    # The normalised features have zero mean per band.
    assert torch.allclose(feats.mean(-1), torch.zeros(1, 1, 64), atol=1e-4)
    model(wavs.detach().float()).sum().backward()
    assert model.conv1.weight.grad is not None


def test_invalid_arguments():
    with pytest.raises(ValueError):
        ResNetSE34V2(encoder_type="TAP")
    with pytest.raises(ValueError):
        ResNetSE34V2(n_mels=60)
    with pytest.raises(ValueError):
        ResNetSE34V2()(torch.zeros(1, 2, 16000))


def test_sap_encoder():
    model = ResNetSE34V2(encoder_type="SAP", embedding_dim=128).eval()
    assert model.fc.in_features == 256 * 8
    with torch.no_grad():
        assert model(_audio(batch=1, seconds=1.0)).shape == (1, 128)


@pytest.mark.skipif(
    not (DATA / "speech" / "test-other").is_dir(), reason="no shared data"
)
def test_real_utterance(source):
    sf = pytest.importorskip("soundfile")
    path = sorted((DATA / "speech" / "test-other").rglob("*.flac"))[0]
    wav, sr = sf.read(str(path), dtype="float32")
    assert sr == SAMPLE_RATE
    wav = torch.from_numpy(wav)[None, : 4 * SAMPLE_RATE]
    with torch.no_grad():
        emb = source(wav)
    assert emb.shape == (1, 512)
    assert torch.isfinite(emb).all()
    assert emb.norm() > 0
