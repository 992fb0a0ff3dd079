"""Score one architecture at a time with a proxy: the job a scoring process holds, and its scorer.

A row holds the architecture's score (`score`), or, for a benchmark whose tasks have their own networks, one
score per task (`score_<task>`), with the seconds it took and what failed (`error`). A one-pass job (`members`)
scores several proxies per architecture in one pass (`proxies.shared.SharedPass`) and gives one row per member, each
equal to the row a job of that proxy alone gives, with the member's share of the pass's seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from meco_lab.benchmarks import space_options
from meco_lab.core.errors import ConfigError
from meco_lab.proxies import PROXIES, Proxy
from meco_lab.proxies.meco import ProbeProxy, score_tasks_together
from meco_lab.proxies.shared import SharedPass
from meco_lab.spaces import SPACES, Candidate, SearchSpace

REDUCTIONS = ("first", "mean")


@dataclass(frozen=True)
class TaskInput:
    """One task's input batch, targets and classes, for a benchmark whose tasks have their own networks."""

    name: str
    x: torch.Tensor
    y: torch.Tensor | None
    classes: int


def score_column(task: str | None) -> str:
    """The scores column of a task (`score_<task>`), or of the one network a benchmark scores (`score`)."""
    return "score" if task is None else f"score_{task}"


@dataclass(frozen=True)
class ScoringJob:
    """Everything a worker needs to score any architecture: picklable, built once per process."""

    space: dict[str, Any]
    proxy: dict[str, Any]
    x: torch.Tensor
    seed: int
    num_classes: int
    y: torch.Tensor | None = None
    reduce: str = "first"
    device: str = "cpu"
    threads: int = 1
    data: dict[str, Any] | None = None  # the `data.*` settings, for the proxy's needs check
    tasks: tuple[TaskInput, ...] = ()  # one network per task: each task's input (then x and y are unused)
    members: tuple[dict[str, Any], ...] = ()  # one pass of several proxies: each member's proxy config (then not proxy)

    @property
    def columns(self) -> tuple[str, ...]:
        """The score columns of this job's rows."""
        return tuple(score_column(t.name) for t in self.tasks) if self.tasks else (score_column(None),)

    @property
    def passes_per_arch(self) -> int:
        """Forward passes per architecture: one batch forward, or one per sample with `data.reduce=mean`."""
        return 1 if self.reduce == "first" else len(self.x)


def build_space(spec: Mapping[str, Any]) -> SearchSpace:
    """The space a `space` config names, with its options (the selection keys left out)."""
    return SPACES.get(spec["name"])(**space_options(spec))


def build_proxy(spec: Mapping[str, Any]) -> Proxy:
    return PROXIES.get(spec["name"])(**{k: v for k, v in spec.items() if k != "name"})


