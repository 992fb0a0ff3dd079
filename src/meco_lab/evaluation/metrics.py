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


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


class _Midranks:
    """Mid-ranks of bootstrap draws of one variable: `of(counts)` gives, per draw (row of multiplicities), the rank
    each original element has in the draw, ties and repeats averaged, in O(n) per draw."""

    def __init__(self, values: np.ndarray):
        self.groups = np.unique(values, return_inverse=True)[1]
        self.order = np.argsort(self.groups, kind="stable")
        self.starts = np.flatnonzero(np.r_[True, np.diff(self.groups[self.order]) != 0])

    def of(self, counts: np.ndarray) -> np.ndarray:
        per_group = np.add.reduceat(counts[:, self.order], self.starts, axis=1)
        return (np.cumsum(per_group, axis=1) - (per_group - 1) / 2)[:, self.groups]


def spearman_interval(scores: np.ndarray, truth: np.ndarray, higher_is_better: bool = True,
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """A 95% bootstrap interval of Spearman rho: the 2.5th and 97.5th percentiles of rho over `resamples` draws of
    the (finite) architectures with replacement, from a generator seeded with `seed`; NaN with fewer than 3 pairs.

    Each draw is its multiplicity per architecture, and its rho the count-weighted Pearson correlation of the
    draw's mid-ranks, which equals Spearman rho of the resampled pairs (ties and repeats included).
    """
    ok = np.isfinite(scores) & np.isfinite(truth)
    s, a = scores[ok], (truth[ok] if higher_is_better else -truth[ok])
    n = len(s)
    if n < 3:
        return float("nan"), float("nan")
    ranks_s, ranks_a = _Midranks(s), _Midranks(a)
    rng = np.random.default_rng(seed)
    rhos = []
    for start in range(0, resamples, 50):  # 50 draws at a time: bounded memory on the whole TSS space
        k = min(50, resamples - start)
        draws = rng.integers(0, n, (k, n)) + n * np.arange(k)[:, None]
        c = np.bincount(draws.ravel(), minlength=k * n).reshape(k, n).astype(np.float64)
        rs, ra = ranks_s.of(c), ranks_a.of(c)
        rs -= ((c * rs).sum(axis=1) / n)[:, None]
        ra -= ((c * ra).sum(axis=1) / n)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            rhos.append((c * rs * ra).sum(axis=1) / np.sqrt((c * rs * rs).sum(axis=1) * (c * ra * ra).sum(axis=1)))
    lo, hi = np.nanpercentile(np.concatenate(rhos), [2.5, 97.5])
    return float(lo), float(hi)
