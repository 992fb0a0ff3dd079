"""NATS-Bench: the topology space (TSS, = NAS-Bench-201) and the size space (SSS), on CIFAR-10, CIFAR-100 and
ImageNet16-120. Truth: the built-in TSS table (`truth=table`) or any NATS-Bench archive (`truth=nats_bench`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meco_lab.benchmarks.base import BENCHMARKS, Benchmark, Task
from meco_lab.benchmarks.truth.base import GroundTruth, check_metric, no_truth
from meco_lab.benchmarks.truth.nats_archive import load_nats_bench_truth
from meco_lab.benchmarks.truth.nats_table import NATS_DATASETS, load_table_truth
from meco_lab.benchmarks.truth.size import size_truth
from meco_lab.core.checks import check_choice
from meco_lab.core.errors import ConfigError
from meco_lab.spaces import SearchSpace

NATS_TASKS = tuple(Task(d, "test accuracy", "%") for d in NATS_DATASETS)
NATS_INPUTS = {"cifar10": (10, 32), "cifar100": (100, 32), "ImageNet16-120": (120, 16)}
"""(classes, input resolution) NATS-Bench used to count each dataset's params and FLOPs."""
TRUTHS = ("table", "nats_bench")


class NatsBenchmark(Benchmark):
    tasks = NATS_TASKS
    archive: str  # the NATS-Bench archive of this space: "tss" or "sss"

    def load_truth(self, truth: Mapping[str, Any], indices: Sequence[int] | None) -> GroundTruth:
        name, metric = check_choice("truth.name", truth["name"], TRUTHS), truth.get("metric", "test")
        path, hp = truth.get("path"), str(truth.get("hp", "200"))
        check_metric(metric)
        if name == "nats_bench":
            return load_nats_bench_truth(path, space=self.archive, metric=metric, hp=hp, indices=indices)
        if path is not None:
            raise ConfigError("truth.path", path, "None for truth.name='table' (the table is built in)")
        if hp != "200":
            raise ConfigError("truth.hp", hp, "'200' for truth.name='table'")
        return self.table_truth(metric)

    def table_truth(self, metric: str) -> GroundTruth:
        return load_table_truth(metric)

    def size_truth(self, space: SearchSpace, indices: Sequence[int]) -> dict[str, GroundTruth] | None:
        return size_truth(space, indices, NATS_INPUTS)


@BENCHMARKS.register("nats_tss")
class NatsTss(NatsBenchmark):
    """NATS-Bench TSS: 15,625 NB201 cells; the built-in table has their 200-epoch accuracies."""

    name = space_name = "nats_tss"
    archive = "tss"


@BENCHMARKS.register("nats_sss")
class NatsSss(NatsBenchmark):
    """NATS-Bench SSS: 32,768 channel configurations; accuracy only from the full archive (`truth=nats_bench`)."""

    name = space_name = "nats_sss"
    archive = "sss"

    def table_truth(self, metric: str) -> GroundTruth:
        return no_truth(NATS_DATASETS, 32_768, "built-in table (NATS-Bench TSS only): no SSS accuracy")
