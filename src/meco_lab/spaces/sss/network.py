"""The NATS-Bench size-space network: xautodl's `shape_infers/InferTinyCellNet.py::DynamicShapeTinyNet`.

A channel list of length 3N + 2 (NATS-SSS: N = 1, five entries) is consumed in order by N cells,
a residual reduction block, N cells, a reduction block and N cells. The stem emits channels[0]; a
cell maps c_prev -> c (its node-0 edges change the width, the others keep it); a reduction block
halves the resolution. Module names and structure follow xautodl, so parameter counts equal
NATS-Bench's. `forward` returns the logits only (xautodl returns (features, logits)).
"""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.spaces.nb201.cell import Genotype
from meco_lab.spaces.nb201.network import CellStack, GenotypeCell, ReLUConvBN, ResNetBasicblock, init_weights, make_op


class ShapeZero(nn.Module):
    """`none` between different widths: zeros with c_out channels."""

    def __init__(self, c_out: int):
        super().__init__()
        self.c_out = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros((x.shape[0], self.c_out, *x.shape[2:]))


class FactorizedReduce(nn.Module):
    """`skip_connect` between different widths at stride 1: 1x1 conv + BN (xautodl builds an unused ReLU too)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)  # never called at stride 1, as in xautodl
        self.conv = nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class ShapePooling(nn.Module):
    """`avg_pool_3x3` between different widths: a 1x1 ReLUConvBN preprocess, then the pooling."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.preprocess = ReLUConvBN(c_in, c_out, 1, 1, 0)
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(self.preprocess(x))


def make_shape_op(op: str, c_in: int, c_out: int) -> nn.Module:
    """An NB201 op from c_in to c_out channels at stride 1 (xautodl's OPS table)."""
    if c_in == c_out:
        return make_op(op, c_out)
    if op == "none":
        return ShapeZero(c_out)
    if op == "skip_connect":
        return FactorizedReduce(c_in, c_out)
    if op in ("nor_conv_1x1", "nor_conv_3x3"):
        k = 3 if op == "nor_conv_3x3" else 1
        return ReLUConvBN(c_in, c_out, k, 1, k // 2)
    if op == "avg_pool_3x3":
        return ShapePooling(c_in, c_out)
    raise ValueError(f"unknown NB201 op {op!r}")


class InferCell(GenotypeCell):
    """An NB201 cell from c_in to c_out channels: edges leaving node 0 change the width."""

    def __init__(self, genotype: Genotype, c_in: int, c_out: int):
        super().__init__()
        self.genotype = genotype
        self.layers = nn.ModuleList(
            make_shape_op(op, c_in if src == 0 else c_out, c_out) for node in genotype for op, src in node
        )


class DynamicShapeTinyNet(CellStack):
    """NATS-Bench SSS network for a channel list of length 3N + 2 and one cell genotype."""

    def __init__(self, channels: tuple[int, ...], genotype: Genotype, num_classes: int = 10):
        super().__init__()
        if len(channels) % 3 != 2:
            raise ValueError(f"expected 3N + 2 channel entries, got {len(channels)}")
        n = len(channels) // 3
        reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
        self.add_stem(channels[0])
        cells, c_prev = [], channels[0]
        for c, reduction in zip(channels, reductions, strict=True):
            cells.append(ResNetBasicblock(c_prev, c) if reduction else InferCell(genotype, c_prev, c))
            c_prev = c
        self.add_cells_and_head(cells, c_prev, num_classes)


def build_shape_network(
    channels: tuple[int, ...], genotype: Genotype, seed: int, num_classes: int = 10
) -> DynamicShapeTinyNet:
    """A DynamicShapeTinyNet in train mode with weights drawn from `seed` (module order, see `init_weights`)."""
    net = DynamicShapeTinyNet(channels, genotype, num_classes)
    init_weights(net, seed)
    return net
