"""Plots written into every run dir."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def scatter_plot(scores: np.ndarray, accuracy: dict[str, np.ndarray], rho: dict[str, float], title: str,
                 path: Path, ylabel: str = "test accuracy (%)") -> Path:
    """Score against accuracy, one panel per dataset, rho in each panel's title."""
    fig, axes = plt.subplots(1, len(accuracy), figsize=(4.2 * len(accuracy), 3.8), squeeze=False)
    for ax, (dataset, acc) in zip(axes[0], accuracy.items(), strict=True):
        ok = np.isfinite(scores) & np.isfinite(acc)
        ax.scatter(scores[ok], acc[ok], s=3, alpha=0.35, linewidths=0)
        ax.set_title(f"{dataset}  (rho = {rho.get(dataset, float('nan')):.3f}, n = {ok.sum()})", fontsize=10)
        ax.set_xlabel("proxy score")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
