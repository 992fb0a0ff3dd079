"""Run a sweep as an Optuna study: resumable, parallel, with a shared score cache and one W&B run per trial.

A trial is one point of the swept parameters, evaluated at every seed of the sweep. Grid sweeps
enqueue all their points once; TPE sweeps ask the sampler. The study lives in persistent storage
(SQLite in the sweep dir by default, or any database URL), so a killed sweep resumes: finished
trials are kept, and a trial left RUNNING by a dead process is failed and enqueued again.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing as mp
import os
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import polars as pl
from optuna.distributions import CategoricalDistribution
from optuna.storages._heartbeat import get_heartbeat_thread
from optuna.trial import TrialState
from rich.console import Console

from meco_lab.compose import compose_config
from meco_lab.errors import ConfigError
from meco_lab.metrics import rank_metrics
from meco_lab.runner import RunPlan, plan_run
from meco_lab.score_cache import cached_scores
from meco_lab.sweep_spec import DATASETS, METRICS, Param, SweepSpec
from meco_lab.truth import GroundTruth

optuna.logging.set_verbosity(optuna.logging.WARNING)
# We drive trials with ask/tell and run the heartbeat thread ourselves (see worker_loop).
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


@dataclass(frozen=True)
class SweepSettings:
    """`sweep.*` settings: where the sweep lives, its storage, parallelism, cache and tracking."""

    dir: Path
    storage: str | None = None
    workers: int = 1
    cache_dir: Path = Path("outputs/cache/scores")
    tracking: str = "wandb"
    overrides: tuple[str, ...] = ()  # extra config overrides for every trial

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.dir / 'optuna.db').resolve()}"

    @property
    def local(self) -> bool:
        return self.storage is None or self.storage.startswith("sqlite")


def trial_overrides(spec: SweepSpec, params: dict[str, Any], seed: int, extra: Sequence[str] = ()) -> list[str]:
    """A trial's config overrides: the sweep's base and profile, the command line's `extra`, the point, the seed."""
    point = [f"{k}={'null' if v is None else v}" for k, v in params.items()]
    return [*spec.base, *spec.profile_overrides, *extra, *point, f"seed={seed}"]


def validation_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Points whose configs are checked before any work: the whole grid, or each range's ends for TPE."""
    if spec.sampler == "grid":
        return spec.grid()
    points = []
    for p in spec.params:
        choices = p.values if p.values is not None else (int(p.low) if float(p.low).is_integer() else p.low,
                                                        int(p.high) if float(p.high).is_integer() else p.high)
        for value in choices:
            points.append({q.name: (value if q is p else _first(q)) for q in spec.params})
    return points


def _first(p: Param) -> Any:
    if p.values is not None:
        return p.values[0]
    return int(p.low) if float(p.low).is_integer() else p.low


def validate(spec: SweepSpec, settings: SweepSettings) -> None:
    """Compose and plan every checked point (raises a one-line ConfigError), and reach the storage."""
    if not isinstance(settings.workers, int) or settings.workers < 1:
        raise ConfigError("sweep.workers", settings.workers, "an integer >= 1")
    if settings.tracking not in ("wandb", "none"):
        raise ConfigError("sweep.tracking", settings.tracking, ("wandb", "none"))
    for point in validation_points(spec):
        plan_run(compose_config(trial_overrides(spec, point, spec.seeds[0], settings.overrides)))
    settings.dir.mkdir(parents=True, exist_ok=True)
    try:
        open_study(spec, settings)
    except Exception as error:  # any driver or connection failure
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise ConfigError("sweep.storage", settings.storage_url,
                          f"a reachable database URL, e.g. sqlite:///file.db or postgresql://user:pw@host/db ({reason})"
                          ) from None


def open_study(spec: SweepSpec, settings: SweepSettings) -> optuna.Study:
    storage = optuna.storages.RDBStorage(settings.storage_url, heartbeat_interval=30, grace_period=120)
    sampler = optuna.samplers.TPESampler(seed=0) if spec.sampler == "tpe" else optuna.samplers.RandomSampler(seed=0)
    return optuna.create_study(study_name=spec.study_name, storage=storage, sampler=sampler,
                               direction=spec.direction, load_if_exists=True)


def distribution(p: Param) -> optuna.distributions.BaseDistribution:
    if p.values is not None:
        return CategoricalDistribution(list(p.values))
    if float(p.low).is_integer() and float(p.high).is_integer():
        return optuna.distributions.IntDistribution(int(p.low), int(p.high), log=p.log)
    return optuna.distributions.FloatDistribution(float(p.low), float(p.high), log=p.log)


