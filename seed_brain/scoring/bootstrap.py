"""Paired bootstrap confidence intervals of EER changes (one condition, and
the mean over the noisy conditions).

Authors
 * seed-brain developers 2026
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from seed_brain.scoring.metrics import (
    _check_scores,
    _eer_index,
    _rates32,
    _to_numpy,
    compute_eer,
)

__all__ = [
    "bootstrap_eer_change",
    "bootstrap_mean_eer_change",
]


def _row_cumsum(x: np.ndarray) -> np.ndarray:
    """``np.cumsum(x, axis=1)``, a row at a time (NumPy's 2-D cumsum along
    rows is about 3x slower than its 1-D one)."""
    out = np.empty_like(x)
    for row, dest in zip(x, out):
        np.cumsum(row, out=dest)
    return out


class _WeightedEER:
    """EER of one system under trial weights (bootstrap multiplicities).

    The scores are sorted once; each call costs O(N). With all weights 1
    this equals :func:`compute_eer` (midpoint thresholds never add a new
    ``(FAR, FRR)`` pair, so they cannot change the EER value).
    """

    def __init__(self, scores: np.ndarray, is_target: np.ndarray):
        self.order = np.argsort(scores, kind="stable")
        sorted_scores = scores[self.order]
        self.is_target = is_target[self.order]
        self.last = np.flatnonzero(
            np.append(sorted_scores[1:] != sorted_scores[:-1], True)
        )

    def __call__(self, weights: np.ndarray) -> float | None:
        w = weights[self.order]
        cum_all = np.cumsum(w)[self.last]
        cum_pos = np.cumsum(w * self.is_target)[self.last]
        n_pos = int(cum_pos[-1])
        n_neg = int(cum_all[-1]) - n_pos
        if n_pos == 0 or n_neg == 0:
            return None
        present = np.diff(cum_all, prepend=0) > 0
        n_pos_le = cum_pos[present]
        n_neg_gt = n_neg - (cum_all[present] - n_pos_le)
        p_miss, p_fa = _rates32(n_pos_le, n_neg_gt, n_pos, n_neg)
        i = _eer_index(p_miss, p_fa)
        return (float(p_fa[i]) + float(p_miss[i])) / 2

    def many(self, weights: np.ndarray) -> np.ndarray:
        """:meth:`__call__` for each row of ``weights`` ``[R, N]`` at once.

        Returns ``[R]`` EERs, NaN where a row weighs one class only. The
        same float32 arithmetic as :meth:`__call__`, row by row, so the
        values are identical. Score groups that a row leaves out repeat
        the previous group's ``(FRR, FAR)`` pair (or give ``(0, 1)`` before
        the first group present), which cannot change the value
        :func:`_eer_index` settles on, so no per-row filtering is needed.
        """
        w = np.take(weights, self.order, axis=1).astype(np.int64)
        cum_all = _row_cumsum(w)[:, self.last]
        w *= self.is_target
        cum_pos = _row_cumsum(w)[:, self.last]
        n_pos = cum_pos[:, -1:]
        n_neg = cum_all[:, -1:] - n_pos
        valid = (n_pos[:, 0] > 0) & (n_neg[:, 0] > 0)
        out = np.full(weights.shape[0], np.nan)
        if not valid.any():
            return out
        cum_pos, cum_all = cum_pos[valid], cum_all[valid]
        n_pos, n_neg = n_pos[valid], n_neg[valid]
        n_neg_gt = n_neg - (cum_all - cum_pos)
        p_miss = cum_pos.astype(np.float32) / n_pos.astype(np.float32)
        p_fa = n_neg_gt.astype(np.float32) / n_neg.astype(np.float32)
        diff32 = np.abs(p_fa - p_miss)
        m = diff32.min(axis=1, keepdims=True)
        candidate = diff32 == m
        exact = np.abs(p_fa.astype(np.float64) - p_miss.astype(np.float64))
        settled = candidate & (exact <= m.astype(np.float64))
        rows = np.arange(cum_pos.shape[0])
        last = candidate.shape[1] - 1 - np.argmax(candidate[:, ::-1], axis=1)
        i = np.where(settled.any(axis=1), np.argmax(settled, axis=1), last)
        fa = p_fa[rows, i].astype(np.float64)
        miss = p_miss[rows, i].astype(np.float64)
        out[valid] = (fa + miss) / 2
        return out


#: Replicate EERs of recent (labels, scores, n_boot, seed) calls. The
#: recipe bootstraps each condition, then the mean over the noisy ones
#: with the same seed and trials: the mean's replicates are the
#: conditions' replicates again, so they are computed once.
_REPLICATES: OrderedDict[bytes, np.ndarray] = OrderedDict()
_REPLICATES_KEPT = 256


#: Replicates computed together (small blocks stay in the CPU's cache).
_BLOCK = 16


@functools.lru_cache(maxsize=2)
def _bootstrap_weights(n, n_boot, seed):
    """Trial multiplicities of each replicate: ``[n_boot, n]``, read-only.

    Row ``r`` counts the ``r``-th draw of ``n`` indices with replacement
    from ``numpy.random.default_rng(seed)``. Kept in the smallest unsigned
    type that holds them (uint8 nearly always). The last two (n, n_boot,
    seed) are kept: every system and condition of a trial list applies
    the same draws.
    """
    rng = np.random.default_rng(seed)
    rows = [
        np.bincount(rng.integers(0, n, size=n), minlength=n)
        for _ in range(n_boot)
    ]
    top = max(int(r.max()) for r in rows)
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.int64
    weights = np.stack(rows).astype(dtype)
    weights.flags.writeable = False
    return weights


def _replicate_eers(lab, scores, n_boot, seed):
    """EER of each bootstrap replicate (NaN where it drew one class).

    Replicate ``r`` weighs the trials with the ``r``-th draw of
    ``numpy.random.default_rng(seed)`` (``n`` indices with replacement),
    so every call with the same ``n``, ``n_boot`` and ``seed`` applies the
    same draws: the pairing of :func:`_paired_bootstrap`.
    """
    digest = hashlib.blake2b(digest_size=16)
    for part in (lab, scores, np.array([n_boot, seed, scores.dtype.num])):
        digest.update(np.ascontiguousarray(part).tobytes())
    key = digest.digest()
    if key in _REPLICATES:
        _REPLICATES.move_to_end(key)
        return _REPLICATES[key]
    eer = _WeightedEER(scores, lab)
    weights = _bootstrap_weights(int(lab.size), int(n_boot), int(seed))
    out = np.concatenate(
        [eer.many(weights[i : i + _BLOCK]) for i in range(0, n_boot, _BLOCK)]
    )
    out.flags.writeable = False
    _REPLICATES[key] = out
    while len(_REPLICATES) > _REPLICATES_KEPT:
        _REPLICATES.popitem(last=False)
    return out


def _relative(a: float, b: float) -> float:
    """Relative change ``(b - a) / a`` in percent (NaN when ``a == 0``)."""
    return (b - a) / a * 100.0 if a != 0 else math.nan


def _check_labels(labels: Any) -> np.ndarray:
    lab = _to_numpy(labels).ravel()
    if lab.size == 0:
        raise ValueError("labels is empty")
    if not np.all((lab == 0) | (lab == 1)):
        raise ValueError("labels must be 0 (non-target) or 1 (target)")
    lab = lab.astype(bool)
    if lab.all() or not lab.any():
        raise ValueError(
            "labels need at least one target (1) and one non-target (0)"
        )
    return lab


def bootstrap_eer_change(
    labels: Any,
    scores_a: Any,
    scores_b: Any,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Paired bootstrap of the EER change from system A to system B.

    Each replicate resamples trial indices with replacement (the same
    indices for both systems, so the comparison is paired) and computes
    both EERs with :func:`compute_eer`'s definition. Confidence intervals
    are percentile intervals at level ``1 - alpha``. Replicates that draw
    no target or no non-target are discarded (``n_valid`` counts the rest).

    Parameters
    ----------
    labels : array-like
        1 for target, 0 for non-target trials, shape ``[N]``.
    scores_a : array-like or torch.Tensor
        Scores of system A (e.g. baseline), shape ``[N]``.
    scores_b : array-like or torch.Tensor
        Scores of system B (e.g. SEED) on the same trials, shape ``[N]``.
    n_boot : int
        Number of bootstrap replicates.
    seed : int
        Seed of ``numpy.random.default_rng``; same seed, same result.
    alpha : float
        ``1 - alpha`` is the confidence level of the intervals.

    Returns
    -------
    dict
        ``eer_a`` and ``eer_b`` (percent), ``delta`` (``eer_b - eer_a``,
        percentage points), ``relative`` (``delta / eer_a``, percent; NaN if
        ``eer_a`` is 0), ``delta_ci`` and ``relative_ci`` (``[low, high]``),
        ``frac_b_better`` (share of replicates with ``delta < 0``),
        ``n_boot``, ``n_valid``, ``seed`` and ``alpha``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.r_[np.ones(200), np.zeros(800)]
    >>> a = rng.normal(size=1000) + 2 * labels
    >>> b = a + 0.5 * labels
    >>> r = bootstrap_eer_change(labels, a, b, n_boot=200, seed=1)
    >>> r["delta"] < 0 and r["delta_ci"][0] <= r["delta"] <= r["delta_ci"][1]
    True
    """
    lab = _check_labels(labels)
    a = _check_scores(scores_a, "scores_a")
    b = _check_scores(scores_b, "scores_b")
    if not a.size == b.size == lab.size:
        raise ValueError(
            f"labels, scores_a and scores_b lengths differ: {lab.size}, "
            f"{a.size}, {b.size}"
        )
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    eer_a = compute_eer(a[lab], a[~lab])[0] * 100.0
    eer_b = compute_eer(b[lab], b[~lab])[0] * 100.0
    return {
        "eer_a": eer_a,
        "eer_b": eer_b,
        "delta": eer_b - eer_a,
        "relative": _relative(eer_a, eer_b),
        **_paired_bootstrap(lab, [a], [b], n_boot, seed, alpha),
    }


