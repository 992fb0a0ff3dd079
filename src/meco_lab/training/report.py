"""The retrain report: per-architecture test accuracy mean ± std over seeds, as markdown, CSV and W&B."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.table import Table

from meco_lab.core.io import atomic_path, write_text
from meco_lab.tracking import table as wandb_table
from meco_lab.tracking import wandb_run
from meco_lab.training.archs import ArchChoice

COLUMNS = ("arch", "nats_index", "dataset", "protocol", "epochs", "seeds", "test_acc_mean", "test_acc_std",
           "test_acc_per_seed", "params", "train_seconds_mean", "train_seconds_total", "benchmark_test_acc")


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and population std (ddof=0; 0 for one value)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std())


def summarise(results: list[dict[str, Any]], benchmark: dict[str, float | None], dataset: str,
              protocol: str) -> pl.DataFrame:
    """One row per architecture from the per-seed results (each: arch, index, seed, test_acc, params, seconds, ...)."""
    rows = []
    for arch in dict.fromkeys(r["arch"] for r in results):
        mine = sorted((r for r in results if r["arch"] == arch), key=lambda r: r["seed"])
        accs = [r["test_acc"] for r in mine]
        seconds = [r["train_seconds"] for r in mine]
        mean, std = mean_std(accs)
        epochs = sorted({r["epochs_trained"] for r in mine})
        rows.append({
            "arch": arch,
            "nats_index": mine[0]["nats_index"],
            "dataset": dataset,
            "protocol": protocol,
            "epochs": "/".join(str(e) for e in epochs) + f" of {mine[0]['epochs_protocol']}",
            "seeds": " ".join(str(r["seed"]) for r in mine),
            "test_acc_mean": mean,
            "test_acc_std": std,
            "test_acc_per_seed": " ".join(f"{a:.2f}" for a in accs),
            "params": mine[0]["params"],
            "train_seconds_mean": float(np.mean(seconds)),
            "train_seconds_total": float(np.sum(seconds)),
            "benchmark_test_acc": benchmark.get(arch),
        })
    schema = {"nats_index": pl.Int64, "params": pl.Int64, "benchmark_test_acc": pl.Float64}
    return pl.DataFrame(rows, schema_overrides=schema).select(COLUMNS)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(table: pl.DataFrame, title: str, notes: list[str]) -> str:
    head = ["architecture", "NATS index", "test acc. (%) mean ± std", "seeds", "epochs", "params",
            "train time / seed (s)", "benchmark acc. (%)"]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.iter_rows(named=True):
        index = "-" if row["nats_index"] is None else str(row["nats_index"])
        arch = row["arch"].replace("|", "\\|")  # a bare | would end the table cell
        lines.append(
            f"| `{arch}` | {index} | {row['test_acc_mean']:.2f} ± {row['test_acc_std']:.2f} "
            f"| {row['seeds']} | {row['epochs']} | {row['params']:,} | {row['train_seconds_mean']:.1f} "
            f"| {_fmt(row['benchmark_test_acc'])} |")
    lines += [""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(lines)


def rich_table(table: pl.DataFrame, title: str) -> Table:
    out = Table(title=title)
    for column in ("architecture", "test acc. %", "seeds", "epochs", "params", "s / seed", "benchmark %"):
        out.add_column(column, justify="left" if column == "architecture" else "right",
                       no_wrap=column != "architecture")
    for row in table.iter_rows(named=True):
        name = row["arch"] if row["nats_index"] is None else f"#{row['nats_index']} {row['arch']}"
        if name.startswith("Genotype"):  # a DARTS genotype: its folder name (the full string is in the .md)
            name = ArchChoice(name, None, "", "darts").key
        out.add_row(name, f"{row['test_acc_mean']:.2f} ± {row['test_acc_std']:.2f}", row["seeds"], row["epochs"],
                    f"{row['params']:,}", f"{row['train_seconds_mean']:.1f}", _fmt(row["benchmark_test_acc"]))
    return out


def write_report(run_dir: Path, table: pl.DataFrame, title: str, notes: list[str]) -> None:
    """final_accuracy.csv and final_accuracy.md in `run_dir`, each replaced atomically."""
    write_text(run_dir / "final_accuracy.md", markdown(table, title, notes))
    with atomic_path(run_dir / "final_accuracy.csv") as tmp:
        table.write_csv(tmp)


def log_wandb(tracking: dict[str, Any], run_dir: Path, config: dict[str, Any], table: pl.DataFrame,
              histories: dict[str, pl.DataFrame]) -> None:
    """One W&B run (offline by default): config, the final table, per-arch summary metrics and the epoch curves."""
    with wandb_run(tracking, run_dir, config, job_type="retrain") as run:
        if run is None:
            return
        for row in table.iter_rows(named=True):
            key = row["arch"] if row["nats_index"] is None else f"nats-{row['nats_index']}"
            for column in ("test_acc_mean", "test_acc_std", "params", "train_seconds_mean"):
                run.summary[f"{column}/{key}"] = row[column]
            if row["benchmark_test_acc"] is not None:
                run.summary[f"benchmark_test_acc/{key}"] = row["benchmark_test_acc"]
        payload: dict[str, Any] = {"final_accuracy": wandb_table(table)}
        for key, history in histories.items():
            payload[f"history/{key}"] = wandb_table(history)
        run.log(payload)
