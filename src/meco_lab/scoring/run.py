"""One scoring run: plan -> scores (resumable, in parts) -> summary, scatter plot, tracking and the printed table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from meco_lab.core.io import atomic_path, write_json, write_text
from meco_lab.core.locks import exclusive
from meco_lab.evaluation.summary import summarise
from meco_lab.evaluation.tables import results_table
from meco_lab.scoring.executors import scoring_executor
from meco_lab.scoring.plan import RunPlan, fingerprint, known_values, plan_run
from meco_lab.scoring.store import ScoreStore
from meco_lab.tracking import image, scatter_plot, table, wandb_run


def progress_bar(console: Console, label: str = "scoring", info: str = "rate") -> Progress:
    """A rich progress bar: label, bar, done/total, the task's `info` field, elapsed and remaining time."""
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn(f"{{task.fields[{info}]}}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console)


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

            run_scoring = scoring_executor(plan.config)  # executor=local: parallel.run_scoring; ray: ray_executor
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
    with exclusive(run_dir / ".scores" / ".lock", "hydra.run.dir", str(run_dir), "a run dir"):
        store = ScoreStore(run_dir, fingerprint(config), console, plan.job.columns)
        write_text(run_dir / "config.yaml", OmegaConf.to_yaml(config))
        scores, _, seconds = compute_scores(plan, store, console)
        summary = write_outputs(plan, scores, seconds, run_dir, console)
    console.print(f"{summary['n_nan']} NaN scores; scoring took {seconds:.1f} s; outputs in {run_dir}")
    return summary


def write_outputs(plan: RunPlan, scores: pl.DataFrame, seconds: float, run_dir: Path,
                  console: Console) -> dict[str, Any]:
    """scores.parquet, summary.json, scatter.png and the W&B run of a finished scoring; prints the results table."""
    config = plan.config

    with atomic_path(run_dir / "scores.parquet") as tmp:
        scores.write_parquet(tmp)
    summary = summarise(scores, plan.truth, plan.tasks, seconds, config, plan.size, plan.columns)
    names = config["proxy"]["name"], config["space"]["name"], config["data"]["name"]
    title = f"{names[0]} on {names[1]} ({len(scores)} archs, data={names[2]})"
    known = known_values(plan.truth, plan.indices, plan.tasks)
    if known < 2:
        instead = "Spearman rho against exact #params and FLOPs instead" if plan.size else "no rho (NaN)"
        console.print(f"no ground truth to rank against: {known} of {len(plan.indices)} {names[1]} archs have a "
                      f"value in {plan.truth.source}; reporting {instead}", soft_wrap=True)
    index = scores["index"].to_numpy()
    if plan.size is None:
        rho = summary["spearman"]
        metric = config["truth"].get("metric", "test")
        ylabel = {t.name: t.label.replace("test ", f"{metric} ", 1) for t in plan.tasks}
    else:
        rho, ylabel = summary["size_correlation"]["params"]["spearman"], "#params (M)"
    plot = scatter_plot({t.name: scores[plan.columns[t.name]].to_numpy() for t in plan.tasks},
                        {t.name: plan.reference.values[t.name][index] for t in plan.tasks},
                        rho, title, run_dir / "scatter.png", ylabel=ylabel)
    write_json(run_dir / "summary.json", summary)

    with wandb_run(config["tracking"], run_dir, config, job_type="score") as run:
        if run is not None:
            flat = {f"{metric}/{task}": value for metric in ("spearman", "kendall", "top10_mean_accuracy")
                    for task, value in summary[metric].items()}
            flat.update({k: summary[k] for k in ("n_archs", "n_nan", "seconds")})
            for size, stats in summary.get("size_correlation", {}).items():  # runs without truth
                flat.update({f"{m}_vs_{size}/{t}": v for m, per in stats.items() for t, v in per.items()})
            run.summary.update(flat)
            run.log({"scores": table(scores), "scatter": image(plot)})
    console.print(results_table(summary, title, plan.tasks))
    return summary
