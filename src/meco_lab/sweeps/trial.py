"""One sweep trial: a point of the swept parameters, scored at every seed through the score cache."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console

from meco_lab.core.config import compose_config
from meco_lab.evaluation.summary import METRICS, task_metrics
from meco_lab.scoring.cache import cache_key, cached_scores
from meco_lab.scoring.plan import RunPlan, plan_run
from meco_lab.sweeps.spec import SweepSpec
from meco_lab.tracking import wandb_run


def trial_overrides(spec: SweepSpec, params: dict[str, Any], seed: int, extra: Sequence[str] = ()) -> list[str]:
    """A trial's config overrides: the sweep's base and profile, the command line's `extra`, the point, the seed."""
    point = [f"{k}={'null' if v is None else v}" for k, v in params.items()]
    return [*spec.base, *spec.profile_overrides, *extra, *point, f"seed={seed}"]


def trial_plan(spec: SweepSpec, params: dict[str, Any], seed: int, extra: Sequence[str] = ()) -> RunPlan:
    """The checked plan of one (point, seed) of a sweep."""
    return plan_run(compose_config(trial_overrides(spec, params, seed, extra)))


def split_metrics(spec: SweepSpec, plan: RunPlan, scores: pl.DataFrame) -> dict[str, float]:
    """Metrics per task over all scored archs, or over the tune and holdout halves when the sweep splits.

    Without a ground-truth value for the selection (NATS-Bench SSS without its archive) rho and tau are against
    exact #params, as `score` reports them, and the top-10 value is NaN rather than a made-up number.
    """
    index = scores["index"].to_numpy()
    parts = {"": np.ones(len(index), dtype=bool)}
    if spec.split:
        rng = np.random.default_rng(spec.split.get("seed", 0))
        tune = np.zeros(len(index), dtype=bool)
        tune[rng.permutation(len(index))[: round(spec.split.get("fraction", 0.5) * len(index))]] = True
        parts = {"tune_": tune, "holdout_": ~tune}
    out: dict[str, float] = {}
    for prefix, mask in parts.items():
        for task in plan.tasks:
            values = scores[plan.columns[task.name]].to_numpy()
            metrics = task_metrics(values[mask], plan.reference, index[mask], task)
            if plan.size is not None:
                metrics["top10_mean_accuracy"] = float("nan")
            out.update({f"{prefix}{m}_{task.name}": metrics[m] for m in (*METRICS, "spearman_lo", "spearman_hi")})
    return out


def evaluate(spec: SweepSpec, params: dict[str, Any], number: int, cache_dir: Path, extra: Sequence[str],
             console: Console, credit: Mapping[str, tuple[int, float]] | None = None
             ) -> tuple[float, list[dict[str, Any]]]:
    """Score the point at every seed (through the cache under `cache_dir`); the objective and one row per seed.

    The objective is `<metric>.<task>` averaged over the seeds; for a point whose benchmark lacks that task (a sweep
    over benchmarks), the metric averaged over the point's own tasks. `credit`: per cache key, the forward passes
    and seconds the sweep's one pass spent scoring it (`sweeps.onepass`), counted in the row of the trial it scored
    for instead of a cache hit."""
    rows = []
    for seed in spec.seeds:
        plan = trial_plan(spec, params, seed, extra)
        scores, passes, seconds = cached_scores(plan, cache_dir, console, label=f"trial {number} seed {seed}")
        if not passes and not plan.members and credit and cache_key(plan.config) in credit:
            passes, seconds = credit[cache_key(plan.config)]
        row = {"trial": number, **params, "seed": seed, "n_archs": len(scores), "seconds": seconds,
               "forward_passes": passes, "cache_hit": passes == 0,
               "arch_seconds": float(scores["seconds"].mean()) if len(scores) else float("nan"),
               "n_nan": int(scores.select(pl.any_horizontal(pl.col(list(set(plan.columns.values()))).is_nan())).sum()
                            .item()),
               "truth": plan.reference.source, "ranked_against": "accuracy" if plan.size is None else "params"}
        row.update(split_metrics(spec, plan, scores))
        rows.append(row)
    head, task = spec.objective
    prefix = f"{'tune_' if spec.split else ''}{head}_"
    if task not in {t.name for t in plan.tasks}:  # a point of a sweep over benchmarks without the objective's task
        return float(np.nanmean([r[prefix + t.name] for r in rows for t in plan.tasks])), rows
    return float(np.mean([r[prefix + task] for r in rows])), rows


def log_trial(spec: SweepSpec, tracking: str, sweep_dir: Path, extra: Sequence[str], number: int,
              params: dict[str, Any], rows: list[dict[str, Any]], value: float) -> None:
    """One W&B run per trial, in a group named after the sweep (offline unless WANDB_MODE says otherwise)."""
    config = {"sweep": spec.name, "params": params, "seeds": list(spec.seeds),
              "resolved": compose_config(trial_overrides(spec, params, spec.seeds[0], extra))}
    settings = {"name": tracking, "mode": os.environ.get("WANDB_MODE", "offline"), "project": "meco_lab"}
    with wandb_run(settings, sweep_dir, config, job_type="sweep-trial", name=f"{spec.study_name}-{number}",
                   group=spec.study_name) as run:
        if run is None:
            return
        for row in rows:
            run.log({k: v for k, v in row.items() if isinstance(v, (int, float, bool))})
        summary = {"objective": value, "cache_hit": all(r["cache_hit"] for r in rows),
                   "forward_passes": sum(r["forward_passes"] for r in rows),
                   "wall_seconds": sum(r["seconds"] for r in rows)}
        for key in rows[0]:
            if any(key.startswith(p) for p in ("spearman", "kendall", "top10", "tune_", "holdout_")):
                summary[f"{key}/mean"] = float(np.mean([r[key] for r in rows]))
                summary[f"{key}/std"] = float(np.std([r[key] for r in rows]))
        run.summary.update(summary)
