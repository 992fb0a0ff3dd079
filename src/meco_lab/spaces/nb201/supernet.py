"""The NB201 supernet for Zero-Cost-PT: every cell edge holds all 5 NB201 operations, a mask switches them off.

The macro structure is the NATS TSS network's (`nb201.network.TinyNetwork`): stem conv 3x3 + BN, three
stages of N cells at C, 2C, 4C channels joined by residual reduction blocks, BN-ReLU, global pooling and a
linear classifier. All cells share one mask, as all cells of an NB201 network share one genotype. The
edges are xautodl's `j<-i` (node j from node i), in its sorted order. Operations reuse `nb201.network`'s
modules, so a mask with one operation per edge is the discrete network (tests/test_zc_pt.py).

An edge's output is the weighted sum of the operations the mask leaves on it (module `__call__`s only
for those, so a proxy's hooks see only them). `weighting`:

- `reference` (default): each operation of an edge that still has several weighs 1/5 and an edge with a
  single operation left weighs 1. These are the weights of the official search network
  (HamsterMimi/MeCo, `nasbench201/search_model_darts_proj.py`): softmax of near-zero architecture
  parameters (1/5) on undecided edges, 1/5 on the others of an edge under test (`pt_project` in
  `nasbench201/init_projection.py`), and one-hot on decided edges.
- `sum`: every operation left weighs 1.
"""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.spaces.nb201.cell import NUM_NODES, OPS, format_arch, parse_arch
from meco_lab.spaces.nb201.network import ResNetBasicblock, init_weights, make_op, stage_layout
from meco_lab.spaces.supernet import Mask, PruningProblem

EDGES = tuple(sorted(f"{j}<-{i}" for j in range(1, NUM_NODES) for i in range(j)))
WEIGHTINGS = ("reference", "sum")
PROBLEM = PruningProblem(EDGES, OPS)

Active = dict[str, tuple[tuple[int, float], ...]]
"""Edge -> (operation position in OPS, weight) of every operation left on it."""


def edge_weights(ops: tuple[str, ...], weighting: str) -> tuple[tuple[int, float], ...]:
    """(position, weight) of each operation left on one edge (see the module docstring)."""
    weight = 1.0 if weighting == "sum" or len(ops) == 1 else 1.0 / len(OPS)
    return tuple((OPS.index(op), weight) for op in ops)


class SearchCell(nn.Module):
    """A stride-1 cell with every operation on every edge; `active` (shared with the network) says which run."""

    def __init__(self, channels: int, active: Active):
        super().__init__()
        self.edges = nn.ModuleDict({edge: nn.ModuleList(make_op(op, channels) for op in OPS) for edge in EDGES})
        self.active = active

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, NUM_NODES):
            terms = []
            for i in range(j):
                edge = f"{j}<-{i}"
                for position, weight in self.active[edge]:
                    out = self.edges[edge][position](nodes[i])
                    terms.append(out if weight == 1.0 else out * weight)
            nodes.append(sum(terms) if terms else x.mul(0.0))
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The NATS TSS network with a `SearchCell` in place of every cell; implements `MaskableSupernet`."""

    problem = PROBLEM

    def __init__(
        self, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10, weighting: str = "reference"
    ):
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting {weighting!r}: expected one of {WEIGHTINGS}")
        self.weighting = weighting
        self.active: Active = {}
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        cells, c_prev = [], channels
        for c_out, reduction in stage_layout(channels, cells_per_stage):
            cells.append(ResNetBasicblock(c_prev, c_out) if reduction else SearchCell(c_out, self.active))
            c_prev = c_out
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.set_mask(PROBLEM.full_mask())

    def set_mask(self, mask: Mask) -> None:
        """Run only the operations `mask` leaves on each edge (weights are untouched)."""
        if set(mask) != set(EDGES):
            raise ValueError(f"mask edges {sorted(mask)}: expected exactly {list(EDGES)}")
        for edge, ops in mask.items():
            if not set(ops) <= set(OPS) or len(set(ops)) != len(ops):
                raise ValueError(f"mask edge {edge}: {ops!r} must be distinct operations of {OPS}")
        # updated in place: the cells hold this dict (deepcopy keeps the sharing)
        self.active.clear()
        self.active.update({edge: edge_weights(tuple(mask[edge]), self.weighting) for edge in EDGES})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        return self.classifier(self.global_pooling(self.lastact(feature)).flatten(1))


def build_supernet(
    seed: int, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10, weighting: str = "reference"
) -> NB201Supernet:
    """An NB201Supernet in train mode, every conv and linear layer drawn from `seed` (PyTorch's default init)."""
    net = NB201Supernet(channels, cells_per_stage, num_classes, weighting)
    init_weights(net, seed)
    return net


def mask_to_arch(mask: Mask) -> str:
    """The NB201 arch string of a mask with exactly one operation on every edge."""
    for edge in EDGES:
        if len(mask.get(edge, ())) != 1:
            raise ValueError(f"mask edge {edge}: {mask.get(edge)!r} is not one operation")
    return format_arch(tuple(tuple((mask[f"{j}<-{i}"][0], i) for i in range(j)) for j in range(1, NUM_NODES)))


def arch_to_mask(arch: str) -> Mask:
    """The one-operation-per-edge mask of an NB201 arch string."""
    return {f"{j}<-{src}": (op,) for j, node in enumerate(parse_arch(arch), start=1) for op, src in node}
