"""Speaker-verification metrics: EER, minDCF and the DET curve.

Everything in :mod:`seed_brain.scoring` works on NumPy arrays and accepts
PyTorch tensors too (they are moved to the CPU and viewed as NumPy arrays).
It imports only NumPy: ``torch`` is never imported by it (a tensor argument
means the caller already did), and SciPy / Matplotlib are imported lazily by
the plotting functions, so scoring stays light on memory.

Metrics
-------
:func:`compute_eer` and :func:`compute_min_dcf` reproduce
``speechbrain.utils.metric_stats.EER`` and ``minDCF`` exactly (same
candidate thresholds, same float32 rates, same tie-breaking, same returned
threshold), but in O(N log N) time and O(N) memory: one sort and cumulative
counts instead of a Python loop over every threshold (``EER``) or a
``thresholds x trials`` matrix (``minDCF``). As in SpeechBrain:

* the candidate thresholds are the sorted unique scores plus the midpoints
  between consecutive unique scores, computed in the scores' dtype;
* at threshold ``t`` a target trial is missed when ``score <= t`` and a
  non-target trial is falsely accepted when ``score > t``; both rates are
  float32 (``count.float() / n``);
* the EER is ``(FAR + FRR) / 2`` at the first threshold where
  ``|FAR - FRR|`` is smallest (with SpeechBrain's float32/float64 comparison
  quirk reproduced), returned as a fraction (multiply by 100 for percent);
* minDCF is ``min_t c_miss * P_miss(t) * p_target + c_fa * P_fa(t) *
  (1 - p_target)``, computed in float32, **not normalised** (SpeechBrain's
  convention; pass ``normalise=True`` for the NIST-normalised value). Note
  that this module defaults to ``p_target=0.05`` while SpeechBrain's
  ``minDCF`` defaults to ``p_target=0.01``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "compute_eer",
    "compute_min_dcf",
    "det_curve",
]


# ---------------------------------------------------------------------------
# Array helpers
# ---------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    """View a tensor or array-like as a NumPy array (float32/float64 kept)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch.Tensor
        t = x.detach().cpu()
        if not (t.is_floating_point() and t.element_size() in (4, 8)):
            t = t.double()  # float16 / bfloat16 / integers / bool
        return t.numpy()
    return np.asarray(x)


def _as_float(x: Any) -> np.ndarray:
    """Return ``x`` as a float32 or float64 array (other types -> float64)."""
    arr = _to_numpy(x)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _check_scores(x: Any, name: str) -> np.ndarray:
    """Flatten scores and check they are non-empty and finite."""
    arr = _as_float(x).ravel()
    if arr.size == 0:
        raise ValueError(
            f"{name} is empty: EER/minDCF need at least one target and one "
            "non-target score"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or "
            f"inf), e.g. at index {int(np.flatnonzero(bad)[0])}"
        )
    return arr


def _check_pos_neg(pos: Any, neg: Any) -> tuple[np.ndarray, np.ndarray]:
    pos = _check_scores(pos, "pos_scores (targets)")
    neg = _check_scores(neg, "neg_scores (non-targets)")
    dtype = np.result_type(pos, neg)
    return pos.astype(dtype, copy=False), neg.astype(dtype, copy=False)


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Metrics (exact SpeechBrain definitions, O(N log N))
# ---------------------------------------------------------------------------


