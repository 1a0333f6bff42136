"""Speaker-verification scoring, metrics, plots and result tables.

Everything here works on NumPy arrays and accepts PyTorch tensors too
(they are moved to the CPU and viewed as NumPy arrays). The module itself
imports only NumPy: ``torch`` is never imported by it (a tensor argument
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

Results
-------
:func:`write_results` stores ``results.json`` and a human-readable
``results.md``; EERs there are in percent.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from seed_brain.utils.files import write_text

__all__ = [
    "UnknownTrialIdError",
    "bootstrap_eer_change",
    "cohort_scores",
    "compute_eer",
    "compute_min_dcf",
    "cosine_scores",
    "det_curve",
    "plot_det",
    "plot_score_histograms",
    "s_norm",
    "score_trials",
    "summarise_conditions",
    "write_results",
]

#: Norm floor used by :func:`cosine_scores`, as in
#: ``torch.nn.functional.cosine_similarity`` (each norm is clamped).
COSINE_EPS = 1e-8

#: Name of the condition left out of the ``mean (noisy)`` row.
CLEAN_CONDITION = "clean"

#: Label of the averaged row in :func:`summarise_conditions`.
MEAN_NOISY = "mean (noisy)"

#: Standard DET-plot ticks, in percent.
DET_TICKS_PERCENT = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 40, 50)


class UnknownTrialIdError(KeyError):
    """A trial refers to an embedding id that is not available.

    Parameters
    ----------
    key : str
        The missing embedding id.
    index : int
        0-based index of the trial (line) that refers to it.
    role : str
        ``"enrol"`` or ``"test"``.

    Example
    -------
    >>> err = UnknownTrialIdError("spk1/a.wav", 3, "test")
    >>> print(err)
    trial 3 (0-based): unknown test id 'spk1/a.wav' (no embedding)
    >>> isinstance(err, KeyError), err.key, err.index
    (True, 'spk1/a.wav', 3)
    """

    def __init__(self, key: str, index: int, role: str):
        super().__init__(key)
        self.key = key
        self.index = index
        self.role = role

    def __str__(self) -> str:
        return (
            f"trial {self.index} (0-based): unknown {self.role} id "
            f"{self.key!r} (no embedding)"
        )


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


def _check_2d(x: Any, name: str) -> np.ndarray:
    arr = _as_float(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D [N, D], got shape {arr.shape}")
    return arr


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product accumulated in float64 (no float64 copies)."""
    return np.einsum("ij,ij->i", a, b, dtype=np.float64)


