"""One pass for the points of a grid sweep that differ only in the proxy: before the trials run, every such group of
(point, seed) plans scores its proxies together, one pass per architecture (`scoring.cache.cached_members`), into the
score-cache entries the trials read. A kill during the pass loses at most a chunk per proxy, and the same command
resumes it.

What the pass scored is credited to the trials it scored for (`one_pass.json` in the sweep dir: per cache entry, the
forward passes and the proxy's share of the seconds), so their rows count those forward passes and are not cache
hits, as if each trial had scored alone; a later sweep served by the same entries gets cache hits. What the pass owes
each entry (the architectures it lacked when the sweep first started it) is written before any scoring
(`one_pass_owed.json`), so a pass killed and resumed credits the trials with every segment's work.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from meco_lab.core.io import write_json
from meco_lab.scoring.cache import cache_key, cached_indices, cached_members
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


CREDIT = "one_pass.json"
OWED = "one_pass_owed.json"


def fill_shared(spec: SweepSpec, points: Sequence[dict[str, Any]], extra: Sequence[str], cache_dir: Path,
                workers: int, sweep_dir: Path, console: Console) -> int:
    """Score each group of `shared_groups` in one pass per architecture with `workers` processes, crediting what it
    scored in `sweep_dir` (every segment of a resumed pass); returns the number of groups."""
    groups = shared_groups(spec, points, extra)
    credit = load_credit(sweep_dir)
    owed_path = Path(sweep_dir) / OWED
    owed: dict[str, list[int]] = json.loads(owed_path.read_text()) if owed_path.is_file() else {}
    for k, plans in enumerate(groups):
        keys = [cache_key(p.config) for p in plans]
        new = [(key, p) for key, p in zip(keys, plans, strict=True) if key not in owed]
        if new:  # before any scoring: what the cache lacks now is what this sweep's pass scores for its trials
            held = cached_indices([p for _, p in new], cache_dir, console)
            for (key, plan), have in zip(new, held, strict=True):
                owed[key] = [i for i in plan.indices if i not in have]
            write_json(owed_path, owed)
        names = ", ".join(p.config["proxy"]["name"] for p in plans)
        label = f"one pass{f' {k + 1}/{len(groups)}' if len(groups) > 1 else ''}: {len(plans)} proxies"
        console.print(f"{label} ({names}) on {len(plans[0].indices)} architectures, into {cache_dir}",
                      soft_wrap=True, highlight=False)
        members = cached_members(plans, cache_dir, console, workers, plans[0].config["chunk"], label)
        for plan, key, (scores, _, _) in zip(plans, keys, members, strict=True):
            scored = scores.filter(pl.col("index").is_in(owed[key]))
            if len(scored):
                credit[key] = (len(scored) * plan.job.passes_per_arch, float(scored["seconds"].sum()))
        write_json(sweep_dir / CREDIT, {k: list(v) for k, v in credit.items()})
    return len(groups)


def load_credit(sweep_dir: Path) -> dict[str, tuple[int, float]]:
    """Per cache key, the forward passes and seconds the sweep's one pass spent on it (empty without a pass)."""
    path = Path(sweep_dir) / CREDIT
    if not path.is_file():
        return {}
    return {k: (int(v[0]), float(v[1])) for k, v in json.loads(path.read_text()).items()}
