"""A cross-run score cache: per-architecture scores keyed by the settings that change them.

The key hashes the proxy, data, space (not the selection) and seed settings, never the ground truth
or tracking, so trials that differ only in those reuse one scoring pass. A cache entry is a
`ScoreStore`; an exclusive lock per entry (waited for) makes concurrent writers safe, and the second of
two identical trials finds every score cached and runs no forward pass.

Several proxies scored together (`cached_members`: a `proxy=multi` run, an ensemble's members, or the points of a
sweep that differ only in the proxy) fill their entries in one pass per architecture; each entry is exactly what a
single-proxy run of that proxy would have written.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console

from meco_lab.core.errors import ConfigError
from meco_lab.core.locks import exclusive
from meco_lab.scoring.compute import compute_members, compute_scores
from meco_lab.scoring.ensemble import combine
from meco_lab.scoring.members import ensemble_weights
from meco_lab.scoring.plan import RunPlan, fingerprint
from meco_lab.scoring.store import ScoreStore


def cache_key(config: dict) -> str:
    text = json.dumps(fingerprint(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cached_scores(plan: RunPlan, root: Path, console: Console, label: str = "scoring") -> tuple[
        pl.DataFrame, int, float]:
    """Scores of the plan's architectures from the cache under `root`, computing only what it lacks.

    Returns (scores, forward passes run now, seconds); zero forward passes means a full cache hit. An ensemble's
    scores are combined from its members' entries (filled in one pass where they lack scores).
    """
    if plan.members:
        if plan.config["proxy"]["name"] != "ensemble":
            raise ConfigError("proxy", plan.config["proxy"]["name"], "a proxy with one score per architecture "
                                                                     "(proxy=multi scores its members into the cache)")
        start = time.perf_counter()
        members = cached_members(plan.member_plans(), root, console, plan.config["workers"], plan.config["chunk"],
                                 label)
        passes = max(m[1] for m in members)
        return ensemble_scores(plan, [m[0] for m in members]), passes, time.perf_counter() - start
    with entry_lock(root, plan):
        return compute_scores(plan, entry_store(root, plan, console), console, label)


def cached_members(plans: Sequence[RunPlan], root: Path, console: Console, workers: int, chunk: int,
                   label: str = "scoring") -> list[tuple[pl.DataFrame, int, float]]:
    """Scores of several single-proxy plans (the same architectures, input and space; different proxies) from their
    cache entries under `root`, scoring what they lack in one pass per architecture (`compute_members`). Per plan:
    (scores, forward passes run now, the seconds attributed to its proxy)."""
    with ExitStack() as locks:
        unique = {cache_key(p.config): p for p in plans}
        for key in sorted(unique):  # one order for every process: no two wait on each other
            locks.enter_context(entry_lock(root, unique[key]))
        stores = [entry_store(root, p, console) for p in plans]
        job = replace(plans[0].job, members=tuple(p.job.proxy for p in plans))
        scored, seconds, _ = compute_members(job, plans[0].indices, stores, workers, chunk, plans[0].config, console,
                                             label)
        return [(store.load().filter(pl.col("index").is_in(p.indices)), n * job.passes_per_arch, s)
                for store, p, n, s in zip(stores, plans, scored, seconds, strict=True)]


def cached_indices(plans: Sequence[RunPlan], root: Path, console: Console) -> list[set[int]]:
    """The architectures each plan's cache entry under `root` holds now (of any selection)."""
    found = []
    for plan in plans:
        with entry_lock(root, plan):
            found.append(set(entry_store(root, plan, console).load()["index"].to_list()))
    return found


def entry_lock(root: Path, plan: RunPlan) -> AbstractContextManager[None]:
    """The exclusive lock of the plan's cache entry under `root` (waited for)."""
    return exclusive(root / cache_key(plan.config) / ".lock", "sweep.cache_dir", str(root), "a score cache entry",
                     wait=True)


def entry_store(root: Path, plan: RunPlan, console: Console) -> ScoreStore:
    """The plan's cache entry under `root` (hold its `entry_lock`)."""
    return ScoreStore(root / cache_key(plan.config), fingerprint(plan.config), console, plan.job.columns)


def ensemble_scores(plan: RunPlan, members: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The ensemble's scores table (index, arch, score column(s), seconds, error) from its members' scores over the
    plan's architectures: per score column, the rank aggregation of the members' columns (`scoring.ensemble`)."""
    proxy = plan.config["proxy"]
    weights = ensemble_weights(proxy, plan.members)
    order = pl.DataFrame({"index": plan.indices}, schema={"index": pl.Int64})
    frames = [order.join(frame, on="index", how="left") for frame in members]
    out = frames[0].select("index", "arch")
    for column in plan.job.columns:
        values = [f[column].to_numpy() for f in frames]
        out = out.with_columns(pl.Series(column, combine(values, [weights[m.label] for m in plan.members],
                                                         proxy.get("combine", "logrank")), dtype=pl.Float64))
    seconds = np.sum([f["seconds"].to_numpy() for f in frames], axis=0)
    return out.with_columns(pl.Series("seconds", seconds, dtype=pl.Float64), pl.lit(None, dtype=pl.String)
                            .alias("error"))
