"""TransNAS-Bench-101 (Duan et al., CVPR 2021): the micro (4,096 cells) and macro (3,256 skeletons) spaces, each
trained on 7 Taskonomy tasks. Ground truth: the built-in tables (`resources/tnb101_{micro,macro}.parquet`, from
NAS-Bench-Suite-Zero; TNB101_PROVENANCE.md), the final-epoch validation metric NASLib queried for each task.

Each task has its own network (the shared encoder and the task's head), so every task gets its own score
(`score_<task>`); inputs are Gaussian noise at each task's input shape (no Taskonomy images are available here).
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
from meco_lab.spaces.tnb101.tasks import TASK_SPECS

METRICS = {  # the task spec's metric -> (metric, unit) as summaries and tables show them
    "valid_top1": ("top-1 accuracy", "%"),
    "valid_neg_loss": ("negative MSE loss", ""),
    "valid_acc": ("pixel accuracy", "%"),
    "valid_ssim": ("SSIM", ""),
}
ORDER = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal", "autoencoder")
"""The order of the paper's Tables 10 and 11 (classification first, then the dense tasks)."""


def _task(name: str) -> Task:
    spec = TASK_SPECS[name]
    metric, unit = METRICS[spec.metric]
    outputs = spec.num_classes if spec.num_classes is not None else spec.output_shape[0]
    return Task(name, metric, unit, spec.higher_is_better, spec.kind, spec.input_shape, outputs)


TNB_TASKS = tuple(_task(name) for name in ORDER)


@functools.lru_cache(maxsize=2)
def tnb101_table(kind: str) -> pl.DataFrame:
    return pl.read_parquet(resource_path(f"tnb101_{kind}.parquet"))


class TransNasBench(Benchmark):
    tasks = TNB_TASKS
    per_task = True
    kind: str

    def check_data(self, data: Mapping[str, Any]) -> None:
        if data.get("name") != "random":
            raise ConfigError("data", data.get("name"), f"random for {self.name} (Taskonomy images are not available "
                                                        "here; the inputs are Gaussian at each task's input shape)")

    def load_truth(self, truth: Mapping[str, Any], indices: Sequence[int] | None) -> GroundTruth:
        check_choice("truth.name", truth["name"], ("table",))
        check_metric(truth.get("metric", "test"))
        if truth.get("path") is not None:
            raise ConfigError("truth.path", truth["path"], "None for truth.name='table' (the table is built in)")
        table = tnb101_table(self.kind)
        values = {t.name: table[t.name].to_numpy().astype(np.float64, copy=True) for t in self.tasks}
        source = (f"built-in TransNAS-Bench-101 {self.kind} table (NAS-Bench-Suite-Zero): each task's final-epoch "
                  "validation metric (the only split the suite recorded)")
        return GroundTruth(values=values, arch=table["arch"].to_list(), source=source)


@BENCHMARKS.register("tnb101_micro")
class TnbMicroBenchmark(TransNasBench):
    """TransNAS-Bench-101 micro: 4,096 cells, 7 tasks."""

    name = space_name = "tnb101_micro"
    kind = "micro"


@BENCHMARKS.register("tnb101_macro")
class TnbMacroBenchmark(TransNasBench):
    """TransNAS-Bench-101 macro: 3,256 skeletons, 7 tasks."""

    name = space_name = "tnb101_macro"
    kind = "macro"