def _sorted_scores(
    pos: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort all scores once.

    Returns the sorted scores, the cumulative number of target scores along
    them and the index of the last element of each run of equal scores.
    """
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    cum_pos = np.cumsum(order < pos.size)
    last = np.flatnonzero(
        np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    )
    return sorted_scores, cum_pos, last


def _speechbrain_counts(
    pos: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SpeechBrain's candidate thresholds and the error counts at each.

    Thresholds are the sorted unique scores interleaved with the midpoints
    ``(u[i] + u[i + 1]) / 2`` (computed in the scores' dtype, exactly like
    ``torch``). Returns ``(thresholds, n_pos_le, n_neg_gt)``: the number of
    target scores ``<= t`` (misses) and of non-target scores ``> t`` (false
    alarms).
    """
    sorted_scores, cum_pos, last = _sorted_scores(pos, neg)
    uniq = sorted_scores[last]
    n_unique = uniq.size
    thresholds = np.empty(2 * n_unique - 1, dtype=uniq.dtype)
    n_le = np.empty(2 * n_unique - 1, dtype=np.int64)
    n_pos_le = np.empty(2 * n_unique - 1, dtype=np.int64)
    thresholds[0::2] = uniq
    n_le[0::2] = last + 1
    n_pos_le[0::2] = cum_pos[last]
    if n_unique > 1:
        mids = (uniq[:-1] + uniq[1:]) / uniq.dtype.type(2)
        # A midpoint may round onto its upper neighbour (or overflow):
        # count with the actual rounded value, as SpeechBrain compares it.
        k = np.searchsorted(sorted_scores, mids, side="right")
        thresholds[1::2] = mids
        n_le[1::2] = k
        n_pos_le[1::2] = cum_pos[k - 1]
    n_neg_gt = neg.size - (n_le - n_pos_le)
    return thresholds, n_pos_le, n_neg_gt


def _rates32(
    n_pos_le: np.ndarray, n_neg_gt: np.ndarray, n_pos: int, n_neg: int
) -> tuple[np.ndarray, np.ndarray]:
    """Float32 miss / false-alarm rates, as ``count.float() / n`` in torch."""
    p_miss = n_pos_le.astype(np.float32) / np.float32(n_pos)
    p_fa = n_neg_gt.astype(np.float32) / np.float32(n_neg)
    return p_miss, p_fa


def _eer_index(p_miss: np.ndarray, p_fa: np.ndarray) -> int:
    """Index SpeechBrain's ``EER`` loop settles on, without the loop.

    SpeechBrain keeps threshold ``i`` when ``float32(|FAR_i - FRR_i|) <
    |FAR_best - FRR_best|`` (the right side in float64). The first index
    reaching the float32 minimum ``m`` is always kept; afterwards only
    indices whose float32 difference equals ``m`` can be kept, and they are
    kept as long as the current best's exact difference exceeds ``m``.
    """
    diff32 = np.abs(p_fa - p_miss)
    m = diff32.min()
    candidates = np.flatnonzero(diff32 == m)
    exact = np.abs(
        p_fa[candidates].astype(np.float64)
        - p_miss[candidates].astype(np.float64)
    )
    settled = np.flatnonzero(exact <= np.float64(m))
    return int(candidates[settled[0]] if settled.size else candidates[-1])


def compute_eer(pos_scores: Any, neg_scores: Any) -> tuple[float, float]:
    """Equal error rate, exactly as ``speechbrain.utils.metric_stats.EER``.

    O(N log N) time (one sort and cumulative counts) and O(N) memory.
    Tied scores are grouped, so ties are counted exactly like SpeechBrain's
    ``<=`` / ``>`` comparisons.

    Parameters
    ----------
    pos_scores : array-like or torch.Tensor
        Target (same-speaker) trial scores.
    neg_scores : array-like or torch.Tensor
        Non-target trial scores.

    Returns
    -------
    eer : float
        ``(FAR + FRR) / 2`` at the selected threshold, as a fraction
        (multiply by 100 for percent).
    threshold : float
        The selected threshold (a score or a midpoint between two scores).

    Raises
    ------
    ValueError
        If a class is empty or a score is NaN / inf.

    Example
    -------
    >>> compute_eer([0.6, 0.7, 0.8, 0.5], [0.4, 0.3, 0.2, 0.1])
    (0.0, 0.4)
    >>> compute_eer([0.6, 0.4, 0.8], [0.5, 0.3, 0.2, 0.1])
    (0.2916666716337204, 0.4)
    """
    pos, neg = _check_pos_neg(pos_scores, neg_scores)
    thresholds, n_pos_le, n_neg_gt = _speechbrain_counts(pos, neg)
    p_miss, p_fa = _rates32(n_pos_le, n_neg_gt, pos.size, neg.size)
    i = _eer_index(p_miss, p_fa)
    return (float(p_fa[i]) + float(p_miss[i])) / 2, float(thresholds[i])


def _dcf32(
    p_miss: np.ndarray,
    p_fa: np.ndarray,
    p_target: float,
    c_miss: float,
    c_fa: float,
) -> np.ndarray:
    """Detection cost in float32, operation by operation as SpeechBrain."""
    return (np.float32(c_miss) * p_miss) * np.float32(p_target) + (
        np.float32(c_fa) * p_fa
    ) * np.float32(1 - p_target)


def compute_min_dcf(
    pos_scores: Any,
    neg_scores: Any,
    p_target: float = 0.05,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
    normalise: bool = False,
) -> tuple[float, float]:
    """Minimum detection cost, exactly as ``speechbrain...minDCF``.

    ``min_t c_miss * P_miss(t) * p_target + c_fa * P_fa(t) * (1 -
    p_target)`` over SpeechBrain's candidate thresholds, in float32 like
    SpeechBrain, with the first minimising threshold returned. O(N log N)
    time, O(N) memory (SpeechBrain builds a ``thresholds x trials``
    matrix).

    Parameters
    ----------
    pos_scores : array-like or torch.Tensor
        Target trial scores.
    neg_scores : array-like or torch.Tensor
        Non-target trial scores.
    p_target : float
        Prior probability of a target trial. Note: SpeechBrain's ``minDCF``
        defaults to 0.01; this function defaults to 0.05.
    c_miss : float
        Cost of a miss.
    c_fa : float
        Cost of a false alarm.
    normalise : bool
        If True, divide by ``min(c_miss * p_target, c_fa * (1 -
        p_target))`` (NIST normalisation). SpeechBrain does not normalise.

    Returns
    -------
    min_dcf : float
        The minimum detection cost.
    threshold : float
        The first threshold reaching it.

    Raises
    ------
    ValueError
        If a class is empty, a score is NaN / inf or a parameter is out of
        range.

    Example
    -------
    >>> compute_min_dcf([0.6, 0.7, 0.8, 0.5], [0.4, 0.3, 0.2, 0.1])
    (0.0, 0.4)
    >>> dcf, thr = compute_min_dcf([0.6, 0.4, 0.8], [0.5, 0.3, 0.2, 0.1])
    >>> round(dcf, 6), thr
    (0.016667, 0.5)
    """
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"costs must be > 0, got {c_miss=}, {c_fa=}")
    pos, neg = _check_pos_neg(pos_scores, neg_scores)
    thresholds, n_pos_le, n_neg_gt = _speechbrain_counts(pos, neg)
    p_miss, p_fa = _rates32(n_pos_le, n_neg_gt, pos.size, neg.size)
    c_det = _dcf32(p_miss, p_fa, p_target, c_miss, c_fa)
    i = int(np.argmin(c_det))
    value = float(c_det[i])
    if normalise:
        value /= min(c_miss * p_target, c_fa * (1 - p_target))
    return value, float(thresholds[i])


