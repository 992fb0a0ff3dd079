"""One pass for the points of a grid sweep that differ only in the proxy: before the trials run, every such group of
(point, seed) plans scores its proxies together, one pass per architecture (`scoring.cache.cached_members`), into the
score-cache entries the trials read; the trials then find their scores cached. A kill during the pass loses at most
a chunk per proxy, and the same command resumes it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from meco_lab.scoring.cache import cache_key, cached_members
from meco_lab.scoring.plan import RunPlan, fingerprint
from meco_lab.sweeps.spec import SweepSpec
from meco_lab.sweeps.trial import trial_plan


def shared_groups(spec: SweepSpec, points: Sequence[dict[str, Any]], extra: Sequence[str]) -> list[list[RunPlan]]:
    """The plans of `points` at every seed, grouped by everything that changes a score but the proxy (and by the
    architectures and run options), keeping the groups with two or more distinct proxies; one plan per cache entry,
    in the order of the points."""
    groups: dict[str, dict[str, RunPlan]] = defaultdict(dict)
    for point in points:
        for seed in spec.seeds:
            plan = trial_plan(spec, point, seed, extra)
            if plan.members:  # an ensemble point scores its own members together
                continue
            rest = {k: v for k, v in fingerprint(plan.config).items() if k != "proxy"}
            options = {k: plan.config[k] for k in ("device", "threads", "chunk")}
            key = json.dumps([rest, options, plan.indices], sort_keys=True, default=str)
            groups[key].setdefault(cache_key(plan.config), plan)
    return [list(g.values()) for g in groups.values() if len(g) > 1]


def fill_shared(spec: SweepSpec, points: Sequence[dict[str, Any]], extra: Sequence[str], cache_dir: Any,
                workers: int, console: Console) -> int:
    """Score each group of `shared_groups` in one pass per architecture with `workers` processes; the groups done."""
    groups = shared_groups(spec, points, extra)
    for k, plans in enumerate(groups):
        names = ", ".join(p.config["proxy"]["name"] for p in plans)
        label = f"one pass{f' {k + 1}/{len(groups)}' if len(groups) > 1 else ''}: {len(plans)} proxies"
        console.print(f"{label} ({names}) on {len(plans[0].indices)} architectures, into {cache_dir}",
                      soft_wrap=True, highlight=False)
        cached_members(plans, cache_dir, console, workers, plans[0].config["chunk"], label)
    return len(groups)
