"""A scoring run's plan: every setting checked and everything loaded before any work (benchmark, tasks,
architectures, ground truth, the scoring job), and the fingerprint of the settings that change a score."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from meco_lab.benchmarks import BENCHMARKS, Benchmark, GroundTruth, Task, get_benchmark
from meco_lab.benchmarks.base import SELECTION_KEYS
from meco_lab.core.checks import check_choice, check_int
from meco_lab.core.errors import ConfigError
from meco_lab.core.seeds import stable_seed
from meco_lab.inputs import NUM_CLASSES, make_batch, random_input
from meco_lab.proxies import PROXIES
from meco_lab.scoring.executors import check_executor, executor_job
from meco_lab.scoring.members import Member, check_composite, is_composite, member_config
from meco_lab.scoring.scorer import Scorer, ScoringJob, TaskInput, score_column
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
    """The settings that change a score: space (not the selection), proxy, data and seed; for a benchmark whose
    tasks have their own networks, also the tasks scored (each has its own score column)."""
    space = {k: v for k, v in cfg["space"].items() if k not in SELECTION_KEYS}
    out = {"space": space, "proxy": cfg["proxy"], "data": cfg["data"], "seed": cfg["seed"]}
    benchmark = get_benchmark(cfg["space"]["name"]) if cfg["space"]["name"] in BENCHMARKS else None
    if benchmark is not None and benchmark.per_task:
        out["tasks"] = [t.name for t in benchmark.select_tasks((cfg.get("benchmark") or {}).get("tasks"))]
    return out


def task_inputs(tasks: tuple[Task, ...], samples: int, seed: int,
                shapes: dict[str, tuple[int, ...]] | None = None) -> tuple[TaskInput, ...]:
    """Each task's Gaussian input at its own shape and random targets of its own shape, from `seed`: tasks with one
    input shape get one and the same tensor (so a shared encoder runs once on it); independent of the task set.
    `shapes` replaces tasks' own input shapes."""
    inputs: dict[tuple[int, ...], torch.Tensor] = {}
    out = []
    for task in tasks:
        shape = tuple((shapes or {}).get(task.name, task.input_shape))
        if shape not in inputs:
            inputs[shape] = random_input(shape, samples, seed)
        targets = task.random_targets(samples, torch.Generator().manual_seed(stable_seed(seed, task.name)))
        out.append(TaskInput(task.name, inputs[shape], targets, task.outputs or 1))
    return tuple(out)


def make_job(cfg: dict[str, Any], tasks: tuple[Task, ...] = (),
             shapes: dict[str, tuple[int, ...]] | None = None) -> ScoringJob:
    """The scoring job of a config: its input batch (seeded), proxy, space and run options; with `tasks` (a benchmark
    whose tasks have their own networks), each task's input instead; for a composite proxy (`proxy=multi|ensemble`),
    a one-pass job of its members."""
    data = cfg["data"]
    x, y = make_batch(data["name"], size=data["size"], samples=data["samples"], seed=cfg["seed"],
                      root=data.get("root"), split=data.get("split", "train"))
    members = tuple(m.proxy for m in check_composite(cfg["proxy"])) if is_composite(cfg["proxy"]) else ()
    return ScoringJob(space=cfg["space"], proxy=cfg["proxy"], x=x, y=y, seed=cfg["seed"],
                      num_classes=NUM_CLASSES[data["name"]], reduce=data.get("reduce", "first"),
                      device=resolve_device(cfg["device"]), threads=cfg["threads"], data=data,
                      tasks=task_inputs(tasks, data["samples"], cfg["seed"], shapes) if tasks else (), members=members)


