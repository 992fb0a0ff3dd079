"""Rank agreement between proxy scores and a benchmark's ground truth."""

from __future__ import annotations

import numpy as np
from scipy import stats


def rank_metrics(scores: np.ndarray, truth: np.ndarray, top_k: int = 10,
                 higher_is_better: bool = True) -> dict[str, float]:
    """Spearman rho, Kendall tau-b and the mean truth value of the top-k scored architectures.

    Pairs whose score or truth is NaN/inf are left out (the caller counts NaN scores); NaN when fewer than
    two pairs remain. For a lower-is-better truth rho and tau are against its negation, so that a higher rho
    always means better architectures scored higher; the top-k mean is of the values as they are.
    """
    ok = np.isfinite(scores) & np.isfinite(truth)
    s, a = scores[ok], truth[ok]
    if len(s) < 2:
        return {"spearman": float("nan"), "kendall": float("nan"), "top_mean_accuracy": float("nan")}
    top = np.argsort(-s, kind="stable")[:top_k]
    oriented = a if higher_is_better else -a
    return {
        "spearman": float(stats.spearmanr(s, oriented).statistic),
        "kendall": float(stats.kendalltau(s, oriented).statistic),
        "top_mean_accuracy": float(a[top].mean()),
    }
