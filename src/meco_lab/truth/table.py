"""Ground truth from the built-in NATS-Bench TSS table (resources/nats_tss_truth.parquet)."""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import polars as pl

from meco_lab.errors import ConfigError
from meco_lab.truth.base import DATASETS, GroundTruth, check_metric

RESOURCE = "nats_tss_truth.parquet"
_SOURCES = {
    "test": "built-in NATS-Bench TSS table, test accuracy at 200 epochs (seed mean)",
    "valid": "built-in NATS-Bench TSS table, validation accuracy at 200 epochs (seed mean; cifar10 = cifar10-valid)",
}


@functools.lru_cache(maxsize=1)
def _table() -> pl.DataFrame:
    """Read the parquet once per process (see resources/PROVENANCE.md)."""
    with (resources.files("meco_lab") / "resources" / RESOURCE).open("rb") as f:
        return pl.read_parquet(f)


def load_table_truth(metric: str = "test") -> GroundTruth:
    """Accuracy of all 15,625 TSS architectures for `metric` "test" or "valid" (fresh arrays)."""
    check_metric(metric)
    df = _table()
    acc = {d: df[f"{metric}_{d}"].to_numpy().astype(np.float64, copy=True) for d in DATASETS}
    return GroundTruth(accuracy=acc, arch=df["arch"].to_list(), source=_SOURCES[metric])


def load_params(dataset: str) -> np.ndarray:
    """Exact parameter counts (int64) by architecture index for `dataset`."""
    if dataset not in DATASETS:
        raise ConfigError("dataset", dataset, DATASETS)
    return _table()[f"params_{dataset}"].to_numpy().astype(np.int64, copy=True)
