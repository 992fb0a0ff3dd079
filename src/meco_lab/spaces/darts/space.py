"""DARTS genotypes as a search space for proxies: each one's discrete network, as Zero-Cost-PT post-validates it.

DARTS has no benchmark table to enumerate, so this space holds only the genotypes it is given. A
genotype's network is `NetworkCIFAR(channels, num_classes, layers)` without the auxiliary head and with
drop path off, as the reference's `zerocostnas/post_validate.py` builds it (C=16, 8 layers), returning
the logits only. Its weights are PyTorch's default init drawn from the seed and the genotype string, so
a genotype's score does not depend on which other genotypes share the space.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from meco_lab.core.seeds import stable_seed
from meco_lab.spaces.base import SearchSpace, seeded_build
from meco_lab.spaces.darts.genotype import format_genotype, parse_genotype
from meco_lab.spaces.darts.network import NetworkCIFAR
from meco_lab.spaces.registry import SPACES


def genotype_seed(seed: int, genotype: str) -> int:
    """A 63-bit weight seed for one genotype under `seed`."""
    return stable_seed(seed, genotype)


class DartsLogits(NetworkCIFAR):
    """`NetworkCIFAR` whose forward returns the logits only (what every proxy expects of a network)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0]


@SPACES.register("darts")
class DartsGenotypes(SearchSpace):
    """The given DARTS genotypes (strings), each built as its discrete network at `channels` and `layers`."""

    name = "darts"

    def __init__(self, genotypes: Sequence[str] = (), channels: int = 16, layers: int = 8):
        self.genotypes = tuple(format_genotype(parse_genotype(g)) for g in genotypes)
        self.channels, self.layers = channels, layers

    def __len__(self) -> int:
        return len(self.genotypes)

    def arch(self, index: int) -> str:
        return self.genotypes[index]

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        arch = self.genotypes[index]
        return seeded_build(lambda: DartsLogits(self.channels, num_classes, self.layers, False, parse_genotype(arch)),
                            genotype_seed(seed, arch))
