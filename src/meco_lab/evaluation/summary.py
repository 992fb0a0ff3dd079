"""The summary.json contract of a scoring run: counts, time, rank metrics per task, the resolved config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from meco_lab.benchmarks import GroundTruth, Task
from meco_lab.evaluation.metrics import rank_metrics

METRICS = ("spearman", "kendall", "top10_mean_accuracy")
"""The per-task metrics of a summary (and of a sweep's trial rows)."""


def task_metrics(values: np.ndarray, truth: GroundTruth, index: np.ndarray, task: Task) -> dict[str, float]:
    """rho, tau and the top-10 mean truth value of one task (rho and tau oriented by the task's direction)."""
    m = rank_metrics(values, truth.values[task.name][index], higher_is_better=task.higher_is_better)
    return {"spearman": m["spearman"], "kendall": m["kendall"], "top10_mean_accuracy": m["top_mean_accuracy"]}


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
