"""Search space `nb301`: the 1,218 NAS-Bench-301 genotypes with ground truth in NAS-Bench-Suite-Zero, in the order of
the built-in table (resources/nb301.parquet), each as the network the suite scored (`nb301.build_nb301`: DARTS at
C=32, 8 cells, NASLib's non-affine cell ops), its weights PyTorch's default init drawn from `arch_seed(seed, index)`."""

from __future__ import annotations

from functools import lru_cache

import polars as pl
from torch import nn

from meco_lab.core.resources import resource_path
from meco_lab.spaces.base import SearchSpace, arch_seed, seeded_build
from meco_lab.spaces.darts.nb301 import build_nb301
from meco_lab.spaces.registry import SPACES


@lru_cache(maxsize=1)
def nb301_genotypes() -> tuple[str, ...]:
    """The genotype strings as the suite's truth file writes them (resources/SUITE_ZERO_PROVENANCE.md)."""
    return tuple(pl.read_parquet(resource_path("nb301.parquet"), columns=["genotype"])["genotype"].to_list())


@SPACES.register("nb301")
class Nb301(SearchSpace):
    """NAS-Bench-301 (DARTS cells) as NAS-Bench-Suite-Zero scored it."""

    name = "nb301"
    reductions = 2

    def __init__(self) -> None:
        self._archs = nb301_genotypes()

    def __len__(self) -> int:
        return len(self._archs)

    def arch(self, index: int) -> str:
        return self._archs[index]

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        return seeded_build(lambda: build_nb301(self._archs[index], num_classes),
                            arch_seed(seed, index))