def point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def trial_point(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The trial's parameters; for a trial still waiting, the point it was enqueued with."""
    return trial.params or trial.system_attrs.get("fixed_params", {})


def prepare_study(spec: SweepSpec, settings: SweepSettings, study: optuna.Study) -> None:
    """Enqueue the grid once; fail trials left RUNNING by a dead process and enqueue their points again.

    In a local sweep (one process owns the dir) the interrupted points go first, ahead of the points
    still waiting, so a resumed sweep finishes what it was doing before it starts anything new.
    """
    if settings.local:
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    else:
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    if spec.sampler == "grid" and not study.user_attrs.get("grid_enqueued"):
        for point in spec.grid():
            study.enqueue_trial(point)
        study.set_user_attr("grid_enqueued", True)
        trials = study.get_trials(deepcopy=False)
    pending = {point_key(trial_point(t)) for t in trials if t.state in (TrialState.COMPLETE, TrialState.WAITING,
                                                                        TrialState.RUNNING)}
    retries = {point_key(t.params): t for t in trials if t.state == TrialState.FAIL and t.params
               and not t.user_attrs.get("discarded") and point_key(t.params) not in pending}
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    retries_first = sorted(waiting, key=lambda t: "retry_of" not in t.user_attrs)
    requeue = settings.local and (retries or retries_first != waiting)
    for t in waiting if requeue else []:  # queued again below, behind the interrupted points
        study._storage.set_trial_user_attr(t._trial_id, "discarded", True)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    for t in retries.values():
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    for t in retries_first if requeue else []:
        study.enqueue_trial(trial_point(t), user_attrs={k: v for k, v in t.user_attrs.items() if k != "discarded"})


def evaluate(spec: SweepSpec, settings: SweepSettings, params: dict[str, Any], number: int,
             console: Console) -> tuple[float, list[dict[str, Any]]]:
    """Score the point at every seed (through the cache); the objective and one row per seed."""
    rows = []
    for seed in spec.seeds:
        config = compose_config(trial_overrides(spec, params, seed, settings.overrides))
        plan = plan_run(config)
        scores, passes, seconds = cached_scores(plan, settings.cache_dir, console,
                                                label=f"trial {number} seed {seed}")
        row = {"trial": number, **params, "seed": seed, "n_archs": len(scores), "seconds": seconds,
               "forward_passes": passes, "cache_hit": passes == 0, "n_nan": int(scores["score"].is_nan().sum()),
               "truth": reference(plan).source, "ranked_against": "accuracy" if plan.size is None else "params"}
        row.update(split_metrics(spec, plan, scores))
        rows.append(row)
    head, _, dataset = spec.metric.partition(".")
    key = f"{'tune_' if spec.split else ''}{head}_{dataset}"
    return float(np.mean([r[key] for r in rows])), rows


def reference(plan: RunPlan) -> GroundTruth:
    """What the scores are ranked against: the accuracy, or exact #params when the truth has none (e.g. SSS)."""
    return plan.truth if plan.size is None else plan.size["params"]


def split_metrics(spec: SweepSpec, plan: RunPlan, scores: pl.DataFrame) -> dict[str, float]:
    """Metrics per dataset over all scored archs, or over the tune and holdout halves when the sweep splits.

    Without accuracy for the selection (NATS-Bench SSS without its archive) rho and tau are against exact
    #params, as `score` reports them, and the top-10 accuracy is NaN rather than a made-up number.
    """
    index = scores["index"].to_numpy()
    values = scores["score"].to_numpy()
    truth = reference(plan)
    parts = {"": np.ones(len(index), dtype=bool)}
    if spec.split:
        rng = np.random.default_rng(spec.split.get("seed", 0))
        tune = np.zeros(len(index), dtype=bool)
        tune[rng.permutation(len(index))[: round(spec.split.get("fraction", 0.5) * len(index))]] = True
        parts = {"tune_": tune, "holdout_": ~tune}
    out: dict[str, float] = {}
    for prefix, mask in parts.items():
        for dataset in DATASETS:
            metrics = rank_metrics(values[mask], truth.accuracy[dataset][index[mask]])
            out[f"{prefix}spearman_{dataset}"] = metrics["spearman"]
            out[f"{prefix}kendall_{dataset}"] = metrics["kendall"]
            out[f"{prefix}top10_mean_accuracy_{dataset}"] = (
                metrics["top_mean_accuracy"] if plan.size is None else float("nan"))
    return out


def log_trial(spec: SweepSpec, settings: SweepSettings, number: int, params: dict[str, Any],
              rows: list[dict[str, Any]], value: float) -> None:
    """One W&B run per trial, in a group named after the sweep (offline unless WANDB_MODE says otherwise)."""
    if settings.tracking != "wandb":
        return
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    config = compose_config(trial_overrides(spec, params, spec.seeds[0], settings.overrides))
    run = wandb.init(project="meco_lab", group=spec.study_name, name=f"{spec.study_name}-{number}",
                     mode=os.environ.get("WANDB_MODE", "offline"), dir=str(settings.dir), reinit="create_new",
                     config={"sweep": spec.name, "params": params, "seeds": list(spec.seeds), "resolved": config})
    try:
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
    finally:
        run.finish()


def worker_loop(spec: SweepSpec, settings: SweepSettings, quiet: bool = False) -> None:
    """Take trials until the sweep's budget is met: enqueued points first, then (TPE) the sampler's."""
    console = Console(stderr=True, quiet=quiet)
    study = open_study(spec, settings)
    distributions = {p.name: distribution(p) for p in spec.params}
    while True:
        trials = study.get_trials(deepcopy=False)
        done = {point_key(t.params) for t in trials if t.state == TrialState.COMPLETE}
        waiting = [t for t in trials if t.state == TrialState.WAITING]
        started = sum(t.state in (TrialState.COMPLETE, TrialState.RUNNING) for t in trials)
        if not waiting and (spec.sampler == "grid" or started >= spec.budget):
            return
        trial = study.ask(distributions)
        params = dict(trial.params)
        if spec.sampler == "grid" and "fixed_params" not in study._storage.get_trial_system_attrs(trial._trial_id):
            trial.set_user_attr("discarded", True)  # another worker took the last point meanwhile
            study.tell(trial, state=TrialState.FAIL)
            return
        if spec.sampler == "grid" and point_key(params) in done:
            study.tell(trial, state=TrialState.PRUNED)  # a duplicate of a finished point: never rerun
            continue
        with get_heartbeat_thread(trial._trial_id, study._storage):  # lets other machines spot a dead trial
            value, rows = evaluate(spec, settings, params, trial.number, console)
        trial.set_user_attr("rows", rows)
        log_trial(spec, settings, trial.number, params, rows, value)
        study.tell(trial, value)
        console.print(f"trial {trial.number} {params}: {spec.metric} = {value:.4f}"
                      f"{' (cached)' if all(r['cache_hit'] for r in rows) else ''}")


def _worker_process(spec: SweepSpec, settings: SweepSettings, parent: int) -> None:
    import torch

    torch.set_num_threads(1)
    exit_with_parent(parent)
    worker_loop(spec, settings, quiet=True)


def exit_with_parent(parent: int, poll: float = 1.0) -> None:
    """End this worker soon after `parent`, the sweep process that started it, dies (a kill of the parent alone).

    An orphaned worker would go on scoring and hold the score cache's lock, so the resumed sweep would
    wait on it; its unfinished trial is redone on resume from the parts already written.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def trials_table(study: optuna.Study) -> pl.DataFrame:
    """One row per (finished trial, seed): its parameters, metrics, time, forward passes and cache hit."""
    rows = [row for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            for row in t.user_attrs.get("rows", [])]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def refresh_trials_table(sweep_dir: Path) -> pl.DataFrame:
    """Rewrite trials.parquet from the study's storage, e.g. for a report on a sweep still running or stopped."""
    spec = json.loads((sweep_dir / "sweep.json").read_text())
    name = spec["name"] if not spec.get("profile") else f"{spec['name']}-{spec['profile']}"
    storage = spec.get("storage") or f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"
    table = trials_table(optuna.load_study(study_name=name, storage=storage))
    table.write_parquet(sweep_dir / "trials.parquet")
    return table


def run_sweep(spec: SweepSpec, settings: SweepSettings, console: Console | None = None) -> pl.DataFrame:
    """Validate, then run (or resume) the sweep; writes sweep.json and trials.parquet into the sweep dir."""
    console = console or Console(stderr=True)
    validate(spec, settings)
    (settings.dir / "sweep.json").write_text(json.dumps(
        {**spec.to_dict(), "overrides": list(settings.overrides), "storage": settings.storage_url}, indent=2))
    with open(settings.dir / ".sweep.lock", "a") as lock:
        if settings.local:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError("sweep.dir", str(settings.dir),
                                  "a sweep dir no other sweep process is using (one is running there)") from None
        study = open_study(spec, settings)
        prepare_study(spec, settings, study)
        start = time.perf_counter()
        if settings.workers == 1:
            worker_loop(spec, settings)
        else:
            context = mp.get_context("spawn")
            procs = [context.Process(target=_worker_process, args=(spec, settings, os.getpid()))
                     for _ in range(settings.workers)]
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join()
            if any(proc.exitcode for proc in procs):
                raise RuntimeError(f"{sum(bool(p.exitcode) for p in procs)} sweep worker(s) failed; rerun to resume")
        console.print(f"sweep {spec.study_name}: {time.perf_counter() - start:.1f} s")
        table = trials_table(study)
    table.write_parquet(settings.dir / "trials.parquet")
    return table


__all__ = ["METRICS", "SweepSettings", "run_sweep", "trials_table"]
