"""One scoring run: plan -> scores (resumable, in parts) -> summary, scatter plot, tracking and the printed table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from meco_lab.core.io import atomic_path, write_json, write_text
from meco_lab.core.locks import exclusive
from meco_lab.evaluation.summary import summarise
from meco_lab.evaluation.tables import results_table
from meco_lab.scoring.cache import cached_members, ensemble_scores
from meco_lab.scoring.compute import compute_scores
from meco_lab.scoring.plan import RunPlan, fingerprint, known_values, plan_run
from meco_lab.scoring.store import ScoreStore
from meco_lab.tracking import image, scatter_plot, table, wandb_run


def score_run(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    """Score the selected architectures into `run_dir`, resuming what an earlier run there left. A composite proxy
    goes through the score cache (`composite_run`)."""
    console = console or Console(stderr=True)
    config = OmegaConf.to_container(cfg, resolve=True)
    plan = plan_run(config)
    with exclusive(run_dir / ".scores" / ".lock", "hydra.run.dir", str(run_dir), "a run dir"):
        store = ScoreStore(run_dir, fingerprint(config), console, plan.job.columns)
        write_text(run_dir / "config.yaml", OmegaConf.to_yaml(config))
        if plan.members:
            return composite_run(plan, run_dir, console)
        scores, _, seconds = compute_scores(plan, store, console)
        summary = write_outputs(plan, scores, seconds, run_dir, console)
    console.print(f"{summary['n_nan']} NaN scores; scoring took {seconds:.1f} s; outputs in {run_dir}")
    return summary


def composite_run(plan: RunPlan, run_dir: Path, console: Console) -> dict[str, Any]:
    """A composite proxy's run. Its members' scores come from the score cache (`cache_dir`), which one pass per
    architecture fills where it lacks them (resumable there). `proxy=multi` writes each member's outputs into
    `<run dir>/<label>/`, as a single-proxy run of it would, and returns {"members": {label: summary}, "seconds"};
    `proxy=ensemble` writes the rank aggregation's outputs into the run dir and returns its summary."""
    config = plan.config
    root = Path(config.get("cache_dir") or "outputs/cache/scores")
    start = time.perf_counter()
    results = cached_members(plan.member_plans(), root, console, config["workers"], config["chunk"])
    seconds = time.perf_counter() - start
    if config["proxy"]["name"] == "ensemble":
        summary = write_outputs(plan, ensemble_scores(plan, [r[0] for r in results]), seconds, run_dir, console)
        console.print(f"ensemble of {', '.join(m.label for m in plan.members)}: {summary['n_nan']} NaN scores; "
                      f"members from {root} ({seconds:.1f} s); outputs in {run_dir}", soft_wrap=True)
        return summary
    summaries, cost = {}, {}
    for member, member_plan, (scores, _, member_seconds) in zip(plan.members, plan.member_plans(), results,
                                                                strict=True):
        folder = run_dir / member.label
        write_text(folder / "config.yaml", OmegaConf.to_yaml(member_plan.config))
        summaries[member.label] = write_outputs(member_plan, scores, member_seconds, folder, console, show=False)
        cost[member.label] = float(scores["seconds"].mean()) if len(scores) else float("nan")
    console.print(members_table(summaries, cost, plan, seconds))
    console.print(f"{len(plan.members)} proxies in one pass: {seconds:.1f} s; scores in {root}, outputs in "
                  f"{run_dir}/<{'|'.join(summaries)}>", soft_wrap=True)
    return {"members": summaries, "seconds": seconds}


def members_table(summaries: dict[str, dict[str, Any]], cost: dict[str, float], plan: RunPlan, seconds: float
                  ) -> Table:
    """One row per member of a multi run: Spearman rho per task (against #params where the truth has no value), NaN
    scores and `cost`, the member's seconds per architecture (its share of the pass that scored it)."""
    against = "rho" if plan.size is None else "rho vs #params"
    title = (f"{len(summaries)} proxies in one pass on {plan.config['space']['name']} ({len(plan.indices)} archs, "
             f"data={plan.config['data']['name']}; {seconds:.1f} s)")
    table = Table(title=title)
    for column in ("proxy", *(f"{against} {t.name}" for t in plan.tasks), "NaN", "s/arch"):
        table.add_column(column, justify="left" if column == "proxy" else "right", no_wrap=True)
    for label, summary in summaries.items():
        rho = summary["spearman"] if plan.size is None else summary["size_correlation"]["params"]["spearman"]
        table.add_row(label, *("" if rho.get(t.name) is None else f"{rho[t.name]:.4f}" for t in plan.tasks),
                      str(summary["n_nan"]), f"{cost[label]:.3f}")
    return table


def write_outputs(plan: RunPlan, scores: pl.DataFrame, seconds: float, run_dir: Path,
                  console: Console, show: bool = True) -> dict[str, Any]:
    """scores.parquet, summary.json, scatter.png and the W&B run of a finished scoring; prints the results table
    (`show`)."""
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
    if show:
        console.print(results_table(summary, title, plan.tasks))
    return summary
