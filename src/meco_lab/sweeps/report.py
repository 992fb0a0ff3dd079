"""A sweep's report.md with plots, beside the paper's numbers (`python -m meco_lab.report SWEEP_DIR`).

Every table and plot iterates over the tasks the sweep's trials were ranked on (recorded in sweep.json).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl
from rich.console import Console

from meco_lab.core.io import write_text
from meco_lab.evaluation.tables import value_cell
from meco_lab.sweeps.paper import paper_value
from meco_lab.sweeps.spec import SweepRecord

METRIC_COLUMNS = {"spearman": "rho", "kendall": "tau", "top10_mean_accuracy": "top-10 acc.",
                  "spearman_lo": "rho 95% CI low", "spearman_hi": "rho 95% CI high"}


def aggregate(trials: pl.DataFrame, keys: list[str], tasks: list[str], prefix: str = "") -> pl.DataFrame:
    """Mean and std over seeds of every metric, per point."""
    exprs = []
    for metric in METRIC_COLUMNS:
        for d in tasks:
            col = f"{prefix}{metric}_{d}"
            if col in trials.columns:
                exprs += [pl.col(col).mean().alias(f"{col}_mean"), pl.col(col).std(ddof=0).alias(f"{col}_std")]
    exprs += [pl.len().alias("n_seeds"), pl.col("seconds").sum().alias("seconds"),
              pl.col("forward_passes").sum().alias("forward_passes")]
    return trials.group_by(keys, maintain_order=True).agg(exprs).sort(keys)


def interval(row: dict[str, Any], metric: str, task: str) -> str:
    """A bootstrap 95% interval cell (the mean over seeds of each seed's interval); empty for sweeps run before
    intervals were recorded."""
    lo, hi = row.get(f"{metric}_lo_{task}_mean"), row.get(f"{metric}_hi_{task}_mean")
    return "" if lo is None or hi is None else f"{value_cell(lo, 3)} .. {value_cell(hi, 3)}"


def paper_for(paper: dict[str, str], value: Any) -> dict[str, float] | None:
    """The paper's value per task for a point. `paper` maps point labels to paths in paper_results.yaml; a path to
    one number names its task after an `@` (`table2_nb301_cifar10_rho.meco@cifar10`)."""
    path = paper.get(str(value))
    if not path:
        return None
    path, _, task = path.partition("@")
    found = paper_value(path)
    return {task: found} if task else found


def plot_sweep(agg: pl.DataFrame, record: SweepRecord, paper: dict[str, str], x: str, series: str | None,
               path: Path, prefix: str = "") -> Path:
    """rho against the swept parameter per task, error bars over seeds, the paper's values as red crosses."""
    tasks = list(record.tasks)
    cols = min(len(tasks), 4)
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.8 * rows), squeeze=False)
    xs = agg[x].unique(maintain_order=True).to_list()
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    pos = {v: (v if numeric else i) for i, v in enumerate(xs)}
    groups = agg.partition_by(series, maintain_order=True) if series else [agg]
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    for ax, d in zip(axes.flat, tasks, strict=False):
        for g in groups:
            label = f"{series}={g[series][0]}" if series else "meco_lab (mean ± std over seeds)"
            means, stds = (g[f"{prefix}spearman_{d}_{m}"].fill_null(float("nan")).to_list() for m in ("mean", "std"))
            ax.errorbar([pos[v] for v in g[x].to_list()], means, yerr=stds, marker="o", capsize=3, label=label)
        paper_points = [(pos[v], paper_for(paper, v).get(d)) for v in xs if paper_for(paper, v)]
        paper_points = [(p, v) for p, v in paper_points if v is not None]
        if paper_points:
            ax.scatter(*zip(*paper_points, strict=True), marker="x", s=70, color="red", zorder=5, label="paper")
        ax.set_title(d)
        ax.set_xlabel(x)
        ax.set_ylabel("Spearman rho")
        if numeric and len(xs) > 2 and max(xs) / max(min(xs), 1e-9) >= 8:
            ax.set_xscale("log", base=2)
            ax.minorticks_off()
        ax.set_xticks([pos[v] for v in xs], [str(v) for v in xs])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{record.spec.name}: {record.spec.description}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_table(agg: pl.DataFrame, record: SweepRecord, paper_paths: dict[str, str], keys: list[str],
                   prefix: str = "") -> list[str]:
    head = [*keys, "task", "rho (mean ± std)", "rho 95% CI", "tau (mean ± std)", "top-10", "paper rho", "diff", "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in agg.iter_rows(named=True):
        paper = paper_for(paper_paths, point_label(row, keys))
        for d in record.tasks:
            rho = row.get(f"{prefix}spearman_{d}_mean")
            if rho is None:  # a point of a sweep over benchmarks without this task
                continue
            ref = paper.get(d) if paper else None
            cells = [*(str(row[k]) for k in keys), d, f"{rho:.4f} ± {row[f'{prefix}spearman_{d}_std']:.4f}",
                     interval(row, f"{prefix}spearman", d),
                     f"{row[f'{prefix}kendall_{d}_mean']:.4f} ± {row[f'{prefix}kendall_{d}_std']:.4f}",
                     top_value(row[f"{prefix}top10_mean_accuracy_{d}_mean"], record.tasks[d]),
                     "" if ref is None else f"{ref:.3f}",
                     "" if ref is None else f"{rho - ref:+.3f}", str(row["n_seeds"])]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def point_label(row: dict[str, Any], keys: list[str]) -> str:
    """A point's values joined by `/`: the key of the sweep's `paper` map (`4`, or `tnb101_micro/meco`)."""
    return "/".join(str(row[k]) for k in keys)


def seconds_per_arch(trials: pl.DataFrame, keys: list[str]) -> dict[str, float]:
    """Scoring seconds per architecture, per point: as recorded with the scores (`arch_seconds`: a proxy's share of
    the one pass that scored it, cache hits included), or for sweeps from before that column, over the runs that
    scored (cache hits excluded)."""
    if "arch_seconds" in trials.columns and trials["arch_seconds"].is_not_null().any():
        rows = trials.group_by(keys).agg(pl.col("arch_seconds").mean().alias("s"))
        return {point_label(r, keys): r["s"] for r in rows.iter_rows(named=True)}
    fresh = trials.filter(pl.col("forward_passes") > 0)
    rows = fresh.group_by(keys).agg((pl.col("seconds").sum() / pl.col("forward_passes").sum()).alias("s"))
    return {point_label(r, keys): r["s"] for r in rows.iter_rows(named=True)}


def summary_table(agg: pl.DataFrame, trials: pl.DataFrame, record: SweepRecord, paper_paths: dict[str, str],
                  keys: list[str]) -> list[str]:
    """One row per point (the paper's Table 1 layout): rho per task with the paper's value in brackets, the top-10
    mean value per task (Table 12) and the seconds per architecture."""
    tasks = list(record.tasks)
    cost = seconds_per_arch(trials, keys)
    head = [*keys, *(f"rho {d} (paper)" for d in tasks), "top-10 " + " / ".join(tasks), "s/arch"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    orders = [{str(v): i for i, v in enumerate(p.values or ())} for p in record.spec.params]

    def position(row: dict[str, Any]) -> tuple[int, ...]:
        return tuple(order.get(str(row[k]), len(order)) for k, order in zip(keys, orders, strict=True))

    for row in sorted(agg.iter_rows(named=True), key=position):
        paper = paper_for(paper_paths, point_label(row, keys)) or {}
        rhos = [value_cell(row.get(f"spearman_{d}_mean"), 3) + (f" ({paper[d]:.2f})" if d in paper else "")
                for d in tasks]
        top = " / ".join(top_value(row.get(f"top10_mean_accuracy_{d}_mean"), record.tasks[d]) for d in tasks)
        seconds = cost.get(point_label(row, keys))
        lines.append("| " + " | ".join([*(str(row[k]) for k in keys), *rhos, top,
                                        "" if seconds is None else f"{seconds:.3f}"]) + " |")
    return lines


def against(trials: pl.DataFrame) -> str:
    """What the trials' rho is measured against (sweeps from before the `truth` column: the TSS table)."""
    sources = sorted(set(trials["truth"].drop_nulls().to_list())) if "truth" in trials.columns else []
    return "; ".join(sources) or "NATS-Bench TSS test accuracy"


def ranked_against_params(trials: pl.DataFrame) -> bool:
    """Whether any trial ranked against #params (no accuracy for its space); older sweeps ranked against accuracy."""
    return "ranked_against" in trials.columns and bool((trials["ranked_against"] == "params").any())


def top_value(value: float | None, task: dict[str, Any]) -> str:
    """A top-10 mean cell (2 decimals for a % metric, 4 otherwise); a dash where the space has no truth value
    (rho is then against #params)."""
    if value is None or value != value:
        return "–"
    return f"{value:.2f}" if task.get("unit") == "%" else f"{value:.4f}"


def write_report(sweep_dir: Path, publish_wandb: bool = False, console: Console | None = None) -> Path:
    """Write report.md and its PNG plots into the sweep dir; return the report's path."""
    console = console or Console(stderr=True)
    record = SweepRecord.load(sweep_dir)
    spec = record.spec
    trials = pl.read_parquet(sweep_dir / "trials.parquet")
    keys = [p.name for p in spec.params]
    tasks = list(record.tasks)
    # the paper's rho is against accuracy: not comparable when the trials ranked against #params
    paper = {} if ranked_against_params(trials) else spec.paper
    finished = trials["trial"].n_unique()
    status = "" if finished >= spec.budget else (
        f"**Partial: {finished} of {spec.budget} trials finished**; repeat the sweep command to resume. ")
    lines = [f"# Sweep `{spec.name}`" + (f" (profile {spec.profile})" if spec.profile else ""), "",
             spec.description, "",
             f"Made by `{record.command}`; this report by `python -m meco_lab.report {sweep_dir}`.", "",
             f"{status}{finished} trials, {len(trials)} scoring runs (trial x seed), "
             f"{int(trials['forward_passes'].sum())} forward passes, "
             f"{int(trials['cache_hit'].sum())} runs served from the score cache, "
             f"{trials['n_archs'].max()} architectures each; Spearman rho against {against(trials)}.", ""]
    lower = [t for t, d in record.tasks.items() if not d.get("higher_is_better", True)]
    if lower:
        lines += [f"Lower is better on {', '.join(lower)}: rho and tau there are against the negated value.", ""]
    if spec.sampler == "grid":
        if spec.split:  # a grid with a split has nothing to tune: report each point on the held-out half
            trials = held_out(trials)
            lines += [f"Every metric below is on the held-out half of the architectures (split {spec.split}).", ""]
        agg = aggregate(trials, keys, tasks)
        plot = plot_sweep(agg, record, paper, keys[0], keys[1] if len(keys) > 1 else None, sweep_dir / "rho.png")
        lines += [f"![rho against {keys[0]}]({plot.name})", ""]
        lines += ["Mean over seeds; seconds per architecture as recorded with the scores (a proxy's share of the "
                  "pass that scored it).", "", *summary_table(agg, trials, record, paper, keys), ""]
        lines += markdown_table(agg, record, paper, keys)
    else:
        lines += tpe_section(trials, record, keys, sweep_dir)
    report = sweep_dir / "report.md"
    write_text(report, "\n".join(lines) + "\n")
    if publish_wandb:
        publish(report, record, console)
    return report


def held_out(trials: pl.DataFrame) -> pl.DataFrame:
    """The trials table with each `holdout_<metric>` column renamed `<metric>` (the tune columns dropped), so a split
    grid sweep reports its points on the held-out half."""
    held = [c for c in trials.columns if c.startswith("holdout_")]
    whole = {c.removeprefix("holdout_") for c in held}
    keep = [c for c in trials.columns if c not in whole and not c.startswith("tune_")]
    return trials.select(keep).rename({c: c.removeprefix("holdout_") for c in held})


def tpe_section(trials: pl.DataFrame, record: SweepRecord, keys: list[str], sweep_dir: Path) -> list[str]:
    """Tuned on one half, reported on the other: the best trials by the tuning objective."""
    spec, tasks = record.spec, list(record.tasks)
    metric = spec.metric.replace(".", "_")
    agg = aggregate(trials, ["trial", *keys], tasks, prefix="").join(
        aggregate(trials, ["trial"], tasks, prefix="tune_").select("trial", f"tune_{metric}_mean"), on="trial").join(
        aggregate(trials, ["trial"], tasks, prefix="holdout_").select(
            "trial", *[f"holdout_spearman_{d}_mean" for d in tasks]), on="trial")
    best = agg.sort(f"tune_{metric}_mean", descending=spec.direction == "maximize")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(agg["trial"], agg[f"tune_{metric}_mean"], "o-", label=f"tune half: {spec.metric}")
    ax.plot(agg["trial"], agg[f"holdout_{metric}_mean"] if f"holdout_{metric}_mean" in agg.columns
            else agg[f"holdout_spearman_{spec.objective[1]}_mean"], "s--", label="holdout half")
    ax.set_xlabel("trial")
    ax.set_ylabel("Spearman rho")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(sweep_dir / "tuning.png", dpi=110)
    plt.close(fig)
    top = best.row(0, named=True)
    lines = ["![tuning](tuning.png)", "",
             f"Best trial {top['trial']} ({', '.join(f'{k}={top[k]}' for k in keys)}): "
             f"tuned {spec.metric} = {top[f'tune_{metric}_mean']:.4f} on the tuning half; on the held-out half "
             + ", ".join(f"{d} {top[f'holdout_spearman_{d}_mean']:.4f}" for d in tasks) + ".", "",
             "| trial | " + " | ".join(keys) + " | tune rho | " + " | ".join(f"holdout rho {d}" for d in tasks) + " |",
             "|" + "---|" * (len(keys) + 2 + len(tasks))]
    for row in best.head(10).iter_rows(named=True):
        lines.append(f"| {row['trial']} | " + " | ".join(str(row[k]) for k in keys)
                     + f" | {row[f'tune_{metric}_mean']:.4f} | "
                     + " | ".join(f"{row[f'holdout_spearman_{d}_mean']:.4f}" for d in tasks) + " |")
    return lines


def publish(report: Path, record: SweepRecord, console: Console) -> None:
    """Publish a W&B Report when online; offline, say so in one line (the local report stands)."""
    if os.environ.get("WANDB_MODE", "offline") in ("offline", "disabled"):
        console.print(f"W&B report not published: W&B is offline (WANDB_MODE); the local report is {report}")
        return
    try:
        import wandb_workspaces.reports.v2 as wr
    except ImportError:
        console.print("W&B report not published: `pip install wandb-workspaces` to publish; local report at "
                      f"{report}")
        return
    doc = wr.Report(project="meco_lab", title=f"meco_lab sweep {record.spec.name}",
                    blocks=[wr.MarkdownBlock(text=report.read_text())])
    doc.save()
    console.print(f"W&B report: {doc.url}")
