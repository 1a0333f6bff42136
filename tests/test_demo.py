"""Tests of seed_brain.dataio.demo, the offline demo data generator.

They need eSpeak NG from the ``espeakng-loader`` wheel and fail (they do not
skip) when it is missing, with the command that installs it.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seed_brain.dataio import demo

TINY = dict(
    n_train_utts=4,
    n_train_speakers=2,
    n_test_speakers=2,
    n_test_utts=2,
    n_noise=len(demo.TRAIN_NOISE_FAMILIES),
    n_test_noise=len(demo.TEST_NOISE_FAMILIES),
    n_rir=2,
    n_test_rir=2,
    noise_seconds=1.0,
)
SECTIONS = ("clean", "test", "noise", "test_noise", "rir", "test_rir")


@pytest.fixture(autouse=True)
def _espeak_installed():
    try:
        demo.require_espeak()
    except ImportError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    try:
        demo.require_espeak()
    except ImportError as err:
        pytest.fail(str(err), pytrace=False)
    root = tmp_path_factory.mktemp("demo") / "data"
    paths = demo.make_demo_data(root, seed=0, **TINY)
    manifest = json.loads(Path(paths["manifest"]).read_text())
    return paths, manifest


def _digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).digest()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


def test_layout(tiny):
    paths, manifest = tiny
    root = Path(paths["root"])
    assert paths["written"] is True
    for s in SECTIONS:
        assert Path(paths[s]) == root / s and (root / s).is_dir()
    expected = {
        "clean": TINY["n_train_utts"],
        "test": TINY["n_test_speakers"] * TINY["n_test_utts"],
        "noise": TINY["n_noise"],
        "test_noise": TINY["n_test_noise"],
        "rir": TINY["n_rir"],
        "test_rir": TINY["n_test_rir"],
    }
    for s, n in expected.items():
        on_disk = sorted(
            p.relative_to(root).as_posix() for p in (root / s).rglob("*.wav")
        )
        listed = sorted(e["file"] for e in manifest["files"][s])
        assert on_disk == listed and len(listed) == n, s
    # One folder per test speaker, named as in the manifest.
    speakers = sorted(p.name for p in (root / "test").iterdir())
    assert speakers == ["spk_00", "spk_01"]
    for e in manifest["files"]["test"]:
        assert Path(e["file"]).parent.name == e["speaker"]
    # No temporary files left behind.
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_audio_format(tiny):
    paths, manifest = tiny
    root = Path(paths["root"])
    for s in SECTIONS:
        for e in manifest["files"][s]:
            info = sf.info(root / e["file"])
            assert info.samplerate == 16000 and info.channels == 1, e
            wav, _ = sf.read(root / e["file"], dtype="float32")
            assert wav.ndim == 1 and np.isfinite(wav).all(), e
            assert np.abs(wav).max() <= 1.0
            rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2)))
            assert rms > 1e-3 if s != "test_rir" and s != "rir" else True
            if s in ("clean", "test"):
                assert info.subtype == "PCM_16"
                # 2 to 6 s of speech at -30 to -20 dBFS (+- peak limiting).
                assert 2.0 <= len(wav) / 16000 <= 6.0, e
                assert -40.0 < 20 * np.log10(rms) < -19.0, e
                # Not a constant or a click: most 50 ms frames carry energy.
                frames = wav[: len(wav) // 800 * 800].reshape(-1, 800)
                active = (frames**2).mean(axis=1) > (rms**2) * 1e-2
                assert active.mean() > 0.5, e
            elif s in ("noise", "test_noise"):
                assert len(wav) == 16000
                assert abs(20 * np.log10(rms) + 26.0) < 6.0, e
            else:
                assert info.subtype == "PCM_24"
                assert np.abs(wav).max() == pytest.approx(1.0)


def test_rooms_match_their_rt60(tiny):
    paths, manifest = tiny
    root = Path(paths["root"])
    for s, rooms in (
        ("rir", demo._TRAIN_ROOMS),
        ("test_rir", demo._TEST_ROOMS),
    ):
        for e in manifest["files"][s]:
            lo, hi = rooms["rt60"]
            assert lo <= e["rt60"] <= hi
            h, sr = sf.read(root / e["file"], dtype="float64")
            # Schroeder backward integration, T20 extrapolated to 60 dB.
            edc = np.cumsum(h[::-1] ** 2)[::-1]
            edc_db = 10 * np.log10(edc / edc[0] + 1e-30)
            t5 = np.argmax(edc_db < -5) / sr
            t25 = np.argmax(edc_db < -25) / sr
            t60 = 3 * (t25 - t5)
            assert 0.6 < t60 / e["rt60"] < 1.6, (e, t60)
            # Direct path first: nothing before it above -20 dB.
            peak = int(np.argmax(np.abs(h)))
            assert np.abs(h[: max(peak - 16, 0)]).max(initial=0) < 0.1


def test_train_and_test_are_distinct(tiny):
    paths, manifest = tiny
    train = manifest["speakers"]["train"]
    test = list(manifest["speakers"]["test"].values())
    assert len(train) == TINY["n_train_speakers"]
    assert len(test) == TINY["n_test_speakers"]
    # Every voice is unique, and no test voice is a training voice.
    keys = [json.dumps(v, sort_keys=True) for v in train + test]
    assert len(set(keys)) == len(keys)
    # Speakers differ audibly: vocal tract and pitch are not all the same.
    formants = {tuple(f[0] for f in v["formant"]) for v in train + test}
    assert len(formants) == len(keys)
    # Noise families: all of them present, disjoint between train and test.
    train_fam = {e["family"] for e in manifest["files"]["noise"]}
    test_fam = {e["family"] for e in manifest["files"]["test_noise"]}
    assert train_fam == set(demo.TRAIN_NOISE_FAMILIES)
    assert test_fam == set(demo.TEST_NOISE_FAMILIES)
    assert not train_fam & test_fam
    for e in manifest["files"]["noise"] + manifest["files"]["test_noise"]:
        assert Path(e["file"]).name.startswith(e["family"] + "_")
    # The test noises really are other signals than the training noises.
    root = Path(paths["root"])
    spectra = {}
    for s in ("noise", "test_noise"):
        for e in manifest["files"][s]:
            x, _ = sf.read(root / e["file"], dtype="float64")
            spectra[e["file"]] = np.abs(np.fft.rfft(x))
    digests = {hashlib.sha256(v.tobytes()).digest() for v in spectra.values()}
    assert len(digests) == len(spectra)


def test_deterministic(tiny, tmp_path):
    paths, _ = tiny
    same = demo.make_demo_data(tmp_path / "same", seed=0, **TINY)
    other = demo.make_demo_data(tmp_path / "other", seed=1, **TINY)
    reference = _digests(paths["root"])
    assert _digests(same["root"]) == reference
    changed = _digests(other["root"])
    assert changed.keys() == reference.keys()
    for name, digest in reference.items():
        if name.endswith(".wav"):
            assert changed[name] != digest, name


def test_test_set_independent_of_training_size(tiny, tmp_path):
    paths, _ = tiny
    bigger = demo.make_demo_data(
        tmp_path / "bigger", seed=0, **{**TINY, "n_train_utts": 6}
    )
    reference = _digests(paths["root"])
    again = _digests(bigger["root"])
    for name, digest in reference.items():
        if name.startswith(("test/", "test_noise/", "test_rir/")):
            assert again[name] == digest, name


def test_idempotent(tiny, monkeypatch):
    paths, _ = tiny
    root = Path(paths["root"])
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}

    def forbidden(*args, **kwargs):
        raise AssertionError("the second call must not write or synthesise")

    monkeypatch.setattr(demo, "_write_wav", forbidden)
    monkeypatch.setattr(demo, "write_json", forbidden)
    monkeypatch.setattr(demo, "ESpeak", forbidden)
    again = demo.make_demo_data(root, seed=0, **TINY)
    assert again["written"] is False
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    assert {
        k: v for k, v in again.items() if k not in ("written", "seconds")
    } == {k: v for k, v in paths.items() if k not in ("written", "seconds")}


def test_new_parameters_replace_old_files(tmp_path):
    small = dict(TINY, n_noise=0, n_test_noise=0, n_rir=0, n_test_rir=0)
    demo.make_demo_data(tmp_path, seed=0, **{**small, "n_train_utts": 3})
    paths = demo.make_demo_data(
        tmp_path, seed=0, **{**small, "n_train_utts": 1}
    )
    assert paths["written"] is True
    assert [p.name for p in Path(paths["clean"]).iterdir()] == ["utt_0000.wav"]
    manifest = json.loads(Path(paths["manifest"]).read_text())
    assert manifest["params"]["n_train_utts"] == 1


def test_interrupted_run_is_redone(tmp_path):
    small = dict(TINY, n_noise=0, n_test_noise=0, n_rir=0, n_test_rir=0)
    first = demo.make_demo_data(tmp_path, seed=0, **small)
    Path(first["manifest"]).unlink()  # as if killed before the end
    assert demo.make_demo_data(tmp_path, seed=0, **small)["written"] is True


def test_espeak_instances_are_reproducible():
    with demo.ESpeak() as a:
        first = a.synth("Seven apples near the river.", voice="en-us")
        second = a.synth("Seven apples near the river.", voice="en-us")
    with demo.ESpeak() as b:
        fresh = b.synth("Seven apples near the river.", voice="en-us")
    assert np.array_equal(first, fresh)
    assert len(first) > 0.5 * a.sample_rate
    assert np.isfinite(second).all()


def test_missing_espeak_explains_how_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "espeakng_loader", None)
    with pytest.raises(ImportError, match=r"pip install .espeakng-loader"):
        demo.require_espeak()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_test_utts"):
        demo.make_demo_data(tmp_path, n_test_utts=-1)
    with pytest.raises(ValueError, match="noise family"):
        demo.make_noise("rain", np.random.default_rng(0))


def test_command_line(tmp_path, capsys):
    args = [str(tmp_path), "--n-train-utts", "1", "--n-train-speakers", "1"]
    args += ["--n-test-speakers", "1", "--n-test-utts", "1", "--n-noise", "1"]
    args += ["--n-test-noise", "0", "--n-rir", "1", "--n-test-rir", "1"]
    args += ["--noise-seconds", "0.5"]
    assert demo.main(args) == 0
    out = capsys.readouterr().out
    assert "clean:    1 files" in out and "demo_data.json" in out
    assert demo.main(args) == 0
    assert "nothing written" in capsys.readouterr().out
