"""Score what a store lacks, in this process or in worker processes, with a progress bar: one proxy into one store
(`compute_scores`), or several proxies in one pass per architecture, each into its own store (`compute_members`)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from meco_lab.scoring.executors import scoring_executor
from meco_lab.scoring.parallel import run_scoring
from meco_lab.scoring.plan import RunPlan
from meco_lab.scoring.scorer import ScoringJob
from meco_lab.scoring.store import ScoreStore


def progress_bar(console: Console, label: str = "scoring", info: str = "rate") -> Progress:
    """A rich progress bar: label, bar, done/total, the task's `info` field, elapsed and remaining time."""
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn(f"{{task.fields[{info}]}}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console)


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
                progress.advance(task, n)
                scored = progress.tasks[task].completed - (len(indices) - len(todo))
                progress.update(task, rate=f"{scored / max(time.perf_counter() - start, 1e-9):.1f} arch/s")

            run_scoring = scoring_executor(plan.config)  # executor=local: parallel.run_scoring; ray: ray_executor
            workers = plan.config["workers"]
            run_scoring(plan.job, todo, workers, chunk_size(plan.config["chunk"], len(todo), workers), store.append,
                        advance)
    seconds = time.perf_counter() - start
    passes_per_arch = 1 if plan.job.reduce == "first" else len(plan.job.x)
    scores = store.load().filter(pl.col("index").is_in(indices))
    return scores, len(todo) * passes_per_arch, seconds


def compute_members(job: ScoringJob, indices: Sequence[int], stores: Sequence[ScoreStore], workers: int, chunk: int,
                    console: Console, label: str = "scoring") -> tuple[list[int], list[float], float]:
    """Score, in one pass per architecture, what each store lacks of `indices`: member k of the one-pass `job`
    (`job.members[k]`) writes its rows to `stores[k]`, a part per chunk, so a killed pass resumes per member.
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
            progress.advance(task, n)
            now = progress.tasks[task].completed - (len(indices) - todo)
            progress.update(task, rate=f"{now / max(time.perf_counter() - start, 1e-9):.1f} arch/s")

        for lacking, part in groups.items():
            def write(rows: list[Any], lacking: tuple[int, ...] = lacking) -> None:
                for k, member_rows in zip(lacking, zip(*rows, strict=True), strict=True):
                    stores[k].append(list(member_rows))
                    scored[k] += len(member_rows)
                    seconds[k] += sum(r["seconds"] for r in member_rows)

            run_scoring(replace(job, members=tuple(job.members[k] for k in lacking)), part, workers,
                        chunk_size(chunk, len(part), workers), write, advance)
    return scored, seconds, time.perf_counter() - start
