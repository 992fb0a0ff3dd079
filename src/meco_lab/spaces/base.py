"""What a search space offers the proxies: arch strings, seeded networks and feature probes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from math import sqrt

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from meco_lab.core.errors import ConfigError
from meco_lab.core.seeds import stable_seed
from meco_lab.spaces.probes import FeatureProbe, Site, collect_probes

__all__ = ["Candidate", "FeatureProbe", "Needed", "SearchSpace", "Site", "TaskSpace", "arch_seed", "draw_weights",
           "seeded_build"]


def arch_seed(seed: int, index: int) -> int:
    """A 63-bit seed for one architecture, independent of which other architectures run or in what order."""
    return stable_seed(seed, index)


def draw_weights(specs: Sequence[tuple[tuple[int, ...], int]], seed: int) -> list[torch.Tensor]:
    """PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn in one go from a seeded PCG64.

    `specs` lists (shape, fan_in) in the order of the network's modules. The network builder and the
    fast probe forward both call this, so they see the same weights bit for bit. PCG64 draws are a
    stream: the first k specs get the same values whether or not later specs are drawn too.
    """
    sizes = [int(np.prod(shape)) for shape, _ in specs]
    flat = np.random.Generator(np.random.PCG64(seed)).random(sum(sizes), dtype=np.float32)
    flat = torch.from_numpy(flat).mul_(2.0).sub_(1.0)
    out, offset = [], 0
    for (shape, fan_in), size in zip(specs, sizes, strict=True):
        out.append(flat[offset : offset + size].view(shape).mul_(1.0 / sqrt(fan_in)))
        offset += size
    return out


def seeded_build(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """`build()`, its PyTorch initialisation drawn from `seed` (the global generator forked: nothing else moves)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


Needed = Callable[[int, int], bool]
"""needed(channels, positions): can a feature map of this shape change the proxy's value?"""


class GlobalAvgPool(nn.Module):
    """Global average pooling as `x.mean((2, 3))` (N x C x H x W -> N x C), for networks whose benchmark code takes
    the mean in `forward` (NB101): a module, so that proxies can find the features before it (zen), while the
    arithmetic, and the modules a size count sees, stay the benchmark's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))


class SearchSpace(ABC):
    """A NAS benchmark search space: indexable architectures that build into seeded networks.

    A space whose networks differ per task (TransNAS-Bench-101: one head per task) lists its `tasks`; then
    `for_task(task)` is the space of that task's networks, and `task_probes` may share work between tasks.
    """

    name: str
    tasks: tuple[str, ...] = ()

    @abstractmethod
    def __len__(self) -> int: ...

    reductions: int = 0
    """Stride-2 reductions whose two paths (a strided conv and a 2x2 pooling) must meet: sizes are multiples of 2^r."""

    def check_input_size(self, size: int) -> None:
        """Raise ConfigError(data.size) when the networks of this space cannot take `size` x `size` inputs."""
        multiple = 2**self.reductions
        if size % multiple:
            raise ConfigError("data.size", size,
                              f"a multiple of {multiple} for {self.name} ({self.reductions} stride-2 reductions)")

    @abstractmethod
    def arch(self, index: int) -> str:
        """The architecture string of `index`."""

    @abstractmethod
    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        """The network of `index` at initialisation, its weights drawn from `arch_seed(seed, index)`."""

    def for_task(self, task: str) -> SearchSpace:
        """The space of one task's networks (spaces with `tasks` only)."""
        raise TypeError(f"{self.name} has one network per architecture, not one per task")

    def task_probes(self, index: int, inputs: Mapping[str, torch.Tensor], seed: int,
                    needed: Needed | None = None) -> dict[str, list[FeatureProbe]]:
        """Feature probes of every task's network (`inputs`: task -> its input); spaces may share work between
        tasks (an encoder run once). Each equals `for_task(task).probes(...)`."""
        return {t: self.for_task(t).probes(index, x, 0, seed, needed) for t, x in inputs.items()}

    def loss(self, output: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The training loss of this space's networks, for proxies that take a gradient: cross-entropy here."""
        return F.cross_entropy(output, target, reduction=reduction)

    def size(self, indices: Sequence[int], num_classes: int, resolution: int) -> dict[str, np.ndarray] | None:
        """Exact "params" and "flops" (millions, NATS-Bench units) of `indices`, or None without a closed form."""
        return None

    def probes(self, index: int, x: torch.Tensor, num_classes: int, seed: int,
               needed: Needed | None = None) -> list[FeatureProbe]:
        """Feature probes of one forward pass of `x` (train mode). Spaces may override with a fast path.

        `needed(channels, positions)` tells whether a feature of that shape can matter to the proxy;
        a space may skip features that cannot, with everything that only feeds them.
        """
        net = self.network(index, num_classes, seed).to(x.device)
        with torch.no_grad():
            return collect_probes(net, x)


class TaskSpace(SearchSpace):
    """One task's networks of a space whose networks differ per task (its `for_task(task)`): the parent's
    architectures, with `network` building the task's network; inputs come from the task, not `data.size`."""

    def __init__(self, parent: SearchSpace, task: str):
        self.parent, self.task = parent, task
        self.name = f"{parent.name}/{task}"

    def __len__(self) -> int:
        return len(self.parent)

    def arch(self, index: int) -> str:
        return self.parent.arch(index)

    def check_input_size(self, size: int) -> None:
        return None


@dataclass(frozen=True)
class Candidate:
    """One architecture of a space under one seed: what a proxy scores."""

    space: SearchSpace
    index: int
    seed: int
    num_classes: int = 10

    @property
    def weight_seed(self) -> int:
        return arch_seed(self.seed, self.index)

    def network(self) -> nn.Module:
        return self.space.network(self.index, self.num_classes, self.seed)

    def probes(self, x: torch.Tensor, needed: Needed | None = None) -> list[FeatureProbe]:
        return self.space.probes(self.index, x, self.num_classes, self.seed, needed)

    def loss(self, output: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The loss the space's networks train with (cross-entropy, or a task's own)."""
        return self.space.loss(output, target, reduction)
