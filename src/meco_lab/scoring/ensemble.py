"""Rank aggregation of member scores (`proxy=ensemble`).

Each member's scores over the scored architectures become normalised ranks r in (0, 1] (the best architecture 1,
ties averaged); a non-finite score (an architecture the member could not score) ranks below every finite one, as the
worst. `combine`:

- `logrank` (default): sum over members of w * log(r), the aggregation of AZ-NAS (Lee and Ham, CVPR 2024), which
  punishes an architecture that any member ranks low;
- `rank`: the weighted mean of r.

Ranks are relative to the architectures scored together, so an ensemble score is not one architecture's alone: it is
computed from the members' cached scores at each run (milliseconds), never cached itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


def normalised_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks in (0, 1], higher for a higher score, ties averaged; non-finite values tie below every finite one."""
    values = np.asarray(values, dtype=np.float64)
    filled = np.where(np.isfinite(values), values, -np.inf)
    return rankdata(filled, method="average") / len(values)


def combine(columns: Sequence[np.ndarray], weights: Sequence[float], method: str = "logrank") -> np.ndarray:
    """One ensemble score per architecture from the members' score columns (each over the same architectures)."""
    ranks = [normalised_ranks(c) for c, w in zip(columns, weights, strict=True) if w > 0]
    used = [w for w in weights if w > 0]
    if method == "logrank":
        return np.sum([w * np.log(r) for w, r in zip(used, ranks, strict=True)], axis=0)
    if method == "rank":
        return np.sum([w * r for w, r in zip(used, ranks, strict=True)], axis=0) / sum(used)
    raise ValueError(f"unknown combine method {method!r}")
