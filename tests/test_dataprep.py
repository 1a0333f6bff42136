"""Tests of seed_brain.dataio.manifests on real shared files and generated
audio."""

import collections
import json
import logging
import os
from pathlib import Path

import pytest
import torch
from shared_data import DATA, needs_data

from seed_brain.dataio.audio import audio_info, load_audio, write_audio
from seed_brain.dataio.conditions import (
    DEFAULT_CONDITIONS,
    _rng_for,
    corrupt_utterance,
    mix_at_snr,
    prepare_test_conditions,
    reverberate,
)
from seed_brain.dataio.manifests import (
    list_audio_files,
    prepare_augment_csv,
    prepare_clean_manifest,
)
from seed_brain.dataio.trials import prepare_trials, read_trials


def _mtimes(folder):
    return {
        str(p): p.stat().st_mtime_ns
        for p in Path(folder).rglob("*")
        if p.is_file()
    }


def _snr_db(speech, noise):
    speech, noise = speech.double(), noise.double()
    return 10 * torch.log10(speech.pow(2).mean() / noise.pow(2).mean()).item()


def _make_speakers(root, speakers=3, utts=3, length=1600):
    """``root/spk<i>/[sub/]utt<j>.wav``, random signals."""
    gen = torch.Generator().manual_seed(0)
    for s in range(speakers):
        for u in range(utts):
            sub = "sub/" if u % 2 else ""
            write_audio(
                Path(root, f"spk{s}", f"{sub}utt{u}.wav"),
                0.1 * torch.randn(length, generator=gen),
            )


# ---------------------------------------------------------------------------
# list_audio_files / prepare_clean_manifest
# ---------------------------------------------------------------------------


