"""A scoring run's plan: every setting checked and everything loaded before any work (benchmark, tasks,
architectures, ground truth, the scoring job), and the fingerprint of the settings that change a score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from meco_lab.benchmarks import Benchmark, GroundTruth, Task, get_benchmark
from meco_lab.benchmarks.base import SELECTION_KEYS
from meco_lab.core.checks import check_choice, check_int
from meco_lab.core.errors import ConfigError
from meco_lab.inputs import NUM_CLASSES, make_batch
from meco_lab.scoring.executors import check_executor, executor_job
from meco_lab.scoring.scorer import Scorer, ScoringJob
from meco_lab.scoring.selection import select_space
from meco_lab.spaces import SearchSpace
from meco_lab.tracking import check_tracking

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    check_choice("device", device, DEVICES)
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", device, "auto or cpu: no CUDA device is visible")
    return "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)


def fingerprint(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings that change a score: space (not the selection), proxy, data and seed."""
    space = {k: v for k, v in cfg["space"].items() if k not in SELECTION_KEYS}
    return {"space": space, "proxy": cfg["proxy"], "data": cfg["data"], "seed": cfg["seed"]}


def make_job(cfg: dict[str, Any]) -> ScoringJob:
    """The scoring job of a config: its input batch (seeded), proxy, space and run options."""
    data = cfg["data"]
    x, y = make_batch(data["name"], size=data["size"], samples=data["samples"], seed=cfg["seed"],
                      root=data.get("root"), split=data.get("split", "train"))
    return ScoringJob(space=cfg["space"], proxy=cfg["proxy"], x=x, y=y, seed=cfg["seed"],
                      num_classes=NUM_CLASSES[data["name"]], reduce=data.get("reduce", "first"),
                      device=resolve_device(cfg["device"]), threads=cfg["threads"], data=data)


def known_values(truth: GroundTruth, indices: list[int], tasks: tuple[Task, ...]) -> int:
    """How many of `indices` have a ground-truth value on every task."""
    return int(np.isfinite(np.stack([truth.values[t.name][indices] for t in tasks])).all(axis=0).sum())


def check_truth_matches(space: SearchSpace, truth: GroundTruth, indices: list[int]) -> None:
    """Refuse ground truth whose arch strings differ from the space's (an archive of another space)."""
    if truth.arch is None:
        return
    for i in indices:
        if i >= len(truth.arch) or truth.arch[i] != space.arch(i):
            found = truth.arch[i] if i < len(truth.arch) else "nothing"
            raise ConfigError("truth", truth.source, f"ground truth of {space.name} (arch {i} is {found!r})")


@dataclass
class RunPlan:
    """A validated run: the benchmark and its tasks, the architectures to score, their truth and the job.

    `size` holds exact #params and FLOPs per task when the ground truth has no value for the selection;
    scores are then ranked against #params (`reference`), and the run says so.
    """

    config: dict[str, Any]
    benchmark: Benchmark
    tasks: tuple[Task, ...]
    indices: list[int]
    truth: GroundTruth
    job: ScoringJob
    size: dict[str, GroundTruth] | None = None

    @property
    def reference(self) -> GroundTruth:
        """What the scores are ranked against: the truth, or exact #params when the truth has no value."""
        return self.truth if self.size is None else self.size["params"]

    @property
    def ranked_against(self) -> str:
        return "truth" if self.size is None else "params"


def plan_run(config: dict[str, Any]) -> RunPlan:
    """Check every setting and load what the run needs; raises ConfigError before any work is done."""
    benchmark = get_benchmark(config["space"]["name"])
    tasks = benchmark.select_tasks((config.get("benchmark") or {}).get("tasks"))
    space = benchmark.build_space(config["space"])
    indices = select_space(config["space"], len(space))
    truth = benchmark.load_truth(config["truth"], indices)
    check_truth_matches(space, truth, indices)
    size = benchmark.size_truth(space, indices) if known_values(truth, indices, tasks) < 2 else None
    job = make_job(config)
    check_int("workers", config["workers"])
    check_int("chunk", config["chunk"])
    check_tracking(config.get("tracking") or {"name": "none"})
    check_executor(config)
    Scorer(job, space)  # refuse a bad proxy, reduce setting or input size before anything is written
    return RunPlan(config, benchmark, tasks, indices, truth, executor_job(config, job), size)
