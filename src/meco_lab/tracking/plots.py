"""Plots written into every run dir."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

COLUMNS = 4
"""Panels per row before a scatter plot wraps (7 tasks: two rows)."""


def scatter_plot(scores: np.ndarray | Mapping[str, np.ndarray], truth: Mapping[str, np.ndarray],
                 rho: Mapping[str, float], title: str, path: Path,
                 ylabel: str | Mapping[str, str] = "test accuracy (%)") -> Path:
    """Score against the truth value, one panel per task (`scores`: one array, or one per task; `ylabel` one label
    or one per task), rho in each panel's title."""
    n = len(truth)
    cols = min(n, COLUMNS)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.8 * rows), squeeze=False)
    for ax, (task, values) in zip(axes.flat, truth.items(), strict=False):
        x = scores[task] if isinstance(scores, Mapping) else scores
        ok = np.isfinite(x) & np.isfinite(values)
        ax.scatter(x[ok], values[ok], s=3, alpha=0.35, linewidths=0)
        value = rho.get(task)
        shown = "n/a" if value is None or value != value else f"{value:.3f}"
        ax.set_title(f"{task}  (rho = {shown}, n = {ok.sum()})", fontsize=10)
        ax.set_xlabel("proxy score")
        ax.set_ylabel(ylabel if isinstance(ylabel, str) else ylabel[task])
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