def test_list_audio_files_filters(tmp_path):
    for name in ["a/x.wav", "a/b/y.FLAC", "z.ogg", "n.txt", ".hidden.wav"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    rel = [os.path.relpath(p, tmp_path) for p in list_audio_files(tmp_path)]
    assert rel == ["a/b/y.FLAC", "a/x.wav", "z.ogg"]
    rel = [
        os.path.relpath(p, tmp_path)
        for p in list_audio_files(tmp_path, include=["a/*"], exclude=["y.*"])
    ]
    assert rel == ["a/x.wav"]
    with pytest.raises(FileNotFoundError, match="missing"):
        list_audio_files(tmp_path / "missing")


def test_manifest_nested_layout(tmp_path, caplog):
    root = tmp_path / "clean"
    write_audio(root / "x" / "y" / "deep.wav", torch.zeros(32000))
    write_audio(root / "top.wav", torch.zeros(8000), sample_rate=8000)
    write_audio(root / "x" / "short.wav", torch.zeros(1600))
    csv_path = tmp_path / "out" / "train.csv"
    with caplog.at_level(logging.INFO, logger="seed_brain.dataio.manifests"):
        rows = prepare_clean_manifest(root, csv_path, min_duration=0.5)
    assert [r["ID"] for r in rows] == ["top", "x_y_deep"]
    assert [float(r["duration"]) for r in rows] == [1.0, 2.0]
    assert rows[0]["wav"] == str((root / "top.wav").resolve())
    assert "Skipped 1 file" in caplog.text
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "ID,duration,wav"
    assert len(lines) == 3

    # Readable by SpeechBrain.
    from speechbrain.dataio.dataio import load_data_csv

    data = load_data_csv(str(csv_path))
    assert data["x_y_deep"]["duration"] == 2.0

    # Second identical call: nothing written, said in the log.
    before = csv_path.stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seed_brain.dataio.manifests"):
        again = prepare_clean_manifest(root, csv_path, min_duration=0.5)
    assert again == rows
    assert csv_path.stat().st_mtime_ns == before
    assert "nothing written" in caplog.text

    # Different options rewrite the file.
    prepare_clean_manifest(root, csv_path, min_duration=0.0)
    assert len(csv_path.read_text().splitlines()) == 4


def test_manifest_several_folders_prefix_ids(tmp_path):
    for folder in ("a", "b"):
        write_audio(tmp_path / folder / "utt.wav", torch.zeros(160))
    rows = prepare_clean_manifest(
        [tmp_path / "a", tmp_path / "b"], tmp_path / "m.csv"
    )
    assert [r["ID"] for r in rows] == ["0_utt", "1_utt"]


def test_manifest_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no audio")
    with pytest.raises(ValueError, match="No audio files.*empty"):
        prepare_clean_manifest(tmp_path / "empty", tmp_path / "m.csv")
    with pytest.raises(FileNotFoundError, match="missing"):
        prepare_clean_manifest(tmp_path / "missing", tmp_path / "m.csv")
    write_audio(tmp_path / "short" / "a.wav", torch.zeros(16))
    with pytest.raises(ValueError, match="min_duration"):
        prepare_clean_manifest(
            tmp_path / "short", tmp_path / "m.csv", min_duration=1.0
        )
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="broken.wav"):
        prepare_clean_manifest(tmp_path / "bad", tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


@needs_data("speech")
def test_manifest_train_clean_100(tmp_path):
    folder = DATA / "speech" / "train-clean-100"
    rows = prepare_clean_manifest(folder, tmp_path / "train.csv")
    assert len(rows) == 150
    assert len({r["ID"] for r in rows}) == 150
    first = rows[0]
    rate, frames, _ = audio_info(first["wav"])
    assert float(first["duration"]) == pytest.approx(frames / rate, abs=1e-4)
    assert all(float(r["duration"]) > 1.0 for r in rows)


# ---------------------------------------------------------------------------
# prepare_augment_csv + SpeechBrain AddNoise / AddReverb
# ---------------------------------------------------------------------------


@needs_data("speech")
def test_augment_csv_subsets_and_conversion(tmp_path, caplog):
    noise = DATA / "noise"
    train = prepare_augment_csv(
        noise,
        tmp_path / "noise_train.csv",
        tmp_path / "noise",
        include=["noise[1-5].wav"],
    )
    assert [r["ID"] for r in train] == [f"noise{i}" for i in range(1, 6)]
    test = prepare_augment_csv(
        noise,
        tmp_path / "noise_test.csv",
        tmp_path / "noise",
        exclude=["noise[1-5].wav"],
    )
    assert [r["ID"] for r in test] == ["doing_the_dishes", "exercise_bike"]
    listed = prepare_augment_csv(
        noise,
        tmp_path / "noise_two.csv",
        tmp_path / "noise",
        files=["noise2.wav", str(noise / "noise3.wav")],
    )
    assert [r["ID"] for r in listed] == ["noise2", "noise3"]

    rir = prepare_augment_csv(
        DATA / "rir", tmp_path / "rir.csv", tmp_path / "r"
    )
    assert len(rir) == 7
    for row in rir:
        rate, frames, channels = audio_info(row["wav"])
        assert (rate, channels) == (16000, 1)
        assert float(row["duration"]) == pytest.approx(frames / 16000, 1e-4)
        assert row["wav_format"] == "wav" and row["wav_opts"] == ""
    header = (tmp_path / "rir.csv").read_text().splitlines()[0]
    assert header == "ID,duration,wav,wav_format,wav_opts"

    # Idempotent: nothing rewritten.
    before = _mtimes(tmp_path)
    with caplog.at_level(logging.INFO, logger="seed_brain.dataio.manifests"):
        prepare_augment_csv(DATA / "rir", tmp_path / "rir.csv", tmp_path / "r")
    assert _mtimes(tmp_path) == before
    assert "nothing written" in caplog.text

    with pytest.raises(ValueError, match="No audio files"):
        prepare_augment_csv(
            noise, tmp_path / "x.csv", tmp_path / "x", include=["nothing*"]
        )
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        prepare_augment_csv(
            noise, tmp_path / "x.csv", tmp_path / "x", files=["nope.wav"]
        )


@needs_data("speech")
def test_augment_csv_consumed_by_speechbrain(tmp_path):
    from speechbrain.augment.time_domain import AddNoise, AddReverb
    from speechbrain.dataio.legacy import ExtendedCSVDataset

    noise_csv = tmp_path / "noise.csv"
    rir_csv = tmp_path / "rir.csv"
    prepare_augment_csv(
        DATA / "noise", noise_csv, tmp_path / "noise", include=["noise[2-4]*"]
    )
    prepare_augment_csv(
        DATA / "rir",
        rir_csv,
        tmp_path / "rir",
        include=["rir48000.wav", "stereo_*"],
    )
    dataset = ExtendedCSVDataset(str(rir_csv))
    assert len(dataset) == 2
    assert dataset[0]["wav"].dim() == 1  # mono after conversion

    speech = load_audio(next((DATA / "speech" / "test-other").rglob("*.flac")))[
        :48000
    ]
    clean = torch.stack([speech, speech.flip(0)])
    torch.manual_seed(0)
    add_noise = AddNoise(
        csv_file=str(noise_csv),
        snr_low=0,
        snr_high=0,
        pad_noise=True,
        noise_sample_rate=16000,
        clean_sample_rate=16000,
    )
    for _ in range(3):  # cycles through the CSV
        noisy = add_noise(clean, torch.ones(2))
        assert noisy.shape == clean.shape
        assert torch.isfinite(noisy).all()
        assert not torch.allclose(noisy, clean)

    add_reverb = AddReverb(
        csv_file=str(rir_csv),
        reverb_sample_rate=16000,
        clean_sample_rate=16000,
    )
    for _ in range(2):
        reverbed = add_reverb(clean)
        assert reverbed.shape == clean.shape
        assert torch.isfinite(reverbed).all()
        assert not torch.allclose(reverbed, clean)


# ---------------------------------------------------------------------------
# Trials
# ---------------------------------------------------------------------------


def test_trials_all_pairs_counts(tmp_path):
    _make_speakers(tmp_path / "test", 3, 3)
    trials = prepare_trials(tmp_path / "test", tmp_path / "trials.txt")
    labels = collections.Counter(t[0] for t in trials)
    assert labels == {1: 3 * 3 * 2, 0: 9 * 6}
    for label, enrol, test in trials:
        assert enrol != test
        assert label == (enrol.split("/")[0] == test.split("/")[0])
        assert (tmp_path / "test" / enrol).is_file()
    assert len(set((e, t) for _, e, t in trials)) == len(trials)
    assert (
        "1 spk0/sub/utt1.wav spk0/utt0.wav"
        in (tmp_path / "trials.txt").read_text().splitlines()
    )
    assert read_trials(tmp_path / "trials.txt", root=tmp_path / "test") == (
        trials
    )


def test_trials_caps_balanced_and_seeded(tmp_path, caplog):
    _make_speakers(tmp_path / "test", 3, 3)
    path = tmp_path / "trials.txt"
    trials = prepare_trials(
        tmp_path / "test", path, max_target=7, max_nontarget=12, seed=1
    )
    target = [t for t in trials if t[0] == 1]
    nontarget = [t for t in trials if t[0] == 0]
    assert len(target) == 7 and len(nontarget) == 12
    per_spk = collections.Counter(e.split("/")[0] for _, e, _ in target)
    assert sorted(per_spk.values()) == [2, 2, 3]
    pairs = collections.Counter(
        (e.split("/")[0], t.split("/")[0]) for _, e, t in nontarget
    )
    assert len(pairs) == 6 and set(pairs.values()) == {2}
    assert len(set(trials)) == len(trials)

    # Same seed: same list (and nothing rewritten); other seed: other list.
    before = path.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="seed_brain.dataio.trials"):
        same = prepare_trials(
            tmp_path / "test", path, max_target=7, max_nontarget=12, seed=1
        )
    assert same == trials and path.stat().st_mtime_ns == before
    assert "nothing written" in caplog.text
    other = prepare_trials(
        tmp_path / "test",
        tmp_path / "t2.txt",
        max_target=7,
        max_nontarget=12,
        seed=2,
    )
    assert other != trials

    # Caps larger than the pool keep every pair.
    full = prepare_trials(
        tmp_path / "test", tmp_path / "t3.txt", max_target=1000
    )
    assert sum(t[0] for t in full) == 18


