"""A cross-run score cache: per-architecture scores keyed by the settings that change them.

The key hashes the proxy, data, space (not the selection) and seed settings, never the ground truth
or tracking, so trials that differ only in those reuse one scoring pass. A cache entry is a
`ScoreStore`; an exclusive lock per entry (waited for) makes concurrent writers safe, and the second of
two identical trials finds every score cached and runs no forward pass.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
from rich.console import Console

from meco_lab.core.locks import exclusive
from meco_lab.scoring.plan import RunPlan, fingerprint
from meco_lab.scoring.run import compute_scores
from meco_lab.scoring.store import ScoreStore


def cache_key(config: dict) -> str:
    text = json.dumps(fingerprint(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cached_scores(plan: RunPlan, root: Path, console: Console, label: str = "scoring") -> tuple[
        pl.DataFrame, int, float]:
    """Scores of the plan's architectures from the cache under `root`, computing only what it lacks.

    Returns (scores, forward passes run now, seconds); zero forward passes means a full cache hit.
    """
    entry = root / cache_key(plan.config)
    with exclusive(entry / ".lock", "sweep.cache_dir", str(root), "a score cache entry", wait=True):
        store = ScoreStore(entry, fingerprint(plan.config), console, plan.job.columns)
        return compute_scores(plan, store, console, label)
