"""Run a sweep's trials as Ray tasks on a cluster (`sweep.executor=ray`).

This process (the driver) takes trials from the study exactly as a local trial taker does (`taking.take_trial`),
keeps `sweep.workers` of them in flight as Ray tasks, records each trial's heartbeat while it runs, and records it
(`taking.finish_trial`: rows, W&B run in the sweep dir, objective) when its task returns. A task evaluates the
trial's point at every seed (`trial.evaluate`) through the score cache under `sweep.cache_dir` on the node that runs
it; the nodes never touch the Optuna storage, so the sweep dir and its storage need not be shared (PostgreSQL
serves several sweep processes sharing one study, as without Ray). A grid's one pass (`sweeps.onepass`) runs
before this, as Ray scoring tasks on the same cluster (`runner.one_pass_executor`).

Faults: Ray re-runs a trial task whose worker or node died, and the driver resubmits one lost beyond that; the
rerun continues from the cache parts that node wrote. A trial whose task failed in its own code, and every trial
in flight when the driver stops on an error, is told FAIL, so the next run of the sweep redoes it; a killed
driver leaves its trials RUNNING, which the next run fails and enqueues again (`study.prepare_study`).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from rich.console import Console

from meco_lab.scoring.ray_executor import check_node, code_version, connect, lost, node_id, task_failure
from meco_lab.sweeps.onepass import load_credit
from meco_lab.sweeps.settings import SweepSettings
from meco_lab.sweeps.spec import SweepSpec
from meco_lab.sweeps.study import distribution, open_study
from meco_lab.sweeps.taking import finish_trial, take_trial
from meco_lab.sweeps.trial import evaluate

MAX_RETRIES = 3  # Ray's re-runs of a trial task whose worker or node died; the driver resubmits as often again


def trial_task(spec: SweepSpec, params: dict[str, Any], number: int, cache_dir: Path, overrides: tuple[str, ...],
               code: str, credit: dict[str, tuple[int, float]]) -> tuple[float, list[dict[str, Any]], dict[str, Any]]:
    """A Ray task: evaluate one trial's point at every seed on this node; (objective, rows, where and when).
    `credit`: what the sweep's one pass scored for its trials (`sweeps.onepass`)."""
    import torch

    check_node(code)
    torch.set_num_threads(1)
    started = time.time()
    value, rows = evaluate(spec, params, number, cache_dir, overrides, Console(stderr=True, quiet=True), credit)
    return value, rows, {"node": node_id(), "started": started, "ended": time.time()}


def run_trials_on_ray(spec: SweepSpec, settings: SweepSettings, console: Console) -> None:
    """Take trials until the sweep's budget is met, `settings.workers` of them running as Ray tasks at once."""
    ray = connect(settings.address, "sweep.address")
    task = ray.remote(trial_task).options(name="sweep_trial", num_cpus=settings.num_cpus,
                                          num_gpus=settings.num_gpus, max_retries=MAX_RETRIES, retry_exceptions=False)
    study = open_study(spec, settings.storage_url)
    distributions = {p.name: distribution(p) for p in spec.params}
    cache_dir, code = settings.cache_dir.absolute(), code_version()  # the same path on every node
    credit = load_credit(settings.dir)
    running: dict[Any, tuple[optuna.Trial, contextlib.ExitStack, int]] = {}  # task -> (trial, heartbeat, resubmits)

    def submit(trial: optuna.Trial, beat: contextlib.ExitStack, tries: int) -> None:
        ref = task.remote(spec, dict(trial.params), trial.number, cache_dir, settings.overrides, code, credit)
        running[ref] = (trial, beat, tries)

    try:
        while True:
            while len(running) < settings.workers and (trial := take_trial(study, spec, distributions)) is not None:
                beat = contextlib.ExitStack()
                beat.enter_context(study.heartbeat(trial.number))
                submit(trial, beat, 0)
            if not running:
                return
            [ref], _ = ray.wait(list(running), num_returns=1)
            trial, beat, tries = running.pop(ref)
            try:
                value, rows, where = ray.get(ref)
            except Exception as error:
                if lost(error) and tries < MAX_RETRIES:
                    submit(trial, beat, tries + 1)
                    continue
                running[ref] = (trial, beat, tries)  # failed below, with the trials still in flight
                if lost(error):
                    raise RuntimeError(f"trial {trial.number} was lost {tries + 1} times; rerun to resume") from error
                raise task_failure(error, "sweep.address", settings.address) from error
            beat.close()
            trial.set_user_attr("ray", where)
            finish_trial(spec, settings, study, trial, value, rows, console)
    finally:
        for ref, (trial, beat, _) in running.items():
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            beat.close()
            study.study.tell(trial, state=TrialState.FAIL)
