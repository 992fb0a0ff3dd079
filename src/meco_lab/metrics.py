"""Rank agreement between proxy scores and trained accuracy."""

from __future__ import annotations

import numpy as np
from scipy import stats


def rank_metrics(scores: np.ndarray, accuracy: np.ndarray, top_k: int = 10) -> dict[str, float]:
    """Spearman rho, Kendall tau-b and the mean accuracy of the top-k scored architectures.

    Pairs whose score or accuracy is NaN/inf are left out (the caller counts NaN scores);
    NaN when fewer than two pairs remain.
    """
    ok = np.isfinite(scores) & np.isfinite(accuracy)
    s, a = scores[ok], accuracy[ok]
    if len(s) < 2:
        return {"spearman": float("nan"), "kendall": float("nan"), "top_mean_accuracy": float("nan")}
    top = np.argsort(-s, kind="stable")[:top_k]
    return {
        "spearman": float(stats.spearmanr(s, a).statistic),
        "kendall": float(stats.kendalltau(s, a).statistic),
        "top_mean_accuracy": float(a[top].mean()),
    }