def _row_norm(a: np.ndarray) -> np.ndarray:
    """Row norms in float64, clamped at :data:`COSINE_EPS`."""
    return np.maximum(np.sqrt(_row_dot(a, a)), COSINE_EPS)


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def cosine_scores(enrol: Any, test: Any, batch_size: int = 65536) -> np.ndarray:
    """Row-wise cosine similarity between enrolment and test embeddings.

    Matches ``torch.nn.functional.cosine_similarity(enrol, test, dim=1)``
    (each norm clamped at ``1e-8``), but accumulates in float64 and works in
    batches of rows, so memory stays ``O(batch_size * D)`` on top of the
    inputs.

    Parameters
    ----------
    enrol : array-like or torch.Tensor
        Enrolment embeddings, shape ``[N, D]``.
    test : array-like or torch.Tensor
        Test embeddings, shape ``[N, D]``.
    batch_size : int
        Number of rows scored at once.

    Returns
    -------
    numpy.ndarray
        Float64 scores, shape ``[N]``.

    Example
    -------
    >>> cosine_scores([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0], [-1.0, 0.0]])
    array([ 1.        , -0.70710678])
    """
    enrol = _check_2d(enrol, "enrol")
    test = _check_2d(test, "test")
    if enrol.shape != test.shape:
        raise ValueError(
            f"enrol and test shapes differ: {enrol.shape} vs {test.shape}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out = np.empty(enrol.shape[0], dtype=np.float64)
    for start in range(0, enrol.shape[0], batch_size):
        a = enrol[start : start + batch_size]
        b = test[start : start + batch_size]
        out[start : start + batch_size] = _row_dot(a, b) / (
            _row_norm(a) * _row_norm(b)
        )
    return out


def _embedding_vector(value: Any, key: str) -> np.ndarray:
    vec = _as_float(value)
    if vec.ndim != 1:
        if vec.ndim == 0 or vec.size != vec.shape[-1]:
            raise ValueError(
                f"embedding {key!r} must be a vector (or [1, D] / [1, 1, D]),"
                f" got shape {vec.shape}"
            )
        vec = vec.reshape(-1)
    return vec


def score_trials(
    embeddings: Mapping[str, Any],
    trials: Sequence[tuple[int, str, str]],
    batch_size: int = 65536,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine-score a trial list against a dictionary of embeddings.

    Each embedding used by the trials is gathered once into a matrix; the
    trials are then scored in batches with the same arithmetic as
    :func:`cosine_scores`.

    Parameters
    ----------
    embeddings : Mapping[str, array-like or torch.Tensor]
        Utterance id -> embedding of shape ``[D]``, ``[1, D]`` or
        ``[1, 1, D]`` (SpeechBrain's ``encode_batch`` output).
    trials : Sequence[tuple[int, str, str]]
        ``(label, enrol_id, test_id)`` per trial, label 1 for target and 0
        for non-target (VoxCeleb trial-list order).
    batch_size : int
        Number of trials scored at once.

    Returns
    -------
    labels : numpy.ndarray
        Int64 labels, shape ``[N]``.
    scores : numpy.ndarray
        Float64 cosine scores, shape ``[N]``.

    Raises
    ------
    UnknownTrialIdError
        (a ``KeyError``) naming the id and the 0-based trial index when an
        id has no embedding.
    ValueError
        On an empty trial list, a malformed trial or mismatched dimensions.

    Example
    -------
    >>> emb = {"a": [1.0, 0.0], "b": [0.0, 2.0], "c": [3.0, 0.0]}
    >>> labels, scores = score_trials(emb, [(1, "a", "c"), (0, "a", "b")])
    >>> labels.tolist(), scores.tolist()
    ([1, 0], [1.0, 0.0])
    >>> score_trials(emb, [(1, "a", "c"), (0, "a", "zz")])
    Traceback (most recent call last):
    ...
    seed_brain.scoring.metrics.UnknownTrialIdError: trial 1 (0-based): \
unknown test id 'zz' (no embedding)
    """
    n = len(trials)
    if n == 0:
        raise ValueError("trials is empty")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    row_of: dict[str, int] = {}
    vectors: list[np.ndarray] = []
    labels = np.empty(n, dtype=np.int64)
    enrol_rows = np.empty(n, dtype=np.int64)
    test_rows = np.empty(n, dtype=np.int64)
    for i, trial in enumerate(trials):
        try:
            label, enrol_id, test_id = trial
            labels[i] = int(label)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"trial {i} (0-based): expected (label, enrol_id, test_id), "
                f"got {trial!r}"
            ) from err
        if labels[i] not in (0, 1):
            raise ValueError(
                f"trial {i} (0-based): label must be 0 or 1, got {label!r}"
            )
        for role, key, rows in (
            ("enrol", enrol_id, enrol_rows),
            ("test", test_id, test_rows),
        ):
            row = row_of.get(key)
            if row is None:
                if key not in embeddings:
                    raise UnknownTrialIdError(key, i, role)
                row = row_of[key] = len(vectors)
                vectors.append(_embedding_vector(embeddings[key], key))
                if vectors[-1].shape != vectors[0].shape:
                    raise ValueError(
                        f"embedding {key!r} has dimension "
                        f"{vectors[-1].shape[0]}, expected "
                        f"{vectors[0].shape[0]}"
                    )
            rows[i] = row
    matrix = np.stack(vectors)
    del vectors
    inv_norm = 1.0 / _row_norm(matrix)
    scores = np.empty(n, dtype=np.float64)
    for start in range(0, n, batch_size):
        e = enrol_rows[start : start + batch_size]
        t = test_rows[start : start + batch_size]
        scores[start : start + batch_size] = (
            _row_dot(matrix[e], matrix[t]) * inv_norm[e] * inv_norm[t]
        )
    return labels, scores


def cohort_scores(emb: Any, cohort: Any, batch_size: int = 4096) -> np.ndarray:
    """Cosine scores of every embedding against every cohort embedding.

    Parameters
    ----------
    emb : array-like or torch.Tensor
        Embeddings, shape ``[N, D]`` (typically one row per unique
        utterance; index the result to get per-trial rows).
    cohort : array-like or torch.Tensor
        Cohort (impostor) embeddings, shape ``[C, D]``.
    batch_size : int
        Rows of ``emb`` scored at once (memory ``batch_size * C``).

    Returns
    -------
    numpy.ndarray
        Float64 matrix ``[N, C]``.

    Example
    -------
    >>> cohort_scores([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0], [-2.0, 0.0]])
    array([[ 1.,  0., -1.]])
    """
    emb = _check_2d(emb, "emb")
    cohort = _check_2d(cohort, "cohort")
    if emb.shape[1] != cohort.shape[1]:
        raise ValueError(
            f"emb and cohort dimensions differ: {emb.shape[1]} vs "
            f"{cohort.shape[1]}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cohort_n = cohort.astype(np.float64) / _row_norm(cohort)[:, None]
    out = np.empty((emb.shape[0], cohort.shape[0]), dtype=np.float64)
    for start in range(0, emb.shape[0], batch_size):
        block = emb[start : start + batch_size].astype(np.float64)
        block /= _row_norm(block)[:, None]
        out[start : start + batch_size] = block @ cohort_n.T
    return out


def _cohort_stats(
    cohort: np.ndarray, top_k: int | None, ddof: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    if top_k is not None:
        if not 1 <= top_k <= cohort.shape[1]:
            raise ValueError(
                f"top_k must be in [1, {cohort.shape[1]}] (cohort size), got "
                f"{top_k}"
            )
        if top_k < cohort.shape[1]:
            cut = cohort.shape[1] - top_k
            cohort = np.partition(cohort, cut, axis=1)[:, cut:]
    if cohort.shape[1] <= ddof:
        raise ValueError(
            f"{name}: need more than ddof={ddof} cohort scores per trial, got "
            f"{cohort.shape[1]}"
        )
    mean = cohort.mean(axis=1)
    std = cohort.std(axis=1, ddof=ddof)
    if not np.all(std > 0):
        raise ValueError(
            f"{name}: cohort score standard deviation is 0 for "
            f"{int(np.sum(~(std > 0)))} trial(s); s-norm is undefined"
        )
    return mean, std


def s_norm(
    scores: Any,
    enrol_cohort: Any,
    test_cohort: Any,
    top_k: int | None = None,
    ddof: int = 1,
) -> np.ndarray:
    """Symmetric score normalisation (s-norm / adaptive s-norm).

    ``s' = ((s - mu_e) / sd_e + (s - mu_t) / sd_t) / 2`` where ``mu_e,
    sd_e`` (``mu_t, sd_t``) are the mean and standard deviation of the
    enrolment (test) side's scores against an impostor cohort. With
    ``top_k`` only the ``top_k`` highest cohort scores of each side are used
    (adaptive s-norm). ``ddof=1`` (unbiased) follows ``torch.std`` as used
    by SpeechBrain's VoxCeleb ``speaker_verification_cosine.py`` recipe.

    Parameters
    ----------
    scores : array-like or torch.Tensor
        Raw trial scores, shape ``[N]``.
    enrol_cohort : array-like or torch.Tensor
        Scores of each trial's enrolment embedding against the cohort,
        shape ``[N, C]`` (see :func:`cohort_scores`).
    test_cohort : array-like or torch.Tensor
        Same for each trial's test embedding, shape ``[N, C']``.
    top_k : int, optional
        Cohort size for adaptive s-norm; ``None`` uses the whole cohort.
    ddof : int
        Delta degrees of freedom of the standard deviation.

    Returns
    -------
    numpy.ndarray
        Float64 normalised scores, shape ``[N]``.

    Example
    -------
    >>> s_norm([0.5], [[0.1, 0.2, 0.3]], [[0.3, 0.5, 0.7]])
    array([1.5])
    >>> s_norm([0.5], [[0.1, 0.2, 0.3, 0.4]], [[0.3, 0.5, 0.7, 0.1]], top_k=3)
    array([1.])
    """
    scores = _as_float(scores).astype(np.float64).ravel()
    enrol_cohort = _check_2d(enrol_cohort, "enrol_cohort").astype(np.float64)
    test_cohort = _check_2d(test_cohort, "test_cohort").astype(np.float64)
    for name, mat in (
        ("enrol_cohort", enrol_cohort),
        ("test_cohort", test_cohort),
    ):
        if mat.shape[0] != scores.shape[0]:
            raise ValueError(
                f"{name} has {mat.shape[0]} rows but there are "
                f"{scores.shape[0]} scores"
            )
    mean_e, std_e = _cohort_stats(enrol_cohort, top_k, ddof, "enrol_cohort")
    mean_t, std_t = _cohort_stats(test_cohort, top_k, ddof, "test_cohort")
    return 0.5 * ((scores - mean_e) / std_e + (scores - mean_t) / std_t)


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
    pos_scores : array-like or torch.Tensor
        Target trial scores.
    neg_scores : array-like or torch.Tensor
        Non-target trial scores.

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
    eer_a = [_WeightedEER(x, lab) for x in scores_a]
    eer_b = [_WeightedEER(x, lab) for x in scores_b]
    rng = np.random.default_rng(seed)
    n = lab.size
    deltas, relatives = [], []
    for _ in range(n_boot):
        weights = np.bincount(rng.integers(0, n, size=n), minlength=n)
        boot_a = [f(weights) for f in eer_a]
        if any(v is None for v in boot_a):
            continue
        boot_b = [f(weights) for f in eer_b]
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


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


def _new_figure(figsize: tuple[float, float]) -> Any:
    """A Matplotlib figure on an Agg canvas (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _check_systems(systems: Mapping[str, Any], what: str) -> None:
    if not systems:
        raise ValueError(f"{what} is empty: nothing to plot")


def _colour_cycle(n):
    """``n`` distinct colours (tab10, then tab20 beyond ten)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(max(n, 1))]


def plot_det(
    curves: Mapping[str, tuple[Any, Any]],
    path: str | os.PathLike,
    title: str = "DET curve",
) -> Path:
    """Plot several DET curves on one pair of probit (normal-deviate) axes.

    Parameters
    ----------
    curves : Mapping[str, tuple[array-like, array-like]]
        Label -> ``(pos_scores, neg_scores)`` of each system / condition.
        Each label is shown with its EER.
    path : str or os.PathLike
        Output image (PNG recommended); parent folders are created.
    title : str
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Example
    -------
    >>> import tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> curves = {"baseline": (rng.normal(2, 1, 100), rng.normal(0, 1, 900))}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = plot_det(curves, os.path.join(d, "det.png"))
    ...     out.stat().st_size > 0
    True
    """
    from scipy.stats import norm

    _check_systems(curves, "curves")
    ticks = np.asarray(DET_TICKS_PERCENT) / 100.0
    fig = _new_figure((6.0, 6.0))
    ax = fig.add_subplot(1, 1, 1)
    # "<condition> baseline" and "<condition> SEED" share a colour; the
    # baseline is dashed, so that many conditions stay readable.
    groups = {}
    for label in curves:
        groups.setdefault(label.rsplit(" ", 1)[0], len(groups))
    palette = _colour_cycle(len(groups))
    for label, (pos, neg) in curves.items():
        p_miss, p_fa = det_curve(pos, neg)
        eer = compute_eer(pos, neg)[0]
        ax.plot(
            norm.ppf(np.clip(p_fa, 1e-9, 1 - 1e-9)),
            norm.ppf(np.clip(p_miss, 1e-9, 1 - 1e-9)),
            label=f"{label} (EER {eer * 100:.2f}%)",
            linewidth=1.5,
            color=palette[groups[label.rsplit(" ", 1)[0]]],
            linestyle="--" if label.endswith(" baseline") else "-",
        )
    lim = norm.ppf([ticks[0], ticks[-1]])
    ax.plot(lim, lim, color="grey", linestyle=":", linewidth=0.8)
    labels = [f"{t:g}" for t in DET_TICKS_PERCENT]
    ax.set_xticks(norm.ppf(ticks), labels)
    ax.set_yticks(norm.ppf(ticks), labels)
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_xlabel("False alarm probability (%)")
    ax.set_ylabel("Miss probability (%)")
    ax.set_title(title)
    ax.grid(True, linestyle="--", linewidth=0.5, alpha=0.6)
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def plot_score_histograms(
    systems: Mapping[str, tuple[Any, Any]],
    path: str | os.PathLike,
    bins: int = 80,
) -> Path:
    """Grid of target / non-target score histograms, one panel per system.

    Parameters
    ----------
    systems : Mapping[str, tuple[array-like, array-like]]
        Label -> ``(pos_scores, neg_scores)``.
    path : str or os.PathLike
        Output image (PNG recommended); parent folders are created.
    bins : int
        Number of histogram bins (shared by both classes of a panel).

    Returns
    -------
    pathlib.Path
        ``path``.

    Example
    -------
    >>> import tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> systems = {
    ...     "baseline": (rng.normal(2, 1, 100), rng.normal(0, 1, 900)),
    ...     "SEED": (rng.normal(3, 1, 100), rng.normal(0, 1, 900)),
    ... }
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = plot_score_histograms(systems, os.path.join(d, "h.png"))
    ...     out.stat().st_size > 0
    True
    """
    _check_systems(systems, "systems")
    n = len(systems)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = _new_figure((4.5 * ncols, 3.3 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (label, (pos, neg)) in zip(axes.flat, systems.items()):
        pos, neg = _check_pos_neg(pos, neg)
        edges = np.histogram_bin_edges(np.concatenate([pos, neg]), bins=bins)
        ax.hist(neg, bins=edges, density=True, alpha=0.55, label="non-target")
        ax.hist(pos, bins=edges, density=True, alpha=0.55, label="target")
        eer = compute_eer(pos, neg)[0]
        ax.set_title(f"{label} (EER {eer * 100:.2f}%)", fontsize="medium")
        ax.set_xlabel("score")
        ax.set_ylabel("density")
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


# ---------------------------------------------------------------------------
# Result tables
# ---------------------------------------------------------------------------


def _number(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where} must be a number, got {value!r}") from err


def _check_condition(cond: Any, i: int) -> None:
    if not isinstance(cond, Mapping):
        raise ValueError(f"conditions[{i}] must be a dict, got {cond!r}")
    for key in ("name", "n_target", "n_nontarget", "baseline", "seed"):
        if key not in cond:
            raise ValueError(f"conditions[{i}] lacks the key {key!r}")
    if not isinstance(cond["name"], str):
        raise ValueError(f"conditions[{i}]['name'] must be a string")
    for system in ("baseline", "seed"):
        block = cond[system]
        if not isinstance(block, Mapping):
            raise ValueError(f"conditions[{i}][{system!r}] must be a dict")
        for metric in ("eer", "min_dcf"):
            if metric not in block:
                raise ValueError(
                    f"conditions[{i}][{system!r}] lacks the key {metric!r}"
                )
            _number(block[metric], f"conditions[{i}][{system!r}][{metric!r}]")


def summarise_conditions(conditions: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Flatten per-condition results and add the ``mean (noisy)`` row.

    Parameters
    ----------
    conditions : Sequence[Mapping]
        Entries of the results schema: ``{"name", "n_target",
        "n_nontarget", "baseline": {"eer", "min_dcf"}, "seed": {"eer",
        "min_dcf"}}`` (EER in percent), optionally ``"eer_change_ci"``.

    Returns
    -------
    list[dict]
        One row per condition with ``name``, ``n_target``, ``n_nontarget``,
        ``baseline_eer``, ``seed_eer``, ``eer_rel_change``,
        ``baseline_min_dcf``, ``seed_min_dcf``, ``min_dcf_rel_change``
        (relative changes ``(seed - baseline) / baseline`` in percent, NaN
        if the baseline is 0) and ``eer_change_ci`` (or None); then, when
        at least one condition is not named ``clean``, a row named ``mean
        (noisy)`` holding the unweighted mean of the EER and minDCF columns
        over those conditions, and the relative change of those means
        (trial counts and CI set to None).

    Example
    -------
    >>> rows = summarise_conditions([
    ...     {"name": "clean", "n_target": 10, "n_nontarget": 90,
    ...      "baseline": {"eer": 1.0, "min_dcf": 0.1},
    ...      "seed": {"eer": 1.0, "min_dcf": 0.1}},
    ...     {"name": "babble", "n_target": 10, "n_nontarget": 90,
    ...      "baseline": {"eer": 4.0, "min_dcf": 0.4},
    ...      "seed": {"eer": 3.0, "min_dcf": 0.3}},
    ...     {"name": "music", "n_target": 10, "n_nontarget": 90,
    ...      "baseline": {"eer": 2.0, "min_dcf": 0.2},
    ...      "seed": {"eer": 2.0, "min_dcf": 0.2}},
    ... ])
    >>> [r["name"] for r in rows]
    ['clean', 'babble', 'music', 'mean (noisy)']
    >>> rows[-1]["baseline_eer"], rows[-1]["seed_eer"]
    (3.0, 2.5)
    >>> round(rows[-1]["eer_rel_change"], 2)
    -16.67
    """
    rows: list[dict] = []
    names = set()
    for i, cond in enumerate(conditions):
        _check_condition(cond, i)
        if cond["name"] in names:
            raise ValueError(f"duplicate condition name {cond['name']!r}")
        names.add(cond["name"])
        base_eer = _number(cond["baseline"]["eer"], "eer")
        seed_eer = _number(cond["seed"]["eer"], "eer")
        base_dcf = _number(cond["baseline"]["min_dcf"], "min_dcf")
        seed_dcf = _number(cond["seed"]["min_dcf"], "min_dcf")
        rows.append(
            {
                "name": cond["name"],
                "n_target": int(cond["n_target"]),
                "n_nontarget": int(cond["n_nontarget"]),
                "baseline_eer": base_eer,
                "seed_eer": seed_eer,
                "eer_rel_change": _relative(base_eer, seed_eer),
                "baseline_min_dcf": base_dcf,
                "seed_min_dcf": seed_dcf,
                "min_dcf_rel_change": _relative(base_dcf, seed_dcf),
                "eer_change_ci": cond.get("eer_change_ci"),
            }
        )
    noisy = [r for r in rows if r["name"] != CLEAN_CONDITION]
    if noisy:
        mean_row: dict[str, Any] = {
            "name": MEAN_NOISY,
            "n_target": None,
            "n_nontarget": None,
            "eer_change_ci": None,
        }
        for key in (
            "baseline_eer",
            "seed_eer",
            "baseline_min_dcf",
            "seed_min_dcf",
        ):
            mean_row[key] = math.fsum(r[key] for r in noisy) / len(noisy)
        # The change of the mean (what "x % lower mean EER" means), not
        # the mean of the per-condition changes.
        mean_row["eer_rel_change"] = _relative(
            mean_row["baseline_eer"], mean_row["seed_eer"]
        )
        mean_row["min_dcf_rel_change"] = _relative(
            mean_row["baseline_min_dcf"], mean_row["seed_min_dcf"]
        )
        rows.append(mean_row)
    return rows


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    text = format(value, spec)
    if text.lstrip("+-").strip("0.") == "":  # "-0.000" -> "0.000"
        text = format(0.0, spec.lstrip("+"))
    return text


def _fmt_ci(ci: Any) -> str:
    if ci is None:
        return "-"
    if isinstance(ci, Mapping):
        if "delta_ci" not in ci:
            raise ValueError(f"eer_change_ci dict lacks 'delta_ci': {ci!r}")
        low, high = ci["delta_ci"]
        bounds = f"[{_fmt(low, '+.3f')}, {_fmt(high, '+.3f')}]"
        if "delta" in ci:
            return f"{_fmt(ci['delta'], '+.3f')} {bounds}"
        return bounds
    low, high = ci
    return f"[{_fmt(low, '+.3f')}, {_fmt(high, '+.3f')}]"


def _jsonable(obj: Any) -> Any:
    """Plain JSON types; NumPy/torch values converted, non-finite -> None."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray) or hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in results.json")


MEAN_CI_KEY = "mean_noisy_eer_change_ci"


TEST_SETS_KEY = "test_sets"


def _table(
    conditions: Sequence[Mapping[str, Any]], mean_ci: Any
) -> tuple[list[str], bool]:
    """Lines of one results table, and whether it has a CI column."""
    rows = summarise_conditions(conditions)
    with_ci = any(r["eer_change_ci"] is not None for r in rows)
    header = [
        "condition",
        "baseline EER (%)",
        "SEED EER (%)",
        "EER rel. change (%)",
        "baseline minDCF",
        "SEED minDCF",
        "minDCF rel. change (%)",
        "targets",
        "non-targets",
    ]
    align = ["---"] + ["---:"] * (len(header) - 1)
    if with_ci:
        header.append("EER change, pp [CI]")
        align.append("---:")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
    ]
    for r in rows:
        cells = [
            r["name"],
            _fmt(r["baseline_eer"], ".3f"),
            _fmt(r["seed_eer"], ".3f"),
            _fmt(r["eer_rel_change"], "+.1f"),
            _fmt(r["baseline_min_dcf"], ".4f"),
            _fmt(r["seed_min_dcf"], ".4f"),
            _fmt(r["min_dcf_rel_change"], "+.1f"),
            "-" if r["n_target"] is None else str(r["n_target"]),
            "-" if r["n_nontarget"] is None else str(r["n_nontarget"]),
        ]
        if with_ci:
            ci = r["eer_change_ci"]
            if r["name"] == MEAN_NOISY and mean_ci:
                ci = mean_ci
            cells.append(_fmt_ci(ci))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells))
        lines[-1] += " |"
    return lines, with_ci


def _mean_ci_note(mean_ci: Any) -> list[str]:
    """The line on the joint CI of the mean noisy row (none without it)."""
    if not mean_ci:
        return []
    low, high = mean_ci["relative_ci"]
    return [
        f"`{MEAN_NOISY}` CI: the same trials resampled jointly over "
        f"the {mean_ci['n_conditions']} noisy conditions "
        f"({mean_ci['n_valid']} replicates); relative change of the "
        f"mean EER {_fmt(mean_ci['relative'], '+.1f')} % "
        f"[{_fmt(low, '+.1f')}, {_fmt(high, '+.1f')}]."
    ]


def _markdown(results: Mapping[str, Any]) -> str:
    table, with_ci = _table(results["conditions"], results.get(MEAN_CI_KEY))
    lines = [f"# Results: {results['backbone']}", "", *table]
    lines += [
        "",
        "EER in percent. Relative change = (SEED - baseline) / baseline x "
        "100; negative is better.",
        f"`{MEAN_NOISY}` is the unweighted mean of each column over every "
        f"condition except `{CLEAN_CONDITION}`; its relative changes are "
        "those of the means.",
    ]
    if with_ci:
        lines.append(
            "CI: paired-bootstrap percentile interval of the EER change "
            "(SEED - baseline, percentage points)."
        )
    lines += _mean_ci_note(results.get(MEAN_CI_KEY))
    test_sets = results.get(TEST_SETS_KEY) or {}
    if not isinstance(test_sets, Mapping):
        raise ValueError(f"results[{TEST_SETS_KEY!r}] must be a dict")
    for name, entry in test_sets.items():
        if not isinstance(entry, Mapping) or not entry.get("conditions"):
            raise ValueError(
                f"results[{TEST_SETS_KEY!r}][{name!r}] needs 'conditions'"
            )
        table, _ = _table(entry["conditions"], entry.get(MEAN_CI_KEY))
        what = entry.get("description")
        counts = (
            f"{int(entry['n_target']):,} target / "
            f"{int(entry['n_nontarget']):,} non-target trials per condition"
            if "n_target" in entry and "n_nontarget" in entry
            else ""
        )
        intro = "; ".join(x for x in (what, counts) if x)
        lines += ["", f"## Test set `{name}`", ""]
        if intro:
            lines += [f"{intro[0].upper()}{intro[1:]}.", ""]
        lines += table
        note = _mean_ci_note(entry.get(MEAN_CI_KEY))
        if note:
            lines += ["", *note]
    extra = {
        k: v
        for k, v in results.items()
        if k not in ("backbone", "conditions", TEST_SETS_KEY)
    }
    if extra:
        lines += [
            "",
            "## Details",
            "",
            "```json",
            json.dumps(_jsonable(extra), sort_keys=True, indent=2),
            "```",
        ]
    return "\n".join(lines) + "\n"


def write_results(
    results: Mapping[str, Any], folder: str | os.PathLike
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` into ``folder``.

    The JSON keeps ``results`` as given (keys sorted, indent 2; NumPy and
    torch scalars / arrays converted, NaN / inf stored as ``null``). The
    Markdown file has the :func:`summarise_conditions` table, then one
    table per entry of ``results["test_sets"]`` (``{name: {"conditions":
    [...], "n_target", "n_nontarget", "description",
    "mean_noisy_eer_change_ci"}}``, conditions as in the main table), and
    the other top-level keys as a JSON block. Both files are written atomically
    (temporary file, then ``os.replace``) and are byte-for-byte identical
    for identical input.

    Parameters
    ----------
    results : Mapping
        ``{"backbone": str, "conditions": [...], ...}``; see
        :func:`summarise_conditions` for a condition's keys. EERs in
        percent.
    folder : str or os.PathLike
        Output folder, created if needed.

    Returns
    -------
    tuple[pathlib.Path, pathlib.Path]
        Paths of ``results.json`` and ``results.md``.

    Example
    -------
    >>> import tempfile
    >>> results = {"backbone": "ecapa", "conditions": [
    ...     {"name": "clean", "n_target": 2, "n_nontarget": 8,
    ...      "baseline": {"eer": 1.0, "min_dcf": 0.1},
    ...      "seed": {"eer": 0.5, "min_dcf": 0.1}}]}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     json_path, md_path = write_results(results, d)
    ...     json.loads(json_path.read_text())["backbone"]
    'ecapa'
    """
    if not isinstance(results, Mapping):
        raise ValueError("results must be a dict")
    if not isinstance(results.get("backbone"), str):
        raise ValueError("results['backbone'] must be a string")
    conditions = results.get("conditions")
    if not isinstance(conditions, (list, tuple)) or not conditions:
        raise ValueError("results['conditions'] must be a non-empty list")
    markdown = _markdown(results)  # validates every condition
    text = json.dumps(_jsonable(results), sort_keys=True, indent=2) + "\n"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "results.json"
    md_path = folder / "results.md"
    write_text(json_path, text)
    write_text(md_path, markdown)
    return json_path, md_path
