"""Bad input: each case works (resampled, mixed down, padded) or stops.

Every case runs the recipe's own preparation (:func:`prepare_seed_data`,
which validates everything before any embedding or training) on a small
synthetic corpus, or the part of the recipe that meets the input. A case
that cannot work stops with an error naming the file (or trial line) and
the fix; ``skip_bad_audio=True`` skips bad training, noise and RIR files
instead, and counts them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from speechbrain.utils.checkpoints import Checkpointer

from seed_brain.dataio.audio import AudioError, audio_info, load_audio
from seed_brain.dataio.checks import check_overrides, validate_inputs
from seed_brain.dataio.prepare import prepare_seed_data
from seed_brain.dataio.trials import read_trials
from seed_brain.lobes import RDMMLP
from seed_brain.model.brain import SEEDBrain
from seed_brain.model.diffusion import SEEDDiffusion
from seed_brain.views import ViewBuilder
from seed_brain.views.cache import ViewCache

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
CONDITIONS = [
    {"name": "clean", "snr": None, "reverb": False},
    {"name": "reverb_noise_5dB", "snr": 5.0, "reverb": True},
]


def _signal(seconds, rate=SR, seed=0, channels=1):
    rng = np.random.default_rng(seed)
    shape = (int(seconds * rate),) + ((channels,) if channels > 1 else ())
    return (0.1 * rng.standard_normal(shape)).astype(np.float32)


def _write(path, data, rate=SR):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, rate, subtype="FLOAT")
    return Path(path)


@pytest.fixture
def corpus(tmp_path):
    """Synthetic clean / test / noise / RIR folders (16 kHz mono)."""
    root = tmp_path
    for k in range(4):
        _write(root / "clean" / f"c{k}.wav", _signal(7, seed=k))
    for k, rel in enumerate(["s1/u1", "s1/u2", "s2/u1", "s2/u2"]):
        _write(root / "test" / f"{rel}.wav", _signal(2, seed=20 + k))
    _write(root / "noise" / "n1.wav", _signal(3, seed=9))
    rir = np.exp(-np.arange(3200) / 400.0).astype(np.float32)
    rir *= _signal(0.2, seed=10)
    rir[0] = 1.0
    _write(root / "rir" / "r1.wav", rir)
    return root


def _prepare(root, **kwargs):
    args = dict(
        data_folder=str(root / "data"),
        clean_folder=str(root / "clean"),
        test_folder=str(root / "test"),
        noise_folder=str(root / "noise"),
        rir_folder=str(root / "rir"),
        conditions=CONDITIONS,
        dev_utterances=1,
        dev_max_segments=2,
        seed=0,
    )
    args.update(kwargs)
    return prepare_seed_data(**args)


def _garbage(path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"this is not audio at all " * 40)
    return Path(path)


def _truncated_header(path):
    full = _write(Path(path).with_suffix(".full.wav"), _signal(1))
    Path(path).write_bytes(full.read_bytes()[:30])  # RIFF header cut
    full.unlink()
    return Path(path)


def _zero_length(path):
    return _write(path, np.zeros(0, dtype=np.float32))


def _nan(path):
    data = _signal(2)
    data[100] = np.nan
    return _write(path, data)


def _inf(path):
    data = _signal(2)
    data[5] = np.inf
    return _write(path, data)


def _empty(path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"")
    return Path(path)


def _silent(path):
    return _write(path, np.zeros(2 * SR, dtype=np.float32))


BAD = {
    "empty (0 bytes)": (_empty, "0 bytes"),
    "corrupt": (_garbage, "corrupt"),
    "truncated header": (_truncated_header, "truncated|corrupt"),
    "zero-length audio": (_zero_length, "no samples"),
    "all silent": (_silent, "all silent"),
    "NaN samples": (_nan, "NaN or infinite"),
    "inf samples": (_inf, "NaN or infinite"),
}


# ------------------------------------------------- bad clean-speech files


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_clean_file_stops_before_any_work(corpus, case):
    """The preparation names the file and both fixes; nothing is prepared."""
    make, message = BAD[case]
    bad = make(corpus / "clean" / "bad.wav")
    with pytest.raises(AudioError, match=message) as info:
        _prepare(corpus)
    assert str(bad) in str(info.value)
    assert "skip_bad_audio" in str(info.value)  # the fix
    assert not (corpus / "data" / "prepared.json").exists()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_clean_file_skipped_when_asked(corpus, case, caplog):
    """skip_bad_audio=True: skipped, logged, counted in prepared.json."""
    make, _ = BAD[case]
    bad = make(corpus / "clean" / "bad.wav")
    prepared = _prepare(corpus, skip_bad_audio=True)
    skipped = prepared["skipped"]
    assert skipped["bad_audio"] == 1 and skipped["too_short"] == 0
    assert skipped["bad_files"][0]["file"] == str(bad)
    assert str(bad) in caplog.text
    train = (corpus / "data" / "train.csv").read_text()
    assert "bad.wav" not in train
    on_disk = json.loads((corpus / "data" / "prepared.json").read_text())
    assert on_disk["skipped"] == skipped


def test_missing_file_named_in_manifest(corpus):
    """A manifest row whose file is gone: error with the CSV line."""
    prepared = _prepare(corpus)
    train_csv = corpus / "data" / "train.csv"
    victim = train_csv.read_text().splitlines()[2].split(",")[-1]
    os.remove(victim)
    with pytest.raises(FileNotFoundError) as info:
        validate_inputs(prepared)
    text = str(info.value)
    assert f"{train_csv}, line 3" in text and victim in text


def test_broken_symlink_in_clean_folder(corpus):
    """A dangling link is a missing file, named; skipped when asked."""
    (corpus / "clean" / "gone.flac").symlink_to(corpus / "nowhere.flac")
    with pytest.raises(FileNotFoundError, match="gone.flac"):
        _prepare(corpus)
    prepared = _prepare(corpus, skip_bad_audio=True)
    assert prepared["skipped"]["bad_audio"] == 1


# ------------------------------------------------- noise and RIR folders


@pytest.mark.parametrize("folder", ["noise", "rir"])
@pytest.mark.parametrize("case", ["corrupt", "all silent", "NaN samples"])
def test_bad_file_in_noise_or_rir_folder(corpus, folder, case):
    """Non-audio bytes named .wav, silence, NaN: error, or skipped."""
    (corpus / folder / "README.txt").write_text("not audio, ignored")
    make, message = BAD[case]
    bad = make(corpus / folder / "bad.wav")
    with pytest.raises(AudioError, match=message) as info:
        _prepare(corpus)
    assert str(bad) in str(info.value)
    prepared = _prepare(corpus, skip_bad_audio=True)
    assert prepared["skipped"]["bad_audio"] == 1
    assert prepared["skipped"]["bad_files"][0]["file"] == str(bad)
    for aug in (prepared["augment"]["noise"], prepared["augment"]["rir"]):
        assert len(aug["files"]) == 1  # README.txt and bad.wav left out


def test_non_audio_files_are_ignored(corpus):
    """Files without an audio extension (README, LICENSE) are not read."""
    for folder in ("clean", "noise", "rir"):
        (corpus / folder / "README.txt").write_text("text")
        (corpus / folder / "LICENSE").write_bytes(b"\x00\x01")
    prepared = _prepare(corpus)
    assert prepared["skipped"]["bad_audio"] == 0


# ------------------------------------------------------------- test side


@pytest.mark.parametrize("case", ["corrupt", "all silent", "NaN samples"])
def test_bad_test_file_is_never_skipped(corpus, case):
    """Test files change the benchmark: always an error, even when skipping."""
    make, message = BAD[case]
    message = message.replace("all silent", "silent")
    bad = make(corpus / "test" / "s2" / "u3.wav")
    for skip in (False, True):
        with pytest.raises((AudioError, ValueError), match=message) as info:
            _prepare(corpus, skip_bad_audio=skip)
        assert str(bad) in str(info.value) or "u3.wav" in str(info.value)


# ---------------------------------------------- rates, channels, lengths


def test_sample_rates_are_resampled(corpus):
    """8, 22.05, 44.1 and 48 kHz clean, noise and RIR files: resampled."""
    rates = [8000, 22050, 44100, 48000]
    for rate in rates:
        _write(corpus / "clean" / f"r{rate}.wav", _signal(7, rate), rate)
    _write(corpus / "noise" / "n44.wav", _signal(2, 44100), 44100)
    _write(corpus / "rir" / "r48.wav", _signal(0.1, 48000), 48000)
    prepared = _prepare(corpus)
    for rate in rates:
        wav = load_audio(corpus / "clean" / f"r{rate}.wav")
        assert wav.shape == (7 * SR,)
    for aug in ("noise", "rir"):
        for path in prepared["augment"][aug]["files"]:
            assert audio_info(path)[0] == SR  # converted to 16 kHz


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_is_mixed_down(corpus, channels):
    """Stereo and 5.1 files: the channels are averaged to mono."""
    data = _signal(7, channels=channels)
    path = _write(corpus / "clean" / f"multi{channels}.wav", data)
    _write(corpus / "noise" / f"multi{channels}.wav", data[: 2 * SR])
    prepared = _prepare(corpus)
    wav = load_audio(path)
    np.testing.assert_allclose(wav.numpy(), data.mean(axis=1), atol=1e-6)
    for path in prepared["augment"]["noise"]["files"]:
        assert audio_info(path)[2] == 1


class SliceEncoder(torch.nn.Module):
    """Toy encoder: the first ``dim`` samples (NaN for loud inputs)."""

    def __init__(self, dim=8, nan_above=None):
        super().__init__()
        self.dim, self.nan_above = dim, nan_above

    def forward(self, wavs, lens=None):
        out = wavs[:, : self.dim].clone() + 1.0
        if self.nan_above is not None:
            loud = wavs.abs().amax(dim=1) > self.nan_above
            out[loud] = float("nan")
        return out


def _brain(encoder=None, dim=8, **hparams):
    return SEEDBrain(
        modules={
            "encoder": encoder or SliceEncoder(dim),
            "denoiser": RDMMLP(dim),
        },
        hparams={
            "diffusion": SEEDDiffusion(),
            "view_builder": ViewBuilder(["clean", "clean"], {}),
            **hparams,
        },
    )


def test_audio_shorter_than_the_crop_is_repeated(corpus):
    """Files between min_duration and the crop: tiled to fill the crop;
    files under min_duration: skipped and counted."""
    _write(corpus / "clean" / "short.wav", _signal(1.5, seed=3))
    _write(corpus / "clean" / "tiny.wav", _signal(0.5, seed=4))
    prepared = _prepare(corpus, min_duration=1.0)
    assert prepared["skipped"]["too_short"] == 1
    train = (corpus / "data" / "train.csv").read_text()
    assert "short.wav" in train and "tiny.wav" not in train
    crop = 32240  # 2.015 s
    cache = ViewCache(str(corpus / "cache")).build(
        _brain(),
        rows=[("short", str(corpus / "clean" / "short.wav"))],
        crops_per_utt=2,
        crop_samples=crop,
        seed=0,
    )
    rows = np.array(cache.array())
    assert rows.shape == (2, 2, 8) and np.isfinite(rows).all()


# ----------------------------------------------- non-finite embeddings


def test_non_finite_embedding_names_the_file(tmp_path):
    """embed_files and the cache name the audio whose embedding is NaN."""
    quiet = _write(tmp_path / "quiet.wav", _signal(1))
    loud = _write(tmp_path / "loud.wav", 10 * _signal(1))
    brain = _brain(SliceEncoder(nan_above=2.0))
    items = {"q": str(quiet), "l": str(loud)}
    with pytest.raises(FloatingPointError) as info:
        brain.embed_files(items, cache_path=str(tmp_path / "emb.pt"))
    assert str(loud) in str(info.value) and str(quiet) not in str(info.value)
    assert not (tmp_path / "emb.pt").exists()  # nothing NaN is stored
    with pytest.raises(FloatingPointError, match="loud.wav"):
        ViewCache(str(tmp_path / "cache")).build(
            brain, [("l", str(loud))], 1, 8000, seed=0
        )


def test_diverged_denoiser_never_reaches_a_score():
    """Non-finite SEED output: error naming the utterances."""
    brain = _brain()
    for param in brain.eval_denoiser.parameters():
        param.data.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"\['a', 'b'\]"):
        brain.enhance(torch.ones(2, 8), ["a", "b"])


# ----------------------------------------------------------- trial lists


def _trial_file(tmp_path, text):
    path = tmp_path / "trials.txt"
    path.write_text(text)
    return path


def test_malformed_trial_line(tmp_path):
    """Wrong field count or label: error naming file and line."""
    for bad in ("1 a.wav\n", "2 a.wav b.wav\n", "yes a.wav b.wav\n"):
        path = _trial_file(tmp_path, "1 a.wav c.wav\n" + bad)
        with pytest.raises(ValueError, match=f"{path}, line 2"):
            read_trials(path)


@pytest.mark.parametrize(
    "line, message",
    [
        ("1 s1/u1.wav\n", "line 2: expected 'label enrol test'"),
        ("2 s1/u1.wav s2/u1.wav\n", "line 2: expected 'label enrol test'"),
        ("0 s1/u1.wav s9/nobody.wav\n", "line 2: audio file 's9/nobody.wav'"),
        ("1 s1/u1.wav s1/u2.wav\n", "line 2: duplicate trial"),
    ],
)
def test_given_trial_list_checked_before_any_work(corpus, line, message):
    """test_trials: a bad line stops the preparation before it reads audio."""
    trials = corpus / "vox1_o.txt"
    trials.write_text("1 s1/u1.wav s1/u2.wav\n" + line)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as info:
        _prepare(corpus, test_trials=str(trials))
    assert str(trials) in str(info.value)
    assert not (corpus / "data" / "audio_check.json").exists()  # no decoding


def test_trial_naming_missing_or_unknown_utterance(corpus):
    """A trial whose file is missing, or whose id is unknown: named."""
    prepared = _prepare(corpus)
    path = corpus / "data" / "trials.txt"
    first = path.read_text().splitlines()[0].split()
    _trial_file(corpus, f"1 {first[1]} s1/nobody.wav\n")
    with pytest.raises(FileNotFoundError, match="line 1.*nobody.wav"):
        read_trials(corpus / "trials.txt", root=corpus / "test")
    broken = json.loads(json.dumps(prepared))
    broken["dev"]["trials"].append([1, "dev_clean/nobody", "dev_noisy/x"])
    line = len(broken["dev"]["trials"])
    with pytest.raises(ValueError, match=f"line {line}: unknown utterance"):
        validate_inputs(broken)
    broken = json.loads(json.dumps(prepared))
    broken["conditions"]["clean"]["trials"][0][2] = "s1/nobody.wav"
    with pytest.raises(FileNotFoundError, match="trials_clean.txt, line 1"):
        validate_inputs(broken)


def test_duplicate_trials(corpus, tmp_path):
    """The same pair twice: error naming both lines."""
    path = _trial_file(
        tmp_path, "1 a.wav b.wav\n0 a.wav c.wav\n1 a.wav b.wav\n"
    )
    with pytest.raises(ValueError, match="line 3: duplicate.*line 1"):
        read_trials(path)
    prepared = _prepare(corpus)
    trials = prepared["conditions"]["reverb_noise_5dB"]["trials"]
    trials.append(list(trials[1]))
    with pytest.raises(ValueError, match=f"line {len(trials)}: duplicate"):
        validate_inputs(prepared)


# ----------------------------------------------------------- checkpoints


def test_checkpoint_of_another_embedding_size(tmp_path):
    """A 256-d denoiser's checkpoint loaded by a 512-d model: clear error."""
    folder = tmp_path / "save"

    def brain(dim):
        denoiser = RDMMLP(dim)
        return SEEDBrain(
            modules={"encoder": SliceEncoder(dim), "denoiser": denoiser},
            hparams={"diffusion": SEEDDiffusion()},
            checkpointer=Checkpointer(folder, {"denoiser": denoiser}),
        )

    brain(256).checkpointer.save_checkpoint(meta={"dev_eer": 1.0})
    brain = brain(512)
    with pytest.raises(RuntimeError) as info:
        brain.on_evaluate_start(min_key="dev_eer")
    text = str(info.value)
    assert str(folder) in text and "CKPT+" in text
    assert "embedding_dim" in text and "--output_folder" in text


