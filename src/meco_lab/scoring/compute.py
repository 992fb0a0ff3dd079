"""Score what a store lacks, in this process or in worker processes, with a progress bar: one proxy into one store
(`compute_scores`), or several proxies in one pass per architecture, each into its own store (`compute_members`)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import polars as pl
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from meco_lab.scoring.executors import scoring_executor
from meco_lab.scoring.plan import RunPlan
from meco_lab.scoring.scorer import ScoringJob
from meco_lab.scoring.store import ScoreStore


class LoggedProgress(Progress):
    """A rich progress bar that, on a console that is not a terminal (output to a file: `nohup`, a batch job), where
    rich draws the bar only once at the end, prints a plain line at most every `every` seconds instead: done/total,
    the task's `info` field, the time elapsed and the time left at the rate since the task was added."""

    def __init__(self, *columns: Any, label: str, info: str, every: float, **options: Any):
        super().__init__(*columns, **options)
        self.label, self.info, self.every, self.last = label, info, every, time.monotonic()
        self.origin: dict[TaskID, tuple[float, float]] = {}  # per task: completed and time when added

    def add_task(self, *args: Any, **kwargs: Any) -> TaskID:
        task_id = super().add_task(*args, **kwargs)
        self.origin[task_id] = (self.task(task_id).completed, time.monotonic())
        return task_id

    def task(self, task_id: TaskID) -> Task:
        return next(t for t in self.tasks if t.id == task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self.line(task_id)

    def update(self, task_id: TaskID, **changes: Any) -> None:
        super().update(task_id, **changes)
        if changes.get("advance") or changes.get("completed") is not None:
            self.line(task_id)

    def line(self, task_id: TaskID) -> None:
        """The plain line, where the console is not a terminal and `every` seconds have passed since the last."""
        now = time.monotonic()
        if self.console.is_terminal or now - self.last < self.every:
            return
        self.last = now
        task, (done0, start) = self.task(task_id), self.origin[task_id]
        rate = (task.completed - done0) / max(now - start, 1e-9)
        left = f", about {timedelta(seconds=round((task.total - task.completed) / rate))} left" if rate > 0 else ""
        info = f", {task.fields[self.info]}" if task.fields.get(self.info) else ""
        self.console.print(f"{self.label}: {task.completed:.0f}/{task.total:.0f} ({task.percentage:.1f}%){info}, "
                           f"{timedelta(seconds=round(now - start))} elapsed{left}", highlight=False, soft_wrap=True)


def progress_bar(console: Console, label: str = "scoring", info: str = "rate", every: float = 60.0) -> Progress:
    """A rich progress bar: label, bar, done/total, the task's `info` field, elapsed and remaining time; where the
    console is not a terminal, a plain line every `every` seconds (`LoggedProgress`)."""
    return LoggedProgress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn(f"{{task.fields[{info}]}}"), TimeElapsedColumn(), TimeRemainingColumn(),
                          console=console, label=label, info=info, every=every)


def chunk_size(chunk: int, todo: int, workers: int) -> int:
    """Architectures per part: `chunk`, or with several workers at most a quarter of a worker's share, so that a
    selection smaller than `workers * chunk` keeps every worker busy (scores do not depend on it)."""
    return chunk if workers == 1 else min(chunk, max(1, -(-todo // (4 * workers))))


def compute_scores(plan: RunPlan, store: ScoreStore, console: Console, label: str = "scoring") -> tuple[
        pl.DataFrame, int, float]:
    """Score what `store` lacks of the plan's architectures: (scores of all of them, forward passes, seconds)."""
    indices = plan.indices
    done = set(store.load()["index"].to_list())
    todo = [i for i in indices if i not in done]
    if done and todo:
        console.print(f"resuming: {len(set(indices) & done)} of {len(indices)} architectures already scored")
    start = time.perf_counter()
    if todo:
        with progress_bar(console, label) as progress:
            task = progress.add_task(label, total=len(indices), completed=len(indices) - len(todo), rate="")

            def advance(n: int) -> None:
                scored = progress.tasks[task].completed + n - (len(indices) - len(todo))
                progress.update(task, rate=f"{scored / max(time.perf_counter() - start, 1e-9):.1f} arch/s")
                progress.advance(task, n)

            run_scoring = scoring_executor(plan.config)  # executor=local: parallel.run_scoring; ray: ray_executor
            workers = plan.config["workers"]
            run_scoring(plan.job, todo, workers, chunk_size(plan.config["chunk"], len(todo), workers), store.append,
                        advance)
    seconds = time.perf_counter() - start
    scores = store.load().filter(pl.col("index").is_in(indices))
    return scores, len(todo) * plan.job.passes_per_arch, seconds


def compute_members(job: ScoringJob, indices: Sequence[int], stores: Sequence[ScoreStore], workers: int, chunk: int,
                    config: dict[str, Any], console: Console, label: str = "scoring"
                    ) -> tuple[list[int], list[float], float]:
    """Score, in one pass per architecture, what each store lacks of `indices`: member k of the one-pass `job`
    (`job.members[k]`) writes its rows to `stores[k]`, a part per chunk, so a killed pass resumes per member. The
    chunks run where `config`'s executor says (`scoring_executor`: local processes, or Ray tasks).
    Architectures are grouped by the members they lack, and each group is one pass of just those members. With
    several workers a chunk is at most a quarter of a worker's share, so a small selection keeps every worker busy.
    Returns the architectures scored now per member, each member's seconds (its share of the passes) and the wall
    time."""
    done = [set(store.load()["index"].to_list()) for store in stores]
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i in indices:
        lacking = tuple(k for k, have in enumerate(done) if i not in have)
        if lacking:
            groups[lacking].append(i)
    scored, seconds = [0] * len(stores), [0.0] * len(stores)
    todo = sum(len(v) for v in groups.values())
    start = time.perf_counter()
    if not todo:
        return scored, seconds, 0.0
    if todo < len(indices):
        console.print(f"resuming: {len(indices) - todo} of {len(indices)} architectures already scored by every "
                      "member")
    with progress_bar(console, label) as progress:
        task = progress.add_task(label, total=len(indices), completed=len(indices) - todo, rate="")

        def advance(n: int) -> None:
            now = progress.tasks[task].completed + n - (len(indices) - todo)
            progress.update(task, rate=f"{now / max(time.perf_counter() - start, 1e-9):.1f} arch/s")
            progress.advance(task, n)

        run_scoring = scoring_executor(config)  # executor=local: parallel.run_scoring; ray: ray_executor
        for lacking, part in groups.items():
            def write(rows: list[Any], lacking: tuple[int, ...] = lacking) -> None:
                for k, member_rows in zip(lacking, zip(*rows, strict=True), strict=True):
                    stores[k].append(list(member_rows))
                    scored[k] += len(member_rows)
                    seconds[k] += sum(r["seconds"] for r in member_rows)

            run_scoring(replace(job, members=tuple(job.members[k] for k in lacking)), part, workers,
                        chunk_size(chunk, len(part), workers), write, advance)
    return scored, seconds, time.perf_counter() - start
