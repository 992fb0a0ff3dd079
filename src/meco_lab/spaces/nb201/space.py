"""Search space `nats_tss`: the 15,625 NATS-Bench topology-space (NAS-Bench-201) cells, in NATS index order."""

from __future__ import annotations

from functools import lru_cache

import polars as pl
import torch
from torch import nn

from meco_lab.core.resources import resource_path
from meco_lab.spaces.base import FeatureProbe, Needed, SearchSpace, arch_seed
from meco_lab.spaces.nb201.cell import Genotype, parse_arch
from meco_lab.spaces.nb201.network import build_network
from meco_lab.spaces.nb201.probes import nb201_probes
from meco_lab.spaces.registry import SPACES


@lru_cache(maxsize=1)
def nats_tss_archs() -> tuple[str, ...]:
    """All arch strings by NATS index, from the built-in table (see resources/PROVENANCE.md)."""
    return tuple(pl.read_parquet(resource_path("nats_tss_truth.parquet"), columns=["arch"])["arch"].to_list())


@SPACES.register("nats_tss")
class NatsTss(SearchSpace):
    """NATS-Bench TSS: C=16, N=5 cells per stage; every cell of a network shares one genotype."""

    name = "nats_tss"
    reductions = 2

    def __init__(self, channels: int = 16, cells_per_stage: int = 5):
        self.channels, self.cells_per_stage = channels, cells_per_stage
        self._archs = nats_tss_archs()
        self._genotypes: dict[int, Genotype] = {}

    def __len__(self) -> int:
        return len(self._archs)

    def arch(self, index: int) -> str:
        return self._archs[index]

    def genotype(self, index: int) -> Genotype:
        if index not in self._genotypes:
            self._genotypes[index] = parse_arch(self._archs[index])
        return self._genotypes[index]

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        return build_network(self.genotype(index), arch_seed(seed, index), self.channels, self.cells_per_stage,
                             num_classes)

    def probes(self, index: int, x: torch.Tensor, num_classes: int, seed: int,
               needed: Needed | None = None) -> list[FeatureProbe]:
        return nb201_probes(self.genotype(index), x, arch_seed(seed, index), self.channels, self.cells_per_stage,
                            num_classes, needed)
