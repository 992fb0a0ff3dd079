"""The DARTS-CNN search supernet for Zero-Cost-PT: every edge a `MixedOp` of all 8 ops, switched by a mask.

DARTS' `Network` (model_search.py): stem, `layers` cells (reductions at 1/3 and 2/3), 4 intermediate
nodes per cell, 14 edges per cell, ops with non-affine batch norm (pools followed by one, as DARTS).
All normal cells share one edge set and all reduction cells another, so the edge ids are
`normal:<node><-<input>` and `reduce:<node><-<input>` (28 in all; inputs 0 = c_{k-2}, 1 = c_{k-1},
nodes 2..5). An edge's output is the weighted sum of the ops its mask keeps; an edge with none kept
contributes nothing, and a node with no input left outputs zeros. `weighting`:

- `reference` (default): each op of an edge that still has several weighs 1/8 and an edge with a single
  op left weighs 1, as in the reference's projection network (HamsterMimi/MeCo,
  `sota/cnn/model_search_darts_proj.py` and `init_projection.py`): softmax of near-zero architecture
  parameters (1/8) on undecided edges, 1/8 on the others of an edge under test, one-hot on decided edges;
- `sum`: every op left weighs 1.
"""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.spaces.darts.genotype import OPS, Genotype
from meco_lab.spaces.darts.ops import FactorizedReduce, ReLUConvBN, make_op
from meco_lab.spaces.supernet import Mask, PruningProblem

STEPS = 4
KINDS = ("normal", "reduce")
WEIGHTINGS = ("reference", "sum")


def edge_id(kind: str, node: int, source: int) -> str:
    """`normal:3<-1`: the edge from input `source` into node `node` of the `kind` cells."""
    return f"{kind}:{node}<-{source}"


def darts_problem(steps: int = STEPS) -> PruningProblem:
    """The 28 edges, the 8 ops (`none` never kept), and each node's input edges (of which a genotype keeps 2)."""
    edges, node_inputs = [], {}
    for kind in KINDS:
        for node in range(2, steps + 2):
            mine = tuple(edge_id(kind, node, source) for source in range(node))
            edges += mine
            node_inputs[f"{kind}:{node}"] = mine
    return PruningProblem(tuple(edges), OPS, node_inputs, keep_inputs=2, never_keep=("none",))


def edge_weight(ops: tuple[str, ...], weighting: str) -> float:
    """The weight of each op left on an edge (see the module docstring)."""
    return 1.0 if weighting == "sum" or len(ops) == 1 else 1.0 / len(OPS)


class MixedOp(nn.Module):
    """All 8 ops of one edge; `forward(x, ops, weight)` sums the named ones times `weight` (None if `ops` is empty)."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        built = {}
        for name in OPS:
            op = make_op(name, channels, stride, affine=False)
            if "pool" in name:
                op = nn.Sequential(op, nn.BatchNorm2d(channels, affine=False))
            built[name] = op
        self.ops = nn.ModuleDict(built)

    def forward(self, x: torch.Tensor, ops: tuple[str, ...], weight: float = 1.0) -> torch.Tensor | None:
        out = None
        for name in ops:
            h = self.ops[name](x)
            h = h if weight == 1.0 else h * weight
            out = h if out is None else out + h
        return out


class SearchCell(nn.Module):
    """One search cell; `forward(s0, s1, mask, weighting)` reads its edges' ops from the shared mask."""

    def __init__(
        self, c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool, steps: int = STEPS
    ):
        super().__init__()
        self.kind = "reduce" if reduction else "normal"
        self.channels = c
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(c_prev_prev, c, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, affine=False)
        self.steps = steps
        self.edges = nn.ModuleDict()  # keys "2<-0" ...: ModuleDict keys cannot hold "."
        for node in range(2, steps + 2):
            for source in range(node):
                self.edges[f"{node}<-{source}"] = MixedOp(c, 2 if reduction and source < 2 else 1)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, mask: Mask, weighting: str = "reference") -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        n, _, h, w = states[1].shape
        if self.kind == "reduce":
            h, w = (h + 1) // 2, (w + 1) // 2
        for node in range(2, self.steps + 2):
            total = None
            for source in range(node):
                ops = mask[edge_id(self.kind, node, source)]
                out = self.edges[f"{node}<-{source}"](states[source], ops, edge_weight(ops, weighting))
                if out is not None:
                    total = out if total is None else total + out
            states.append(total if total is not None else states[1].new_zeros((n, self.channels, h, w)))
        return torch.cat(states[2:], dim=1)


