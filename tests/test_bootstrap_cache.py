"""The bootstrap's replicate EERs are computed once per (trials, scores,
replicates, seed): the mean-noisy interval reuses the per-condition ones,
and the numbers are those of a computation from scratch."""

import numpy as np

from seed_brain.scoring import bootstrap as bootstrap_module
from seed_brain.scoring import bootstrap_eer_change, bootstrap_mean_eer_change


def _conditions(seed=3, n=3000, n_pos=60, k=3):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n_pos), np.zeros(n - n_pos)]
    # Rounded scores: ties, as real cosine scores have.
    base = [np.round(rng.normal(size=n) + 1.5 * labels, 2) for _ in range(k)]
    seed_ = [x + 0.4 * labels * rng.random() for x in base]
    return labels, base, seed_


def test_mean_interval_reuses_the_condition_replicates(monkeypatch):
    labels, a, b = _conditions()
    bootstrap_module._REPLICATES.clear()
    singles = [
        bootstrap_eer_change(labels, x, y, n_boot=200, seed=0)
        for x, y in zip(a, b)
    ]
    calls = []
    original = bootstrap_module._WeightedEER.many

    def counting(self, weights):
        calls.extend([1] * len(weights))  # one per replicate computed
        return original(self, weights)

    monkeypatch.setattr(bootstrap_module._WeightedEER, "many", counting)
    mean = bootstrap_mean_eer_change(labels, a, b, n_boot=200, seed=0)
    assert calls == []  # every replicate came from the conditions' runs
    # From scratch (empty cache, every replicate computed): the same.
    bootstrap_module._REPLICATES.clear()
    again = bootstrap_mean_eer_change(labels, a, b, n_boot=200, seed=0)
    assert len(calls) == 2 * len(a) * 200
    assert again == mean
    # One condition's interval is the mean interval of that condition alone.
    alone = bootstrap_mean_eer_change(labels, a[:1], b[:1], n_boot=200, seed=0)
    assert alone["delta_ci"] == singles[0]["delta_ci"]
    assert alone["relative_ci"] == singles[0]["relative_ci"]


def test_other_seed_or_scores_are_not_reused():
    labels, a, b = _conditions()
    bootstrap_module._REPLICATES.clear()
    first = bootstrap_eer_change(labels, a[0], b[0], n_boot=100, seed=0)
    other_seed = bootstrap_eer_change(labels, a[0], b[0], n_boot=100, seed=1)
    assert other_seed["delta_ci"] != first["delta_ci"]
    shifted = bootstrap_eer_change(
        labels, a[0], b[0] + 0.3 * labels, n_boot=100, seed=0
    )
    assert shifted["delta"] < first["delta"]
    assert len(bootstrap_module._REPLICATES) == 5  # (a, b) x 2 seeds, b shifted


def test_blocks_of_replicates_equal_one_at_a_time():
    """_WeightedEER.many gives, bit for bit, what __call__ gives per row,
    with tied scores and with replicates that drew a single class."""
    rng = np.random.default_rng(7)
    for n, n_pos in ((3000, 40), (60, 2)):
        labels = np.zeros(n, bool)
        labels[:n_pos] = True
        scores = np.round(rng.normal(size=n) + 1.5 * labels, 1)
        eer = bootstrap_module._WeightedEER(scores, labels)
        weights = np.stack(
            [
                np.bincount(rng.integers(0, n, size=n), minlength=n)
                for _ in range(64)
            ]
        )
        one = [eer(w) for w in weights]
        one = np.array([np.nan if v is None else v for v in one])
        np.testing.assert_array_equal(eer.many(weights.astype(np.uint8)), one)
        if n_pos == 2:
            assert np.isnan(one).any()  # some drew no target


def test_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(bootstrap_module, "_REPLICATES_KEPT", 4)
    bootstrap_module._REPLICATES.clear()
    labels, a, b = _conditions(k=4)
    for x, y in zip(a, b):
        bootstrap_eer_change(labels, x, y, n_boot=20, seed=0)
    assert len(bootstrap_module._REPLICATES) == 4
