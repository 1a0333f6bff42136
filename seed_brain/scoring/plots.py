"""DET curves and score histograms (Matplotlib, imported lazily).

Authors
 * seed-brain developers 2026
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from seed_brain.scoring.metrics import _check_pos_neg, compute_eer, det_curve

__all__ = [
    "plot_det",
    "plot_score_histograms",
]

#: Standard DET-plot ticks, in percent.
DET_TICKS_PERCENT = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 40, 50)


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


def _save_figure(fig: Any, path: str | os.PathLike, dpi: int) -> Path:
    """Lays ``fig`` out and writes it to ``path``, creating its folders."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


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
    return _save_figure(fig, path, dpi=120)


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
        ``path``: rows of up to three panels, in the order of ``systems``.

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
    return _save_figure(fig, path, dpi=110)