class DartsSupernet(nn.Module):
    """The DARTS search network with all ops on every edge; `set_mask` decides what the forward uses."""

    def __init__(
        self,
        num_classes: int,
        channels: int = 16,
        layers: int = 8,
        stem_multiplier: int = 3,
        steps: int = STEPS,
        weighting: str = "reference",
    ):
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting {weighting!r}: expected one of {WEIGHTINGS}")
        self.weighting = weighting
        self.problem = darts_problem(steps)
        self.mask: Mask = self.problem.full_mask()
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            self.cells.append(SearchCell(c_prev_prev, c_prev, c_curr, reduction, reduction_prev, steps))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, steps * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def set_mask(self, mask: Mask) -> None:
        """Use `mask` (every edge id -> the ops left on it) from the next forward on; ValueError if malformed."""
        edges = set(self.problem.edges)
        if set(mask) != edges:
            missing, extra = sorted(edges - set(mask)), sorted(set(mask) - edges)
            raise ValueError(
                f"a DARTS mask needs exactly the {len(edges)} edge ids of .problem.edges "
                f"(missing {missing[:3]}, unknown {extra[:3]})"
            )
        for edge, ops in mask.items():
            unknown = [op for op in ops if op not in self.problem.ops]
            if unknown or len(set(ops)) != len(ops):
                raise ValueError(f"mask[{edge!r}]={tuple(ops)!r}: expected distinct ops of {self.problem.ops}")
        self.mask = {edge: tuple(ops) for edge, ops in mask.items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.mask, self.weighting)
        return self.classifier(self.global_pooling(s1).flatten(1))


def build_darts_supernet(
    num_classes: int, seed: int, channels: int = 16, layers: int = 8, weighting: str = "reference"
) -> DartsSupernet:
    """The supernet with PyTorch's default init drawn from `seed` (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DartsSupernet(num_classes, channels, layers, weighting=weighting)


def genotype_from_mask(mask: Mask, steps: int = STEPS) -> Genotype:
    """The genotype a finished mask describes: every node keeps 2 input edges, each with one op (not none)."""
    cells = {}
    for kind in KINDS:
        pairs = []
        for node in range(2, steps + 2):
            kept = [(source, mask.get(edge_id(kind, node, source), ())) for source in range(node)]
            kept = [(source, ops) for source, ops in kept if ops]
            if len(kept) != 2:
                names = [edge_id(kind, node, s) for s, _ in kept]
                raise ValueError(
                    f"mask is not a genotype yet: node {kind}:{node} keeps {len(kept)} input edges {names}, expected 2"
                )
            for source, ops in kept:
                if len(ops) != 1 or ops[0] == "none":
                    raise ValueError(
                        f"mask is not a genotype yet: edge {edge_id(kind, node, source)} keeps "
                        f"{tuple(ops)}, expected one op other than none"
                    )
                pairs.append((ops[0], source))
        cells[kind] = tuple(pairs)
    concat = tuple(range(2, steps + 2))
    return Genotype(cells["normal"], concat, cells["reduce"], concat)


def mask_from_genotype(genotype: Genotype, steps: int = STEPS) -> Mask:
    """The mask that keeps exactly the genotype's edges and ops (the inverse of `genotype_from_mask`)."""
    mask: Mask = {edge: () for edge in darts_problem(steps).edges}
    for kind in KINDS:
        edges, _ = genotype.cell(kind)
        for k, (op, source) in enumerate(edges):
            key = edge_id(kind, k // 2 + 2, source)
            if key not in mask or mask[key]:
                raise ValueError(f"genotype {kind} edge {k} ({op}, {source}) does not fit a {steps}-node mask")
            mask[key] = (op,)
    return mask