def _paired_bootstrap(lab, scores_a, scores_b, n_boot, seed, alpha):
    """Replicates of the change of the mean EER over conditions, A to B.

    Each replicate draws one multiset of trial indices, applies it to every
    condition and both systems, and records the change of the mean EER
    (percentage points and percent); replicates that draw a single class
    are discarded. Returns the interval keys shared by
    :func:`bootstrap_eer_change` and :func:`bootstrap_mean_eer_change`.
    """
    reps_a = [_replicate_eers(lab, x, n_boot, seed) for x in scores_a]
    reps_b = [_replicate_eers(lab, x, n_boot, seed) for x in scores_b]
    deltas, relatives = [], []
    for r in range(n_boot):
        # A replicate that drew a single class does so for every system
        # and condition (they share the labels and the draws).
        if np.isnan(reps_a[0][r]):
            continue
        boot_a = [float(x[r]) for x in reps_a]
        boot_b = [float(x[r]) for x in reps_b]
        ma, mb = float(np.mean(boot_a)), float(np.mean(boot_b))
        deltas.append((mb - ma) * 100.0)
        relatives.append(_relative(ma, mb))
    if not deltas:
        raise ValueError(
            "no valid bootstrap replicate (each drew a single class)"
        )
    deltas_arr = np.asarray(deltas)
    relatives_arr = np.asarray(relatives)
    q = [alpha / 2, 1 - alpha / 2]

    def interval(values: np.ndarray) -> list[float]:
        if np.isnan(values).all():
            return [math.nan, math.nan]
        return [float(v) for v in np.nanquantile(values, q)]

    return {
        "delta_ci": interval(deltas_arr),
        "relative_ci": interval(relatives_arr),
        "frac_b_better": float(np.mean(deltas_arr < 0)),
        "n_boot": int(n_boot),
        "n_valid": int(deltas_arr.size),
        "seed": int(seed),
        "alpha": float(alpha),
    }


