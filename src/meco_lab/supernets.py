"""Supernets for `search method=zc_pt`: one builder per space name in `SUPERNETS`.

A builder takes the space config, the seed, the number of classes and the `zc_pt.*` settings, and
returns a `SupernetSetup`: the supernet (a `MaskableSupernet`) and how a final mask maps back to the space.
A new space plugs in by adding its builder: `SUPERNETS["darts"] = darts_supernet`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from meco_lab.errors import ConfigError
from meco_lab.spaces.base import Candidate, SearchSpace, arch_seed
from meco_lab.spaces.supernet import Mask


@dataclass
class SupernetSetup:
    """A supernet and what its final masks are in the space."""

    net: nn.Module  # a MaskableSupernet, weights drawn once
    arch: Callable[[Mask], str]  # the space's arch string of a final mask
    index: Callable[[Mask], int | None]  # its benchmark index, for the ground truth (None: not a benchmark arch)
    discrete: Callable[[Mask], Candidate] | None = None  # its own network, for `zc_pt.final=discrete`


SupernetBuilder = Callable[[SearchSpace, dict[str, Any], int, int, dict[str, Any]], SupernetSetup]
"""(space, space config, seed, num_classes, zc_pt settings) -> SupernetSetup."""


def supernet_seed(seed: int) -> int:
    """The seed of a supernet's weights: `arch_seed(seed, -1)`, apart from every architecture's."""
    return arch_seed(seed, -1)


def nats_tss_supernet(
    space: SearchSpace, space_cfg: dict[str, Any], seed: int, num_classes: int, options: dict[str, Any]
) -> SupernetSetup:
    """The NB201 supernet; a final mask is an NB201 arch, its NATS index and its discrete network."""
    from meco_lab.spaces.nb201_supernet import WEIGHTINGS, build_supernet, mask_to_arch

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


SUPERNETS: dict[str, SupernetBuilder] = {"nats_tss": nats_tss_supernet}
