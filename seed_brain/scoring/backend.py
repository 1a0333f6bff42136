"""Trial scoring and score normalisation: cosine scores of trials, the
calibration cohort and s-norm.

Authors
 * seed-brain developers 2026
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from seed_brain.scoring.metrics import _as_float

__all__ = [
    "UnknownTrialIdError",
    "cohort_scores",
    "cosine_scores",
    "s_norm",
    "score_trials",
]

#: Norm floor used by :func:`cosine_scores`, as in
#: ``torch.nn.functional.cosine_similarity`` (each norm is clamped).
COSINE_EPS = 1e-8


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
    seed_brain.scoring.backend.UnknownTrialIdError: trial 1 (0-based): \
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
