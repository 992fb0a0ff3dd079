"""The 8 DARTS operations and their building blocks, as in quark0/darts `operations.py`.

`make_op(name, channels, stride, affine, pool_bn)` builds one; the retrained network uses affine batch norm,
the search supernet `affine=False` (as DARTS' `MixedOp`). NASLib's DARTS graph (NAS-Bench-301 as
NAS-Bench-Suite-Zero scored it) uses `affine=False` and follows each pooling op with a non-affine batch
norm (`pool_bn=True`, its `MaxPool`/`AvgPool` primitives with `use_bn=True`).
"""

from __future__ import annotations

import torch
from torch import nn


class ReLUConvBN(nn.Module):
    """ReLU, conv (no bias), batch norm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, dilated depthwise conv, pointwise conv, batch norm."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool = True
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, padding=0, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Two stacked (ReLU, depthwise conv, pointwise conv, batch norm); only the first has the stride."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, padding=0, bias=False),
            nn.BatchNorm2d(c_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=1, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, padding=0, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """All zeros at the output resolution (`none`)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve the resolution: ReLU, two 1x1 stride-2 convs on offset grids, concatenated, batch norm."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_op(name: str, channels: int, stride: int, affine: bool = True, pool_bn: bool = False) -> nn.Module:
    """The DARTS operation `name` on `channels` channels (stride 2 in a reduction cell's input edges).

    `pool_bn`: pooling ops are `Sequential(pool, BatchNorm2d(channels, affine=False))` (NASLib).
    """
    c = channels
    if name == "none":
        return Zero(stride)
    if name in ("avg_pool_3x3", "max_pool_3x3"):
        if name == "avg_pool_3x3":
            pool: nn.Module = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        else:
            pool = nn.MaxPool2d(3, stride=stride, padding=1)
        return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False)) if pool_bn else pool
    if name == "skip_connect":
        return Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        kernel = int(name[-1])
        return SepConv(c, c, kernel, stride, kernel // 2, affine)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        kernel = int(name[-1])
        return DilConv(c, c, kernel, stride, 2 * (kernel // 2), 2, affine)
    raise ValueError(f"unknown DARTS operation {name!r}")