def test_trials_uneven_speakers_cap(tmp_path):
    _make_speakers(tmp_path / "test", 2, 4)
    _make_speakers(tmp_path / "small", 1, 2)
    os.rename(tmp_path / "small" / "spk0", tmp_path / "test" / "tiny")
    trials = prepare_trials(
        tmp_path / "test", tmp_path / "t.txt", max_target=10
    )
    per_spk = collections.Counter(
        e.split("/")[0] for lab, e, _ in trials if lab
    )
    # tiny has only 2 target pairs; the other two share the remaining 8.
    assert per_spk == {"tiny": 2, "spk0": 4, "spk1": 4}


def test_trials_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        prepare_trials(tmp_path / "missing", tmp_path / "t.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="speaker"):
        prepare_trials(tmp_path / "empty", tmp_path / "t.txt")
    write_audio(tmp_path / "loose" / "a.wav", torch.zeros(16))
    with pytest.raises(ValueError, match="outside speaker folders"):
        prepare_trials(tmp_path / "loose", tmp_path / "t.txt")


@needs_data("speech")
def test_trials_test_other(tmp_path):
    folder = DATA / "speech" / "test-other"
    trials = prepare_trials(folder, tmp_path / "trials.txt")
    labels = collections.Counter(t[0] for t in trials)
    assert labels == {1: 10 * 10 * 9, 0: 100 * 90}
    capped = prepare_trials(
        folder, tmp_path / "capped.txt", max_target=200, max_nontarget=900
    )
    assert collections.Counter(t[0] for t in capped) == {1: 200, 0: 900}
    assert read_trials(tmp_path / "capped.txt", root=folder) == capped


def test_read_trials_errors(tmp_path):
    root = tmp_path / "data"
    for name in ("a/1.wav", "a/2.wav", "b/1.wav"):
        write_audio(root / name, torch.zeros(16))
    path = tmp_path / "trials.txt"

    def check(text, error, pattern, with_root=None):
        path.write_text(text)
        with pytest.raises(error, match=pattern):
            read_trials(path, root=with_root)

    good = "1 a/1.wav a/2.wav\n0 a/1.wav b/1.wav\n"
    path.write_text(good + "\n")
    assert read_trials(path, root=root) == [
        (1, "a/1.wav", "a/2.wav"),
        (0, "a/1.wav", "b/1.wav"),
    ]
    check(good + "1 a/2.wav\n", ValueError, r"trials.txt, line 3: expected")
    check(good + "2 a/2.wav b/1.wav\n", ValueError, r"line 3: expected")
    check(good + "1 a/2.wav b/1.wav extra\n", ValueError, r"line 3: expected")
    check(good + "0 a/1.wav b/1.wav\n", ValueError, r"line 3: duplicate.*2")
    check(good + "1 a/2.wav a/2.wav\n", ValueError, "itself")
    check(
        good + "0 b/1.wav b/9.wav\n",
        FileNotFoundError,
        r"trials.txt, line 3.*b/9.wav",
        with_root=root,
    )
    check("", ValueError, "no trial")
    # Missing files are only checked when a root is given.
    path.write_text(good + "0 b/1.wav b/9.wav\n")
    assert len(read_trials(path)) == 3
    # Absolute paths are accepted.
    path.write_text(f"1 {root / 'a/1.wav'} {root / 'a/2.wav'}\n")
    assert read_trials(path, root=root)[0][0] == 1
    with pytest.raises(FileNotFoundError, match="nope"):
        read_trials(tmp_path / "nope.txt")


# ---------------------------------------------------------------------------
# Signal helpers
# ---------------------------------------------------------------------------


def test_mix_at_snr_exact_and_batched():
    gen = torch.Generator().manual_seed(0)
    speech = torch.randn(3, 8000, generator=gen)
    noise = torch.rand(3, 2000, generator=gen)  # shorter: looped
    snr = torch.tensor([-5.0, 0.0, 20.0])
    noisy = mix_at_snr(speech, noise, snr)
    assert noisy.shape == speech.shape and noisy.dtype == torch.float32
    for i in range(3):
        added = noisy[i].double() - speech[i].double()
        assert _snr_db(speech[i], added) == pytest.approx(
            snr[i].item(), abs=1e-3
        )
        # The added noise is the looped noise, scaled.
        ratio = added[2000:4000] / noise[i].double()
        assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-3)
    with pytest.raises(ValueError, match="silent"):
        mix_at_snr(torch.zeros(10), torch.ones(10), 0.0)
    with pytest.raises(ValueError, match="silent"):
        mix_at_snr(torch.ones(10), torch.zeros(10), 0.0)


