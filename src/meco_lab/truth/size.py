"""Size stand-ins for missing accuracy: exact #params and FLOPs per dataset, as NATS-Bench reports them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from meco_lab.spaces.base import SearchSpace
from meco_lab.truth.base import DATASETS, GroundTruth

# (classes, input resolution) NATS-Bench used to count each dataset's params and FLOPs
NATS_INPUTS = {"cifar10": (10, 32), "cifar100": (100, 32), "ImageNet16-120": (120, 16)}
SIZE_LABELS = {"params": "#params (M)", "flops": "FLOPs (M)"}


def size_truth(space: SearchSpace, indices: Sequence[int]) -> dict[str, GroundTruth] | None:
    """{"params", "flops"} of `indices` per dataset (NaN elsewhere); None if the space has no closed form."""
    per_dataset = {d: space.size(indices, *NATS_INPUTS[d]) for d in DATASETS}
    if any(v is None for v in per_dataset.values()):
        return None
    out = {}
    for key, label in SIZE_LABELS.items():
        values = {}
        for d in DATASETS:
            values[d] = np.full(len(space), np.nan)
            values[d][np.asarray(indices, dtype=np.int64)] = per_dataset[d][key]
        out[key] = GroundTruth(accuracy=values, arch=None, source=f"{label}, exact, counted by {space.name}")
    return out
