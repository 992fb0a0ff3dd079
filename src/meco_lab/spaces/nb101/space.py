"""Search space `nb101`: the 321 distinct NAS-Bench-101 cells with ground truth in NAS-Bench-Suite-Zero (292 with a
validation accuracy, 30 with test accuracies, one in both), by the built-in table's order (resources/nb101.parquet),
each named by its NB101 module hash and built as NB101 / NASLib build it (3 stacks of 3 cells, 128 stem channels,
NASLib's initialisation drawn from `arch_seed(seed, index)`)."""

from __future__ import annotations

from functools import lru_cache

import polars as pl
from torch import nn

from meco_lab.core.resources import resource_path
from meco_lab.spaces.base import SearchSpace, arch_seed, seeded_build
from meco_lab.spaces.nb101.cell import Nb101Cell, parse_cell
from meco_lab.spaces.nb101.network import build_nb101
from meco_lab.spaces.registry import SPACES


@lru_cache(maxsize=1)
def nb101_cells() -> tuple[tuple[str, Nb101Cell], ...]:
    """(module hash, cell) of every row of the built-in table (a hash sampled as two cells: the first one)."""
    table = pl.read_parquet(resource_path("nb101.parquet"), columns=["nb101_hash", "adjacency", "ops"])
    return tuple((h, parse_cell(a, o)) for h, a, o in table.iter_rows())


@SPACES.register("nb101")
class Nb101(SearchSpace):
    """NAS-Bench-101 cells by module hash."""

    name = "nb101"
    reductions = 2

    def __init__(self) -> None:
        self._cells = nb101_cells()

    def __len__(self) -> int:
        return len(self._cells)

    def arch(self, index: int) -> str:
        return self._cells[index][0]

    def cell(self, index: int) -> Nb101Cell:
        return self._cells[index][1]

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        return seeded_build(lambda: build_nb101(self.cell(index), num_classes), arch_seed(seed, index))
