"""Scoring: metrics, score normalisation, bootstrap, plots and reports.

Every public name of the submodules is reachable from here
(``from seed_brain.scoring import compute_eer``). Like its submodules, it
imports only NumPy.

Authors
 * seed-brain developers 2026
"""

from seed_brain.scoring.metrics import (
    CLEAN_CONDITION,
    COSINE_EPS,
    DET_TICKS_PERCENT,
    MEAN_CI_KEY,
    MEAN_NOISY,
    TEST_SETS_KEY,
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

__all__ = [
    "CLEAN_CONDITION",
    "COSINE_EPS",
    "DET_TICKS_PERCENT",
    "MEAN_CI_KEY",
    "MEAN_NOISY",
    "TEST_SETS_KEY",
    "UnknownTrialIdError",
    "bootstrap_eer_change",
    "bootstrap_mean_eer_change",
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
