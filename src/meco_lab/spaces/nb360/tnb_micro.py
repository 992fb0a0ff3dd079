"""NASLib's TransNAS-Bench-101 micro graph skeleton, as the suite scored it on SVHN / NinaPro / Spherical CIFAR-100.

For these datasets NASLib builds `TransBench101SearchSpaceMicro(create_graph=True, use_small_model=True)`
(automl/NASLib @ 8c45f19 `naslib/search_spaces/transbench101/graph.py` `_create_graph`, `_set_op`), its
own graph, not TransNAS-Bench-101's network:
- stem: conv3x3 (dataset channels -> 64, no bias) + BN;
- 3 modules of 2 cells, stages reduce / normal / reduce: 64 -> 128, 128, 128 -> 256 channels; the first
  cell of a reduce module takes its input edges (from cell node 0) at stride 2 to twice the channels,
  its other edges at the doubled channels;
- global average pool, flatten, linear 256 -> classes.
The cell is NB201's 4-node DAG (every node sums its incoming edges; node 3 is the output), ops per edge:
`skip_connect` = identity (a factorized reduce with non-affine BN on a stride-2 edge), `none` = zeros of
the edge's output shape, `nor_conv_3x3` / `nor_conv_1x1` = ReLU-conv-BN (affine BN, padding 1 / 0, the
edge's stride). No batch norm is made non-affine except the factorized reduce's.

NASLib encodes a cell as 6 ints on edges (0->1, 0->2, 0->3, 1->2, 1->3, 2->3), ops `NASLIB_OPS`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from meco_lab.spaces.darts.ops import FactorizedReduce
from meco_lab.spaces.model_stats import module_params
from meco_lab.spaces.nb201.cell import Genotype
from meco_lab.spaces.nb201.network import GenotypeCell, ReLUConvBN

STEM_CHANNELS = 64
MODULE_STAGES = ("reduce", "normal", "reduce")
CELLS_PER_MODULE = 2
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1")
"""Op of each index in NASLib's TNB-micro tuple (graph encoding)."""


class ZeroOp(nn.Module):
    """NASLib's `Zero(stride, C_in, C_out)`: x * 0 if the channels stay, else zeros of C_out x ceil(H/s) x ceil(W/s)."""

    def __init__(self, stride: int, c_in: int, c_out: int):
        super().__init__()
        self.stride, self.c_in, self.c_out = stride, c_in, c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        if self.c_in == self.c_out:
            return x.mul(0.0) if s == 1 else x[:, :, ::s, ::s].mul(0.0)
        n, _, h, w = x.shape
        return x.new_zeros((n, self.c_out, (h + 1) // s, (w + 1) // s))


def make_edge_op(op: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    if op == "skip_connect":
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, affine=False)
    if op == "none":
        return ZeroOp(stride, c_in, c_out)
    if op == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, stride, 1)
    if op == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1, stride, 0)
    raise ValueError(f"unknown TNB-micro op {op!r} (expected one of {NASLIB_OPS})")


def edge_shapes(genotype: Genotype, channels: int, downsample: bool):
    """(op, c_in, c_out, stride) of every edge in genotype order."""
    for node in genotype:
        for op, source in node:
            if downsample and source == 0:
                yield op, channels, 2 * channels, 2
            elif downsample:
                yield op, 2 * channels, 2 * channels, 1
            else:
                yield op, channels, channels, 1


class MicroCell(GenotypeCell):
    """One cell at `channels` input channels; `downsample`: stride 2 and twice the channels out."""

    def __init__(self, genotype: Genotype, channels: int, downsample: bool):
        super().__init__()
        self.genotype = genotype
        self.layers = nn.ModuleList(make_edge_op(*shape) for shape in edge_shapes(genotype, channels, downsample))


def cell_layout(stem_channels: int = STEM_CHANNELS) -> list[tuple[int, bool]]:
    """(input channels, downsample) of each cell in order."""
    layout, c = [], stem_channels
    for stage in MODULE_STAGES:
        for i in range(CELLS_PER_MODULE):
            down = stage == "reduce" and i == 0
            layout.append((c, down))
            c = 2 * c if down else c
    return layout


class TnbMicroNetwork(nn.Module):
    """NASLib's TNB-micro graph for a cell genotype (NB201 form, no avg_pool); `forward` returns the logits."""

    def __init__(self, genotype: Genotype, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, STEM_CHANNELS, 3, padding=1, bias=False), nn.BatchNorm2d(STEM_CHANNELS)
        )
        layout = cell_layout()
        self.cells = nn.ModuleList(MicroCell(genotype, c, down) for c, down in layout)
        c_last = 2 * layout[-1][0] if layout[-1][1] else layout[-1][0]
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.classifier(self.global_pooling(x).flatten(1))


def genotype_from_naslib(arch: Sequence[int]) -> Genotype:
    """The cell of NASLib's 6-int TNB-micro graph tuple (edges 0->1, 0->2, 0->3, 1->2, 1->3, 2->3)."""
    if len(arch) != 6 or not all(0 <= k < len(NASLIB_OPS) for k in arch):
        raise ValueError(f"a TNB-micro NASLib tuple has 6 ints in 0..3, got {arch!r}")
    op = [NASLIB_OPS[k] for k in arch]
    return (((op[0], 0),), ((op[1], 0), (op[3], 1)), ((op[2], 0), (op[4], 1), (op[5], 2)))


def _stem(in_channels: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, STEM_CHANNELS, 3, padding=1, bias=False),
                         nn.BatchNorm2d(STEM_CHANNELS))


def param_count(genotype: Genotype, num_classes: int, in_channels: int = 3) -> int:
    """`TnbMicroNetwork(...)`'s parameter count, each distinct edge op built once on the meta device."""
    total = module_params(_stem, in_channels)
    c_last = STEM_CHANNELS
    for c, down in cell_layout():
        total += sum(module_params(make_edge_op, *shape) for shape in edge_shapes(genotype, c, down))
        c_last = 2 * c if down else c
    return total + c_last * num_classes + num_classes
