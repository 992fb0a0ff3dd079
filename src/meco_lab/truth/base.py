"""The GroundTruth container shared by all ground-truth backends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meco_lab.errors import ConfigError

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
METRICS = ("test", "valid")
ARCHIVE_SIZES = {"tss": 15_625, "sss": 32_768}


@dataclass(frozen=True)
class GroundTruth:
    """Accuracy (%) per dataset, indexed by architecture index; NaN where unknown."""

    accuracy: dict[str, np.ndarray]
    arch: list[str] | None
    source: str

    def __post_init__(self) -> None:
        sizes = {a.shape for a in self.accuracy.values()}
        if len(sizes) > 1:
            raise ValueError(f"accuracy arrays differ in shape: {sorted(sizes)}")
        if self.arch is not None and sizes and sizes != {(len(self.arch),)}:
            raise ValueError(f"{len(self.arch)} arch strings for accuracy arrays of shape {sizes.pop()}")

    def __len__(self) -> int:
        return len(next(iter(self.accuracy.values()))) if self.accuracy else 0


def no_truth(n: int, source: str) -> GroundTruth:
    """Ground truth that knows no accuracy (all NaN) for `n` architectures; `source` says why."""
    return GroundTruth(accuracy={d: np.full(n, np.nan) for d in DATASETS}, arch=None, source=source)


def check_metric(metric: str) -> str:
    """Return `metric` if it is "test" or "valid", else raise ConfigError(truth.metric)."""
    if metric not in METRICS:
        raise ConfigError("truth.metric", metric, METRICS)
    return metric
