"""Tests of the view builder (``seed_brain.views``) on real audio.

The augmenters are SpeechBrain's ``AddNoise`` / ``AddReverb`` reading CSVs
that :func:`seed_brain.dataio.manifests.prepare_augment_csv` writes from the
real noise and RIR folders. ``AddNoise`` mixes as
``(1 - f) * clean + noise`` with ``f = 1 / (10 ** (snr / 20) + 1)`` and the
noise rescaled to an RMS of ``f * rms(clean)``, so the noise component of a
view is recovered exactly as ``view - (1 - f) * clean``.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from speechbrain.augment.time_domain import AddNoise, AddReverb

from seed_brain.dataio.audio import load_audio
from seed_brain.dataio.manifests import prepare_augment_csv
from seed_brain.views import ChainAugment, ViewBuilder, apply_augmenter

CROP = 32240  # the yaml's crop_samples (2.015 s)
YAML = Path(__file__).resolve().parents[1] / "hparams" / "seed_ge2e.yaml"


@pytest.fixture(scope="module")
def csvs(data_dir, tmp_path_factory):
    """Noise and RIR CSVs (all files, and single-file ones) of real data."""
    root = tmp_path_factory.mktemp("augment")
    out = {}
    for name, folder, include in [
        ("noise", "noise", None),
        ("rir", "rir", None),
        ("noise2", "noise", ["noise2.wav"]),
        ("rir1", "rir", ["rir1.wav"]),
    ]:
        rows = prepare_augment_csv(
            data_dir / folder,
            root / f"{name}.csv",
            root / name,
            include=include,
        )
        out[name] = str(root / f"{name}.csv")
        out[name + "_files"] = [r["wav"] for r in rows]
    return out


@pytest.fixture(scope="module")
def speech(data_dir):
    """``[4, CROP]`` crops of four real train-clean-100 utterances."""
    files = sorted((data_dir / "speech" / "train-clean-100").glob("*/*.flac"))
    crops = []
    for path in files:
        wav = load_audio(path)
        if wav.numel() >= 16000 + CROP:
            crops.append(wav[16000 : 16000 + CROP])
        if len(crops) == 4:
            break
    return torch.stack(crops)


def _snr_db(view, clean, snr):
    """SNR of an AddNoise output against its scaled clean part, per row."""
    f = 1.0 / (10.0 ** (snr / 20.0) + 1.0)
    scaled = (1.0 - f) * clean.double()
    noise = view.double() - scaled
    return 10 * torch.log10(scaled.pow(2).mean(-1) / noise.pow(2).mean(-1))


def _noise(csv, snr):
    return AddNoise(csv_file=csv, snr_low=snr, snr_high=snr)


def _seed_views(csvs):
    """A fresh builder of the yaml's five views."""
    return ViewBuilder(
        ["clean", "clean", "music", "noise", "reverb"],
        {
            "music": _noise(csvs["noise"], 10.0),
            "noise": _noise(csvs["noise"], 5.0),
            "reverb": AddReverb(csv_file=csvs["rir"]),
        },
    )


def test_views_shape_and_clean_views(csvs, speech):
    """[B, V, L] output; clean views equal the input, which is untouched."""
    builder = _seed_views(csvs)
    before = speech.clone()
    torch.manual_seed(0)
    views = builder(speech, torch.ones(len(speech)))
    assert views.shape == (len(speech), 5, CROP)
    assert torch.equal(speech, before), "the builder modified its input"
    assert torch.equal(views[:, 0], speech)
    assert torch.equal(views[:, 1], speech)
    for v in (2, 3, 4):
        assert not torch.allclose(views[:, v], speech, atol=1e-4), v
    assert torch.isfinite(views).all()
    # A fresh builder with the same global seed and default lengths
    # (None = full length) gives the same views.
    torch.manual_seed(0)
    assert torch.equal(_seed_views(csvs)(speech), views)


def test_noise_view_reaches_configured_snr(csvs, speech):
    """The noise view is at the configured SNR (snr_low == snr_high)."""
    for snr in (5.0, 0.0):
        builder = ViewBuilder(
            ["clean", "noise"], {"noise": _noise(csvs["noise"], snr)}
        )
        torch.manual_seed(1)
        views = builder(speech, torch.ones(len(speech)))
        measured = _snr_db(views[:, 1], speech, snr)
        assert torch.all((measured - snr).abs() < 0.5), (snr, measured)


def test_noise_view_uses_the_csv_noise(csvs, speech):
    """The added noise is a segment of the (only) file of the CSV."""
    snr = 5.0
    builder = ViewBuilder(
        ["clean", "noise"], {"noise": _noise(csvs["noise2"], snr)}
    )
    torch.manual_seed(2)
    views = builder(speech, torch.ones(len(speech)))
    f = 1.0 / (10.0 ** (snr / 20.0) + 1.0)
    added = (views[:, 1].double() - (1 - f) * speech.double()).numpy()
    source = load_audio(csvs["noise2_files"][0]).double().numpy()
    n = len(source) + CROP
    spectrum = np.fft.rfft(source, n)
    for row in added:
        corr = np.fft.irfft(spectrum * np.conj(np.fft.rfft(row, n)), n)
        start = int(np.argmax(corr[: len(source) - CROP + 1]))
        segment = source[start : start + CROP]
        cos = segment @ row / np.linalg.norm(segment) / np.linalg.norm(row)
        assert cos > 0.999, (start, cos)


