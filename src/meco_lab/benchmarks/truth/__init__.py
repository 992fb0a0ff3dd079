"""Ground-truth backends: the built-in NATS-Bench TSS table, any NATS-Bench archive, exact sizes."""

from meco_lab.benchmarks.truth.base import METRICS, GroundTruth, check_metric, no_truth
from meco_lab.benchmarks.truth.nats_archive import load_nats_bench_truth
from meco_lab.benchmarks.truth.nats_table import NATS_DATASETS, load_params, load_table_truth

__all__ = ["METRICS", "NATS_DATASETS", "GroundTruth", "check_metric", "load_nats_bench_truth", "load_params",
           "load_table_truth", "no_truth"]
