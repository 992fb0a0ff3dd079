"""Search spaces `tnb101_micro` (4,096 cells) and `tnb101_macro` (3,256 skeletons) of TransNAS-Bench-101.

An architecture's network differs per task (one encoder, one head per Taskonomy task), so these spaces have
`tasks`, and `for_task(task)` is the space of one task's networks (`TaskNetwork`: encoder + that task's head).

Weights (seeded, independent of which other architectures or tasks run):

- the encoder's, as the benchmark initialises them (Kaiming-normal fan-out convolutions, batch-norm 1 / 0), from
  `arch_seed(seed, index)`;
- a head's, with PyTorch's default initialisation as the benchmark leaves them, from the seed, the task and the
  head's shape (input channels and upsamplings) alone: every architecture whose encoder ends in the same shape gets
  the same head, so the architectures of a task differ only in their encoder.

`task_probes` gives every task's feature probes of one architecture with the encoder run once per distinct input:
the 6 tasks on the 256 x 256 image share it, jigsaw runs it on its 9 tiles. The probes (site names included) are
those of each task's `TaskNetwork` forward with hooks on every module (`tests/test_tnb101_space.py`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import polars as pl
import torch
import torch.nn.functional as F
from torch import nn

from meco_lab.core.resources import resource_path
from meco_lab.core.seeds import stable_seed
from meco_lab.spaces.base import FeatureProbe, Needed, SearchSpace, TaskSpace, arch_seed
from meco_lab.spaces.probes import Site, collect_probes
from meco_lab.spaces.registry import SPACES
from meco_lab.spaces.tnb101.arch import TnbArch, parse_arch
from meco_lab.spaces.tnb101.network import TaskNetwork, build_decoder, build_encoder, jigsaw_concat, num_upsample
from meco_lab.spaces.tnb101.tasks import JIGSAW_PIECES, TASKS, task_spec

HEADS_CACHED = 16
"""Heads a process keeps built (a micro space needs one per task; macro skeletons a few shapes each)."""


@lru_cache(maxsize=2)
def tnb101_archs(kind: str) -> tuple[str, ...]:
    """Arch strings by NASLib index (the truth tables' order), from the built-in table (TNB101_PROVENANCE.md)."""
    return tuple(pl.read_parquet(resource_path(f"tnb101_{kind}.parquet"), columns=["arch"])["arch"].to_list())


def _materialise(build: Callable[[], nn.Module], init: Callable[[nn.Module, torch.Generator], None],
                 seed: int) -> nn.Module:
    """`build()` without PyTorch's own initialisation (on the meta device), then `init` from a seeded generator."""
    with torch.device("meta"):
        net = build()
    net = net.to_empty(device="cpu")
    init(net, torch.Generator().manual_seed(seed))
    return net.train()


def encoder_init(net: nn.Module, gen: torch.Generator) -> None:
    """The benchmark's encoder initialisation: Kaiming-normal (fan-out, ReLU) convolutions, batch-norm 1 / 0."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=gen)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def default_init(net: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default initialisation (what the benchmark leaves its heads with), drawn from `gen`."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                fan_in = m.weight.shape[1] * math.prod(m.weight.shape[2:])  # as torch counts it, transposed too
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def rename(probes: list[FeatureProbe], prefix: str) -> list[FeatureProbe]:
    """Probes of a submodule's own forward, with site names as the parent network's hooks see them."""
    for probe in probes:
        probe.sites = [Site(f"{prefix}.{s.name}" if s.name else prefix, s.kind, s.leaf) for s in probe.sites]
    return probes


class TnbSpace(SearchSpace):
    """TransNAS-Bench-101 architectures by NASLib index; one network per task (see the module docstring)."""

    kind: str
    tasks = TASKS

    def __init__(self) -> None:
        self._archs = tnb101_archs(self.kind)
        self._heads: OrderedDict[tuple, nn.Module] = OrderedDict()

    def __len__(self) -> int:
        return len(self._archs)

    def arch(self, index: int) -> str:
        return self._archs[index]

    def parsed(self, index: int) -> TnbArch:
        return parse_arch(self._archs[index])

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        raise TypeError(f"{self.name} builds one network per task: use space.for_task(task)")

    def for_task(self, task: str) -> SearchSpace:
        return TnbTaskSpace(self, task)

    def encoder(self, index: int, seed: int) -> nn.Module:
        arch = self.parsed(index)
        return _materialise(lambda: build_encoder(arch), encoder_init, arch_seed(seed, index))

    def head_key(self, task: str, index: int, seed: int) -> tuple:
        arch = self.parsed(index)
        return task, arch.out_channels, num_upsample(arch), seed

    def head(self, task: str, index: int, seed: int) -> nn.Module:
        """A fresh head of `task` for `index`'s encoder, seeded by its shape (see the module docstring)."""
        key = self.head_key(task, index, seed)
        arch = self.parsed(index)
        return _materialise(lambda: build_decoder(task, arch), default_init, stable_seed(*key, "head"))

    def shared_head(self, task: str, index: int, seed: int) -> nn.Module:
        """`head`, built once per process and reused: only for proxies that leave the network as they found it."""
        key = self.head_key(task, index, seed)
        if key not in self._heads:
            self._heads[key] = self.head(task, index, seed)
            if len(self._heads) > HEADS_CACHED:
                self._heads.popitem(last=False)
        self._heads.move_to_end(key)
        return self._heads[key]

    def task_probes(self, index: int, inputs: Mapping[str, torch.Tensor], seed: int,
                    needed: Needed | None = None) -> dict[str, list[FeatureProbe] | Exception]:
        """Every task's feature probes for `index` (tasks and their inputs in `inputs`), the encoder run once per
        distinct input; equal to `for_task(t).probes(...)` of each task. A task whose forward fails (e.g. jigsaw's
        64 x 64 tiles reduced to 1 x 1, where train-mode batch-norm of one sample is undefined) maps to its error,
        and the other tasks are still probed."""
        encoder = self.encoder(index, seed)
        encoded: dict[int, tuple[list[FeatureProbe], torch.Tensor] | Exception] = {}
        out: dict[str, list[FeatureProbe] | Exception] = {}
        with torch.no_grad():
            for task, x in inputs.items():
                try:
                    if id(x) not in encoded:
                        try:
                            encoded[id(x)] = self._encode(encoder, x, task)
                        except Exception as error:
                            encoded[id(x)] = error
                    done = encoded[id(x)]
                    if isinstance(done, Exception):
                        raise done
                    encoder_probes, features = done
                    head = self.shared_head(task, index, seed)
                    head_probes = rename(collect_probes(head, features), "decoder")
                    head_probes[-1].sites.append(Site("", TaskNetwork.__name__, False))  # the network's own output
                    out[task] = [*encoder_probes, *head_probes]
                except Exception as error:
                    out[task] = error
        return out

    @staticmethod
    def _encode(encoder: nn.Module, x: torch.Tensor, task: str) -> tuple[list[FeatureProbe], torch.Tensor]:
        """The encoder's probes (named as in a TaskNetwork) and the head's input, as `TaskNetwork.encode` makes it."""
        if task != "jigsaw":
            probes = rename(collect_probes(encoder, x), "encoder")
            return probes, probes[-1].feature
        probes, tiles = [], []
        for i in range(JIGSAW_PIECES):
            tile_probes = rename(collect_probes(encoder, x[:, i]), "encoder")
            probes += tile_probes
            tiles.append(tile_probes[-1].feature)
        return probes, jigsaw_concat(tiles)

    def size(self, indices: Sequence[int], num_classes: int, resolution: int) -> None:
        return None


class TnbTaskSpace(TaskSpace):
    """One task's networks of a TransNAS-Bench-101 space: `TaskNetwork(encoder, head)`, fresh for every call."""

    parent: TnbSpace

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        """The task's network; `num_classes` is the task's own (the benchmark's heads), not the data's."""
        return TaskNetwork(self.parent.encoder(index, seed), self.parent.head(self.task, index, seed), self.task)

    def loss(self, output: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The task's loss as NASLib trains it: cross-entropy (classes, pixel classes, jigsaw permutations), MSE
        (room layout) or L1 (surface normals, autoencoder)."""
        kind = task_spec(self.task).kind
        if kind.endswith("classification"):
            return F.cross_entropy(output, target, reduction=reduction)
        if kind == "regression":
            return F.mse_loss(output, target, reduction=reduction)
        return F.l1_loss(output, target, reduction=reduction)


@SPACES.register("tnb101_micro")
class TnbMicro(TnbSpace):
    """TransNAS-Bench-101 micro: 4,096 cells in the `64-41414-...` skeleton."""

    name = "tnb101_micro"
    kind = "micro"


@SPACES.register("tnb101_macro")
class TnbMacro(TnbSpace):
    """TransNAS-Bench-101 macro: 3,256 skeletons of ResNet basic blocks (`64-<codes>-basic`)."""

    name = "tnb101_macro"
    kind = "macro"
