"""Tests of the options measured for #12: s-norm backend of both systems,
repeated enhancement passes and speed-perturbed training voices."""

import numpy as np
import pytest
import speechbrain as sb
import torch

from seed_brain.brain import SEEDBrain, enhance_with_ids
from seed_brain.diffusion import SEEDDiffusion
from seed_brain.lobes import RDMMLP
from seed_brain.scoring import cohort_scores, s_norm
from seed_brain.views import SpeedVoices, ViewBuilder


class _Mean(torch.nn.Module):
    def forward(self, wavs, lens=None):
        return wavs.reshape(wavs.shape[0], 8, -1).mean(-1)


def _denoiser(seed=0):
    torch.manual_seed(seed)
    model = RDMMLP(8)
    torch.nn.init.normal_(model.output_proj.weight, std=0.1)
    return model.eval()


def _brain(**hp):
    hparams = {
        "diffusion": SEEDDiffusion(prediction="residual"),
        "seed": 0,
        "ensemble_weight": 1.0,
        "correction_quantile": 0.25,
        "centre_embeddings": True,
    }
    hparams.update(hp)
    return SEEDBrain(
        modules={"encoder": _Mean(), "denoiser": _denoiser()},
        opt_class=lambda p: torch.optim.AdamW(p, lr=1e-3),
        hparams=hparams,
    )


def _scored_brain(**hp):
    brain = _brain(**hp)
    gen = torch.Generator().manual_seed(1)
    emb = torch.randn(120, 8, generator=gen) + 1.0
    brain.calibration_emb = ([f"c{i}" for i in range(120)], emb)
    brain.calibrate()
    keys = [f"u{i}" for i in range(10)]
    x = torch.randn(10, 8, generator=gen) + 1.0
    brain.stored = {}
    base = brain.enhance(x, keys)
    for i, k in enumerate(keys):
        brain.stored[k] = (x[i], base[i])
    trials = [
        (int(i % 3 == 0), keys[i], keys[(i * 7 + 1) % 10]) for i in range(10)
    ]
    return brain, trials, x, base


def test_s_norm_backend_matches_scoring_s_norm_for_both_systems():
    brain, trials, x, enh = _scored_brain(score_norm="s-norm", cohort_top_k=50)
    assert set(brain.cohort) == {"baseline", "seed"}
    assert brain.cohort["seed"].shape == (120, 8)

    def key(uid):
        return uid

    for system, col, emb in (("baseline", 0, x), ("seed", 1, enh)):
        labels, got = brain._score(trials, key, key, system)
        idx = {f"u{i}": i for i in range(10)}
        e = emb[[idx[t[1]] for t in trials]]
        t = emb[[idx[t[2]] for t in trials]]
        raw = torch.nn.functional.cosine_similarity(e, t).numpy()
        cohort = brain.cohort[system]
        want = s_norm(
            raw, cohort_scores(e, cohort), cohort_scores(t, cohort), top_k=50
        )
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
        assert labels.tolist() == [tr[0] for tr in trials]
    # Without score_norm the scores are plain cosine.
    plain, trials, x, _ = _scored_brain()
    assert plain.cohort is None
    _, got = plain._score(trials, lambda u: u, lambda u: u, "baseline")
    idx = {f"u{i}": i for i in range(10)}
    raw = torch.nn.functional.cosine_similarity(
        x[[idx[t[1]] for t in trials]], x[[idx[t[2]] for t in trials]]
    ).numpy()
    np.testing.assert_allclose(got, raw, rtol=1e-6)


def test_unknown_score_norm_is_a_clear_error():
    brain, trials, _, _ = _scored_brain(score_norm="z-norm")
    with pytest.raises(ValueError, match="score_norm"):
        brain._score(trials, lambda u: u, lambda u: u, "seed")


def test_sample_passes_enhance_the_enhanced_embedding():
    d = SEEDDiffusion(prediction="residual")
    den = _denoiser()
    emb = torch.randn(6, 8)
    ids = [f"x{i}" for i in range(6)]

    def hp(passes):
        return lambda name, default: {"sample_passes": passes}.get(
            name, default
        )

    once = enhance_with_ids(d, den, emb, ids, hp(1))
    twice = enhance_with_ids(d, den, emb, ids, hp(2))
    assert not torch.allclose(once, twice)
    # The second pass is the first applied to its output, with the
    # forward noise of its own seed.
    again = enhance_with_ids(
        d,
        den,
        once,
        ids,
        lambda name, default: {"eval_seed": 7919}.get(name, default),
    )
    assert torch.allclose(twice, again, atol=1e-6)
    with pytest.raises(ValueError, match="sample_passes"):
        enhance_with_ids(d, den, emb, ids, hp(0))


def _pitch(wav, sample_rate=16000):
    spec = torch.fft.rfft(wav).abs()
    return float(spec.argmax()) * sample_rate / wav.numel()


def test_speed_voices_change_pitch_and_keep_length():
    sr = 16000
    t = torch.arange(sr) / sr
    tone = torch.sin(2 * np.pi * 200.0 * t).repeat(4, 1)
    torch.manual_seed(0)
    out = SpeedVoices([1.1])(tone)
    assert out.shape == tone.shape
    assert _pitch(out[0]) == pytest.approx(220.0, abs=3.0)
    slow = SpeedVoices([0.9])(tone)
    assert _pitch(slow[0]) == pytest.approx(180.0, abs=3.0)
    # Each crop draws its own factor.
    torch.manual_seed(0)
    mixed = SpeedVoices([0.9, 1.0, 1.1])(tone.repeat(8, 1))
    pitches = {round(_pitch(w)) for w in mixed}
    assert pitches == {180, 200, 220}
    assert torch.equal(SpeedVoices(None)(tone), tone)
    with pytest.raises(ValueError, match="speeds"):
        SpeedVoices([0.0])


def test_voices_reach_every_view_and_the_cache_signature():
    views = ["clean", "clean", "noise"]
    noise = sb.augment.time_domain.AddNoise(snr_low=100, snr_high=100)
    plain = ViewBuilder(views, {"noise": noise})
    voiced = ViewBuilder(views, {"noise": noise}, voices=SpeedVoices([1.1]))
    sr = 16000
    tone = torch.sin(2 * np.pi * 200.0 * torch.arange(sr) / sr)[None]
    out = voiced(tone)
    for v in range(3):
        assert _pitch(out[0, v]) == pytest.approx(220.0, abs=3.0)
    assert plain.signature() != voiced.signature()
    identity = ViewBuilder(views, {"noise": noise}, voices=SpeedVoices(None))
    assert plain.signature() == identity.signature()