def test_reverb_view_keeps_length_and_differs(csvs, speech):
    """Reverb views keep the crop length and change the audio."""
    builder = ViewBuilder(
        ["clean", "reverb"], {"reverb": AddReverb(csv_file=csvs["rir"])}
    )
    for seed in range(3):  # several RIRs of the CSV
        torch.manual_seed(seed)
        views = builder(speech, torch.ones(len(speech)))
        assert views.shape == (len(speech), 2, CROP)
        reverb = views[:, 1]
        assert torch.isfinite(reverb).all()
        assert (reverb - speech).abs().max() > 1e-3
        assert reverb.abs().max() > 0


def test_chain_reverberates_then_adds_noise(csvs, speech):
    """ChainAugment applies reverb first, then noise at the SNR of it."""
    snr = 5.0
    reverb = AddReverb(csv_file=csvs["rir1"])  # one RIR: deterministic
    reverberant = apply_augmenter(reverb, speech, torch.ones(len(speech)))
    chain = ChainAugment([reverb, _noise(csvs["noise"], snr)])
    torch.manual_seed(3)
    out = chain(speech, torch.ones(len(speech)))
    assert out.shape == speech.shape
    measured = _snr_db(out, reverberant, snr)
    assert torch.all((measured - snr).abs() < 0.5), measured


class _Stretch(torch.nn.Module):
    """Augmenter without lengths that changes the signal length."""

    def __init__(self, delta):
        super().__init__()
        self.delta = delta

    def forward(self, wavs):
        if self.delta > 0:
            return torch.nn.functional.pad(wavs + 1.0, (0, self.delta))
        return wavs[:, : wavs.shape[1] + self.delta] + 1.0


def test_apply_augmenter_fixes_length():
    """Outputs are trimmed or zero-padded back to the input length."""
    wavs = torch.randn(2, 100)
    lens = torch.ones(2)
    assert apply_augmenter(None, wavs, lens) is wavs
    longer = apply_augmenter(_Stretch(7), wavs, lens)
    assert longer.shape == wavs.shape
    assert torch.equal(longer, wavs + 1.0)
    shorter = apply_augmenter(_Stretch(-10), wavs, lens)
    assert shorter.shape == wavs.shape
    assert torch.equal(shorter[:, :90], wavs[:, :90] + 1.0)
    assert torch.equal(shorter[:, 90:], torch.zeros(2, 10))


def test_unknown_view_raises():
    """A view without augmenter is refused, naming it and the fix."""
    with pytest.raises(ValueError) as info:
        ViewBuilder(["clean", "noise", "babble"], {"noise": AddNoise()})
    message = str(info.value)
    assert "babble" in message
    assert "augmenters" in message
    assert "noise" in message  # the known names are listed


def test_non_clean_first_view_raises():
    """View 0 must be clean; the message says to start with 'clean'."""
    with pytest.raises(ValueError, match="start 'views' with 'clean'"):
        ViewBuilder(["noise", "clean"], {"noise": AddNoise()})
    with pytest.raises(ValueError, match="at least two views"):
        ViewBuilder(["clean"], {})


def test_unknown_view_message_names_a_real_yaml_key():
    """The yaml key the message points to exists in seed_ge2e.yaml."""
    with pytest.raises(ValueError) as info:
        ViewBuilder(["clean", "babble"], {})
    keys = re.findall(r"under '([\w:. ]+)'", str(info.value))
    assert keys, str(info.value)
    text = YAML.read_text(encoding="utf-8")
    for key in keys:
        last = key.replace(":", " ").split()[-1]
        assert re.search(rf"^\s*{re.escape(last)}:", text, re.M), key


def test_signature_changes_with_the_noise_files_and_snrs(csvs):
    """The cache check sees other noise files, RIRs or SNRs (not names)."""

    def builder(noise_csv, rir_csv, snr):
        return ViewBuilder(
            ["clean", "noise", "reverb_noise"],
            {
                "noise": _noise(noise_csv, snr),
                "reverb_noise": ChainAugment(
                    [AddReverb(csv_file=rir_csv), _noise(noise_csv, snr)]
                ),
            },
        )

    ref = builder(csvs["noise"], csvs["rir"], 5.0).signature()
    assert builder(csvs["noise"], csvs["rir"], 5.0).signature() == ref
    assert builder(csvs["noise2"], csvs["rir"], 5.0).signature() != ref
    assert builder(csvs["noise"], csvs["rir1"], 5.0).signature() != ref
    assert builder(csvs["noise"], csvs["rir"], 0.0).signature() != ref