class Scorer:
    """Scores single architectures for one job (one per process); `space` replaces the one `job.space` names."""

    def __init__(self, job: ScoringJob, space: SearchSpace | None = None):
        if job.reduce not in REDUCTIONS:
            raise ConfigError("data.reduce", job.reduce, REDUCTIONS)
        torch.set_num_threads(job.threads)
        self.job = job
        self.space = build_space(job.space) if space is None else space
        if not job.tasks:
            self.space.check_input_size(job.x.shape[-1])
        self.proxies = [build_proxy(spec) for spec in (job.members or (job.proxy,))]
        for proxy in self.proxies:
            proxy.check(job.data or {})
        self.proxy = self.proxies[0]
        probing = [p for p in self.proxies if isinstance(p, ProbeProxy)]
        self.probing = probing if len(probing) > 1 else []  # on a task benchmark, they share one probe forward
        self.x = job.x.to(job.device)
        self.y = None if job.y is None else job.y.to(job.device)
        moved: dict[int, torch.Tensor] = {}  # tasks that share an input keep sharing it (one encoder pass)
        self.task_inputs = {t.name: (moved.setdefault(id(t.x), t.x.to(job.device)),
                                     None if t.y is None else t.y.to(job.device), t.classes) for t in job.tasks}

    def score(self, index: int) -> dict[str, Any]:
        """One row: index, arch, the score(s), seconds and error.

        A proxy that fails on this architecture (an exception, out of memory) or returns a non-finite
        value gives a NaN score; the failure is recorded in `error` and the run carries on.
        """
        start = time.perf_counter()
        found = self.found(self.proxy, index)
        return self.row(index, found, time.perf_counter() - start)

    def score_members(self, index: int) -> list[dict[str, Any]]:
        """One row per member of a one-pass job, in member order, each as a job of that proxy alone scores it. The
        members share one pass per input (`SharedPass`: the whole batch, or each sample with `data.reduce=mean`);
        on a benchmark whose tasks have their own networks the probe proxies (MeCo, MeCo_opt) share one probe
        forward per architecture (`score_tasks_together`) and the others score on their own."""
        if self.task_inputs:
            shared = dict(zip(map(id, self.probing), score_tasks_together(
                self.probing, self.space, index, self.job.seed, self.task_inputs), strict=True)) if self.probing else {}
            results = []
            for proxy in self.proxies:
                if id(proxy) in shared:
                    results.append(shared[id(proxy)])
                    continue
                start = time.perf_counter()
                results.append((self.found(proxy, index), time.perf_counter() - start))
            return [self.row(index, found, seconds) for found, seconds in results]
        candidate = Candidate(self.space, index, self.job.seed, self.job.num_classes)
        if self.job.reduce == "first":
            passes = [SharedPass(candidate, self.x, self.y).run(self.proxies)]
        else:
            ys = [None] * len(self.x) if self.y is None else list(self.y.split(1))
            passes = [SharedPass(candidate, xi, yi).run(self.proxies)
                      for xi, yi in zip(self.x.split(1), ys, strict=True)]
        rows = []
        for k in range(len(self.proxies)):
            values = [p[k][0] for p in passes]
            failed = next((v for v in values if isinstance(v, Exception)), None)
            value = failed if failed is not None else sum(values) / len(values)
            rows.append(self.row(index, {None: value}, sum(p[k][1] for p in passes)))
        return rows

    def result(self, index: int) -> dict[str, Any] | list[dict[str, Any]]:
        """The row of `index`, or for a one-pass job its rows, one per member."""
        return self.score_members(index) if self.job.members else self.score(index)

    def found(self, proxy: Proxy, index: int) -> dict[str | None, float | Exception] | Exception:
        """`proxy`'s score of `index` per task (None: the one network), or the exception that failed them all."""
        try:
            if self.task_inputs:
                return dict(proxy.score_tasks(self.space, index, self.job.seed, self.task_inputs))
            return {None: self.score_candidate(Candidate(self.space, index, self.job.seed, self.job.num_classes),
                                               proxy)}
        except Exception as failure:  # recorded per architecture, never fatal to the run
            return failure

    def row(self, index: int, found: dict[str | None, float | Exception] | Exception, seconds: float
            ) -> dict[str, Any]:
        """The scores row of `found` (per task, or the failure of all), a non-finite value recorded as NaN."""
        values: dict[str, float] = {}
        errors: list[str] = []
        if isinstance(found, Exception):
            values = dict.fromkeys(self.job.columns, math.nan)
            errors = [f"{type(found).__name__}: {found}"]
            found = {}
        for task, value in found.items():  # per task (None: the one network): its error, or a non-finite value
            where = "" if task is None else f"{task}: "
            if isinstance(value, Exception):
                values[score_column(task)] = math.nan
                errors.append(f"{where}{type(value).__name__}: {value}")
            elif not math.isfinite(value):
                values[score_column(task)] = math.nan
                errors.append(f"{where}non-finite score {value}")
            else:
                values[score_column(task)] = float(value)
        error = "; ".join(errors)[:500] or None
        return {"index": index, "arch": self.space.arch(index), **values, "seconds": seconds, "error": error}

    def score_candidate(self, candidate: Candidate, proxy: Proxy | None = None) -> float:
        """The proxy's score of `candidate` under `data.reduce`: sample 0 of one batch forward ("first"), or the
        mean of per-sample scores, each sample alone in its forward pass ("mean"). Exceptions propagate."""
        proxy = proxy or self.proxy
        if self.job.reduce == "first":
            return float(proxy.score(candidate, self.x, self.y))
        ys = [None] * len(self.x) if self.y is None else list(self.y.split(1))
        return sum(float(proxy.score(candidate, xi, yi)) for xi, yi in zip(self.x.split(1), ys, strict=True)
                   ) / len(self.x)

    def score_many(self, indices: Sequence[int]) -> list[Any]:
        """`result` of each index: rows, or for a one-pass job lists of member rows."""
        return [self.result(i) for i in indices]
