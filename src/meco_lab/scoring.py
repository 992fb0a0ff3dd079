"""Score architectures with a proxy, in this process or in K worker processes, writing as it goes."""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import torch

from meco_lab.errors import ConfigError
from meco_lab.proxies import PROXIES, Proxy
from meco_lab.spaces import SPACES, Candidate, SearchSpace

REDUCTIONS = ("first", "mean")


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


def build_space(spec: dict[str, Any]) -> SearchSpace:
    """The enumerable benchmark space `spec` names; a one-line ConfigError for any other (e.g. darts)."""
    if spec["name"] not in SPACES:
        raise ConfigError("space", spec["name"], f"a benchmark space to enumerate, one of {', '.join(SPACES.names())} "
                                                 "(a space without a benchmark table, such as darts, is searched with "
                                                 "python -m meco_lab.search method=zc_pt)")
    options = {k: v for k, v in spec.items() if k not in ("name", "limit", "sample", "indices", "sample_seed")}
    return SPACES.get(spec["name"])(**options)


def build_proxy(spec: dict[str, Any]) -> Proxy:
    return PROXIES.get(spec["name"])(**{k: v for k, v in spec.items() if k != "name"})


class Scorer:
    """Scores single architectures for one job (one per process); `space` replaces the one `job.space` names."""

    def __init__(self, job: ScoringJob, space: SearchSpace | None = None):
        if job.reduce not in REDUCTIONS:
            raise ConfigError("data.reduce", job.reduce, REDUCTIONS)
        torch.set_num_threads(job.threads)
        self.job = job
        self.space = build_space(job.space) if space is None else space
        self.space.check_input_size(job.x.shape[-1])
        self.proxy = build_proxy(job.proxy)
        self.proxy.check(job.data or {})
        self.x = job.x.to(job.device)
        self.y = None if job.y is None else job.y.to(job.device)

    def score(self, index: int) -> dict[str, Any]:
        """One row: index, arch, score, seconds and error.

        A proxy that fails on this architecture (an exception, out of memory) or returns a non-finite
        value gives a NaN score; the failure is recorded in `error` and the run carries on.
        """
        candidate = Candidate(self.space, index, self.job.seed, self.job.num_classes)
        start = time.perf_counter()
        error = None
        try:
            value = self._score(candidate)
        except Exception as failure:  # recorded per architecture, never fatal to the run
            value, error = math.nan, f"{type(failure).__name__}: {failure}"[:500]
        seconds = time.perf_counter() - start
        if error is None and not math.isfinite(value):
            value, error = math.nan, f"non-finite score {value}"
        return {"index": index, "arch": self.space.arch(index), "score": value, "seconds": seconds, "error": error}

    def _score(self, candidate: Candidate) -> float:
        if self.job.reduce == "first":
            return self.proxy.score(candidate, self.x, self.y)
        # mean of per-sample scores, each sample alone in its forward pass
        ys = [None] * len(self.x) if self.y is None else list(self.y.split(1))
        return sum(self.proxy.score(candidate, xi, yi) for xi, yi in zip(self.x.split(1), ys, strict=True)) / len(
            self.x)

    def score_many(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        return [self.score(i) for i in indices]


_WORKER: Scorer | None = None


def _init_worker(job: ScoringJob) -> None:
    global _WORKER
    _WORKER = Scorer(job)


def _score_chunk(indices: Sequence[int]) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return _WORKER.score_many(indices)


def chunks(indices: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield list(indices[start : start + size])


def run_scoring(job: ScoringJob, indices: Sequence[int], workers: int, chunk: int,
                on_rows: Callable[[list[dict[str, Any]]], None], on_progress: Callable[[int], None]) -> None:
    """Score `indices`, handing each finished chunk to `on_rows` (which persists it) as soon as it is done.

    With `workers > 1` the chunks run in that many spawned processes; every architecture's score
    depends only on (config, seed, index), so results equal those of one process.
    """
    if workers == 1:
        scorer = Scorer(job)
        for part in chunks(indices, chunk):
            rows = []
            for index in part:
                rows.append(scorer.score(index))
                on_progress(1)
            on_rows(rows)
        return
    context = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job,)) as pool:
        pending = {pool.submit(_score_chunk, part) for part in chunks(indices, chunk)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    rows = future.result()
                    on_rows(rows)
                    on_progress(len(rows))
        except BaseException:
            for future in pending:
                future.cancel()
            raise
