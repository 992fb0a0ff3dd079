"""Rich tables of a run's summary, one row per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from meco_lab.benchmarks import Task
from meco_lab.benchmarks.truth.size import SIZE_LABELS


def value_cell(value: float | None, digits: int) -> str:
    """A table cell: the value rounded, or a dash where there is none (NaN or null)."""
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def results_table(summary: dict[str, Any], title: str, tasks: Sequence[Task]) -> Table:
    """rho, tau and the top-10 mean truth value per task (or rho and tau against size, without truth)."""
    if "size_correlation" in summary:
        return size_table(summary, title, tasks)
    metrics = {metric_label(t) for t in tasks}
    shared = len(metrics) == 1
    table = Table(title=f"{title}: {metrics.pop()}" if shared else title)
    table.add_column("task", no_wrap=True, min_width=max(len(t.name) for t in tasks))
    for column in ("spearman rho", "95% CI", "kendall tau", "top-10 mean"):
        table.add_column(column, justify="right", no_wrap=True)
    if not shared:
        table.add_column("metric", overflow="fold")
    for t in tasks:
        lo, hi = summary.get("spearman_ci95", {}).get(t.name, (None, None))
        table.add_row(t.name, value_cell(summary["spearman"][t.name], 4),
                      f"{value_cell(lo, 3)} .. {value_cell(hi, 3)}", value_cell(summary["kendall"][t.name], 4),
                      value_cell(summary["top10_mean_accuracy"][t.name], 2 if t.unit == "%" else 4),
                      *([] if shared else [metric_label(t)]))
    return table


def metric_label(task: Task) -> str:
    """The task's metric, with its unit and (when it applies) direction."""
    return task.label + ("" if task.higher_is_better else ", lower is better")


def size_table(summary: dict[str, Any], title: str, tasks: Sequence[Task]) -> Table:
    """Rho and tau against exact #params and FLOPs, for runs without a ground-truth value."""
    table = Table(title=title)
    table.add_column("task", no_wrap=True, min_width=max(len(t.name) for t in tasks))
    for key in SIZE_LABELS:
        for stat in ("rho", "tau"):
            table.add_column(f"{stat} {SIZE_LABELS[key].split(' ')[0]}", justify="right")
    size = summary["size_correlation"]
    for t in tasks:
        table.add_row(t.name, *(value_cell(size[key][m][t.name], 4) for key in SIZE_LABELS
                                for m in ("spearman", "kendall")))
    return table
