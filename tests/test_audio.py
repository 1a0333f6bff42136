"""Tests of seed_brain.dataio.audio on real shared files and generated audio."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch
from shared_data import DATA, needs_data

from seed_brain.dataio.audio import (
    AUDIO_EXTENSIONS,
    AudioError,
    audio_info,
    is_audio_file,
    load_audio,
    write_audio,
)


@needs_data("rir")
@pytest.mark.parametrize(
    "name, native_rate, native_channels",
    [("rir48000.wav", 48000, 1), ("stereo_impulse_response.wav", 44100, 2)],
)
def test_load_resamples_and_mixes_to_mono_16k(
    name, native_rate, native_channels
):
    path = DATA / "rir" / name
    rate, frames, channels = audio_info(path)
    assert (rate, channels) == (native_rate, native_channels)
    wav = load_audio(path, sample_rate=16000)
    assert wav.dim() == 1 and wav.dtype == torch.float32
    assert wav.shape[0] == int(np.ceil(frames * 16000 / native_rate))
    assert torch.isfinite(wav).all() and wav.abs().max() > 0
    # Channel average at the native rate.
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    native = load_audio(path, sample_rate=None)
    assert native.shape[0] == frames
    np.testing.assert_allclose(native.numpy(), data.mean(axis=1), atol=1e-7)


@needs_data("rir")
def test_load_flac_native_rate():
    path = next((DATA / "speech" / "test-other").rglob("*.flac"))
    wav = load_audio(path)
    assert wav.shape[0] == audio_info(path)[1]


def test_write_read_roundtrip_float_keeps_values_beyond_one(tmp_path):
    wav = torch.tensor([0.0, 0.5, -1.75, 3.0])
    path = tmp_path / "a" / "b" / "x.wav"
    write_audio(path, wav, sample_rate=8000)
    assert audio_info(path) == (8000, 4, 1)
    assert torch.equal(load_audio(path, sample_rate=None), wav)
    assert sf.info(path).subtype == "FLOAT"
    # No temporary file left behind.
    assert os.listdir(path.parent) == ["x.wav"]


def test_write_pcm16_refuses_clipping(tmp_path):
    path = tmp_path / "x.wav"
    write_audio(path, torch.tensor([0.5, -0.5]), subtype="PCM_16")
    assert sf.info(path).subtype == "PCM_16"
    with pytest.raises(AudioError, match="clip"):
        write_audio(path, torch.tensor([0.5, 1.5]), subtype="PCM_16")
    # The failed write left the previous file untouched and no temp file.
    assert load_audio(path).shape[0] == 2
    assert os.listdir(tmp_path) == ["x.wav"]


def test_write_rejects_bad_signals(tmp_path):
    with pytest.raises(AudioError, match="mono"):
        write_audio(tmp_path / "x.wav", torch.zeros(2, 10))
    with pytest.raises(AudioError, match="NaN"):
        write_audio(tmp_path / "x.wav", torch.tensor([0.0, float("nan")]))
    with pytest.raises(AudioError, match=".wav"):
        write_audio(tmp_path / "x.flac", torch.zeros(10))
    with pytest.raises(AudioError, match="empty"):
        write_audio(tmp_path / "x.wav", torch.zeros(0))
    assert os.listdir(tmp_path) == []


def test_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load_audio(path)
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        audio_info(path)


def test_empty_file_names_it(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    for func in (load_audio, audio_info):
        with pytest.raises(AudioError, match="empty.wav.*0 bytes"):
            func(path)


def test_garbage_bytes_named_wav(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    for func in (load_audio, audio_info):
        with pytest.raises(AudioError, match="garbage.wav"):
            func(path)


def _pcm_wav_bytes(tmp_path):
    path = tmp_path / "full.wav"
    sf.write(path, np.zeros(16000, dtype="float32"), 16000, "PCM_16")
    return path.read_bytes()


def test_truncated_header(tmp_path):
    path = tmp_path / "trunc_header.wav"
    path.write_bytes(_pcm_wav_bytes(tmp_path)[:20])
    for func in (load_audio, audio_info):
        with pytest.raises(AudioError, match="trunc_header.wav"):
            func(path)


def test_truncated_data(tmp_path):
    path = tmp_path / "trunc_data.wav"
    full = _pcm_wav_bytes(tmp_path)
    path.write_bytes(full[: len(full) // 2])
    for func in (load_audio, audio_info):
        with pytest.raises(AudioError, match="trunc_data.wav.*truncated"):
            func(path)


@needs_data("rir")
def test_truncated_flac(tmp_path):
    source = next((DATA / "speech" / "test-other").rglob("*.flac"))
    path = tmp_path / "trunc.flac"
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="trunc.flac"):
        load_audio(path)


def test_nan_and_inf_samples(tmp_path):
    for bad in (np.nan, np.inf):
        path = tmp_path / f"bad_{bad}.wav"
        sf.write(path, np.array([0.1, bad, 0.2], "float32"), 16000, "FLOAT")
        with pytest.raises(AudioError, match=f"bad_{bad}.wav.*NaN"):
            load_audio(path)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, dtype="float32"), 16000, "PCM_16")
    assert path.stat().st_size > 0
    for func in (load_audio, audio_info):
        with pytest.raises(AudioError, match="zero.wav.*no samples"):
            func(path)


def test_folder_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="not a regular file"):
        load_audio(tmp_path)


def test_silent_audio_returned_as_is(tmp_path):
    path = tmp_path / "silence.wav"
    write_audio(path, torch.zeros(100))
    assert torch.equal(load_audio(path), torch.zeros(100))


def test_extensions():
    assert {".wav", ".flac", ".ogg"} <= set(AUDIO_EXTENSIONS)
    assert all(e == e.lower() and e.startswith(".") for e in AUDIO_EXTENSIONS)
    assert is_audio_file("X.WAV") and not is_audio_file("x.txt")


def test_ogg_is_read(tmp_path):
    path = tmp_path / "x.ogg"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(8000), 8000)
    wav = load_audio(path, sample_rate=16000)
    assert wav.shape[0] == 16000


def test_float_wav_bytes_are_reproducible(tmp_path):
    wav = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    write_audio(tmp_path / "a.wav", wav)
    write_audio(tmp_path / "b.wav", wav)
    data = (tmp_path / "a.wav").read_bytes()
    assert data == (tmp_path / "b.wav").read_bytes()
    assert b"PEAK" not in data  # libsndfile's timestamped chunk
    read, rate = sf.read(tmp_path / "a.wav", dtype="float32")
    assert rate == 16000 and np.array_equal(read, wav.numpy())
