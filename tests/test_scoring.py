"""Tests for seed_brain.scoring (metrics vs SpeechBrain, scoring, results)."""

import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from speechbrain.utils.metric_stats import EER, minDCF

from seed_brain import scoring
from seed_brain.scoring import (
    UnknownTrialIdError,
    bootstrap_eer_change,
    bootstrap_mean_eer_change,
    cohort_scores,
    compute_eer,
    compute_min_dcf,
    cosine_scores,
    det_curve,
    plot_det,
    plot_score_histograms,
    s_norm,
    score_trials,
    summarise_conditions,
    write_results,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _scores(kind, n_pos, n_neg, rng):
    """Synthetic (pos, neg) float64 scores of a given flavour."""
    if kind == "continuous":
        pos, neg = rng.normal(1.5, 1, n_pos), rng.normal(0, 1, n_neg)
    elif kind == "rounded":  # many ties, within and across classes
        pos = np.round(rng.normal(1, 1, n_pos), 1)
        neg = np.round(rng.normal(0, 1, n_neg), 1)
    elif kind == "integer":  # massive ties
        pos = rng.integers(2, 9, n_pos).astype(float)
        neg = rng.integers(0, 6, n_neg).astype(float)
    elif kind == "separated":
        pos, neg = rng.uniform(1, 2, n_pos), rng.uniform(-1, 0.5, n_neg)
    elif kind == "reversed":
        pos, neg = rng.uniform(-1, 0.5, n_pos), rng.uniform(1, 2, n_neg)
    elif kind == "constant":
        pos, neg = np.full(n_pos, 0.3), np.full(n_neg, 0.3)
    else:
        raise AssertionError(kind)
    return pos, neg


CASES = [
    ("continuous", 1, 1),
    ("continuous", 3, 4),
    ("continuous", 50, 50),
    ("continuous", 300, 2700),
    ("continuous", 2000, 2000),
    ("rounded", 40, 60),
    ("rounded", 500, 3000),
    ("integer", 30, 300),
    ("integer", 700, 2500),
    ("separated", 100, 900),
    ("separated", 1, 2999),
    ("reversed", 50, 150),
    ("constant", 10, 20),
    ("continuous", 5, 3000),  # imbalanced
    ("rounded", 2900, 7),  # imbalanced the other way
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind,n_pos,n_neg", CASES)
def test_metrics_match_speechbrain(kind, n_pos, n_neg, dtype):
    rng = np.random.default_rng(n_pos * 7919 + n_neg)
    pos, neg = _scores(kind, n_pos, n_neg, rng)
    pos_t = torch.tensor(pos, dtype=dtype)
    neg_t = torch.tensor(neg, dtype=dtype)

    sb_eer, sb_thr = EER(pos_t, neg_t)
    eer, thr = compute_eer(pos_t, neg_t)
    assert eer == pytest.approx(sb_eer, abs=1e-6)
    assert thr == pytest.approx(sb_thr, abs=1e-6)
    # numpy input of the same values gives the same answer
    assert compute_eer(pos_t.numpy(), neg_t.numpy()) == (eer, thr)

    for p_target, c_miss, c_fa in [(0.05, 1, 1), (0.01, 1, 1), (0.3, 2, 0.5)]:
        sb_dcf, sb_dthr = minDCF(
            pos_t, neg_t, c_miss=c_miss, c_fa=c_fa, p_target=p_target
        )
        dcf, dthr = compute_min_dcf(
            pos_t, neg_t, p_target=p_target, c_miss=c_miss, c_fa=c_fa
        )
        assert dcf == pytest.approx(sb_dcf, abs=1e-6)
        assert dthr == pytest.approx(sb_dthr, abs=1e-6)


def test_metrics_match_speechbrain_bitwise_on_ties():
    """Exact (not only 1e-6) agreement, values and thresholds."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        n_pos, n_neg = rng.integers(1, 400, size=2)
        pos = torch.tensor(np.round(rng.normal(0.4, 0.2, n_pos), 2))
        neg = torch.tensor(np.round(rng.normal(0.0, 0.2, n_neg), 2))
        assert compute_eer(pos, neg) == EER(pos, neg)
        assert compute_min_dcf(pos, neg, p_target=0.05) == minDCF(
            pos, neg, p_target=0.05
        )


@pytest.mark.parametrize(
    "pos,neg,expected",
    [
        # SpeechBrain compares float32(|FAR - FRR|) with a float64 |FAR -
        # FRR|: an exact float64 argmin would give EER 0.35 here.
        ([0.0, 8.0], [5.0, 5.0, 0.0, 9.0, 5.0], (0.6500000059604645, 0.0)),
        ([5.0], [2.0, 8.0, 5.0, 2.0, 9.0], (0.30000001192092896, 2.0)),
        # ... and walks on through equal float32 differences: the first
        # minimising threshold would be 3.0, SpeechBrain returns 3.5.
        ([3.0, 4.0], [5.0, 3.0, 2.0, 2.0, 0.0, 1.0], (0.3333333358168602, 3.5)),
    ],
)
def test_eer_reproduces_speechbrain_float32_selection(pos, neg, expected):
    assert EER(torch.tensor(pos), torch.tensor(neg)) == expected
    assert compute_eer(pos, neg) == expected


def test_many_small_tied_problems_match_speechbrain_exactly():
    rng = np.random.default_rng(2)
    for _ in range(300):
        n_pos, n_neg = rng.integers(1, 40, size=2)
        pos = torch.tensor(rng.integers(0, 8, n_pos).astype(float))
        neg = torch.tensor(rng.integers(0, 6, n_neg).astype(float))
        assert compute_eer(pos, neg) == EER(pos, neg)
        assert compute_min_dcf(pos, neg, p_target=0.05) == minDCF(
            pos, neg, p_target=0.05
        )


def test_perfect_separation():
    pos, neg = [0.9, 0.8, 0.7], [0.1, 0.2]
    assert compute_eer(pos, neg)[0] == 0.0
    assert compute_min_dcf(pos, neg)[0] == 0.0
    # reversed: every decision is wrong
    assert compute_eer(neg, pos)[0] == 1.0


def test_min_dcf_normalised():
    rng = np.random.default_rng(3)
    pos, neg = rng.normal(1, 1, 200), rng.normal(0, 1, 800)
    raw, thr = compute_min_dcf(pos, neg, p_target=0.05)
    norm, thr_n = compute_min_dcf(pos, neg, p_target=0.05, normalise=True)
    assert thr == thr_n
    assert norm == pytest.approx(raw / 0.05)
    assert norm <= 1.0


@pytest.mark.parametrize("fn", [compute_eer, compute_min_dcf, det_curve])
def test_metric_errors(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [0.1, 0.2])
    with pytest.raises(ValueError, match="empty"):
        fn(np.array([0.3]), torch.tensor([]))
    with pytest.raises(ValueError, match="non-finite"):
        fn([0.1, float("nan")], [0.2])
    with pytest.raises(ValueError, match="non-finite"):
        fn([0.1], [0.2, float("inf")])
    with pytest.raises(ValueError, match="non-finite"):
        fn([0.1], [-np.inf])


def test_min_dcf_parameter_errors():
    with pytest.raises(ValueError, match="p_target"):
        compute_min_dcf([1.0], [0.0], p_target=1.0)
    with pytest.raises(ValueError, match="costs"):
        compute_min_dcf([1.0], [0.0], c_fa=0)


def test_det_curve_matches_counts():
    rng = np.random.default_rng(4)
    pos, neg = (
        np.round(rng.normal(1, 1, 50), 1),
        np.round(rng.normal(size=70), 1),
    )
    p_miss, p_fa = det_curve(pos, neg)
    thresholds = np.unique(np.concatenate([pos, neg]))
    assert p_miss.size == p_fa.size == thresholds.size + 1
    assert (p_miss[0], p_fa[0]) == (0.0, 1.0)
    np.testing.assert_allclose(
        p_miss[1:], [(pos <= t).mean() for t in thresholds]
    )
    np.testing.assert_allclose(p_fa[1:], [(neg > t).mean() for t in thresholds])
    assert np.all(np.diff(p_miss) >= 0) and np.all(np.diff(p_fa) <= 0)


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype,tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)]
)
def test_cosine_scores_matches_torch(dtype, tol):
    gen = torch.Generator().manual_seed(0)
    enrol = torch.randn(1000, 192, generator=gen, dtype=dtype)
    test = torch.randn(1000, 192, generator=gen, dtype=dtype)
    test[:100] += 2 * enrol[:100]
    enrol[5] = 0.0  # zero vector: both give 0
    expected = F.cosine_similarity(enrol, test, dim=1).double().numpy()
    got = cosine_scores(enrol, test, batch_size=128)
    assert got.dtype == np.float64 and got.shape == (1000,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)
    assert got[5] == 0.0
    # batching does not change the result; numpy input works too
    np.testing.assert_array_equal(
        got, cosine_scores(enrol.numpy(), test.numpy(), batch_size=1000)
    )


def test_cosine_scores_shape_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        cosine_scores(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="2-D"):
        cosine_scores(np.ones(4), np.ones(4))


def test_score_trials():
    gen = torch.Generator().manual_seed(1)
    ids = [f"spk{i // 3}/utt{i}" for i in range(12)]
    emb = {k: torch.randn(1, 1, 16, generator=gen) for k in ids}
    trials = [
        (1, ids[0], ids[1]),
        (0, ids[0], ids[5]),
        (1, ids[4], ids[3]),
        (0, ids[11], ids[2]),
    ]
    labels, scores = score_trials(emb, trials, batch_size=3)
    assert labels.tolist() == [1, 0, 1, 0]
    enrol = torch.stack([emb[e].flatten() for _, e, _ in trials])
    test = torch.stack([emb[t].flatten() for _, _, t in trials])
    np.testing.assert_allclose(
        scores, cosine_scores(enrol, test), rtol=0, atol=1e-12
    )

    bad = trials + [(1, ids[1], ids[2]), (0, ids[3], "missing/utt")]
    with pytest.raises(KeyError) as info:
        score_trials(emb, bad)
    assert isinstance(info.value, UnknownTrialIdError)
    assert "missing/utt" in str(info.value)
    assert "trial 5" in str(info.value)
    assert info.value.key == "missing/utt" and info.value.index == 5

    with pytest.raises(ValueError, match="dimension"):
        score_trials({"a": np.ones(3), "b": np.ones(4)}, [(1, "a", "b")])
    with pytest.raises(ValueError, match="empty"):
        score_trials(emb, [])
    with pytest.raises(ValueError, match="label must be 0 or 1"):
        score_trials(emb, [(2, ids[0], ids[1])])
    with pytest.raises(ValueError, match="expected"):
        score_trials(emb, [(1, ids[0])])


def test_s_norm_hand_example():
    # enrol cohort: mean 0.2, std (ddof=1) 0.1 -> (0.5 - 0.2) / 0.1 = 3
    # test cohort: mean 0.5, std 0.2 -> (0.5 - 0.5) / 0.2 = 0
    out = s_norm([0.5, 0.9], [[0.1, 0.2, 0.3]] * 2, [[0.3, 0.5, 0.7]] * 2)
    np.testing.assert_allclose(out, [1.5, 0.5 * (7.0 + 2.0)])
    # adaptive: top-2 of the enrol cohort [0.3, 0.4] -> mean 0.35,
    # std sqrt(0.005); top-2 of the test cohort [0.5, 0.7] -> 0.6, sqrt(0.02)
    out = s_norm([0.5], [[0.4, 0.1, 0.3, 0.2]], [[0.3, 0.5, 0.1, 0.7]], top_k=2)
    expected = 0.5 * (0.15 / np.sqrt(0.005) + (-0.1) / np.sqrt(0.02))
    np.testing.assert_allclose(out, [expected])
    with pytest.raises(ValueError, match="top_k"):
        s_norm([0.5], [[0.1, 0.2]], [[0.1, 0.2]], top_k=3)
    with pytest.raises(ValueError, match="deviation"):
        s_norm([0.5], [[0.2, 0.2]], [[0.1, 0.2]])


def test_cohort_scores_and_s_norm_pipeline():
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(7, 8))
    cohort = rng.normal(size=(20, 8)).astype(np.float32)
    mat = cohort_scores(emb, cohort, batch_size=3)
    expected = F.cosine_similarity(
        torch.tensor(emb)[:, None, :],
        torch.tensor(cohort).double()[None],
        dim=2,
    ).numpy()
    np.testing.assert_allclose(mat, expected, atol=1e-12)
    enrol_rows, test_rows = [0, 1, 2], [3, 4, 5]
    raw = cosine_scores(emb[enrol_rows], emb[test_rows])
    out = s_norm(raw, mat[enrol_rows], mat[test_rows], top_k=5)
    top_e = np.sort(mat[enrol_rows], axis=1)[:, -5:]
    top_t = np.sort(mat[test_rows], axis=1)[:, -5:]
    manual = 0.5 * (
        (raw - top_e.mean(1)) / top_e.std(1, ddof=1)
        + (raw - top_t.mean(1)) / top_t.std(1, ddof=1)
    )
    np.testing.assert_allclose(out, manual)


# ---------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------


def _two_systems(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.1).astype(int)
    base = rng.normal(size=n) + 2.0 * labels
    better = base + 0.6 * labels + 0.3 * rng.normal(size=n)
    return labels, base, better


def test_weighted_eer_equals_compute_eer():
    rng = np.random.default_rng(6)
    labels = (rng.random(2000) < 0.2).astype(bool)
    scores = np.round(rng.normal(size=2000) + labels, 1)  # ties
    weighted = scoring.bootstrap._WeightedEER(scores, labels)
    got = weighted(np.ones(2000, dtype=np.int64))
    assert got == compute_eer(scores[labels], scores[~labels])[0]
    # weights = explicit resampling
    idx = rng.integers(0, 2000, size=2000)
    w = np.bincount(idx, minlength=2000)
    s, lab = scores[idx], labels[idx]
    assert weighted(w) == pytest.approx(
        compute_eer(s[lab], s[~lab])[0], abs=1e-9
    )


def test_bootstrap_ci_and_reproducibility():
    labels, a, b = _two_systems()
    r1 = bootstrap_eer_change(labels, a, b, n_boot=300, seed=7)
    r2 = bootstrap_eer_change(labels, a, b, n_boot=300, seed=7)
    r3 = bootstrap_eer_change(labels, a, b, n_boot=300, seed=8)
    assert r1 == r2
    assert r1["delta_ci"] != r3["delta_ci"]
    pos, neg = a[labels == 1], a[labels == 0]
    assert r1["eer_a"] == pytest.approx(compute_eer(pos, neg)[0] * 100)
    assert r1["delta"] == pytest.approx(r1["eer_b"] - r1["eer_a"])
    assert r1["relative"] == pytest.approx(r1["delta"] / r1["eer_a"] * 100)
    lo, hi = r1["delta_ci"]
    assert lo <= r1["delta"] <= hi and lo < hi
    lo, hi = r1["relative_ci"]
    assert lo <= r1["relative"] <= hi
    assert r1["delta"] < 0 and r1["n_valid"] == 300
    json.dumps(r1)  # plain Python types


def test_bootstrap_identical_systems_and_errors():
    labels, a, _ = _two_systems(500)
    r = bootstrap_eer_change(labels, a, a.copy(), n_boot=50)
    assert r["delta"] == 0.0 and r["delta_ci"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="lengths differ"):
        bootstrap_eer_change(labels, a, a[:-1])
    with pytest.raises(ValueError, match="non-target"):
        bootstrap_eer_change(np.ones(500), a, a)
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_eer_change(labels, np.r_[a[:-1], np.nan], a)


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


def test_plots_write_png(tmp_path):
    rng = np.random.default_rng(8)
    systems = {
        f"sys{i}": (rng.normal(1 + i, 1, 300), rng.normal(0, 1, 3000))
        for i in range(4)
    }
    det = plot_det(systems, tmp_path / "sub" / "det.png", title="test")
    hist = plot_score_histograms(systems, tmp_path / "hist.png")
    for path in (det, hist):
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="empty"):
        plot_det({}, tmp_path / "x.png")


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


def _results():
    def cond(name, b_eer, s_eer, b_dcf, s_dcf, **extra):
        return {
            "name": name,
            "n_target": 100,
            "n_nontarget": 900,
            "baseline": {"eer": b_eer, "min_dcf": b_dcf},
            "seed": {"eer": s_eer, "min_dcf": s_dcf},
            **extra,
        }

    return {
        "backbone": "ecapa",
        "conditions": [
            cond("clean", 1.0, 0.9, 0.10, 0.09),
            cond(
                "babble_0db",
                8.0,
                6.0,
                0.50,
                0.40,
                eer_change_ci={"delta": -2.0, "delta_ci": [-2.5, -1.5]},
            ),
            cond("music_5db", 4.0, 4.0, np.float64(0.30), 0.33),
        ],
        "seed": 3,
        "config": {"steps": 50, "p_target": 0.05},
    }


def test_summarise_conditions_mean_noisy():
    rows = summarise_conditions(_results()["conditions"])
    assert [r["name"] for r in rows][-1] == "mean (noisy)"
    mean = rows[-1]
    assert mean["baseline_eer"] == pytest.approx(6.0)
    assert mean["seed_eer"] == pytest.approx(5.0)
    # Relative change of the means, not the mean of relative changes.
    assert mean["eer_rel_change"] == pytest.approx((5.0 - 6.0) / 6.0 * 100)
    assert mean["baseline_min_dcf"] == pytest.approx(0.4)
    assert mean["min_dcf_rel_change"] == pytest.approx(
        (mean["seed_min_dcf"] - 0.4) / 0.4 * 100
    )
    only_clean = summarise_conditions(_results()["conditions"][:1])
    assert [r["name"] for r in only_clean] == ["clean"]
    with pytest.raises(ValueError, match="min_dcf"):
        summarise_conditions(
            [{**_results()["conditions"][0], "baseline": {"eer": 1.0}}]
        )


def test_write_results(tmp_path):
    results = _results()
    json_path, md_path = write_results(results, tmp_path / "out")
    data = json.loads(json_path.read_text())
    assert data["backbone"] == "ecapa" and data["seed"] == 3
    assert len(data["conditions"]) == 3
    for cond in data["conditions"]:
        assert isinstance(cond["name"], str)
        assert isinstance(cond["n_target"], int)
        assert isinstance(cond["n_nontarget"], int)
        for system in ("baseline", "seed"):
            assert set(cond[system]) == {"eer", "min_dcf"}
    assert (
        json_path.read_text()
        == json.dumps(data, sort_keys=True, indent=2) + "\n"
    )

    md = md_path.read_text()
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| condition"))
    assert "baseline EER (%)" in header and "CI" in header
    mean = next(line for line in lines if line.startswith("| mean (noisy)"))
    cells = [c.strip() for c in mean.strip("|").split("|")]
    assert cells[:7] == [
        "mean (noisy)",
        "6.000",
        "5.000",
        "-16.7",  # (5 - 6) / 6: the change of the means
        "0.4000",
        "0.3650",
        "-8.8",
    ]
    babble = next(line for line in lines if line.startswith("| babble_0db"))
    assert "-2.000 [-2.500, -1.500]" in babble and "-25.0" in babble

    # deterministic, atomic (no temp files left behind)
    first = (json_path.read_bytes(), md_path.read_bytes())
    write_results(_results(), tmp_path / "out")
    assert (json_path.read_bytes(), md_path.read_bytes()) == first
    assert sorted(os.listdir(tmp_path / "out")) == [
        "results.json",
        "results.md",
    ]


def test_write_results_errors(tmp_path):
    with pytest.raises(ValueError, match="backbone"):
        write_results({"conditions": []}, tmp_path)
    bad = _results()
    del bad["conditions"][1]["seed"]
    with pytest.raises(ValueError, match="seed"):
        write_results(bad, tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_mean_bootstrap_of_one_condition_is_the_paired_bootstrap():
    """One condition: the joint resampling is bootstrap_eer_change's."""
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(150), np.zeros(900)]
    a = rng.normal(size=labels.size) + 1.5 * labels
    b = a + 0.4 * labels + 0.1 * rng.normal(size=labels.size)
    one = bootstrap_eer_change(labels, a, b, n_boot=300, seed=7)
    mean = bootstrap_mean_eer_change(labels, [a], [b], n_boot=300, seed=7)
    assert mean["delta"] == pytest.approx(one["delta"])
    assert mean["delta_ci"] == pytest.approx(one["delta_ci"])
    assert mean["relative_ci"] == pytest.approx(one["relative_ci"])


def test_mean_bootstrap_averages_conditions_and_is_paired():
    rng = np.random.default_rng(4)
    labels = np.r_[np.ones(200), np.zeros(1000)]
    a = [rng.normal(size=labels.size) + s * labels for s in (1.0, 2.0)]
    b = [x + 0.5 * labels for x in a]
    r = bootstrap_mean_eer_change(labels, a, b, n_boot=200, seed=0)
    eers = [
        [compute_eer(x[labels == 1], x[labels == 0])[0] * 100 for x in s]
        for s in (a, b)
    ]
    assert r["mean_a"] == pytest.approx(np.mean(eers[0]))
    assert r["mean_b"] == pytest.approx(np.mean(eers[1]))
    assert r["delta_ci"][0] <= r["delta"] <= r["delta_ci"][1] < 0
    assert r["frac_b_better"] == 1.0 and r["n_conditions"] == 2
    # Identical systems: every replicate's change is exactly zero.
    same = bootstrap_mean_eer_change(labels, a, a, n_boot=50, seed=0)
    assert same["delta_ci"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="same trials"):
        bootstrap_mean_eer_change(labels, [a[0][:-1]], [b[0]], n_boot=5)


def test_results_md_shows_the_joint_interval_on_the_mean_row(tmp_path):
    cond = {
        "n_target": 2,
        "n_nontarget": 8,
        "baseline": {"eer": 10.0, "min_dcf": 0.5},
        "seed": {"eer": 8.0, "min_dcf": 0.4},
        "eer_change_ci": {"delta": -2.0, "delta_ci": [-3.0, -1.0]},
    }
    results = {
        "backbone": "x",
        "conditions": [dict(cond, name="clean"), dict(cond, name="noise")],
        "mean_noisy_eer_change_ci": {
            "delta": -2.5,
            "delta_ci": [-4.25, -0.75],
            "relative": -25.0,
            "relative_ci": [-40.0, -7.5],
            "n_conditions": 1,
            "n_valid": 10,
        },
    }
    _, md = write_results(results, tmp_path)
    text = md.read_text()
    mean_row = [ln for ln in text.splitlines() if ln.startswith("| mean")]
    assert mean_row and "-2.500 [-4.250, -0.750]" in mean_row[0]
    assert "-25.0 % [-40.0, -7.5]" in text


def test_results_md_has_one_table_per_test_set(tmp_path):
    """test_sets: one table each after the main one, with trial counts."""
    main = _results()
    plain = write_results(main, tmp_path / "plain")[1].read_text()
    sets = {}
    for name, (n_t, n_n) in (
        ("test_short", (900, 9000)),
        ("heldout_short", (300, 22050)),
    ):
        conditions = [
            dict(c, n_target=n_t, n_nontarget=n_n) for c in main["conditions"]
        ]
        sets[name] = {
            "description": f"the {name} set",
            "n_target": n_t,
            "n_nontarget": n_n,
            "conditions": conditions,
            "mean_noisy_eer_change_ci": {
                "delta": -1.0,
                "delta_ci": [-1.5, -0.5],
                "relative": -16.7,
                "relative_ci": [-25.0, -8.0],
                "n_conditions": 2,
                "n_valid": 1000,
            },
        }
    json_path, md_path = write_results(
        dict(main, test_sets=sets), tmp_path / "sets"
    )
    data = json.loads(json_path.read_text())
    assert list(data["test_sets"]) == ["heldout_short", "test_short"]
    assert (
        data["conditions"]
        == json.loads((tmp_path / "plain" / "results.json").read_text())[
            "conditions"
        ]
    )
    md = md_path.read_text()
    # The main table and its notes come first, unchanged.
    assert md.startswith(plain.split("\n## Details")[0])
    heads = [ln for ln in md.splitlines() if ln.startswith("## Test set")]
    assert heads == ["## Test set `test_short`", "## Test set `heldout_short`"]
    part = md.split("## Test set `heldout_short`")[1].split("## Details")[0]
    assert "300 target / 22,050 non-target trials" in part
    assert "The heldout_short set" in part
    mean = next(ln for ln in part.splitlines() if ln.startswith("| mean"))
    assert "-1.000 [-1.500, -0.500]" in mean
    assert "-16.7 % [-25.0, -8.0]" in part
    babble = next(ln for ln in part.splitlines() if ln.startswith("| babble"))
    assert "| 300 | 22050 |" in babble
    # The sets' numbers are in the tables, not repeated in the details.
    assert '"test_sets"' not in md
    bad = dict(main, test_sets={"x": {"conditions": []}})
    with pytest.raises(ValueError, match="test_sets"):
        write_results(bad, tmp_path / "bad")
