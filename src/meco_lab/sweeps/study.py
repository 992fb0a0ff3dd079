"""A sweep's Optuna study, through Optuna's public API: the storage we open, ask/tell, and a heartbeat thread.

Grid sweeps enqueue all their points once; TPE sweeps ask the sampler. The study lives in persistent storage
(SQLite in the sweep dir by default, or any database URL), so a killed sweep resumes: finished trials are
kept, and a trial left RUNNING by a dead process is failed and enqueued again.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from meco_lab.sweeps.spec import Param, SweepSpec

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
# We drive trials with ask/tell and record their heartbeats ourselves (Study.heartbeat).
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120


@dataclass
class Study:
    """An Optuna study with the storage it lives in (the storage's public methods address trials by id)."""

    study: optuna.Study
    storage: optuna.storages.RDBStorage

    @property
    def study_id(self) -> int:
        return self.storage.get_study_id_from_name(self.study.study_name)

    def trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def trials(self, states: tuple[TrialState, ...] | None = None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    def set_state(self, trial: FrozenTrial, state: TrialState) -> None:
        """Move a trial that no process runs (waiting, or left running by a dead one) to `state`."""
        self.storage.set_trial_state_values(self.trial_id(trial.number), state)

    def enqueued(self, number: int) -> bool:
        """Whether trial `number` took an enqueued point (grid sweeps), rather than a fresh sample."""
        return "fixed_params" in self.storage.get_trial_system_attrs(self.trial_id(number))

    @contextmanager
    def heartbeat(self, number: int) -> Iterator[None]:
        """Record trial `number`'s heartbeat while the block runs, so other machines can spot a dead trial."""
        trial_id, stop = self.trial_id(number), threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_SECONDS):
                self.storage.record_heartbeat(trial_id)

        self.storage.record_heartbeat(trial_id)
        thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def open_study(spec: SweepSpec, storage_url: str) -> Study:
    storage = optuna.storages.RDBStorage(storage_url, heartbeat_interval=HEARTBEAT_SECONDS,
                                         grace_period=GRACE_SECONDS)
    sampler = optuna.samplers.TPESampler(seed=0) if spec.sampler == "tpe" else optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(study_name=spec.study_name, storage=storage, sampler=sampler,
                                direction=spec.direction, load_if_exists=True)
    return Study(study, storage)


def load_study(name: str, storage_url: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage_url)


def distribution(p: Param) -> optuna.distributions.BaseDistribution:
    if p.values is not None:
        return CategoricalDistribution(list(p.values))
    if float(p.low).is_integer() and float(p.high).is_integer():
        return optuna.distributions.IntDistribution(int(p.low), int(p.high), log=p.log)
    return optuna.distributions.FloatDistribution(float(p.low), float(p.high), log=p.log)


def point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def trial_point(trial: FrozenTrial) -> dict[str, Any]:
    """The trial's parameters; for a trial still waiting, the point it was enqueued with."""
    return trial.params or trial.system_attrs.get("fixed_params", {})


def prepare_study(spec: SweepSpec, study: Study, local: bool) -> None:
    """Enqueue the grid once; fail trials left RUNNING by a dead process and enqueue their points again (not those
    of trials that finished with a NaN objective: their rows are recorded, and a rerun would give the same NaN).

    In a local sweep (one process owns the dir) every RUNNING trial is a dead one, and the interrupted
    points go first, ahead of the points still waiting, so a resumed sweep finishes what it was doing before
    it starts anything new. With shared storage only trials whose heartbeat went stale are failed.
    """
    if local:
        for t in study.trials((TrialState.RUNNING,)):
            study.set_state(t, TrialState.FAIL)
    else:
        optuna.storages.fail_stale_trials(study.study)
    trials = study.trials()
    if spec.sampler == "grid" and not study.study.user_attrs.get("grid_enqueued"):
        for point in spec.grid():
            study.study.enqueue_trial(point)
        study.study.set_user_attr("grid_enqueued", True)
        trials = study.trials()
    pending = {point_key(trial_point(t)) for t in trials if t.state in (TrialState.COMPLETE, TrialState.WAITING,
                                                                        TrialState.RUNNING)}
    retries = {point_key(t.params): t for t in trials if t.state == TrialState.FAIL and t.params
               and not t.user_attrs.get("discarded") and not t.user_attrs.get("rows")  # rows: a NaN objective
               and point_key(t.params) not in pending}
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    retries_first = sorted(waiting, key=lambda t: "retry_of" not in t.user_attrs)
    requeue = local and (retries or retries_first != waiting)
    for t in waiting if requeue else []:  # queued again below, behind the interrupted points
        study.storage.set_trial_user_attr(study.trial_id(t.number), "discarded", True)
        study.set_state(t, TrialState.FAIL)
    for t in retries.values():
        study.study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    for t in retries_first if requeue else []:
        study.study.enqueue_trial(trial_point(t), user_attrs={k: v for k, v in t.user_attrs.items()
                                                              if k != "discarded"})


def completed_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """The rows (one per seed) of every finished trial, and of each point whose every evaluation gave a NaN
    objective (Optuna fails such a trial: e.g. a proxy that could score none of the architectures), once, so the
    trials table and the report show the point with its NaN rho instead of leaving it out."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
    done = {point_key(t.params) for t in trials if t.state == TrialState.COMPLETE}
    rows, nan_points = [], set()
    for t in trials:
        if t.state == TrialState.FAIL:
            key = point_key(t.params)
            if key in done or key in nan_points or not t.user_attrs.get("rows"):
                continue
            nan_points.add(key)
        rows += t.user_attrs.get("rows", [])
    return rows
