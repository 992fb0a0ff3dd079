"""Building blocks of TransNAS-Bench-101's networks.

Module trees (attribute names, nesting and registration order) follow the benchmark's
``lib/models/net_ops/cell_ops.py`` so that hook-based proxies see the same set of modules:
``ReLUConvBN.ops = Sequential(ReLU, Conv2d, BatchNorm2d)``, ``FactorizedReduce.{relu, convs, pad, bn}``,
``ConvLayer.{conv, activation, norm}``, ``DeconvLayer.{conv, activation, norm}``.
"""

from __future__ import annotations

import torch
from torch import nn


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        self.ops = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops(x)

    def extra_repr(self) -> str:
        return f"c_in={self.c_in}, c_out={self.c_out}, stride={self.stride}"


class Identity(nn.Module):
    """Skip edge with unchanged shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """'none' edge: zeros of the edge's output shape (x * 0 when channels are kept, as the benchmark)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.c_in == self.c_out:
            return x.mul(0.0) if self.stride == 1 else x[:, :, :: self.stride, :: self.stride].mul(0.0)
        n, _, h, w = x.shape
        s = self.stride
        return x.new_zeros((n, self.c_out, -(-h // s), -(-w // s)))

    def extra_repr(self) -> str:
        return f"c_in={self.c_in}, c_out={self.c_out}, stride={self.stride}"


class FactorizedReduce(nn.Module):
    """Skip edge that changes stride or channels: ReLU, two 1x1 convs (second one shifted by one pixel), concat, BN."""

    def __init__(self, c_in: int, c_out: int, stride: int, affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even c_out, got {c_out}")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.relu = nn.ReLU(inplace=False)
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c, 1, stride=stride, padding=0, bias=False) for c in (c_out // 2, c_out - c_out // 2)
        )
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0)
        self.bn = nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))

    def extra_repr(self) -> str:
        return f"c_in={self.c_in}, c_out={self.c_out}, stride={self.stride}"


def cell_op(code: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    """Micro cell edge op by its digit (0 zero, 1 skip, 2 ReLU-Conv1x1-BN, 3 ReLU-Conv3x3-BN)."""
    if code == 0:
        return Zero(c_in, c_out, stride)
    if code == 1:
        return Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    if code == 2:
        return ReLUConvBN(c_in, c_out, 1, stride, 0)
    if code == 3:
        return ReLUConvBN(c_in, c_out, 3, stride, 1)
    raise ValueError(f"unknown TransNAS micro op {code!r}: 0..3")


class ConvLayer(nn.Module):
    """Decoder conv: Conv2d (with bias) -> optional BatchNorm2d -> optional activation."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 activation: nn.Module | None, batch_norm: bool):
        super().__init__()
        self.conv = self.make_conv(c_in, c_out, kernel, stride, padding)
        self.activation = activation
        self.norm = nn.BatchNorm2d(c_out) if batch_norm else None

    @staticmethod
    def make_conv(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> nn.Module:
        return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


class DeconvLayer(ConvLayer):
    """Decoder upsampling: ConvTranspose2d (3x3, stride 2, padding 1, output_padding 1: doubles H, W) -> BN -> act."""

    @staticmethod
    def make_conv(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> nn.Module:
        return nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=padding, output_padding=1)