def test_encoder_and_denoiser_sizes_must_match():
    """embedding_dim that is not the encoder's: error with the value."""
    with pytest.raises(ValueError, match="embedding_dim: 512"):
        SEEDBrain(
            modules={"encoder": SliceEncoder(512), "denoiser": RDMMLP(256)},
            hparams={"diffusion": SEEDDiffusion()},
        )


# ------------------------------------------------------ hparams overrides


def test_override_naming_no_key(tmp_path):
    """--no_such_key=1 stops train.py before anything is created."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "train.py",
            "hparams/seed_ge2e.yaml",
            "--no_such_key=1",
            "--batch_sise=4",
            f"--output_folder={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "--no_such_key" in proc.stderr
    assert "did you mean --batch_size?" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    with pytest.raises(ValueError, match="--lrr .*did you mean --lr"):
        check_overrides(ROOT / "hparams" / "seed_ge2e.yaml", "lrr: 1\n")
    check_overrides(ROOT / "hparams" / "seed_ge2e.yaml", "lr: 1\n")


# ------------------------------------------------ skipped in results.json


def test_skipped_files_reach_results_json(tmp_path):
    """hparams['skipped'] (train.py sets it from prepared) is reported."""
    skipped = {"too_short": 2, "bad_audio": 1, "bad_files": [{"file": "x"}]}
    brain = _brain(skipped=skipped, output_folder=str(tmp_path), seed=0)
    emb = torch.randn(4, 8)
    for i, name in enumerate(["a", "b", "c", "d"]):
        for cond in ("clean", "noisy"):
            brain.stored[f"{cond}/{name}"] = (emb[i], emb[i])
    trials = [(1, "a", "b"), (0, "a", "c"), (1, "c", "d"), (0, "b", "d")]
    brain.test_conditions = {"clean": trials, "noisy": trials}
    brain._test_results()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["skipped"] == skipped
