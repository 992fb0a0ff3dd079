"""One scoring run: config -> input -> scores (resumable) -> metrics -> plot, summary and tracking."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from meco_lab.errors import ConfigError
from meco_lab.inputs import NUM_CLASSES, make_batch
from meco_lab.metrics import rank_metrics
from meco_lab.plots import scatter_plot
from meco_lab.scoring import Scorer, ScoringJob, build_space, run_scoring
from meco_lab.selection import select_indices
from meco_lab.spaces import SearchSpace
from meco_lab.store import ScoreStore
from meco_lab.tracking import make_tracker
from meco_lab.truth import DATASETS, GroundTruth, load_truth_config
from meco_lab.truth.size import SIZE_LABELS, size_truth

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    if device not in DEVICES:
        raise ConfigError("device", device, DEVICES)
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", device, "auto or cpu: no CUDA device is visible")
    return "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)


def check_positive(key: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(key, value, "an integer >= 1")


def fingerprint(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings that change a score: space (not the selection), proxy, data and seed."""
    space = {k: v for k, v in cfg["space"].items() if k not in ("limit", "sample", "indices", "sample_seed")}
    return {"space": space, "proxy": cfg["proxy"], "data": cfg["data"], "seed": cfg["seed"]}


def make_job(cfg: dict[str, Any]) -> ScoringJob:
    data = cfg["data"]
    x, y = make_batch(data["name"], size=data["size"], samples=data["samples"], seed=cfg["seed"],
                      root=data.get("root"), split=data.get("split", "train"))
    return ScoringJob(space=cfg["space"], proxy=cfg["proxy"], x=x, y=y, seed=cfg["seed"],
                      num_classes=NUM_CLASSES[data["name"]], reduce=data.get("reduce", "first"),
                      device=resolve_device(cfg["device"]), threads=cfg["threads"], data=data)


def progress_bar(console: Console, label: str = "scoring") -> Progress:
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console)


def summarise(scores: pl.DataFrame, truth, seconds: float, config: dict[str, Any],
              size: dict[str, GroundTruth] | None = None) -> dict[str, Any]:
    """The summary.json contract: counts, wall time, rho / tau / top-10 accuracy per dataset, resolved config.

    With `size` (the truth has no accuracy), `size_correlation` adds rho and tau against exact #params and FLOPs.
    """
    index = scores["index"].to_numpy()
    values = scores["score"].to_numpy()
    per_dataset = {d: rank_metrics(values, truth.accuracy[d][index]) for d in DATASETS}
    summary = {
        "n_archs": len(scores),
        "n_nan": int(np.isnan(values).sum()),
        "n_failed": int(scores["error"].is_not_null().sum()),
        "seconds": seconds,
        "arch_seconds_sum": float(scores["seconds"].sum()),
        "spearman": {d: m["spearman"] for d, m in per_dataset.items()},
        "kendall": {d: m["kendall"] for d, m in per_dataset.items()},
        "top10_mean_accuracy": {d: m["top_mean_accuracy"] for d, m in per_dataset.items()},
        "truth": truth.source,
        "config": config,
    }
    if size is not None:
        summary["size_correlation"] = {key: size_metrics(values, ref, index) for key, ref in size.items()}
    return summary


def size_metrics(values: np.ndarray, size: GroundTruth, index: np.ndarray) -> dict[str, dict[str, float]]:
    """Spearman rho and Kendall tau of the scores against one exact size (#params or FLOPs) per dataset."""
    per_dataset = {d: rank_metrics(values, size.accuracy[d][index]) for d in DATASETS}
    return {m: {d: per_dataset[d][m] for d in DATASETS} for m in ("spearman", "kendall")}


def known_accuracies(truth: GroundTruth, indices: list[int]) -> int:
    """How many of `indices` have an accuracy on every dataset."""
    return int(np.isfinite(np.stack([truth.accuracy[d][indices] for d in DATASETS])).all(axis=0).sum())


def check_truth_matches(space: SearchSpace, truth: GroundTruth, indices: list[int]) -> None:
    """Refuse ground truth whose arch strings differ from the space's (an archive of another space)."""
    if truth.arch is None or space.benchmark is None:
        return
    for i in indices:
        if i >= len(truth.arch) or truth.arch[i] != space.arch(i):
            found = truth.arch[i] if i < len(truth.arch) else "nothing"
            raise ConfigError("truth", truth.source, f"ground truth of {space.name} (arch {i} is {found!r})")


def results_table(summary: dict[str, Any], title: str) -> Table:
    if "size_correlation" in summary:
        return size_table(summary, title)
    table = Table(title=title)
    for column in ("dataset", "spearman rho", "kendall tau", "top-10 mean acc."):
        table.add_column(column, justify="right" if column != "dataset" else "left")
    for d in DATASETS:
        table.add_row(d, f"{summary['spearman'][d]:.4f}", f"{summary['kendall'][d]:.4f}",
                      f"{summary['top10_mean_accuracy'][d]:.2f}")
    return table