def det_curve(
    pos_scores: Any, neg_scores: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Detection error trade-off curve.

    One point per unique score ``t`` (miss: target ``<= t``, false alarm:
    non-target ``> t``, SpeechBrain's convention), preceded by the point
    ``(P_miss, P_fa) = (0, 1)`` of a threshold below every score. ``P_miss``
    is non-decreasing and ``P_fa`` non-increasing along the arrays.

    Parameters
    ----------
    pos_scores, neg_scores : array-like or torch.Tensor
        Target and non-target trial scores, as for :func:`compute_eer`.

    Returns
    -------
    p_miss : numpy.ndarray
        Float64 miss probabilities.
    p_fa : numpy.ndarray
        Float64 false-alarm probabilities.

    Example
    -------
    >>> p_miss, p_fa = det_curve([0.6, 0.4, 0.8], [0.5, 0.3])
    >>> p_miss.round(3).tolist()
    [0.0, 0.0, 0.333, 0.333, 0.667, 1.0]
    >>> p_fa.tolist()
    [1.0, 0.5, 0.5, 0.0, 0.0, 0.0]
    """
    pos, neg = _check_pos_neg(pos_scores, neg_scores)
    _, cum_pos, last = _sorted_scores(pos, neg)
    n_pos_le = cum_pos[last]
    n_neg_le = (last + 1) - n_pos_le
    p_miss = np.concatenate([[0.0], n_pos_le / pos.size])
    p_fa = np.concatenate([[1.0], (neg.size - n_neg_le) / neg.size])
    return p_miss, p_fa


# ---------------------------------------------------------------------------
# Paired bootstrap
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Result tables
# ---------------------------------------------------------------------------