def check_proxy_tasks(proxy: dict[str, Any], tasks: tuple[Task, ...], data: dict[str, Any]) -> None:
    """Refuse, in one line, a proxy whose definition does not apply to one of the tasks (e.g. a per-sample
    cross-entropy proxy on a dense-prediction head), and per-task scoring with `data.reduce=mean`; for a composite
    proxy, each member."""
    names = [m.proxy["name"] for m in check_composite(proxy)] if is_composite(proxy) else [proxy["name"]]
    for name in names:
        kinds = PROXIES.get(name).task_kinds
        for task in tasks:
            if kinds is not None and task.kind not in kinds:
                raise ConfigError("proxy", name, f"a proxy that applies to task {task.name} ({task.kind}; "
                                                 f"{name} takes {', '.join(sorted(kinds))} tasks), or "
                                                 "benchmark.tasks without it")
    if data.get("reduce", "first") != "first":
        raise ConfigError("data.reduce", data.get("reduce"), "first for a benchmark whose tasks have their own "
                                                            "networks")


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
    scores are then ranked against #params (`reference`), and the run says so. A composite proxy's plan lists its
    `members`; its job scores them all in one pass.
    """

    config: dict[str, Any]
    benchmark: Benchmark
    tasks: tuple[Task, ...]
    indices: list[int]
    truth: GroundTruth
    job: ScoringJob
    size: dict[str, GroundTruth] | None = None
    members: tuple[Member, ...] = ()

    def member_plans(self) -> list[RunPlan]:
        """The plan of a single-proxy run of each member (same architectures, truth and input batch)."""
        return [replace(self, config=member_config(self.config, m), job=replace(self.job, proxy=m.proxy, members=()),
                        members=()) for m in self.members]

    @property
    def columns(self) -> dict[str, str]:
        """Each task's score column: its own (`score_<task>`) or the one network's (`score`)."""
        return {t.name: score_column(t.name if self.benchmark.per_task else None) for t in self.tasks}

    @property
    def reference(self) -> GroundTruth:
        """What the scores are ranked against: the truth, or exact #params when the truth has no value."""
        return self.truth if self.size is None else self.size["params"]

    @property
    def ranked_against(self) -> str:
        return "truth" if self.size is None else "params"


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_run_settings(config: dict[str, Any]) -> None:
    """The scalar run settings: seed, threads, chunk, and workers (locally at most one per CPU core: more only add
    memory and slow the run down; on a Ray cluster, the chunks in flight)."""
    check_int("seed", config["seed"], 0)
    check_int("threads", config["threads"], 1)
    check_int("chunk", config["chunk"], 1)
    if (config.get("executor") or {}).get("name") == "ray":
        check_int("workers", config["workers"], 1)
    else:
        cores = cpu_cores()
        check_int("workers", config["workers"], 1, cores,
                  allowed=f"an integer in 1..{cores} (this machine has {cores} CPU cores; more workers than cores "
                          "only add memory and time)")
    check_int("space.sample_seed", config["space"].get("sample_seed", 0), 0)


def plan_run(config: dict[str, Any]) -> RunPlan:
    """Check every setting and load what the run needs; raises ConfigError before any work is done."""
    check_run_settings(config)
    members = check_composite(config["proxy"]) if is_composite(config["proxy"]) else ()
    benchmark = get_benchmark(config["space"]["name"])
    tasks = benchmark.select_tasks((config.get("benchmark") or {}).get("tasks"))
    benchmark.check_data(config["data"])
    if benchmark.per_task:
        check_proxy_tasks(config["proxy"], tasks, config["data"])
    space = benchmark.build_space(config["space"])
    indices = select_space(config["space"], len(space))
    truth = benchmark.load_truth(config["truth"], indices)
    check_truth_matches(space, truth, indices)
    size = benchmark.size_truth(space, indices) if known_values(truth, indices, tasks) < 2 else None
    shapes = {t.name: benchmark.input_shape(t, config["space"]) for t in tasks} if benchmark.per_task else None
    job = make_job(config, tasks if benchmark.per_task else (), shapes)
    check_tracking(config.get("tracking") or {"name": "none"})
    check_executor(config)
    Scorer(job, space)  # refuse a bad proxy, reduce setting or input size before anything is written
    return RunPlan(config, benchmark, tasks, indices, truth, executor_job(config, job), size, members)