def test_reverberate_alignment_length_level():
    gen = torch.Generator().manual_seed(0)
    speech = torch.randn(4000, generator=gen)
    # Direct path at 20, one echo at 120: output = s + 0.5 * s delayed 100.
    rir = torch.zeros(300)
    rir[20], rir[120] = 1.0, 0.5
    out = reverberate(speech, rir)
    expected = speech.clone().double()
    expected[100:] += 0.5 * speech[:-100].double()
    expected *= (
        speech.double().pow(2).mean().sqrt() / expected.pow(2).mean().sqrt()
    )
    assert out.shape == speech.shape
    assert torch.allclose(out.double(), expected, atol=1e-5)
    # RMS preserved, batch supported.
    batch = reverberate(torch.stack([speech, 2 * speech]), torch.rand(500))
    assert batch.shape == (2, 4000)
    rms = batch.pow(2).mean(-1).sqrt()
    assert rms[1] / rms[0] == pytest.approx(2.0, rel=1e-4)
    assert rms[0] == pytest.approx(speech.pow(2).mean().sqrt().item(), 1e-4)
    with pytest.raises(ValueError, match="zeros"):
        reverberate(speech, torch.zeros(10))


# ---------------------------------------------------------------------------
# Test conditions
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_trials(tmp_path_factory):
    """Six trials over real test-other files (2 speakers, 4 test files)."""
    if not (DATA / "speech").is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    root = DATA / "speech" / "test-other"
    spk = sorted(p.name for p in root.iterdir() if p.is_dir())[:2]
    utt = {
        s: sorted(os.path.relpath(p, root) for p in (root / s).glob("*.flac"))
        for s in spk
    }
    a, b = spk
    trials = [
        (1, utt[a][0], utt[a][1]),
        (1, utt[a][1], utt[a][0]),
        (0, utt[a][0], utt[b][0]),
        (1, utt[b][1], utt[b][0]),
        (0, utt[b][0], utt[a][2]),
        (0, utt[b][2], utt[a][1]),
    ]
    path = tmp_path_factory.mktemp("trials") / "trials.txt"
    path.write_text("".join(f"{lab} {e} {t}\n" for lab, e, t in trials))
    return root, trials, path


