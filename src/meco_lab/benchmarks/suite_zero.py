"""The NAS-Bench-Suite-Zero benchmarks beyond TransNAS-Bench-101, with the partial ground truth reachable here
(resources/SUITE_ZERO_PROVENANCE.md; every result says how many architectures it covers):

- `nb301`: 1,218 NAS-Bench-301 genotypes on CIFAR-10; the truth is the NB301 v1.0 XGB surrogate's *predicted*
  validation accuracy with noise on (NASLib's `query`), not a trained accuracy.
- `nb101`: 321 distinct NAS-Bench-101 cells on CIFAR-10: 292 with a 108-epoch validation accuracy (the mean of the
  one random repeat per sampled row, over the rows of the same module hash; `truth.metric=valid`), 30 with the
  mean test accuracy of all 3 repeats (NASLib's test asset; `truth.metric=test`).
- `nb201_360`, `nb301_360`, `tnb101_micro_360`: the cells the suite trained on SVHN, NinaPro and Spherical
  CIFAR-100 (199, 199 and 192), their test accuracies (from a NASLib data file that was never committed).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from meco_lab.benchmarks.base import BENCHMARKS, Benchmark, Task
from meco_lab.benchmarks.truth.base import GroundTruth, check_metric
from meco_lab.core.checks import check_choice
from meco_lab.core.errors import ConfigError
from meco_lab.core.resources import resource_path
from meco_lab.spaces.nb360.space import input_shape
from meco_lab.spaces.nb360.tasks import TASKS as NB360_TASKS


@functools.lru_cache(maxsize=4)
def suite_table(name: str) -> pl.DataFrame:
    return pl.read_parquet(resource_path(f"{name}.parquet"))


def table_only(truth: Mapping[str, Any]) -> str:
    """The `truth` config's metric, for a benchmark whose truth is its built-in table only."""
    check_choice("truth.name", truth["name"], ("table",))
    if truth.get("path") is not None:
        raise ConfigError("truth.path", truth["path"], "None for truth.name='table' (the table is built in)")
    return check_metric(truth.get("metric", "test"))


@BENCHMARKS.register("nb301")
class Nb301Benchmark(Benchmark):
    """NAS-Bench-301 on CIFAR-10, 1,218 genotypes with the surrogate's predicted accuracy."""

    name = space_name = "nb301"
    tasks = (Task("cifar10", "validation accuracy (surrogate)", "%"),)

    def load_truth(self, truth: Mapping[str, Any], indices: Sequence[int] | None) -> GroundTruth:
        table_only(truth)
        table = suite_table("nb301")
        return GroundTruth({"cifar10": table["val_accuracy"].to_numpy().astype(np.float64, copy=True)},
                           table["genotype"].to_list(),
                           "built-in NAS-Bench-301 table (NAS-Bench-Suite-Zero, 1,218 genotypes): the v1.0 XGB "
                           "surrogate's predicted validation accuracy with noise on, not a trained accuracy")


@BENCHMARKS.register("nb101")
class Nb101Benchmark(Benchmark):
    """NAS-Bench-101 on CIFAR-10: 292 cells with a validation accuracy, 30 with test accuracies."""

    name = space_name = "nb101"
    tasks = (Task("cifar10", "accuracy", "%"),)

    def load_truth(self, truth: Mapping[str, Any], indices: Sequence[int] | None) -> GroundTruth:
        metric = table_only(truth)
        table = suite_table("nb101")
        column = "val_accuracy" if metric == "valid" else "asset_test_accuracy_mean"
        what = ("108-epoch validation accuracy, one random repeat per sampled row, averaged over the rows of a hash "
                "(292 cells)") if metric == "valid" else "108-epoch test accuracy, mean of 3 repeats (30 cells)"
        return GroundTruth({"cifar10": table[column].to_numpy().astype(np.float64, copy=True)},
                           table["nb101_hash"].to_list(),
                           f"built-in NAS-Bench-101 table (NAS-Bench-Suite-Zero): {what}")


class Nb360Benchmark(Benchmark):
    """One skeleton's cells on the three NAS-Bench-360-style tasks; each task has its own network (its classes)."""

    skeleton: str
    tasks = tuple(Task(t, "test accuracy", "%", True, "classification", spec.input_shape, spec.num_classes)
                  for t, spec in NB360_TASKS.items())
    per_task = True

    def input_shape(self, task: Task, spec: Mapping[str, Any]) -> tuple[int, ...]:
        return input_shape(task.name, spec.get("inputs", "paper"))

    def check_data(self, data: Mapping[str, Any]) -> None:
        if data.get("name") != "random":
            raise ConfigError("data", data.get("name"), f"random for {self.name} (its tasks' own data are not "
                                                        "available here; the inputs are Gaussian, see space.inputs)")

    def load_truth(self, truth: Mapping[str, Any], indices: Sequence[int] | None) -> GroundTruth:
        table_only(truth)
        table = suite_table("nb360").filter(pl.col("skeleton") == self.skeleton)
        return GroundTruth({t.name: table[f"test_{t.name}"].to_numpy().astype(np.float64, copy=True)
                            for t in self.tasks}, table["arch"].to_list(),
                           f"built-in NAS-Bench-Suite-Zero table of {self.skeleton} cells on SVHN, NinaPro and "
                           "Spherical CIFAR-100: test accuracy (not independently checkable)")


@BENCHMARKS.register("nb201_360")
class Nb201On360Benchmark(Nb360Benchmark):
    name = space_name = "nb201_360"
    skeleton = "nb201"


@BENCHMARKS.register("nb301_360")
class Nb301On360Benchmark(Nb360Benchmark):
    name = space_name = "nb301_360"
    skeleton = "nb301"


@BENCHMARKS.register("tnb101_micro_360")
class TnbMicroOn360Benchmark(Nb360Benchmark):
    name = space_name = "tnb101_micro_360"
    skeleton = "tnb101_micro"
