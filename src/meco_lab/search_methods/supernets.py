"""Supernets for `search method=zc_pt`: one builder per space name in `SUPERNETS`.

A builder takes the space config, the seed, the number of classes and the `zc_pt.*` settings, and
returns a `SupernetSetup`: the supernet (a `MaskableSupernet`) and how a final mask maps back to the space.
A new space plugs in by adding its builder. The space the proxies score is the SPACES entry of the same
name (for DARTS, which has no benchmark table, the discrete networks of the genotypes it is given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.base import Candidate, SearchSpace, arch_seed
from meco_lab.spaces.supernet import Mask


@dataclass
class SupernetSetup:
    """A supernet and what its final masks are in the space."""

    net: nn.Module  # a MaskableSupernet, weights drawn once
    arch: Callable[[Mask], str]  # the space's arch string of a final mask
    index: Callable[[Mask], int | None] | None  # its benchmark index, for the ground truth (None: no benchmark)
    discrete: Callable[[Mask], Candidate] | None = None  # its own network, for `zc_pt.final=discrete`
    draw: Callable[[Mask, Path], Path] | None = None  # writes a picture of a final mask into a folder


SupernetBuilder = Callable[[SearchSpace, dict[str, Any], int, int, dict[str, Any]], SupernetSetup]
"""(space, space config, seed, num_classes, zc_pt settings) -> SupernetSetup."""


def supernet_seed(seed: int) -> int:
    """The seed of a supernet's weights: `arch_seed(seed, -1)`, apart from every architecture's."""
    return arch_seed(seed, -1)


def nats_tss_supernet(
    space: SearchSpace, space_cfg: dict[str, Any], seed: int, num_classes: int, options: dict[str, Any]
) -> SupernetSetup:
    """The NB201 supernet; a final mask is an NB201 arch, its NATS index and its discrete network."""
    from meco_lab.spaces.nb201.supernet import WEIGHTINGS, build_supernet, mask_to_arch

    weighting = options.get("weighting", "reference")
    if weighting not in WEIGHTINGS:
        raise ConfigError("zc_pt.weighting", weighting, WEIGHTINGS)
    net = build_supernet(
        supernet_seed(seed), space_cfg.get("channels", 16), space_cfg.get("cells_per_stage", 5), num_classes, weighting
    )
    index_of = {space.arch(i): i for i in range(len(space))}

    def index(mask: Mask) -> int:
        return index_of[mask_to_arch(mask)]

    return SupernetSetup(net, mask_to_arch, index, lambda mask: Candidate(space, index(mask), seed, num_classes))


def darts_supernet(
    space: SearchSpace, space_cfg: dict[str, Any], seed: int, num_classes: int, options: dict[str, Any]
) -> SupernetSetup:
    """The DARTS-CNN supernet (8 ops, 2 inputs kept per node); a final mask is a genotype, with no benchmark.

    Its discrete network is `NetworkCIFAR(space.channels, space.layers)` (C=16, 8 layers by default), as the
    reference's `post_validate.py` scores it.
    """
    from meco_lab.spaces.darts.plot import plot_genotype
    from meco_lab.spaces.darts.space import DartsGenotypes
    from meco_lab.spaces.darts.supernet import WEIGHTINGS, build_darts_supernet, genotype_from_mask

    weighting = options.get("weighting", "reference")
    if weighting not in WEIGHTINGS:
        raise ConfigError("zc_pt.weighting", weighting, WEIGHTINGS)
    channels, layers = int(space_cfg.get("channels", 16)), int(space_cfg.get("layers", 8))
    net = build_darts_supernet(num_classes, supernet_seed(seed), channels, layers, weighting)

    def arch(mask: Mask) -> str:
        return str(genotype_from_mask(mask))

    def discrete(mask: Mask) -> Candidate:
        return Candidate(DartsGenotypes((arch(mask),), channels, layers), 0, seed, num_classes)

    def draw(mask: Mask, folder: Path) -> Path:
        return plot_genotype(genotype_from_mask(mask), Path(folder) / "genotype.png")

    return SupernetSetup(net, arch, None, discrete, draw)


SUPERNETS: dict[str, SupernetBuilder] = {"nats_tss": nats_tss_supernet, "darts": darts_supernet}
