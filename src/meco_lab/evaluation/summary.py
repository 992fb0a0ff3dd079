"""The summary.json contract of a scoring run: counts, time, rank metrics per task, the resolved config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from meco_lab.benchmarks import GroundTruth, Task
from meco_lab.evaluation.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, rank_metrics, spearman_interval

METRICS = ("spearman", "kendall", "top10_mean_accuracy")
"""The per-task metrics of a summary (and of a sweep's trial rows, which add `spearman_lo` and `spearman_hi`)."""


def task_metrics(values: np.ndarray, truth: GroundTruth, index: np.ndarray, task: Task) -> dict[str, float]:
    """rho, tau and the top-10 mean truth value of one task (rho and tau oriented by the task's direction), and
    rho's 95% bootstrap interval (`spearman_lo`, `spearman_hi`)."""
    reference = truth.values[task.name][index]
    m = rank_metrics(values, reference, higher_is_better=task.higher_is_better)
    lo, hi = spearman_interval(values, reference, task.higher_is_better)
    return {"spearman": m["spearman"], "kendall": m["kendall"], "top10_mean_accuracy": m["top_mean_accuracy"],
            "spearman_lo": lo, "spearman_hi": hi}


def summarise(scores: pl.DataFrame, truth: GroundTruth, tasks: Sequence[Task], seconds: float,
              config: dict[str, Any], size: dict[str, GroundTruth] | None = None,
              columns: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Counts, wall time, rho / tau / top-10 mean truth value per task, where the truth came from, and the config.

    `columns` maps each task to its score column (default `score` for all). With `size` (the truth has no value),
    `size_correlation` adds rho and tau against exact #params and FLOPs. `n_nan` counts the architectures with a
    NaN score (on any task).
    """
    columns = columns or dict.fromkeys((t.name for t in tasks), "score")
    index = scores["index"].to_numpy()
    values = {t.name: scores[columns[t.name]].to_numpy() for t in tasks}
    per_task = {t.name: task_metrics(values[t.name], truth, index, t) for t in tasks}
    summary = {
        "n_archs": len(scores),
        "n_nan": int(np.isnan(np.stack(list(values.values()))).any(axis=0).sum()),
        "n_failed": int(scores["error"].is_not_null().sum()),
        "seconds": seconds,
        "arch_seconds_sum": float(scores["seconds"].sum()),
        **{metric: {name: m[metric] for name, m in per_task.items()} for metric in METRICS},
        "spearman_ci95": {name: [m["spearman_lo"], m["spearman_hi"]] for name, m in per_task.items()},
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED,
                      "what": "architectures resampled with replacement; 2.5th and 97.5th percentiles of rho"},
        "tasks": {t.name: t.describe() for t in tasks},
        "truth": truth.source,
        "config": config,
    }
    if size is not None:
        summary["size_correlation"] = {key: size_metrics(values, ref, index, tasks) for key, ref in size.items()}
    return summary


def size_metrics(values: Mapping[str, np.ndarray], size: GroundTruth, index: np.ndarray,
                 tasks: Sequence[Task]) -> dict[str, dict[str, float]]:
    """Spearman rho and Kendall tau of each task's scores against one exact size (#params or FLOPs)."""
    per_task = {t.name: rank_metrics(values[t.name], size.values[t.name][index]) for t in tasks}
    return {m: {t.name: per_task[t.name][m] for t in tasks} for m in ("spearman", "kendall")}
