"""The NATS-Bench / NAS-Bench-201 topology-space network, with module names and structure as in xautodl.

Stem conv3x3 + BN; three stages of N cells at C, 2C, 4C channels joined by two residual reduction
blocks; BN + ReLU, global average pooling and a linear classifier. Parameter counts equal NATS-Bench's.
"""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.spaces.base import draw_weights
from meco_lab.spaces.nb201.cell import Genotype


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class Pooling(nn.Module):
    """avg_pool_3x3 (xautodl's POOLING with equal in and out channels: no preprocess conv)."""

    def __init__(self):
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def make_op(op: str, channels: int) -> nn.Module:
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if op == "avg_pool_3x3":
        return Pooling()
    raise ValueError(f"unknown NB201 op {op!r}")


class GenotypeCell(nn.Module):
    """An NB201 cell's forward: node j sums op(node i) over its incoming edges (`self.layers` in genotype
    order); the last node is the output."""

    genotype: Genotype
    layers: nn.ModuleList

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        layers = iter(self.layers)
        for node in self.genotype:
            nodes.append(sum(next(layers)(nodes[src]) for _, src in node))
        return nodes[-1]


class InferCell(GenotypeCell):
    """A stride-1 NB201 cell of `channels` channels."""

    def __init__(self, genotype: Genotype, channels: int):
        super().__init__()
        self.genotype = genotype
        self.layers = nn.ModuleList(make_op(op, channels) for node in genotype for op, _ in node)


class ResNetBasicblock(nn.Module):
    """The stride-2 residual reduction block between stages."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def stage_layout(channels: int, cells_per_stage: int) -> list[tuple[int, bool]]:
    """(channels, is_reduction) of every cell in order: N cells, reduce, N cells, reduce, N cells."""
    layout: list[tuple[int, bool]] = []
    for stage in range(3):
        if stage:
            layout.append((channels << stage, True))
        layout += [(channels << stage, False)] * cells_per_stage
    return layout


class CellStack(nn.Module):
    """The NATS networks' skeleton (xautodl module names): stem, cells, BN-ReLU, global pooling, classifier."""

    def add_stem(self, channels: int, in_channels: int = 3) -> None:
        """The stem, created first (PyTorch's default init draws in creation order)."""
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))

    def add_cells_and_head(self, cells: list[nn.Module], c_last: int, num_classes: int) -> None:
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_last), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        return self.classifier(self.global_pooling(self.lastact(feature)).flatten(1))


class TinyNetwork(CellStack):
    """NATS-Bench TSS network. `forward` returns the logits; `in_channels` is the stem's input channels."""

    def __init__(self, genotype: Genotype, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10,
                 in_channels: int = 3):
        super().__init__()
        self.add_stem(channels, in_channels)
        cells, c_prev = [], channels
        for c_out, reduction in stage_layout(channels, cells_per_stage):
            cells.append(ResNetBasicblock(c_prev, c_out) if reduction else InferCell(genotype, c_out))
            c_prev = c_out
        self.add_cells_and_head(cells, c_prev, num_classes)


def weight_specs(genotype: Genotype, channels: int, cells_per_stage: int, num_classes: int):
    """(shape, fan_in) of every randomly initialised tensor, in module order: convs, then classifier weight and bias."""
    specs = [((channels, 3, 3, 3), 27)]
    c_prev = channels
    for c, reduction in stage_layout(channels, cells_per_stage):
        if reduction:
            specs += [((c, c_prev, 3, 3), c_prev * 9), ((c, c, 3, 3), c * 9), ((c, c_prev, 1, 1), c_prev)]
        else:
            for node in genotype:
                for op, _ in node:
                    if op.startswith("nor_conv_"):
                        k = 3 if op == "nor_conv_3x3" else 1
                        specs.append(((c, c, k, k), c * k * k))
        c_prev = c
    specs += [((num_classes, c_prev), c_prev), ((num_classes,), c_prev)]
    return specs


def init_weights(net: nn.Module, seed: int) -> None:
    """Give every conv and linear layer PyTorch's default init, drawn by `draw_weights` in module order."""
    params, specs = [], []
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            for p in (m.weight, m.bias):
                if p is not None:
                    params.append(p)
                    specs.append((tuple(p.shape), fan_in))
    with torch.no_grad():
        for p, w in zip(params, draw_weights(specs, seed), strict=True):
            p.copy_(w)


def build_network(genotype: Genotype, seed: int, channels: int = 16, cells_per_stage: int = 5,
                  num_classes: int = 10) -> TinyNetwork:
    """A TinyNetwork in train mode with weights drawn from `seed`."""
    net = TinyNetwork(genotype, channels, cells_per_stage, num_classes)
    init_weights(net, seed)
    return net
