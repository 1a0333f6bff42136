"""Scoring: metrics, score normalisation, bootstrap, plots and reports.

* :mod:`seed_brain.scoring.metrics`: EER, minDCF, DET curve;
* :mod:`seed_brain.scoring.backend`: cosine scores of trials, cohort, s-norm;
* :mod:`seed_brain.scoring.bootstrap`: confidence intervals of EER changes;
* :mod:`seed_brain.scoring.plots`: DET curves and score histograms;
* :mod:`seed_brain.scoring.reports`: the condition summary, ``results.json``
  and ``results.md``.

Their public names are reachable from here
(``from seed_brain.scoring import compute_eer``). Like its submodules, it
imports only NumPy.

Authors
 * seed-brain developers 2026
"""

from seed_brain.scoring.backend import (
    COSINE_EPS,
    UnknownTrialIdError,
    cohort_scores,
    cosine_scores,
    s_norm,
    score_trials,
)
from seed_brain.scoring.bootstrap import (
    bootstrap_eer_change,
    bootstrap_mean_eer_change,
)
from seed_brain.scoring.metrics import (
    compute_eer,
    compute_min_dcf,
    det_curve,
)
from seed_brain.scoring.plots import (
    DET_TICKS_PERCENT,
    plot_det,
    plot_score_histograms,
)
from seed_brain.scoring.reports import (
    CLEAN_CONDITION,
    MEAN_CI_KEY,
    MEAN_NOISY,
    TEST_SETS_KEY,
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
