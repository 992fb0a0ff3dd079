"""How a sweep process takes its next trial from the study, and records a finished one (W&B run, rows, value).

Both the local trial takers (`runner.worker_loop`) and the Ray driver (`ray_sweep`) go through these two steps, so
a sweep takes the same trials whatever runs them.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from optuna.trial import TrialState
from rich.console import Console

from meco_lab.sweeps.settings import SweepSettings
from meco_lab.sweeps.spec import SweepSpec
from meco_lab.sweeps.study import Study, point_key
from meco_lab.sweeps.trial import log_trial


def take_trial(study: Study, spec: SweepSpec, distributions: dict[str, Any], lock: Path | None = None
               ) -> optuna.Trial | None:
    """The next trial to run: enqueued points first, then (TPE) the sampler's; None once the budget is met.

    With `lock` (a file), processes that share a SQLite study take trials one at a time: SQLite has no row lock,
    so two processes could both move the same waiting trial to running (PostgreSQL locks the row).
    """
    with FileLock(lock) if lock is not None else nullcontext():
        return _take(study, spec, distributions)


def _take(study: Study, spec: SweepSpec, distributions: dict[str, Any]) -> optuna.Trial | None:
    while True:
        trials = study.trials()
        done = {point_key(t.params) for t in trials if t.state == TrialState.COMPLETE}
        waiting = [t for t in trials if t.state == TrialState.WAITING]
        started = sum(t.state in (TrialState.COMPLETE, TrialState.RUNNING) for t in trials)
        if not waiting and (spec.sampler == "grid" or started >= spec.budget):
            return None
        trial = study.study.ask(distributions)
        if spec.sampler == "grid" and not study.enqueued(trial.number):
            trial.set_user_attr("discarded", True)  # another worker took the last point meanwhile
            study.study.tell(trial, state=TrialState.FAIL)
            return None
        if spec.sampler == "grid" and point_key(dict(trial.params)) in done:
            study.study.tell(trial, state=TrialState.PRUNED)  # a duplicate of a finished point: never rerun
            continue
        return trial


def finish_trial(spec: SweepSpec, settings: SweepSettings, study: Study, trial: optuna.Trial, value: float,
                 rows: list[dict[str, Any]], console: Console) -> None:
    """Record a trial evaluated at every seed: its rows, its W&B run and its objective value."""
    params = dict(trial.params)
    trial.set_user_attr("rows", rows)
    log_trial(spec, settings.tracking, settings.dir, settings.overrides, trial.number, params, rows, value)
    study.study.tell(trial, value)
    console.print(f"trial {trial.number} {params}: {spec.metric} = {value:.4f}"
                  f"{' (cached)' if all(r['cache_hit'] for r in rows) else ''}")