def _run_conditions(root, trials, out, seed=1234, conditions=None):
    return prepare_test_conditions(
        root,
        trials,
        out,
        conditions=conditions,
        noise_files=DATA / "noise",
        rir_files=[DATA / "rir" / n for n in ("rir1.wav", "rir48000.wav")],
        seed=seed,
    )


@needs_data("speech")
def test_conditions_outputs_snr_length(tmp_path, small_trials):
    root, trials, trials_path = small_trials
    out = _run_conditions(root, trials_path, tmp_path / "c")
    assert set(out) == {c["name"] for c in DEFAULT_CONDITIONS}
    test_files = sorted({t for _, _, t in trials})

    clean = out["clean"]
    assert clean["test_root"] == str(root) and clean["trials"] == trials
    assert read_trials(clean["trials_path"], root="/") == [
        (lab, str(root / e), str(root / t)) for lab, e, t in trials
    ]
    for name, cond in out.items():
        assert read_trials(cond["trials_path"], root="/")
        assert cond["enrol_root"] == str(root)
        assert [t[:2] for t in cond["trials"]] == [t[:2] for t in trials]
    conditions = {c["name"]: c for c in DEFAULT_CONDITIONS}
    for name in ("noise_10dB", "noise_5dB", "noise_0dB"):
        for rel in test_files:
            speech = load_audio(root / rel)
            noisy = load_audio(
                Path(out[name]["test_root"], rel).with_suffix(".wav")
            )
            assert noisy.shape == speech.shape
            assert _snr_db(speech, noisy - speech) == pytest.approx(
                conditions[name]["snr"], abs=0.1
            )
    rirs = [load_audio(DATA / "rir" / n) for n in ("rir1.wav", "rir48000.wav")]
    for rel in test_files:
        speech = load_audio(root / rel)
        reverbed = load_audio(
            Path(out["reverb"]["test_root"], rel).with_suffix(".wav")
        )
        assert reverbed.shape == speech.shape
        assert not torch.allclose(reverbed, speech, atol=1e-3)
        # Reverb + noise: SNR relative to the reverberant speech.
        both = load_audio(
            Path(out["reverb_noise_5dB"]["test_root"], rel).with_suffix(".wav")
        )
        reverberant = corrupt_utterance(
            speech,
            {"name": "r", "snr": None, "reverb": True},
            _rng_for(1234, "reverb_noise_5dB", rel),
            rirs=rirs,
        )
        assert both.shape == speech.shape
        assert _snr_db(reverberant, both - reverberant) == pytest.approx(
            5.0, abs=0.1
        )
    info = json.loads((tmp_path / "c" / "conditions.json").read_text())
    assert info["seed"] == 1234
    cond = info["conditions"]["reverb_noise_5dB"]
    assert len(cond["noise_files"]) == 7 and len(cond["rir_files"]) == 2
    assert cond["complete"] is True and cond["num_files"] == len(test_files)
    assert info["conditions"]["noise_5dB"]["rir_files"] == []


