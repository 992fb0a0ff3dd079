"""The GroundTruth container shared by every ground-truth backend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meco_lab.core.checks import check_choice

METRICS = ("test", "valid")


@dataclass(frozen=True)
class GroundTruth:
    """One value per task (accuracy %, SSIM, ...) indexed by architecture index; NaN where unknown.

    `arch` holds the benchmark's own architecture identity per index (arch string or genotype), when the
    source has one, so a run can check that the truth belongs to the scored space.
    """

    values: dict[str, np.ndarray]
    arch: list[str] | None
    source: str

    def __post_init__(self) -> None:
        sizes = {a.shape for a in self.values.values()}
        if len(sizes) > 1:
            raise ValueError(f"value arrays differ in shape: {sorted(sizes)}")
        if self.arch is not None and sizes and sizes != {(len(self.arch),)}:
            raise ValueError(f"{len(self.arch)} arch strings for value arrays of shape {sizes.pop()}")

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0


def no_truth(tasks: tuple[str, ...], n: int, source: str) -> GroundTruth:
    """Ground truth that knows no value (all NaN) for `n` architectures; `source` says why."""
    return GroundTruth(values={t: np.full(n, np.nan) for t in tasks}, arch=None, source=source)


def check_metric(metric: str) -> str:
    """Return `metric` if it is "test" or "valid", else raise ConfigError(truth.metric)."""
    return check_choice("truth.metric", metric, METRICS)
