"""Search spaces `nb201_360`, `nb301_360` and `tnb101_micro_360`: the cells NAS-Bench-Suite-Zero trained on its three
NAS-Bench-360-style tasks (svhn, ninapro, scifar100), in the order of the built-in table (resources/nb360.parquet),
each in the skeleton NASLib built for it (NB201's network, NB301's, and NASLib's own TNB-micro graph).

A task's network has the task's classes; its input is one of two settings (`space.inputs`):
- `paper` (default): one 3 x 32 x 32 input for every task, as the MeCo paper fed MeCo (so the stem takes 3 channels);
- `task`: each task's own input shape and channels (NinaPro 1 x 16 x 52, Spherical CIFAR-100 3 x 60 x 60), as the
  networks were trained.
Weights are PyTorch's default init drawn from `arch_seed(seed, index)`, the same draw for every task.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl
from torch import nn

from meco_lab.core.errors import ConfigError
from meco_lab.core.resources import resource_path
from meco_lab.spaces.base import SearchSpace, TaskSpace, arch_seed, seeded_build
from meco_lab.spaces.nb360.networks import build_network
from meco_lab.spaces.nb360.tasks import TASKS, Task
from meco_lab.spaces.registry import SPACES

INPUTS = ("paper", "task")
PAPER_INPUT = (3, 32, 32)


@lru_cache(maxsize=3)
def nb360_archs(skeleton: str) -> tuple[str, ...]:
    table = pl.read_parquet(resource_path("nb360.parquet"), columns=["skeleton", "arch"])
    return tuple(table.filter(pl.col("skeleton") == skeleton)["arch"].to_list())


def input_shape(task: str, inputs: str) -> tuple[int, int, int]:
    """One input's (C, H, W) for `task` under the `space.inputs` setting."""
    return TASKS[task].input_shape if inputs == "task" else PAPER_INPUT


class Nb360Space(SearchSpace):
    skeleton: str
    tasks = tuple(TASKS)
    reductions = 2

    def __init__(self, inputs: str = "paper"):
        if inputs not in INPUTS:
            raise ConfigError("space.inputs", inputs, INPUTS)
        self.inputs = inputs
        self._archs = nb360_archs(self.skeleton)

    def __len__(self) -> int:
        return len(self._archs)

    def arch(self, index: int) -> str:
        return self._archs[index]

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        raise TypeError(f"{self.name} builds one network per task: use space.for_task(task)")

    def for_task(self, task: str) -> SearchSpace:
        return Nb360TaskSpace(self, task)


class Nb360TaskSpace(TaskSpace):
    """One task's networks: the cell in its skeleton, with the task's classes and input channels."""

    parent: Nb360Space

    def __init__(self, parent: Nb360Space, task: str):
        super().__init__(parent, task)
        spec = TASKS[task]
        channels = input_shape(task, parent.inputs)[0]
        self.spec = Task(spec.name, (channels, *spec.input_shape[1:]), spec.num_classes, spec.description)

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        arch = self.parent.arch(index)
        return seeded_build(lambda: build_network(self.parent.skeleton, arch, self.spec), arch_seed(seed, index))


@SPACES.register("nb201_360")
class Nb201On360(Nb360Space):
    """The 199 NB201 cells of the suite's NAS-Bench-360 runs (NATS-Bench's TinyNetwork)."""

    name, skeleton = "nb201_360", "nb201"


@SPACES.register("nb301_360")
class Nb301On360(Nb360Space):
    """The 199 NB301 genotypes of the suite's NAS-Bench-360 runs (NB301's network as the suite scored it)."""

    name, skeleton = "nb301_360", "nb301"


@SPACES.register("tnb101_micro_360")
class TnbMicroOn360(Nb360Space):
    """The 192 TransNAS-micro cells of the suite's NAS-Bench-360 runs, in NASLib's own graph skeleton."""

    name, skeleton = "tnb101_micro_360", "tnb101_micro"
