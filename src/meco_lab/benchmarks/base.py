"""A benchmark: a search space, the tasks its architectures were trained on, and where their ground truth is.

Every summary, trials table, report, paper comparison, search table and plot iterates over the scored
benchmark's tasks, so a benchmark with other tasks (other metrics, lower-is-better values) needs no change
outside its own file and config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from meco_lab.benchmarks.truth.base import GroundTruth
from meco_lab.core.errors import ConfigError
from meco_lab.core.registry import Registry
from meco_lab.spaces import SPACES, SearchSpace

SELECTION_KEYS = ("limit", "sample", "indices", "sample_seed")
"""`space.*` keys that choose which architectures run; every other `space.*` key is an option of the space."""


@dataclass(frozen=True)
class Task:
    """One task of a benchmark: the name its ground truth and metrics go by, and what that value measures.

    With `higher_is_better=False` (a loss, an error) rank correlations are reported against the negated
    value, so that for every task a higher rho means the proxy ranks better architectures higher.
    """

    name: str
    metric: str = "test accuracy"
    unit: str = "%"
    higher_is_better: bool = True
    kind: str = "classification"
    """classification, pixel classification, regression or pixel regression: which proxies apply, which loss."""
    input_shape: tuple[int, ...] | None = None
    """One sample's input (C, H, W), for a benchmark whose tasks have their own networks; None: from `data.*`."""
    outputs: int | None = None
    """Classes of a (pixel) classification task's network, or the values / channels a regression task predicts;
    None: from `data.*`."""

    @property
    def label(self) -> str:
        """The metric with its unit, for axes and table headers."""
        return f"{self.metric} ({self.unit})" if self.unit else self.metric

    def describe(self) -> dict[str, Any]:
        return {"metric": self.metric, "unit": self.unit, "higher_is_better": self.higher_is_better}

    def random_targets(self, samples: int, generator: torch.Generator) -> torch.Tensor | None:
        """Targets of this task's shape for `samples` inputs, drawn from `generator` (for proxies with a loss):
        class labels, per-pixel labels (the output's height and width), or Gaussian / [-1, 1] regression targets."""
        if self.input_shape is None or self.outputs is None:
            return None
        height, width = self.input_shape[-2:]
        if self.kind == "classification":
            return torch.randint(self.outputs, (samples,), generator=generator)
        if self.kind == "pixel classification":
            return torch.randint(self.outputs, (samples, height, width), generator=generator)
        if self.kind == "regression":
            return torch.randn((samples, self.outputs), generator=generator)
        return torch.rand((samples, self.outputs, height, width), generator=generator).mul_(2).sub_(1)


def space_options(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a `space` config: every key but its name and the selection keys."""
    return {k: v for k, v in spec.items() if k not in ("name", *SELECTION_KEYS)}


class Benchmark(ABC):
    """A search space (registered in SPACES), its tasks and its ground truth; registered in BENCHMARKS."""

    name: ClassVar[str]
    """The `space=` config name."""
    space_name: ClassVar[str]
    """The SPACES entry whose architectures the benchmark holds."""
    tasks: ClassVar[tuple[Task, ...]]
    per_task: ClassVar[bool] = False
    """Whether each task has its own network, hence its own score (`score_<task>` columns); otherwise one network
    is scored and ranked against every task (a `score` column)."""

    def check_data(self, data: Mapping[str, Any]) -> None:
        """Refuse `data.*` settings the benchmark cannot be scored with (ConfigError); any by default."""
        return None

    def input_shape(self, task: Task, spec: Mapping[str, Any]) -> tuple[int, ...]:
        """One input's shape for `task`'s network under the space config `spec` (benchmarks with `per_task`)."""
        return tuple(task.input_shape)

    def build_space(self, spec: Mapping[str, Any]) -> SearchSpace:
        return SPACES.get(self.space_name)(**space_options(spec))

    def select_tasks(self, names: Sequence[str] | None) -> tuple[Task, ...]:
        """The tasks `benchmark.tasks` names (all when null), in the benchmark's order."""
        if names is None:
            return self.tasks
        known = {t.name: t for t in self.tasks}
        if isinstance(names, str) or not names or any(n not in known for n in names) or len(set(names)) < len(names):
            raise ConfigError("benchmark.tasks", names, f"null or a list of distinct tasks of {self.name}: "
                                                        + ", ".join(known))
        return tuple(t for t in self.tasks if t.name in names)

    @abstractmethod
    def load_truth(self, truth: Mapping[str, Any], indices: Sequence[int] | None) -> GroundTruth:
        """The ground truth the `truth` config names, for (at least) `indices`; ConfigError when it does not apply."""

    def size_truth(self, space: SearchSpace, indices: Sequence[int]) -> dict[str, GroundTruth] | None:
        """Exact #params and FLOPs per task, to rank against when the truth has no value; None without them."""
        return None


BENCHMARKS: Registry[type[Benchmark]] = Registry("space")


def get_benchmark(name: str) -> Benchmark:
    """The benchmark `space=name` scores; a one-line ConfigError for a space without one (e.g. darts)."""
    if name not in BENCHMARKS:
        raise ConfigError("space", name, f"a benchmark space to enumerate, one of {', '.join(BENCHMARKS.names())} "
                                         "(a space without a benchmark table, such as darts, is searched with "
                                         "python -m meco_lab.search method=zc_pt)")
    return BENCHMARKS.get(name)()
