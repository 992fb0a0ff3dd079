"""Benchmarks: a search space, its tasks and its ground truth. Each module here registers its benchmarks."""

from meco_lab.benchmarks import nats as _nats  # noqa: F401  (registers nats_tss, nats_sss)
from meco_lab.benchmarks import suite_zero as _suite_zero  # noqa: F401  (registers nb301, nb101, *_360)
from meco_lab.benchmarks import tnb101 as _tnb101  # noqa: F401  (registers tnb101_micro, tnb101_macro)
from meco_lab.benchmarks.base import BENCHMARKS, Benchmark, Task, get_benchmark, space_options
from meco_lab.benchmarks.truth.base import GroundTruth

__all__ = ["BENCHMARKS", "Benchmark", "GroundTruth", "Task", "get_benchmark", "space_options"]
