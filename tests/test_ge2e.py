"""Tests for the GE2E d-vector encoder port (``seed_brain.lobes.ge2e``)."""

import itertools
import math
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio
from speechbrain.utils.metric_stats import EER

from seed_brain.lobes import ge2e
from seed_brain.lobes.ge2e import (
    GE2E,
    find_pretrained_ge2e,
    mel_filterbank,
    partial_window_starts,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TEST_OTHER = DATA / "speech" / "test-other"
INSTALL = "pip install --no-deps resemblyzer==0.1.4"


def _pretrained_or_skip():
    try:
        return find_pretrained_ge2e()
    except FileNotFoundError:
        pytest.skip(f"GE2E weights not installed; run: {INSTALL}")


def _voice_like(n_samples, seed, f0=140.0, amplitude=0.1):
    """Harmonic tone with a moving pitch plus noise, 16 kHz."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(n_samples) / 16000
    pitch = f0 * (1 + 0.1 * torch.sin(2 * math.pi * 3 * t))
    phase = 2 * math.pi * torch.cumsum(pitch, 0) / 16000
    wav = sum(torch.sin(k * phase) / k for k in range(1, 8))
    wav = wav + 0.05 * torch.randn(n_samples, generator=gen)
    return amplitude * wav / wav.abs().max()


@pytest.fixture(scope="module")
def random_encoder():
    torch.manual_seed(0)
    return GE2E(weights=None)


def test_shapes_normalisation_and_frozen(random_encoder):
    wavs = torch.stack([_voice_like(40000, seed) for seed in range(3)])
    with torch.inference_mode():
        out = random_encoder(wavs)
    assert out.shape == (3, GE2E.embedding_dim) == (3, 256)
    assert random_encoder.embedding_dim == 256
    assert torch.isfinite(out).all()
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-6)
    assert (out >= 0).all()  # mean of ReLU outputs
    with torch.no_grad():
        again = random_encoder(wavs, torch.ones(3))
    assert torch.allclose(out, again, atol=1e-6)
    assert not any(p.requires_grad for p in random_encoder.parameters())
    assert not random_encoder.training


def test_lengths_are_honoured(random_encoder):
    # Shorter than one window, about one window, several windows.
    lengths = [9000, 26000, 70001]
    utts = [_voice_like(n, seed) for seed, n in enumerate(lengths)]
    total = max(lengths) + 12345
    padded = torch.zeros(len(utts), total)
    for i, utt in enumerate(utts):
        padded[i, : len(utt)] = utt
    rel = torch.tensor(lengths, dtype=torch.float) / total
    with torch.no_grad():
        batched = random_encoder(padded, rel)
        alone = torch.cat([random_encoder(u[None]) for u in utts])
        ignoring_lengths = random_encoder(padded)
    assert (batched - alone).abs().max() < 1e-5
    # The check above can fail: without lengths the padding matters.
    assert (ignoring_lengths - alone).abs().max() > 1e-4


def test_volume_normalisation_is_increase_only(random_encoder):
    base = _voice_like(32000, 7, amplitude=1.0)  # about -10 dBFS
    with torch.no_grad():
        quiet = random_encoder(torch.stack([base * 1e-2, base * 1e-3]))
        loud = random_encoder(torch.stack([base, base * 0.5]))
    # Both quiet versions are raised to -30 dBFS: same input to the net.
    assert (quiet[0] - quiet[1]).abs().max() < 1e-5
    # Loud versions are not lowered, so they differ.
    assert (loud[0] - loud[1]).abs().max() > 1e-4
    gain = GE2E._volume_gain(
        torch.stack([base * 1e-2, torch.zeros(32000)]),
        torch.tensor([32000] * 2),
    )
    scaled = base * 1e-2 * gain[0]
    dbfs = 10 * torch.log10(scaled.double().square().mean())
    assert abs(float(dbfs) + 30.0) < 1e-3
    assert float(gain[1]) == 1.0  # silence is not amplified to NaN


def test_volume_normalisation_can_be_disabled(random_encoder):
    encoder = GE2E(weights=None, normalize_volume=False)
    encoder.load_weights(random_encoder.state_dict())
    base = _voice_like(32000, 7, amplitude=1.0)
    quiet = torch.stack([base * 3e-2, base * 1e-3])
    gain = GE2E._volume_gain(quiet, torch.tensor([32000, 32000]))
    with torch.no_grad():
        raw = encoder(quiet)
        normalised = random_encoder(quiet)
        raised_by_hand = encoder(quiet * gain[:, None])
    assert (raw[0] - raw[1]).abs().max() > 5e-5
    assert (raised_by_hand - normalised).abs().max() < 1e-6


def test_partial_window_starts_follow_resemblyzer_rule():
    # 8 s: 801 frames; starts every 77 frames; the 10th window (start 693)
    # would cover (128000 - 110880) / 25600 = 67 % < 75 %: dropped.
    assert partial_window_starts(128000) == list(range(0, 617, 77))
    assert partial_window_starts(128000, min_coverage=0.6) == list(
        range(0, 694, 77)
    )
    assert partial_window_starts(0) == [0]
    assert partial_window_starts(100) == [0]  # padded up to one window
    # Second window kept once 75 % of it (19200 samples) is covered.
    assert partial_window_starts(77 * 160 + 19200) == [0, 77]
    assert partial_window_starts(77 * 160 + 19199) == [0]
    assert partial_window_starts(77 * 160 + 19200, min_coverage=0.8) == [0]
    with pytest.raises(ValueError):
        partial_window_starts(16000, min_coverage=0.0)
    encoder = GE2E(weights=None)
    assert (encoder.partial_frames, encoder.frame_step) == (160, 77)


def test_mel_filterbank_is_librosa_slaney():
    fb = mel_filterbank()
    assert fb.shape == (40, 201) and fb.dtype == torch.float32
    # Same bank as torchaudio's Slaney scale + Slaney normalisation.
    ref = torchaudio.functional.melscale_fbanks(
        n_freqs=201,
        f_min=0.0,
        f_max=8000.0,
        n_mels=40,
        sample_rate=16000,
        norm="slaney",
        mel_scale="slaney",
    ).T
    assert torch.allclose(fb, ref, atol=1e-7, rtol=1e-4)
    # librosa's Slaney formula, written out: edges equally spaced in mel,
    # mel = f / (200 / 3) below 1 kHz, 15 + 27 ln(f / 1000) / ln 6.4 above.
    top_mel = 15 + 27 * math.log(8000 / 1000) / math.log(6.4)
    mels = np.linspace(0, top_mel, 42)
    hz = np.where(
        mels < 15,
        mels * 200 / 3,
        1000 * np.exp(np.log(6.4) / 27 * (mels - 15)),
    )
    bins = np.linspace(0, 8000, 201)
    for m in (0, 10, 25, 39):
        left, centre, right = hz[m], hz[m + 1], hz[m + 2]
        rise = (bins - left) / (centre - left)
        fall = (right - bins) / (right - centre)
        tri = np.clip(np.minimum(rise, fall), 0, None)
        expected = tri * 2 / (right - left)
        np.testing.assert_allclose(fb[m].numpy(), expected, atol=1e-8)


def test_mel_spectrogram_matches_numpy_stft(random_encoder):
    wav = _voice_like(5000, 3).numpy().astype(np.float64)
    padded = np.pad(wav, (200, 200))
    n_frames = len(wav) // 160 + 1
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    frames = np.stack(
        [padded[i * 160 : i * 160 + 400] * window for i in range(n_frames)]
    )
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    expected = power @ mel_filterbank().numpy().astype(np.float64).T
    with torch.no_grad():
        mel = random_encoder.mel_spectrogram(
            torch.from_numpy(wav)[None].float()
        )
    assert mel.shape == (1, n_frames, 40)
    np.testing.assert_allclose(
        mel[0].numpy(), expected, rtol=1e-4, atol=1e-6 * expected.max()
    )


def test_resampled_input(random_encoder):
    torch.manual_seed(0)
    encoder_8k = GE2E(weights=None, sample_rate=8000)
    encoder_8k.load_weights(random_encoder.state_dict())
    wav = _voice_like(32000, 5)
    wav_8k = torchaudio.functional.resample(wav, 16000, 8000)
    with torch.no_grad():
        out_8k = encoder_8k(wav_8k[None])
        out_16k = random_encoder(
            torchaudio.functional.resample(wav_8k, 8000, 16000)[None]
        )
    assert (out_8k - out_16k).abs().max() < 1e-5


def test_bad_inputs_raise(random_encoder):
    with pytest.raises(ValueError, match="unsqueeze"):
        random_encoder(torch.zeros(16000))
    with pytest.raises(ValueError, match=r"\[batch, samples\]"):
        random_encoder(torch.zeros(2, 1, 16000))
    with pytest.raises(ValueError, match="wav_lens must have shape"):
        random_encoder(torch.zeros(2, 16000), torch.ones(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        random_encoder(torch.zeros(2, 16000), torch.tensor([1.0, 1.5]))
    with pytest.raises(ValueError, match="floating point"):
        random_encoder(torch.zeros(2, 16000, dtype=torch.int16))
    with pytest.raises(ValueError, match="rate"):
        GE2E(weights=None, rate=0.1)
    with pytest.raises(ValueError, match="min_coverage"):
        GE2E(weights=None, min_coverage=1.5)


def test_find_pretrained_ge2e_returns_the_file():
    path = _pretrained_or_skip()
    assert path.is_file() and path.name == "pretrained.pt"
    assert path.parent.name == "resemblyzer"
    # resemblyzer's checkpoint loads into the module strictly.
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    encoder = GE2E(weights=None)
    encoder.load_state_dict(checkpoint["model_state"])
    state = checkpoint["model_state"]
    assert torch.equal(encoder.lstm.weight_hh_l2, state["lstm.weight_hh_l2"])
    assert torch.equal(encoder.linear.bias, state["linear.bias"])


def test_find_pretrained_ge2e_without_wheel(monkeypatch):
    def no_dist(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(ge2e.metadata, "distribution", no_dist)
    with pytest.raises(FileNotFoundError, match="resemblyzer==0.1.4"):
        find_pretrained_ge2e()
    with pytest.raises(FileNotFoundError, match="--no-deps"):
        GE2E()


def test_missing_key_raises_clear_error(tmp_path):
    state = GE2E(weights=None).state_dict()
    del state["linear.bias"]
    path = tmp_path / "broken.pt"
    torch.save({"model_state": state}, path)
    with pytest.raises(RuntimeError, match=r"missing keys \['linear.bias'\]"):
        GE2E(weights=path)
    with pytest.raises(FileNotFoundError, match="not found"):
        GE2E(weights=tmp_path / "absent.pt")


def test_real_speech_eer_below_two_percent():
    _pretrained_or_skip()
    files = sorted(TEST_OTHER.glob("*/*.flac"))
    assert len(files) == 100, f"expected 10 x 10 utterances in {TEST_OTHER}"
    encoder = GE2E()  # resemblyzer's pretrained weights
    wavs, speakers = [], []
    for file in files:
        wav, sr = sf.read(file, dtype="float32")
        assert sr == 16000 and wav.ndim == 1
        wavs.append(torch.from_numpy(wav))
        speakers.append(file.parent.name)

    start = time.perf_counter()
    embeddings = torch.zeros(len(wavs), 256)
    order = sorted(range(len(wavs)), key=lambda i: len(wavs[i]))
    with torch.inference_mode():
        for chunk in (order[i : i + 25] for i in range(0, len(order), 25)):
            batch = torch.nn.utils.rnn.pad_sequence(
                [wavs[i] for i in chunk], batch_first=True
            )
            lens = torch.tensor([len(wavs[i]) for i in chunk]) / batch.shape[1]
            embeddings[chunk] = encoder(batch, lens)
    seconds = time.perf_counter() - start

    scores = embeddings @ embeddings.T
    positive, negative = [], []
    for i, j in itertools.combinations(range(len(wavs)), 2):
        same = speakers[i] == speakers[j]
        (positive if same else negative).append(float(scores[i, j]))
    assert len(positive) == 450 and len(negative) == 4500
    eer, _ = EER(torch.tensor(positive), torch.tensor(negative))
    print(f"GE2E test-other EER {100 * eer:.3f} % ({seconds:.1f} s)")
    assert eer <= 0.02
