"""Ground truth from the built-in NATS-Bench TSS table (resources/nats_tss_truth.parquet)."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

from meco_lab.benchmarks.truth.base import GroundTruth, check_metric
from meco_lab.core.checks import check_choice
from meco_lab.core.resources import resource_path

RESOURCE = "nats_tss_truth.parquet"
NATS_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
"""The NATS-Bench datasets, as the table's columns and the archive's queries name them."""
_SOURCES = {
    "test": "built-in NATS-Bench TSS table, test accuracy at 200 epochs (seed mean)",
    "valid": "built-in NATS-Bench TSS table, validation accuracy at 200 epochs (seed mean; cifar10 = cifar10-valid)",
}


@functools.lru_cache(maxsize=1)
def _table() -> pl.DataFrame:
    """Read the parquet once per process (see resources/PROVENANCE.md)."""
    return pl.read_parquet(resource_path(RESOURCE))


def tss_archs() -> list[str]:
    """All NATS-Bench TSS arch strings, by NATS index."""
    return _table()["arch"].to_list()


def load_table_truth(metric: str = "test") -> GroundTruth:
    """Accuracy of all 15,625 TSS architectures for `metric` "test" or "valid" (fresh arrays)."""
    check_metric(metric)
    df = _table()
    acc = {d: df[f"{metric}_{d}"].to_numpy().astype(np.float64, copy=True) for d in NATS_DATASETS}
    return GroundTruth(values=acc, arch=df["arch"].to_list(), source=_SOURCES[metric])


def load_params(dataset: str) -> np.ndarray:
    """Exact parameter counts (int64) by architecture index for `dataset`."""
    check_choice("dataset", dataset, NATS_DATASETS)
    return _table()[f"params_{dataset}"].to_numpy().astype(np.int64, copy=True)
