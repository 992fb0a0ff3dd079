"""Search space `nats_sss`: the 32,768 NATS-Bench size-space channel configurations, in NATS index order."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from torch import nn

from meco_lab.spaces.base import SearchSpace, arch_seed
from meco_lab.spaces.nb201.cell import parse_arch
from meco_lab.spaces.registry import SPACES
from meco_lab.spaces.sss.network import build_shape_network
from meco_lab.spaces.sss.size import shape_net_size

CHANNEL_CHOICES = (8, 16, 24, 32, 40, 48, 56, 64)
LAYERS = 5  # cell, reduction, cell, reduction, cell (N = 1 cell per stage)
# The best NATS-Bench TSS cell, which every SSS network uses.
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@lru_cache(maxsize=1)
def nats_sss_channels() -> np.ndarray:
    """Channels of every architecture (32,768 x 5) by NATS index: the index is the base-8 number of the choices."""
    return np.array(list(itertools.product(CHANNEL_CHOICES, repeat=LAYERS)), dtype=np.int64)


@lru_cache(maxsize=1)
def nats_sss_archs() -> tuple[str, ...]:
    """All arch strings `c1:c2:c3:c4:c5` by NATS index."""
    return tuple(":".join(map(str, row)) for row in nats_sss_channels().tolist())


@SPACES.register("nats_sss")
class NatsSss(SearchSpace):
    """NATS-Bench SSS: one cell per stage, widths from {8, ..., 64} per layer, all with the best TSS cell."""

    name = "nats_sss"
    reductions = 2

    def __init__(self):
        self._channels = nats_sss_channels()
        self._archs = nats_sss_archs()
        self.genotype = parse_arch(CELL)

    def __len__(self) -> int:
        return len(self._archs)

    def arch(self, index: int) -> str:
        return self._archs[index]

    def channels(self, index: int) -> tuple[int, ...]:
        return tuple(self._channels[index].tolist())

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        return build_shape_network(self.channels(index), self.genotype, arch_seed(seed, index), num_classes)

    def size(self, indices: Sequence[int], num_classes: int, resolution: int) -> dict[str, np.ndarray]:
        params, macs = shape_net_size(
            self._channels[np.asarray(indices, dtype=np.int64)], self.genotype, num_classes, resolution
        )
        return {"params": params / 1e6, "flops": macs / 1e6}