def bootstrap_mean_eer_change(
    labels: Any,
    scores_a: Sequence[Any],
    scores_b: Sequence[Any],
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Paired bootstrap of the change of an EER averaged over conditions.

    For conditions that share one trial list (the test side corrupted in
    several ways), each replicate draws one multiset of trial indices and
    applies it to every condition and both systems, then compares the
    mean EERs. This is the interval of the "mean (noisy)" row.

    Parameters
    ----------
    labels : array-like
        1 for target, 0 for non-target trials, shape ``[N]``, shared by
        every condition.
    scores_a, scores_b : sequence of array-like
        Per condition, the ``[N]`` scores of system A (baseline) and B.
    n_boot : int
        Number of bootstrap replicates.
    seed : int
        Seed of ``numpy.random.default_rng``.
    alpha : float
        ``1 - alpha`` is the confidence level.

    Returns
    -------
    dict
        ``mean_a``, ``mean_b`` (percent), ``delta`` (pp), ``relative``
        (percent), ``delta_ci``, ``relative_ci``, ``frac_b_better``,
        ``n_conditions``, ``n_boot``, ``n_valid``, ``seed``, ``alpha``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.r_[np.ones(100), np.zeros(400)]
    >>> a = [rng.normal(size=500) + 2 * labels for _ in range(2)]
    >>> b = [x + 0.5 * labels for x in a]
    >>> r = bootstrap_mean_eer_change(labels, a, b, n_boot=100, seed=1)
    >>> r["delta"] < 0 and r["relative_ci"][1] < 0
    True
    """
    lab = _check_labels(labels)
    if len(scores_a) != len(scores_b) or not scores_a:
        raise ValueError("scores_a and scores_b need the same >= 1 conditions")
    a = [_check_scores(x, "scores_a") for x in scores_a]
    b = [_check_scores(x, "scores_b") for x in scores_b]
    if any(x.size != lab.size for x in a + b):
        raise ValueError("every condition must score the same trials")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")

    def mean_eer(systems):
        return 100.0 * float(
            np.mean([compute_eer(x[lab], x[~lab])[0] for x in systems])
        )

    mean_a, mean_b = mean_eer(a), mean_eer(b)
    return {
        "mean_a": mean_a,
        "mean_b": mean_b,
        "delta": mean_b - mean_a,
        "relative": _relative(mean_a, mean_b),
        "n_conditions": len(a),
        **_paired_bootstrap(lab, a, b, n_boot, seed, alpha),
    }
