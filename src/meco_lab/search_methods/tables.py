"""Tables of a selection: the truth values of the selected architectures, per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table

from meco_lab.benchmarks import Task
from meco_lab.evaluation.tables import value_cell


def accuracy_stats(values: np.ndarray) -> dict[str, float]:
    """Mean, population std (ddof=0), min and max of the finite values."""
    ok = values[np.isfinite(values)]
    if not len(ok):
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"mean": float(ok.mean()), "std": float(ok.std()), "min": float(ok.min()), "max": float(ok.max())}


def topk_table(selection: dict[str, Any], title: str, tasks: Sequence[Task]) -> Table:
    """The top-k's truth values per task: mean ± std, the best one's, the top-k's best and the candidates' best."""
    k, n = selection["k"], selection["n_candidates"]
    table = Table(title=title)
    for column in ("task", f"top-{k} mean±std", "top-1", f"best of top-{k}", f"best of all {n}"):
        table.add_column(column, justify="left" if column == "task" else "right", no_wrap=True)
    for t in tasks:
        digits = 2 if t.unit == "%" else 4
        stats = selection["topk_accuracy"][t.name]
        best = max if t.higher_is_better else min
        top = [r["accuracy"][t.name] for r in selection["ranked"]]
        table.add_row(t.name, f"{value_cell(stats['mean'], digits)} ± {value_cell(stats['std'], digits)}",
                      value_cell(selection["best"]["accuracy"][t.name], digits), value_cell(best(top), digits),
                      value_cell(selection["candidates_best"][t.name], digits))
    return table
