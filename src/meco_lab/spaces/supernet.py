"""Supernets for Zero-Cost-PT: every edge holds all candidate operations; a mask says which remain.

A supernet is built once with all operations (its weights seeded once), and a `Mask` switches
operations and edges off in the forward pass without touching the weights. The pruning search
(`meco_lab.search_methods.zc_pt`) asks a proxy to score the supernet under a sequence of masks; `SupernetSpace`
makes one masked supernet look like a one-architecture search space, so any proxy scores it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from meco_lab.spaces.base import Candidate, FeatureProbe, Needed, SearchSpace
from meco_lab.spaces.probes import collect_probes

Mask = dict[str, tuple[str, ...]]
"""Edge id -> the operations still on that edge; an empty tuple means the edge is removed."""


@dataclass(frozen=True)
class PruningProblem:
    """What the pruning search may change in a supernet.

    `edges` are the edge ids in a fixed order, `ops` the candidate operations of every edge.
    `node_inputs` maps a node id to its input edge ids, for spaces (DARTS) in which each node keeps
    only `keep_inputs` of them after the operations are chosen; NB201 leaves both empty / 0.
    `never_keep` lists operations an edge may not end with (DARTS' `none`, which a genotype cannot hold).
    """

    edges: tuple[str, ...]
    ops: tuple[str, ...]
    node_inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    keep_inputs: int = 0
    never_keep: tuple[str, ...] = ()

    def keepable(self, ops: tuple[str, ...]) -> tuple[str, ...]:
        """The operations of `ops` that an edge may end with."""
        return tuple(op for op in ops if op not in self.never_keep)

    def full_mask(self) -> Mask:
        """Every operation on every edge."""
        return {edge: self.ops for edge in self.edges}


@runtime_checkable
class MaskableSupernet(Protocol):
    """An `nn.Module` with all operations on every edge whose forward follows `set_mask`."""

    problem: PruningProblem

    def set_mask(self, mask: Mask) -> None: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class SupernetSpace(SearchSpace):
    """A one-architecture space: the given supernet under the given mask (index 0 only).

    `copy=False` hands proxies the supernet itself instead of a copy: only for proxies that leave the network
    as they found it (`Proxy.modifies_network = False`).
    """

    name = "supernet"

    def __init__(self, net: nn.Module, mask: Mask, copy: bool = True) -> None:
        if not isinstance(net, MaskableSupernet):
            raise TypeError(f"{type(net).__name__} is not a MaskableSupernet (needs .problem and .set_mask)")
        self.net = net
        self.mask = mask
        self.copy = copy

    def __len__(self) -> int:
        return 1

    def arch(self, index: int) -> str:
        return repr(self.mask)

    def network(self, index: int, num_classes: int, seed: int) -> nn.Module:
        """A copy of the supernet (seeded once when it was built) under this space's mask, or with `copy=False`
        the supernet itself.

        A copy by default, because some proxies change the weights they score (synflow takes absolute values).
        """
        net = copy.deepcopy(self.net) if self.copy else self.net
        net.set_mask(self.mask)
        return net

    def probes(self, index: int, x: torch.Tensor, num_classes: int, seed: int,
               needed: Needed | None = None) -> list[FeatureProbe]:
        """Feature probes of the (copied) supernet, moved to `x`'s device only when it is elsewhere (a `.to` that
        changes nothing still walks every module)."""
        net = self.network(index, num_classes, seed)
        first = next(net.parameters(), None)
        if first is not None and first.device != x.device:
            net = net.to(x.device)
        with torch.no_grad():
            return collect_probes(net, x)


def supernet_candidate(
    net: nn.Module, mask: Mask, seed: int = 0, num_classes: int = 10, copy: bool = True
) -> Candidate:
    """A `Candidate` that any proxy can score: `proxy.score(supernet_candidate(net, mask), x, y)`.

    `copy=False` lets the proxy score `net` itself (see `SupernetSpace`).
    """
    return Candidate(SupernetSpace(net, mask, copy), 0, seed, num_classes)
