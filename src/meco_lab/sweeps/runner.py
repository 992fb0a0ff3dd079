"""Run a sweep as an Optuna study: resumable, parallel (local processes, or Ray tasks: sweeps/ray_sweep.py), with
a shared score cache and one W&B run per trial.

A trial is one point of the swept parameters, evaluated at every seed of the sweep (`sweeps.trial`); the
study and its storage are `sweeps.study`. Every checked point is planned before any work, so a bad value
anywhere in the sweep stops it in one line.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

import polars as pl
from optuna.trial import TrialState
from rich.console import Console

from meco_lab.core.checks import check_choice, check_int
from meco_lab.core.errors import ConfigError
from meco_lab.core.locks import exclusive
from meco_lab.core.process import worker_init
from meco_lab.scoring.executors import EXECUTORS, check_ray_settings
from meco_lab.scoring.plan import cpu_cores
from meco_lab.sweeps.onepass import fill_shared, load_credit
from meco_lab.sweeps.ray_sweep import run_trials_on_ray
from meco_lab.sweeps.settings import SweepSettings
from meco_lab.sweeps.spec import Param, SweepRecord, SweepSpec, available_sweeps, command_line, load_sweep
from meco_lab.sweeps.study import (
    Study,
    completed_rows,
    distribution,
    load_study,
    open_study,
    point_key,
    prepare_study,
)
from meco_lab.sweeps.taking import finish_trial, take_trial
from meco_lab.sweeps.trial import evaluate, trial_plan

TRACKING = ("wandb", "none")
SETTINGS = ("sweep.dir", "sweep.storage", "sweep.workers", "sweep.cache_dir", "sweep.tracking", "sweep.executor",
            "sweep.address", "sweep.num_cpus", "sweep.num_gpus", "sweep.one_pass")


def parse_command(argv: list[str]) -> tuple[SweepSpec, SweepSettings]:
    """The sweep and its settings of a command line: `NAME [profile=P] [sweep.KEY=VALUE...] [config overrides...]`."""
    if not argv or argv[0].startswith("-") or "=" in argv[0]:
        raise ConfigError("sweep", argv[0] if argv else "", available_sweeps())
    name, profile, settings, overrides = argv[0], None, {}, []
    for arg in argv[1:]:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(arg, "", "key=value overrides after the sweep name")
        if key == "profile":
            profile = value
        elif key.startswith("sweep."):
            if key not in SETTINGS:
                raise ConfigError(key, value, SETTINGS)
            settings[key] = value
        else:
            overrides.append(arg)
    spec = load_sweep(name, profile)
    workers = settings.get("sweep.workers", "1")
    one_pass = settings.get("sweep.one_pass", "true").lower()
    if one_pass not in ("true", "false"):
        raise ConfigError("sweep.one_pass", one_pass, "true or false")
    return spec, SweepSettings(
        dir=Path(settings.get("sweep.dir", f"outputs/sweeps/{spec.study_name}")),
        storage=settings.get("sweep.storage"),
        workers=check_int("sweep.workers", int(workers) if workers.lstrip("-").isdigit() else workers),
        cache_dir=Path(settings.get("sweep.cache_dir", "outputs/cache/scores")),
        tracking=settings.get("sweep.tracking", "wandb"),
        overrides=tuple(overrides),
        executor=settings.get("sweep.executor", "local"),
        address=settings.get("sweep.address", "auto"),
        num_cpus=_parsed(settings.get("sweep.num_cpus", "1")),
        num_gpus=_parsed(settings.get("sweep.num_gpus", "0")),
        one_pass=one_pass == "true",
    )


def _parsed(text: str) -> int | float | str:
    """A number given on the command line, or the text itself (which the checks then refuse)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def validation_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Points whose configs are checked before any work: the whole grid, or each range's ends for TPE."""
    if spec.sampler == "grid":
        return spec.grid()
    points = []
    for p in spec.params:
        choices = p.values if p.values is not None else (_number(p.low), _number(p.high))
        for value in choices:
            points.append({q.name: (value if q is p else _first(q)) for q in spec.params})
    return points


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _first(p: Param) -> Any:
    return p.values[0] if p.values is not None else _number(p.low)


DRIVERS = {"psycopg": "pip install 'meco_lab[postgres]' (psycopg 3, what postgresql:// uses)",
           "psycopg2": "pip install psycopg2-binary", "MySQLdb": "pip install mysqlclient",
           "pymysql": "pip install pymysql"}


