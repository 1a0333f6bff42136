"""cache_precision: the encoder's arithmetic while building the view cache.

``auto`` follows the CPU's flags; bf16 embeddings of real speech stay
close to float32 ones; the cache records the precision it was built with
and refuses to be reused under another; dev/test encoding stays float32.
"""

import types

import numpy as np
import pytest
import torch

import train
from seed_brain.dataio.audio import load_audio
from seed_brain.lobes import RDMMLP
from seed_brain.lobes.ge2e import GE2E, find_pretrained_ge2e
from seed_brain.model.brain import SEEDBrain
from seed_brain.model.diffusion import SEEDDiffusion
from seed_brain.utils.precision import native_bf16, resolve_precision
from seed_brain.views import ViewBuilder
from seed_brain.views.cache import ViewCache

CROP = 32240  # the recipe's 2.015 s crops


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(
        "processor\t: 0\nmodel name\t: test\n"
        f"flags\t\t: fpu sse2 avx2 {flags}\n\n",
        encoding="utf-8",
    )
    return str(path)


def test_auto_follows_the_cpu_flags(tmp_path):
    """auto is bf16 on CPUs with AVX512-BF16 or AMX-BF16, else fp32."""
    (tmp_path / "a").mkdir()
    plain = _cpuinfo(tmp_path / "a", "avx512f")
    (tmp_path / "b").mkdir()
    bf16 = _cpuinfo(tmp_path / "b", "avx512f avx512_bf16")
    (tmp_path / "c").mkdir()
    amx = _cpuinfo(tmp_path / "c", "amx_tile amx_bf16")
    assert not native_bf16("cpu", cpuinfo=plain)
    assert native_bf16("cpu", cpuinfo=bf16)
    assert native_bf16("cpu", cpuinfo=amx)
    assert resolve_precision("auto", "cpu", cpuinfo=plain) == "fp32"
    assert resolve_precision("auto", "cpu", cpuinfo=bf16) == "bf16"
    # Explicit settings are kept whatever the hardware.
    assert resolve_precision("bf16", "cpu", cpuinfo=plain) == "bf16"
    assert resolve_precision("fp32", "cpu", cpuinfo=amx) == "fp32"
    assert resolve_precision(None) == "fp32"
    with pytest.raises(ValueError, match="--cache_precision="):
        resolve_precision("float16")


def _brain(encoder):
    return SEEDBrain(
        modules={"encoder": encoder, "denoiser": RDMMLP(embed_dim=256)},
        hparams={
            "diffusion": SEEDDiffusion(),
            "use_ema": False,
            "view_builder": ViewBuilder(["clean", "clean"], {}),
        },
    )


@pytest.fixture(scope="module")
def ge2e_brain():
    try:
        weights = find_pretrained_ge2e()
    except FileNotFoundError:
        pytest.skip("GE2E weights not installed (.ci/install.sh)")
    return _brain(GE2E(weights=str(weights)))


def _crops(data_dir, count=24):
    files = sorted((data_dir / "speech" / "test-other").glob("*/*.flac"))
    crops = []
    for path in files[:count]:
        wav = load_audio(str(path), 16000)
        crops.append(wav[:CROP])
    return torch.stack(crops), files[:count]


def test_bf16_embeddings_of_real_speech_stay_close(ge2e_brain, data_dir):
    """bf16 autocast moves a real-speech GE2E embedding by cos > 0.998,
    far less than speakers differ; same-speaker ranking is kept; the
    default encode is the float32 one, bit for bit."""
    wavs, files = _crops(data_dir)
    exact = ge2e_brain.encode(wavs)
    with torch.no_grad():
        direct = ge2e_brain.modules.encoder(wavs)
    torch.testing.assert_close(exact, direct, rtol=0, atol=0)
    half = ge2e_brain.encode(wavs, precision="bf16")
    assert half.dtype == torch.float32
    cos = torch.nn.functional.cosine_similarity(exact, half)
    assert float(cos.min()) > 0.998
    assert not torch.equal(exact, half)  # the autocast really ran
    # Nearest other crop: the same answer under both precisions for
    # nearly every crop.
    sims = [e @ e.T - 2 * torch.eye(len(e)) for e in (exact, half)]
    same = (sims[0].argmax(1) == sims[1].argmax(1)).float().mean()
    assert float(same) >= 0.9
    speakers = [p.parent.name for p in files]
    assert len(set(speakers)) > 1


def test_cache_records_its_precision(ge2e_brain, data_dir, tmp_path):
    """A bf16 cache says so in its index, holds embeddings close to an fp32
    cache's, and is refused under another precision."""
    files = sorted((data_dir / "speech" / "test-other").glob("*/*.flac"))[:3]
    rows = [(f"u{k}", str(p)) for k, p in enumerate(files)]
    settings = dict(crops_per_utt=2, crop_samples=CROP, seed=5, batch_size=4)
    fp32 = ViewCache(str(tmp_path / "fp32")).build(ge2e_brain, rows, **settings)
    bf16 = ViewCache(str(tmp_path / "bf16")).build(
        ge2e_brain, rows, precision="bf16", **settings
    )
    assert "precision" not in fp32.index()["config"]  # older caches reused
    assert bf16.index()["config"]["precision"] == "bf16"
    a = np.asarray(fp32.array()).reshape(-1, 256)
    b = np.asarray(bf16.array()).reshape(-1, 256)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.998
    with pytest.raises(ValueError, match="other settings"):
        ViewCache(str(tmp_path / "bf16")).build(ge2e_brain, rows, **settings)
    # "auto" is resolved by the build itself; the index holds the result.
    auto = ViewCache(str(tmp_path / "auto")).build(
        ge2e_brain, rows, precision="auto", **settings
    )
    resolved = resolve_precision("auto", ge2e_brain.device)
    assert auto.index()["config"].get("precision", "fp32") == resolved


def test_train_resolves_the_yaml_setting(monkeypatch, tmp_path):
    """train.py passes the resolved cache_precision to the cache build."""
    seen = {}

    def build(self, **kwargs):
        seen.update(kwargs)
        return self

    monkeypatch.setattr(ViewCache, "build", build)
    monkeypatch.setattr(ViewCache, "dataset", lambda self, **kw: [])
    hparams = {
        "use_cache": True,
        "cache_folder": "/nonexistent",
        "crops_per_utt": 1,
        "crop_samples": CROP,
        "seed": 1,
        "cache_batch_size": 2,
        "sample_rate": 16000,
        "backbone": "test",
        "view_builder": ViewBuilder(["clean", "clean"], {}),
        "cache_precision": "bf16",
    }
    brain = types.SimpleNamespace(device="cpu")
    csv_path = tmp_path / "train.csv"
    csv_path.write_text("ID,wav,duration\nu0,/x.wav,2.0\n", encoding="utf-8")
    train.build_train_set(hparams, brain, {"train_csv": csv_path})
    assert seen["precision"] == "bf16"
    hparams["cache_precision"] = "fp32"
    train.build_train_set(hparams, brain, {"train_csv": csv_path})
    assert seen["precision"] == "fp32"
