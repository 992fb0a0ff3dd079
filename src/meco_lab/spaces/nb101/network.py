"""The NAS-Bench-101 network (google-research/nasbench `lib/model_builder.py`; NASLib's port `nasbench101/model.py`).

Stem conv3x3-BN-ReLU (128 channels); 3 stacks of 3 cells at 128, 256, 512 channels (a 2x2 stride-2 max
pool halves the resolution before stacks 2 and 3, and their first cell doubles the channels); global
average pool and a linear classifier. In a cell, vertex t sums its inputs: the outputs of earlier interior vertices
(truncated to its channel count) and, when the input feeds it, a 1x1 conv-BN-ReLU projection of the cell
input; then applies its op. The output concatenates the interior vertices that feed it, plus a projection
of the input when the input feeds the output directly. Channel counts follow `compute_vertex_channels`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from meco_lab.spaces.base import GlobalAvgPool
from meco_lab.spaces.nb101.cell import CONV1X1, CONV3X3, MAXPOOL3X3, Nb101Cell, compute_vertex_channels

STEM_CHANNELS = 128
NUM_STACKS = 3
CELLS_PER_STACK = 3


class ConvBnRelu(nn.Module):
    """Conv (no bias), batch norm, ReLU: NB101's `conv_bn_relu` (also its 1x1 input projection)."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.conv_bn_relu = nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_bn_relu(x)


def make_vertex_op(op: str, channels: int) -> nn.Module:
    if op == CONV3X3:
        return ConvBnRelu(channels, channels, 3)
    if op == CONV1X1:
        return ConvBnRelu(channels, channels, 1)
    if op == MAXPOOL3X3:
        return nn.MaxPool2d(3, 1, 1)
    raise ValueError(f"unknown NB101 op {op!r}")


class Nb101Module(nn.Module):
    """One NB101 cell ("module") from `in_channels` to `out_channels`; `cell` must be pruned."""

    def __init__(self, cell: Nb101Cell, in_channels: int, out_channels: int):
        super().__init__()
        self.matrix = cell.matrix
        n = cell.num_vertices
        self.vertex_channels = compute_vertex_channels(in_channels, out_channels, cell.matrix)
        # vertex_op[t] for interior t, input_op[t] (a projection) where the input feeds vertex t (t = 1..n-1)
        self.vertex_op = nn.ModuleList(
            [nn.Identity()] + [make_vertex_op(cell.ops[t], self.vertex_channels[t]) for t in range(1, n - 1)]
        )
        self.input_op = nn.ModuleList(
            ConvBnRelu(in_channels, self.vertex_channels[t], 1) if cell.matrix[0][t] else nn.Identity()
            for t in range(n)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n = self.matrix, len(self.matrix)
        tensors = [x]
        out_concat = []
        for t in range(1, n - 1):
            c = self.vertex_channels[t]
            fan_in = [tensors[src][:, :c] for src in range(1, t) if m[src][t]]
            if m[0][t]:
                fan_in.append(self.input_op[t](x))
            total = fan_in[0]
            for h in fan_in[1:]:
                total = total + h
            tensors.append(self.vertex_op[t](total))
            if m[t][n - 1]:
                out_concat.append(tensors[t])
        if not out_concat:
            return self.input_op[n - 1](x)
        out = out_concat[0] if len(out_concat) == 1 else torch.cat(out_concat, 1)
        if m[0][n - 1]:
            out = out + self.input_op[n - 1](x)
        return out


class Nb101Network(nn.Module):
    """NB101's network for a pruned cell; `forward` returns the logits."""

    def __init__(
        self,
        cell: Nb101Cell,
        num_classes: int = 10,
        in_channels: int = 3,
        stem_channels: int = STEM_CHANNELS,
        num_stacks: int = NUM_STACKS,
        cells_per_stack: int = CELLS_PER_STACK,
    ):
        super().__init__()
        layers: list[nn.Module] = [ConvBnRelu(in_channels, stem_channels, 3)]
        c_in = c_out = stem_channels
        for stack in range(num_stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, 2))
                c_out *= 2
            for _ in range(cells_per_stack):
                layers.append(Nb101Module(cell, c_in, c_out))
                c_in = c_out
        self.layers = nn.ModuleList(layers)
        self.pool = GlobalAvgPool()  # NB101's global mean, as a module (zen reads the features before it)
        self.classifier = nn.Linear(c_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.classifier(self.pool(x))


def naslib_init_(net: nn.Module) -> nn.Module:
    """NASLib's NB101 `_initialize_weights`: conv N(0, 2 / (k * k * c_out)), BN 1 / 0, linear N(0, 0.01), bias 0."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.normal_(0, math.sqrt(2.0 / n))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1)
                m.bias.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0, 0.01)
                m.bias.zero_()
    return net


def build_nb101(cell: Nb101Cell, num_classes: int = 10, in_channels: int = 3, init: str = "naslib") -> Nb101Network:
    """The NB101 network of a pruned cell, initialised as NASLib does (`init="naslib"`) or PyTorch's default."""
    if init not in ("naslib", "default"):
        raise ValueError(f"init={init!r}: expected 'naslib' or 'default'")
    net = Nb101Network(cell, num_classes, in_channels)
    return naslib_init_(net) if init == "naslib" else net


def param_count(
    cell: Nb101Cell,
    num_classes: int = 10,
    in_channels: int = 3,
    stem_channels: int = STEM_CHANNELS,
    num_stacks: int = NUM_STACKS,
    cells_per_stack: int = CELLS_PER_STACK,
) -> int:
    """`Nb101Network(...)`'s parameter count in closed form (conv weights, BN scale and shift, classifier)."""

    def conv_bn(c_in: int, c_out: int, kernel: int) -> int:
        return c_in * c_out * kernel * kernel + 2 * c_out

    kernels = {CONV3X3: 3, CONV1X1: 1}
    n = cell.num_vertices
    total = conv_bn(in_channels, stem_channels, 3)
    c_in = c_out = stem_channels
    for stack in range(num_stacks):
        c_out = c_out * 2 if stack > 0 else c_out
        for _ in range(cells_per_stack):
            ch = compute_vertex_channels(c_in, c_out, cell.matrix)
            total += sum(conv_bn(ch[t], ch[t], kernels[cell.ops[t]]) for t in range(1, n - 1) if cell.ops[t] in kernels)
            total += sum(conv_bn(c_in, ch[t], 1) for t in range(1, n) if cell.matrix[0][t])
            c_in = c_out
    return total + c_out * num_classes + num_classes