@needs_data("speech")
def test_conditions_deterministic_and_idempotent(
    tmp_path, small_trials, caplog
):
    root, trials, _ = small_trials
    conditions = [
        {"name": "noise_0dB", "snr": 0.0, "reverb": False},
        {"name": "reverb_noise_5dB", "snr": 5.0, "reverb": True},
    ]
    _run_conditions(root, trials, tmp_path / "one", conditions=conditions)
    _run_conditions(root, trials, tmp_path / "two", conditions=conditions)
    one = {
        p.relative_to(tmp_path / "one"): p.read_bytes()
        for p in (tmp_path / "one").rglob("*.wav")
    }
    two = {
        p.relative_to(tmp_path / "two"): p.read_bytes()
        for p in (tmp_path / "two").rglob("*.wav")
    }
    assert len(one) == 2 * 4 and one == two

    # Second identical call: nothing written, said in the log.
    before = _mtimes(tmp_path / "one")
    with caplog.at_level(logging.INFO, logger="seed_brain.dataio.conditions"):
        _run_conditions(root, trials, tmp_path / "one", conditions=conditions)
    assert _mtimes(tmp_path / "one") == before
    assert "nothing written" in caplog.text

    # A deleted file is regenerated identically; the others are kept.
    victim = sorted((tmp_path / "one" / "noise_0dB").rglob("*.wav"))[0]
    victim.unlink()
    _run_conditions(root, trials, tmp_path / "one", conditions=conditions)
    assert victim.read_bytes() == one[victim.relative_to(tmp_path / "one")]
    after = _mtimes(tmp_path / "one")
    changed = {p for p in after if after[p] != before.get(p)}
    # conditions.json is marked incomplete, then complete, around a write.
    changed.discard(str(tmp_path / "one" / "conditions.json"))
    assert changed == {str(victim)}

    # Another seed: the recorded settings differ, so files are regenerated.
    _run_conditions(
        root, trials, tmp_path / "one", seed=99, conditions=conditions
    )
    assert victim.read_bytes() != one[victim.relative_to(tmp_path / "one")]
    info = json.loads((tmp_path / "one" / "conditions.json").read_text())
    assert info["conditions"]["noise_0dB"]["seed"] == 99


def test_conditions_synthetic_and_errors(tmp_path):
    _make_speakers(tmp_path / "test", 2, 2, length=3000)
    write_audio(tmp_path / "noise" / "n.wav", torch.randn(500))
    trials = prepare_trials(tmp_path / "test", tmp_path / "trials.txt")
    out = prepare_test_conditions(
        tmp_path / "test",
        tmp_path / "trials.txt",
        tmp_path / "out",
        conditions=[{"name": "n3", "snr": 3.0, "reverb": False}],
        noise_files=tmp_path / "noise",
    )
    assert len(out["n3"]["trials"]) == len(trials)
    for _, _, test in out["n3"]["trials"]:
        assert test.endswith(".wav")
        noisy = load_audio(Path(out["n3"]["test_root"], test))
        speech = load_audio(tmp_path / "test" / test)
        assert _snr_db(speech, noisy - speech) == pytest.approx(3.0, abs=1e-3)
    for match, conditions in [
        ("noise_files", [{"name": "n", "snr": 0.0, "reverb": False}]),
        ("rir_files", [{"name": "r", "snr": None, "reverb": True}]),
        ("twice", [{"name": "clean"}, {"name": "clean"}]),
    ]:
        with pytest.raises(ValueError, match=match):
            prepare_test_conditions(
                tmp_path / "test",
                trials,
                tmp_path / "out",
                conditions=conditions,
            )
    write_audio(tmp_path / "silent" / "s.wav", torch.zeros(100))
    with pytest.raises(ValueError, match="s.wav.*silent"):
        prepare_test_conditions(
            tmp_path / "test",
            trials,
            tmp_path / "out2",
            conditions=[{"name": "n", "snr": 0.0, "reverb": False}],
            noise_files=tmp_path / "silent",
        )
