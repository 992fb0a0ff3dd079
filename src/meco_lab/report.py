"""`python -m meco_lab.report SWEEP_DIR [--wandb]`: a sweep's report.md with plots, beside the paper's numbers."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl
from rich.console import Console

from meco_lab.paper import paper_value
from meco_lab.sweep_spec import DATASETS

METRIC_COLUMNS = {"spearman": "rho", "kendall": "tau", "top10_mean_accuracy": "top-10 acc."}


def aggregate(trials: pl.DataFrame, keys: list[str], prefix: str = "") -> pl.DataFrame:
    """Mean and std over seeds of every metric, per point."""
    exprs = []
    for metric in METRIC_COLUMNS:
        for d in DATASETS:
            col = f"{prefix}{metric}_{d}"
            if col in trials.columns:
                exprs += [pl.col(col).mean().alias(f"{col}_mean"), pl.col(col).std(ddof=0).alias(f"{col}_std")]
    exprs += [pl.len().alias("n_seeds"), pl.col("seconds").sum().alias("seconds"),
              pl.col("forward_passes").sum().alias("forward_passes")]
    return trials.group_by(keys, maintain_order=True).agg(exprs).sort(keys)


def paper_for(spec: dict[str, Any], value: Any) -> dict[str, float] | None:
    path = spec.get("paper", {}).get(str(value))
    return paper_value(path) if path else None


def plot_sweep(agg: pl.DataFrame, spec: dict[str, Any], x: str, series: str | None, path: Path,
               prefix: str = "") -> Path:
    """rho against the swept parameter per dataset, error bars over seeds, the paper's values as red crosses."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), squeeze=False)
    xs = agg[x].unique(maintain_order=True).to_list()
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    pos = {v: (v if numeric else i) for i, v in enumerate(xs)}
    groups = agg.partition_by(series, maintain_order=True) if series else [agg]
    for ax, d in zip(axes[0], DATASETS, strict=True):
        for g in groups:
            label = f"{series}={g[series][0]}" if series else "meco_lab (mean ± std over seeds)"
            ax.errorbar([pos[v] for v in g[x].to_list()], g[f"{prefix}spearman_{d}_mean"].to_list(),
                        yerr=g[f"{prefix}spearman_{d}_std"].to_list(), marker="o", capsize=3, label=label)
        paper = [(pos[v], paper_for(spec, v)[d]) for v in xs if paper_for(spec, v)]
        if paper:
            ax.scatter(*zip(*paper, strict=True), marker="x", s=70, color="red", zorder=5, label="paper")
        ax.set_title(d)
        ax.set_xlabel(x)
        ax.set_ylabel("Spearman rho")
        if numeric and len(xs) > 2 and max(xs) / max(min(xs), 1e-9) >= 8:
            ax.set_xscale("log", base=2)
            ax.minorticks_off()
        ax.set_xticks([pos[v] for v in xs], [str(v) for v in xs])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{spec['name']}: {spec['description']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_table(agg: pl.DataFrame, spec: dict[str, Any], keys: list[str], prefix: str = "") -> list[str]:
    head = [*keys, "dataset", "rho (mean ± std)", "tau (mean ± std)", "top-10 acc.", "paper rho", "diff", "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in agg.iter_rows(named=True):
        paper = paper_for(spec, row[keys[0]]) if len(keys) == 1 else None
        for d in DATASETS:
            rho = row[f"{prefix}spearman_{d}_mean"]
            ref = paper.get(d) if paper else None
            cells = [*(str(row[k]) for k in keys), d, f"{rho:.4f} ± {row[f'{prefix}spearman_{d}_std']:.4f}",
                     f"{row[f'{prefix}kendall_{d}_mean']:.4f} ± {row[f'{prefix}kendall_{d}_std']:.4f}",
                     accuracy(row[f"{prefix}top10_mean_accuracy_{d}_mean"]), "" if ref is None else f"{ref:.3f}",
                     "" if ref is None else f"{rho - ref:+.3f}", str(row["n_seeds"])]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def seconds_per_arch(trials: pl.DataFrame, key: str) -> dict[Any, float]:
    """Scoring seconds per freshly scored architecture, per value of `key` (cache hits excluded)."""
    fresh = trials.filter(pl.col("forward_passes") > 0)
    rows = fresh.group_by(key).agg((pl.col("seconds").sum() / pl.col("forward_passes").sum()).alias("s"))
    return dict(zip(rows[key].to_list(), rows["s"].to_list(), strict=True))


def summary_table(agg: pl.DataFrame, trials: pl.DataFrame, spec: dict[str, Any], key: str) -> list[str]:
    """One row per swept value (the paper's Table 1 layout): rho per dataset with the paper's value in
    brackets, top-10 mean accuracy per dataset (Table 12) and the seconds per architecture."""
    cost = seconds_per_arch(trials, key)
    head = [key, *(f"rho {d} (paper)" for d in DATASETS), "top-10 acc. " + " / ".join(DATASETS), "s/arch"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = {str(v): i for i, v in enumerate(spec["params"][key])} if isinstance(spec["params"][key], list) else {}
    for row in sorted(agg.iter_rows(named=True), key=lambda r: order.get(str(r[key]), len(order))):
        paper = paper_for(spec, row[key]) or {}
        rhos = [f"{row[f'spearman_{d}_mean']:.3f}" + (f" ({paper[d]:.2f})" if d in paper else "") for d in DATASETS]
        top = " / ".join(accuracy(row[f"top10_mean_accuracy_{d}_mean"]) for d in DATASETS)
        seconds = cost.get(row[key])
        lines.append("| " + " | ".join([str(row[key]), *rhos, top, "" if seconds is None else f"{seconds:.3f}"])
                     + " |")
    return lines


def against(trials: pl.DataFrame) -> str:
    """What the trials' rho is measured against (sweeps from before the `truth` column: the TSS table)."""
    sources = sorted(set(trials["truth"].drop_nulls().to_list())) if "truth" in trials.columns else []
    return "; ".join(sources) or "NATS-Bench TSS test accuracy"


def ranked_against_params(trials: pl.DataFrame) -> bool:
    """Whether any trial ranked against #params (no accuracy for its space); older sweeps ranked against accuracy."""
    return "ranked_against" in trials.columns and bool((trials["ranked_against"] == "params").any())


def accuracy(value: float) -> str:
    """A top-10 accuracy cell; a dash where the space has no accuracy (rho is then against #params)."""
    return "–" if value != value else f"{value:.2f}"


def sweep_command(spec: dict[str, Any]) -> str:
    parts = ["just sweep", spec["name"]]
    if spec.get("profile"):
        parts.append(f"profile={spec['profile']}")
    return " ".join(parts + list(spec.get("overrides", [])))


def write_report(sweep_dir: Path, publish_wandb: bool = False, console: Console | None = None) -> Path:
    """Write report.md and its PNG plots into the sweep dir; return the report's path."""
    console = console or Console(stderr=True)
    spec = json.loads((sweep_dir / "sweep.json").read_text())
    trials = pl.read_parquet(sweep_dir / "trials.parquet")
    keys = list(spec["params"])
    if ranked_against_params(trials):  # the paper's rho is against accuracy, not comparable
        spec = {**spec, "paper": {}}
    finished = trials["trial"].n_unique()
    status = "" if finished >= spec["trials"] else (
        f"**Partial: {finished} of {spec['trials']} trials finished**; repeat the sweep command to resume. ")
    lines = [f"# Sweep `{spec['name']}`" + (f" (profile {spec['profile']})" if spec.get("profile") else ""), "",
             spec["description"], "",
             f"Made by `{sweep_command(spec)}`; this report by `python -m meco_lab.report {sweep_dir}`.", "",
             f"{status}{finished} trials, {len(trials)} scoring runs (trial x seed), "
             f"{int(trials['forward_passes'].sum())} forward passes, "
             f"{int(trials['cache_hit'].sum())} runs served from the score cache, "
             f"{trials['n_archs'].max()} architectures each; Spearman rho against {against(trials)}.", ""]
    if spec["sampler"] == "grid":
        agg = aggregate(trials, keys)
        plot = plot_sweep(agg, spec, keys[0], keys[1] if len(keys) > 1 else None, sweep_dir / "rho.png")
        lines += [f"![rho against {keys[0]}]({plot.name})", ""]
        if len(keys) == 1:
            lines += ["Mean over seeds; seconds per architecture over the runs that scored (not cache hits).", "",
                      *summary_table(agg, trials, spec, keys[0]), ""]
        lines += markdown_table(agg, spec, keys)
    else:
        lines += tpe_section(trials, spec, keys, sweep_dir)
    report = sweep_dir / "report.md"
    report.write_text("\n".join(lines) + "\n")
    if publish_wandb:
        publish(report, spec, console)
    return report


def tpe_section(trials: pl.DataFrame, spec: dict[str, Any], keys: list[str], sweep_dir: Path) -> list[str]:
    """Tuned on one half, reported on the other: the best trials by the tuning objective."""
    metric = spec["metric"].replace(".", "_")
    agg = aggregate(trials, ["trial", *keys], prefix="").join(
        aggregate(trials, ["trial"], prefix="tune_").select("trial", f"tune_{metric}_mean"), on="trial").join(
        aggregate(trials, ["trial"], prefix="holdout_").select(
            "trial", *[f"holdout_spearman_{d}_mean" for d in DATASETS]), on="trial")
    best = agg.sort(f"tune_{metric}_mean", descending=spec["direction"] == "maximize")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(agg["trial"], agg[f"tune_{metric}_mean"], "o-", label=f"tune half: {spec['metric']}")
    ax.plot(agg["trial"], agg[f"holdout_{metric}_mean"] if f"holdout_{metric}_mean" in agg.columns
            else agg[f"holdout_spearman_{spec['metric'].split('.')[1]}_mean"], "s--", label="holdout half")
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
             f"tuned {spec['metric']} = {top[f'tune_{metric}_mean']:.4f} on the tuning half; on the held-out half "
             + ", ".join(f"{d} {top[f'holdout_spearman_{d}_mean']:.4f}" for d in DATASETS) + ".", "",
             "| trial | " + " | ".join(keys) + " | tune rho | holdout rho cifar10 | holdout rho cifar100 |"
             " holdout rho ImageNet16-120 |", "|" + "---|" * (len(keys) + 5)]
    for row in best.head(10).iter_rows(named=True):
        lines.append(f"| {row['trial']} | " + " | ".join(str(row[k]) for k in keys)
                     + f" | {row[f'tune_{metric}_mean']:.4f} | "
                     + " | ".join(f"{row[f'holdout_spearman_{d}_mean']:.4f}" for d in DATASETS) + " |")
    return lines


def publish(report: Path, spec: dict[str, Any], console: Console) -> None:
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
    doc = wr.Report(project="meco_lab", title=f"meco_lab sweep {spec['name']}",
                    blocks=[wr.MarkdownBlock(text=report.read_text())])
    doc.save()
    console.print(f"W&B report: {doc.url}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a sweep's report.md and plots.")
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--wandb", action="store_true", help="also publish a W&B Report (when online)")
    parser.add_argument("--refresh", action="store_true",
                        help="first rebuild trials.parquet from the study's storage (a sweep still running or stopped)")
    args = parser.parse_args()
    if args.refresh and (args.sweep_dir / "sweep.json").exists():
        from meco_lab.sweep_runner import refresh_trials_table

        refresh_trials_table(args.sweep_dir)
    if not (args.sweep_dir / "trials.parquet").exists():
        raise SystemExit(f"error: sweep_dir={str(args.sweep_dir)!r} is not allowed: expected a sweep dir "
                         "holding trials.parquet")
    print(write_report(args.sweep_dir, publish_wandb=args.wandb))


if __name__ == "__main__":
    main()
