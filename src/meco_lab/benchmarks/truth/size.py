"""Size stand-ins for missing accuracy: exact #params and FLOPs per task, counted by the space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from meco_lab.benchmarks.truth.base import GroundTruth
from meco_lab.spaces.base import SearchSpace

SIZE_LABELS = {"params": "#params (M)", "flops": "FLOPs (M)"}


def size_truth(space: SearchSpace, indices: Sequence[int],
               inputs: Mapping[str, tuple[int, int]]) -> dict[str, GroundTruth] | None:
    """{"params", "flops"} of `indices` per task (NaN elsewhere), each task's network built for its
    (classes, input resolution) in `inputs`; None if the space has no closed form."""
    per_task = {task: space.size(indices, classes, resolution) for task, (classes, resolution) in inputs.items()}
    if any(v is None for v in per_task.values()):
        return None
    out = {}
    for key, label in SIZE_LABELS.items():
        values = {}
        for task in inputs:
            values[task] = np.full(len(space), np.nan)
            values[task][np.asarray(indices, dtype=np.int64)] = per_task[task][key]
        out[key] = GroundTruth(values=values, arch=None, source=f"{label}, exact, counted by {space.name}")
    return out
