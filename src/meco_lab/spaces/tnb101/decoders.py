"""TransNAS-Bench-101 task decoders (the benchmark's ``lib/models/task_models/decoder.py``).

- ``FFDecoder`` (class_scene, class_object, room_layout): AdaptiveAvgPool2d(1) -> flatten -> Linear(C, n).
- ``SiameseDecoder`` (jigsaw): the same on the channel-concatenation of the 9 tiles' encodings, Linear(9 C, 1000).
- ``SegmentationDecoder`` (segmentsemantic): Conv(C -> 1024) then 6 - u halving convs, u - 1 halving
  transposed convs, one channel-keeping transposed conv and a 3x3 conv to 17 logits (u = number of x2 upsamplings).
- ``GenerativeDecoder`` (autoencoder, normal): 14 layers ``conv1``..``conv14``; u of conv3/5/7/9 plus conv11 and
  conv13 are x2 transposed convs; 3 output channels, tanh.

u is what makes the output 256 x 256: u = log2(256 / encoder output width) = 2 + (number of stride-2 stages).
The benchmark derives it from a 224-pixel guess of the encoder's output size (``MacroNet(input_dim=(224, 224))``
then ``int(log2(256 / w))``); ``benchmark_num_upsample`` reproduces that and gives the same u for every arch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .arch import TnbArch
from .ops import ConvLayer, DeconvLayer


def benchmark_num_upsample(arch: TnbArch, target_width: int = 256) -> int:
    """u as the benchmark computes it: from MacroNet's 224-based ``output_dim`` (56, halved per stride stage)."""
    width = 224 // 4
    for _ in range(arch.n_stride_stages):
        width //= 2
    return int(math.log2(target_width / width))


class FFDecoder(nn.Module):
    """Global average pool + linear (classification / regression heads)."""

    def __init__(self, in_channels: int, out_dim: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SiameseDecoder(nn.Module):
    """Jigsaw head: global average pool + linear over the concatenated encodings of ``num_pieces`` tiles."""

    def __init__(self, in_channels: int, out_dim: int, num_pieces: int = 9):
        super().__init__()
        self.num_pieces = num_pieces
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels * num_pieces, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=False)


class SegmentationDecoder(nn.Module):
    """Dense 17-class logits at 256 x 256 (``model`` = Sequential of conv/deconv layers)."""

    def __init__(self, in_channels: int, num_upsample: int, num_classes: int = 17):
        super().__init__()
        if num_upsample not in (2, 3, 4, 5, 6):
            raise ValueError(f"invalid num_upsample {num_upsample}: 2..6")
        layers: list[nn.Module] = [ConvLayer(in_channels, 1024, 3, 1, 1, _leaky(), True)]
        c = 1024
        for _ in range(6 - num_upsample):
            layers.append(ConvLayer(c, c // 2, 3, 1, 1, _leaky(), True))
            c //= 2
        for _ in range(num_upsample - 1):
            layers.append(DeconvLayer(c, c // 2, 3, 2, 1, _leaky(), True))
            c //= 2
        layers.append(DeconvLayer(c, c, 3, 2, 1, _leaky(), True))
        layers.append(ConvLayer(c, num_classes, 3, 1, 1, None, False))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class GenerativeDecoder(nn.Module):
    """Pix2pix-style image decoder (autoencoder, surface normals): 3 channels at 256 x 256, tanh output."""

    def __init__(self, in_channels: int, num_upsample: int, out_channels: int = 3):
        super().__init__()
        if num_upsample not in (2, 3, 4, 5, 6):
            raise ValueError(f"invalid num_upsample {num_upsample}: 2..6")
        u = num_upsample

        def layer(c_in: int, c_out: int, up: bool) -> nn.Module:
            cls = DeconvLayer if up else ConvLayer
            return cls(c_in, c_out, 3, 2 if up else 1, 1, _leaky(), True)

        self.conv1 = layer(in_channels, 1024, False)
        self.conv2 = layer(1024, 1024, False)
        self.conv3 = layer(1024, 512, u == 6)
        self.conv4 = layer(512, 512, False)
        self.conv5 = layer(512, 256, u >= 5)
        self.conv6 = layer(256, 128, False)
        self.conv7 = layer(128, 64, u >= 4)
        self.conv8 = layer(64, 64, False)
        self.conv9 = layer(64, 32, u >= 3)
        self.conv10 = layer(32, 32, False)
        self.conv11 = layer(32, 16, True)
        self.conv12 = layer(16, 32, False)
        self.conv13 = layer(32, 16, True)
        self.conv14 = ConvLayer(16, out_channels, 3, 1, 1, nn.Tanh(), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 15):
            x = getattr(self, f"conv{i}")(x)
        return x