def check_storage(url: str) -> None:
    """Refuse a storage URL that is not one, or whose database driver is missing (naming the package to install)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError) as error:
        reason = str(error).splitlines()[0]
        raise ConfigError("sweep.storage", url, "a database URL such as sqlite:///file.db or "
                                                f"postgresql://user:pw@host/db ({reason})") from None
    except ImportError as error:
        hint = DRIVERS.get(error.name or "", f"pip install {error.name}")
        raise ConfigError("sweep.storage", url, f"a database URL whose driver is installed: {error.name} is "
                                                f"missing ({hint})") from None


def validate(spec: SweepSpec, settings: SweepSettings) -> dict[str, dict[str, Any]]:
    """Plan every checked point (raises a one-line ConfigError) and reach the storage; the tasks ranked on (all the
    points' tasks, in order of appearance: a sweep over benchmarks may rank different points on different tasks)."""
    check_choice("sweep.tracking", settings.tracking, TRACKING)
    check_choice("sweep.executor", settings.executor, EXECUTORS)
    if settings.executor == "local":  # on a cluster, trials in flight are not bounded by this machine's cores
        cores = cpu_cores()
        check_int("sweep.workers", settings.workers, 1, cores,
                  allowed=f"an integer in 1..{cores} (this machine has {cores} CPU cores)")
    else:
        check_int("sweep.workers", settings.workers, 1)
    if settings.executor == "ray":
        check_ray_settings("sweep", settings.address, settings.num_cpus, settings.num_gpus)
    tasks: dict[str, dict[str, Any]] = {}
    for point in validation_points(spec):
        plan = trial_plan(spec, point, spec.seeds[0], settings.overrides)
        tasks.update({t.name: t.describe() for t in plan.tasks if t.name not in tasks})
    head = spec.objective[0]
    check_choice("objective.metric", spec.metric, [f"{head}.{t}" for t in tasks])
    check_storage(settings.storage_url)
    if settings.local:  # the SQLite file lives in the sweep dir; a database server is reached before it is made
        settings.dir.mkdir(parents=True, exist_ok=True)
    try:
        open_study(spec, settings.storage_url)
    except Exception as error:  # any driver or connection failure
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise ConfigError("sweep.storage", settings.storage_url,
                          f"a reachable database URL, e.g. sqlite:///file.db or postgresql://user:pw@host/db ({reason})"
                          ) from None
    return tasks


def worker_loop(spec: SweepSpec, settings: SweepSettings, quiet: bool = False) -> None:
    """Take trials until the sweep's budget is met: enqueued points first, then (TPE) the sampler's."""
    console = Console(stderr=True, quiet=quiet)
    study = open_study(spec, settings.storage_url)
    distributions = {p.name: distribution(p) for p in spec.params}
    credit = load_credit(settings.dir)  # what this sweep's one pass scored for its trials
    lock = settings.dir / ".take.lock" if settings.storage_url.startswith("sqlite") else None
    while (trial := take_trial(study, spec, distributions, lock)) is not None:
        with study.heartbeat(trial.number):
            value, rows = evaluate(spec, dict(trial.params), trial.number, settings.cache_dir, settings.overrides,
                                   console, credit)
        finish_trial(spec, settings, study, trial, value, rows, console)


def _worker_process(spec: SweepSpec, settings: SweepSettings, parent: int) -> None:
    """A sweep worker: one torch thread, gone with the sweep process (an orphan would score on and hold the score
    cache's lock); its unfinished trial is redone on resume from the parts already written."""
    import torch

    torch.set_num_threads(1)
    worker_init(parent)
    worker_loop(spec, settings, quiet=True)


def trials_table(study: Study | Any) -> pl.DataFrame:
    """One row per (finished trial, seed): its parameters, metrics, time, forward passes and cache hit."""
    rows = completed_rows(study.study if isinstance(study, Study) else study)
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def refresh_trials_table(sweep_dir: Path) -> pl.DataFrame:
    """Rewrite trials.parquet from the study's storage, e.g. for a report on a sweep still running or stopped."""
    record = SweepRecord.load(sweep_dir)
    table = trials_table(load_study(record.spec.study_name, record.storage))
    table.write_parquet(sweep_dir / "trials.parquet")
    return table


def one_pass_executor(settings: SweepSettings) -> list[str]:
    """Where the one pass scores: with `sweep.executor=ray`, as Ray tasks on the trials' cluster, `sweep.workers`
    chunks in flight (the executor is not part of a score's cache key, so the trials find what it wrote)."""
    if settings.executor != "ray":
        return []
    return ["executor=ray", f"executor.address='{settings.address}'", f"executor.num_cpus={settings.num_cpus}",
            f"executor.num_gpus={settings.num_gpus}"]


def run_sweep(spec: SweepSpec, settings: SweepSettings, console: Console | None = None,
              command: str | None = None) -> pl.DataFrame:
    """Validate, then run (or resume) the sweep; writes sweep.json and trials.parquet into the sweep dir."""
    console = console or Console(stderr=True)
    tasks = validate(spec, settings)
    # one process owns a local sweep dir; with shared storage several machines' sweeps work on one study
    owner = exclusive(settings.dir / ".sweep.lock", "sweep.dir", str(settings.dir), "a sweep dir") if settings.local \
        else contextlib.nullcontext()
    settings.dir.mkdir(parents=True, exist_ok=True)
    with owner:
        SweepRecord(spec, settings.overrides, settings.storage_url, tasks, command or command_line()).write(
            settings.dir)
        study = open_study(spec, settings.storage_url)
        prepare_study(spec, study, settings.local)
        start = time.perf_counter()
        if settings.one_pass and spec.sampler == "grid":
            done = {point_key(t.params) for t in study.trials((TrialState.COMPLETE,))}
            todo = [p for p in spec.grid() if point_key(p) not in done]
            fill_shared(spec, todo, [*settings.overrides, *one_pass_executor(settings)], settings.cache_dir,
                        settings.workers, settings.dir, console)
        if settings.executor == "ray":
            run_trials_on_ray(spec, settings, console)
        elif settings.workers == 1:
            worker_loop(spec, settings)
        else:
            context = mp.get_context("spawn")
            procs = [context.Process(target=_worker_process, args=(spec, settings, os.getpid()))
                     for _ in range(settings.workers)]
            try:
                for proc in procs:
                    proc.start()
                for proc in procs:
                    proc.join()
            finally:  # Ctrl-C or SIGTERM of the sweep: its workers end with it
                for proc in procs:
                    if proc.is_alive():
                        proc.terminate()
                        proc.join()
            if any(proc.exitcode for proc in procs):
                raise RuntimeError(f"{sum(bool(p.exitcode) for p in procs)} sweep worker(s) failed; rerun to resume")
        console.print(f"sweep {spec.study_name}: {time.perf_counter() - start:.1f} s")
        table = trials_table(study)
    table.write_parquet(settings.dir / "trials.parquet")
    return table
