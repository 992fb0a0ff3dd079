"""Where a run's chunks are scored: on this machine (`executor=local`, scoring/parallel.py) or as Ray tasks on a
cluster (`executor=ray`, scoring/ray_executor.py). The `executor.*` settings, their checks and the dispatch."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import re
from collections.abc import Callable
from typing import Any

from meco_lab.core.checks import check_choice, check_int, is_number
from meco_lab.core.errors import ConfigError
from meco_lab.scoring.parallel import run_scoring
from meco_lab.scoring.ray_executor import run_scoring_ray
from meco_lab.scoring.scorer import ScoringJob

EXECUTORS = ("local", "ray")
ADDRESS = re.compile(r"auto|(ray://)?[A-Za-z0-9.\-_]+:\d{1,5}|(ray://)?\[[0-9A-Fa-f:.]+\]:\d{1,5}")
ADDRESSES = "auto, host:port (the head's GCS) or ray://host:port (Ray Client)"


def executor_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The run's `executor` settings (configs without the group, such as search's, score locally)."""
    return config.get("executor") or {"name": "local"}


def check_ray_settings(prefix: str, address: Any, num_cpus: Any, num_gpus: Any) -> None:
    """Check the Ray settings `<prefix>.address`, `.num_cpus` and `.num_gpus`, and that Ray is installed."""
    if importlib.util.find_spec("ray") is None:
        key = "executor" if prefix == "executor" else f"{prefix}.executor"  # `executor=ray`, `sweep.executor=ray`
        raise ConfigError(key, "ray", "local, or Ray installed first: pip install -e '.[ray]'")
    if not isinstance(address, str) or not ADDRESS.fullmatch(address):
        raise ConfigError(f"{prefix}.address", address, ADDRESSES)
    if address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise ConfigError(f"{prefix}.address", address, "auto or host:port, or Ray Client installed: pip install "
                          "'ray[client]'")
    if not is_number(num_cpus) or num_cpus <= 0:
        raise ConfigError(f"{prefix}.num_cpus", num_cpus, "a number > 0")
    if not is_number(num_gpus) or num_gpus < 0:
        raise ConfigError(f"{prefix}.num_gpus", num_gpus, "a number >= 0")


def check_executor(config: dict[str, Any]) -> None:
    """Refuse a bad `executor.*` setting in one line, before any work."""
    settings = executor_settings(config)
    check_choice("executor.name", settings.get("name"), EXECUTORS)
    if settings["name"] == "ray":
        check_ray_settings("executor", settings.get("address"), settings.get("num_cpus"), settings.get("num_gpus"))
        check_int("executor.max_retries", settings.get("max_retries"), minimum=0)
        gpus, device = settings["num_gpus"], config.get("device", "auto")
        if gpus == 0 and device == "cuda":
            raise ConfigError("executor.num_gpus", gpus, "a number > 0 for device=cuda (a Ray task sees a GPU only "
                              "when it asks for one)")
        if gpus > 0 and device == "cpu":
            raise ConfigError("executor.num_gpus", gpus, "0 for device=cpu")


def executor_job(config: dict[str, Any], job: ScoringJob) -> ScoringJob:
    """The job as the executor's workers run it: a Ray task scores on cuda when it asks for GPUs, else on the CPU,
    whatever this (driver) machine has."""
    settings = executor_settings(config)
    if settings["name"] != "ray":
        return job
    return dataclasses.replace(job, device="cuda" if settings["num_gpus"] > 0 else "cpu")


def scoring_executor(config: dict[str, Any]) -> Callable[..., None]:
    """`run_scoring` or its Ray counterpart, as the config's executor says; both take
    (job, indices, workers, chunk, on_rows, on_progress)."""
    settings = executor_settings(config)
    if settings["name"] == "ray":
        return functools.partial(run_scoring_ray, settings=settings)
    return run_scoring
