"""TransNAS-Bench-101 encoders (the benchmark's ``MacroNet(arch, structure='backbone')``).

Stem: Conv3x3(3 -> 32, stride 2, no bias) -> BN -> ReLU-Conv3x3(32 -> 64, stride 2)-BN, so the stem
divides the resolution by 4. Then one stage per macro digit, each two cells (micro: the searched cell;
macro: a ResNet basic block). The first cell of a stage takes the stage's stride and channel change.
Module names follow the benchmark: ``stem``, ``layer0``..``layer{n-1}``; micro cells hold their edge ops in
``edges`` (edge order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3); basic blocks have ``conv_a``, ``conv_b``,
``downsample``. Initialisation as the benchmark: Kaiming-normal (fan_out, relu) convs, BN weight 1 / bias 0.
"""

from __future__ import annotations

import torch
from torch import nn

from .arch import TnbArch, parse_arch
from .ops import ReLUConvBN, cell_op

#: BatchNorm eps / momentum of the macro blocks' 1x1 shortcut, as the benchmark (unintentionally) sets them.
SHORTCUT_BN_EPS = 1.0
SHORTCUT_BN_MOMENTUM = 1.0


class MicroCell(nn.Module):
    """Searched cell: 4 nodes, node j = sum of its incoming edge ops; output = node 3.

    Edges leaving node 0 carry the cell's stride and channel change; the others map c_out -> c_out.
    """

    def __init__(self, cell_ops: tuple[int, ...], c_in: int, c_out: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"invalid stride {stride}")
        self.cell_ops = tuple(cell_ops)
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        # incoming edges of node 1, 2, 3: (edge index, source node)
        self.incoming = (((0, 0),), ((1, 0), (2, 1)), ((3, 0), (4, 1), (5, 2)))
        edges = []
        for node_in in self.incoming:
            for edge, src in node_in:
                if src == 0:
                    edges.append(cell_op(self.cell_ops[edge], c_in, c_out, stride))
                else:
                    edges.append(cell_op(self.cell_ops[edge], c_out, c_out, 1))
        self.edges = nn.ModuleList(edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node_in in self.incoming:
            # stack-then-sum as the benchmark (same summation order)
            nodes.append(torch.stack([self.edges[e](nodes[src]) for e, src in node_in]).sum(0))
        return nodes[-1]

    def extra_repr(self) -> str:
        return f"cell_ops={self.cell_ops}, c_in={self.c_in}, c_out={self.c_out}, stride={self.stride}"


class ResNetBasicBlock(nn.Module):
    """Macro-space cell: ReLU-Conv3x3-BN twice plus a residual (1x1 conv + BN when stride or channels change).

    The shortcut BN has eps = 1.0 and momentum = 1.0, as in the benchmark (see below).
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"invalid stride {stride}")
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            # The benchmark writes BatchNorm2d(planes, affine, track_running_stats) here: positionally that is
            # eps=True, momentum=True, so its shortcut BN has eps = 1.0 and momentum = 1.0. Kept, so that
            # features (train and eval mode) and running statistics equal the benchmark's.
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, padding=0, bias=False),
                nn.BatchNorm2d(c_out, eps=SHORTCUT_BN_EPS, momentum=SHORTCUT_BN_MOMENTUM),
            )
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.conv_b(self.conv_a(x))
        residual = x if self.downsample is None else self.downsample(x)
        return residual + feature


class TnbEncoder(nn.Module):
    """The benchmark's backbone: (N, 3, H, W) -> (N, arch.out_channels, H / d, W / d), d = arch.downsample."""

    def __init__(self, arch: TnbArch | str):
        super().__init__()
        self.arch = parse_arch(arch) if isinstance(arch, str) else arch
        base = self.arch.base_channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, base // 2, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(base // 2),
            ReLUConvBN(base // 2, base, 3, 2, 1),
        )
        self.layers: list[str] = []
        channels = base
        for i, code in enumerate(self.arch.macro_code):
            c_out = channels * 2 if code % 2 == 0 else channels
            stride = 2 if code > 2 else 1
            cells = [self._cell(channels, c_out, stride), self._cell(c_out, c_out, 1)]
            self.add_module(f"layer{i}", nn.Sequential(*cells))
            self.layers.append(f"layer{i}")
            channels = c_out
        self.out_channels = channels
        self._init_weights()

    def _cell(self, c_in: int, c_out: int, stride: int) -> nn.Module:
        if self.arch.cell_ops is None:
            return ResNetBasicBlock(c_in, c_out, stride)
        return MicroCell(self.arch.cell_ops, c_in, c_out, stride)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def output_shape(self, h: int, w: int) -> tuple[int, int, int]:
        """(C, H, W) of the output for an (h, w) input."""
        for _ in range(2 + self.arch.n_stride_stages):
            h, w = (h + 1) // 2, (w + 1) // 2
        return self.out_channels, h, w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name in self.layers:
            x = getattr(self, name)(x)
        return x

    def extra_repr(self) -> str:
        return f"arch={self.arch.arch_str!r}"