def size_table(summary: dict[str, Any], title: str) -> Table:
    """Rho and tau against exact #params and FLOPs, for runs without accuracy."""
    table = Table(title=title)
    table.add_column("dataset")
    for key in SIZE_LABELS:
        for stat in ("rho", "tau"):
            table.add_column(f"{stat} {SIZE_LABELS[key].split(' ')[0]}", justify="right")
    size = summary["size_correlation"]
    for d in DATASETS:
        table.add_row(d, *(f"{size[key][m][d]:.4f}" for key in SIZE_LABELS for m in ("spearman", "kendall")))
    return table


@dataclass
class RunPlan:
    """A validated run: the architectures to score, their ground truth and the scoring job.

    `size` holds exact #params and FLOPs when the ground truth has no accuracy for the selection.
    """

    config: dict[str, Any]
    indices: list[int]
    truth: GroundTruth
    job: ScoringJob
    size: dict[str, GroundTruth] | None = None


def plan_run(config: dict[str, Any]) -> RunPlan:
    """Check every setting and load what the run needs; raises ConfigError before any work is done."""
    space_cfg = config["space"]
    space = build_space(space_cfg)
    indices = select_indices(len(space), space_cfg.get("limit"), space_cfg.get("sample"), space_cfg.get("indices"),
                             space_cfg.get("sample_seed", 0))
    truth_cfg = config["truth"]
    truth = load_truth_config(truth_cfg, indices, space=space.benchmark or "tss")
    check_truth_matches(space, truth, indices)
    size = size_truth(space, indices) if known_accuracies(truth, indices) < 2 else None
    job = make_job(config)
    check_positive("workers", config["workers"])
    check_positive("chunk", config["chunk"])
    Scorer(job)  # refuse a bad proxy or reduce setting before anything is written
    return RunPlan(config, indices, truth, job, size)


def compute_scores(plan: RunPlan, store: ScoreStore, console: Console, label: str = "scoring") -> tuple[
        pl.DataFrame, int, float]:
    """Score what `store` lacks of the plan's architectures: (scores of all of them, forward passes, seconds)."""
    indices = plan.indices
    done = set(store.load()["index"].to_list())
    todo = [i for i in indices if i not in done]
    if done and todo:
        console.print(f"resuming: {len(set(indices) & done)} of {len(indices)} architectures already scored")
    start = time.perf_counter()
    if todo:
        with progress_bar(console, label) as progress:
            task = progress.add_task(label, total=len(indices), completed=len(indices) - len(todo), rate="")

            def advance(n: int) -> None:
                progress.advance(task, n)
                scored = progress.tasks[task].completed - (len(indices) - len(todo))
                progress.update(task, rate=f"{scored / max(time.perf_counter() - start, 1e-9):.1f} arch/s")

            run_scoring(plan.job, todo, plan.config["workers"], plan.config["chunk"], store.append, advance)
    seconds = time.perf_counter() - start
    passes_per_arch = 1 if plan.job.reduce == "first" else len(plan.job.x)
    scores = store.load().filter(pl.col("index").is_in(indices))
    return scores, len(todo) * passes_per_arch, seconds


def score_run(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    """Score the selected architectures into `run_dir`, resuming what an earlier run there left."""
    console = console or Console(stderr=True)
    config = OmegaConf.to_container(cfg, resolve=True)
    plan = plan_run(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    store = ScoreStore(run_dir, fingerprint(config))
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
    scores, _, seconds = compute_scores(plan, store, console)

    scores.write_parquet(run_dir / "scores.parquet")
    summary = summarise(scores, plan.truth, seconds, config, plan.size)
    names = config["proxy"]["name"], config["space"]["name"], config["data"]["name"]
    title = f"{names[0]} on {names[1]} ({len(scores)} archs, data={names[2]})"
    known = known_accuracies(plan.truth, plan.indices)
    if known < 2:
        instead = "Spearman rho against exact #params and FLOPs instead" if plan.size else "no rho (NaN)"
        console.print(f"no accuracy to rank against: {known} of {len(plan.indices)} {names[1]} archs have one in "
                      f"{plan.truth.source}; reporting {instead}", soft_wrap=True)
    if plan.size is None:
        metric = config["truth"].get("metric", "test")
        reference, rho, ylabel = plan.truth, summary["spearman"], f"{metric} accuracy (%)"
    else:
        reference, rho, ylabel = plan.size["params"], summary["size_correlation"]["params"]["spearman"], "#params (M)"
    plot = scatter_plot(scores["score"].to_numpy(),
                        {d: reference.accuracy[d][scores["index"].to_numpy()] for d in DATASETS},
                        rho, title, run_dir / "scatter.png", ylabel=ylabel)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))

    tracker = make_tracker(config["tracking"], run_dir, config)
    try:
        tracker.log(summary, scores, plot)
    finally:
        tracker.close()
    console.print(results_table(summary, title))
    console.print(f"{summary['n_nan']} NaN scores; scoring took {seconds:.1f} s; outputs in {run_dir}")
    return summary
