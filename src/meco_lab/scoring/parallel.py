"""Score many architectures, in this process or in K spawned worker processes, handing each finished chunk on.

Workers die with the run (`core.process.worker_init`): a run killed by any signal leaves no worker behind, and
Ctrl-C or SIGTERM of the run terminates them at once (the pool is terminated, not drained).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from meco_lab.core.process import worker_init
from meco_lab.scoring.scorer import Scorer, ScoringJob

_WORKER: Scorer | None = None


def _init_worker(job: ScoringJob, parent: int) -> None:
    global _WORKER
    worker_init(parent)
    _WORKER = Scorer(job)


def _score_chunk(indices: Sequence[int]) -> list[Any]:
    assert _WORKER is not None
    return _WORKER.score_many(indices)


def chunks(indices: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield list(indices[start : start + size])


def run_scoring(job: ScoringJob, indices: Sequence[int], workers: int, chunk: int,
                on_rows: Callable[[list[Any]], None], on_progress: Callable[[int], None]) -> None:
    """Score `indices`, handing each finished chunk to `on_rows` (which persists it) as soon as it is done: one row
    per architecture, or for a one-pass job (`job.members`) one list of member rows per architecture.

    With `workers > 1` the chunks run in that many spawned processes; every architecture's score
    depends only on (config, seed, index), so results equal those of one process.
    """
    if workers == 1:
        scorer = Scorer(job)
        for part in chunks(indices, chunk):
            rows = []
            for index in part:
                rows.append(scorer.result(index))
                on_progress(1)
            on_rows(rows)
        return
    context = mp.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(job, os.getpid())) as pool:  # exit: terminate()
        for rows in pool.imap_unordered(_score_chunk, chunks(indices, chunk)):
            on_rows(rows)
            on_progress(len(rows))
