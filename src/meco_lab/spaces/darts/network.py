"""DARTS' `NetworkCIFAR` (quark0/darts `model.py`): a genotype's cells stacked for retraining.

Stem conv3x3 (3C channels) + BN; `layers` cells, with reduction cells (channels doubled, stride 2 on
the cell inputs) at layers // 3 and 2 * layers // 3; an auxiliary head on the output of the second
reduction cell (8x8 for 32x32 inputs); global pooling and a linear classifier. Drop path zeroes whole
samples of every non-identity edge in training with probability `drop_path_prob`.

`in_channels` sets the stem's input channels; `cell_affine=False, pool_bn=True` builds the cell ops as
NASLib's DARTS graph does (non-affine batch norm in every cell op, a non-affine batch norm after each
pooling op), which with C=32, 8 layers and no auxiliary head is NAS-Bench-301 as NAS-Bench-Suite-Zero
scored it (see `meco_lab.spaces.darts.nb301`).
"""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.spaces.darts.genotype import Genotype
from meco_lab.spaces.darts.ops import FactorizedReduce, Identity, ReLUConvBN, make_op


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero each sample with probability `drop_prob` and scale the kept ones by 1 / (1 - drop_prob)."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x / keep * mask


class Cell(nn.Module):
    """One cell of a genotype: node i + 2 sums two edges; the output concatenates the `concat` nodes."""

    def __init__(
        self,
        genotype: Genotype,
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
        affine: bool = True,
        pool_bn: bool = False,
    ):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(c_prev_prev, c)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        edges, self._concat = genotype.cell("reduce" if reduction else "normal")
        self._indices = [source for _, source in edges]
        self._steps = len(edges) // 2
        self.multiplier = len(self._concat)
        self._ops = nn.ModuleList(
            make_op(op, c, 2 if reduction and source < 2 else 1, affine, pool_bn) for op, source in edges
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self._steps):
            total = 0
            for k in (2 * i, 2 * i + 1):
                op = self._ops[k]
                h = op(states[self._indices[k]])
                if self.training and drop_prob > 0.0 and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat([states[i] for i in self._concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """The auxiliary classifier on an 8x8 feature map."""

    def __init__(self, c: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),  # 8x8 -> 2x2
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class NetworkCIFAR(nn.Module):
    """`forward(x) -> (logits, aux_logits)`; `aux_logits` is None in eval mode or without the auxiliary head."""

    def __init__(
        self,
        channels: int,
        num_classes: int,
        layers: int,
        auxiliary: bool,
        genotype: Genotype,
        stem_multiplier: int = 3,
        in_channels: int = 3,
        cell_affine: bool = True,
        pool_bn: bool = False,
    ):
        super().__init__()
        self._layers = layers
        self._auxiliary = auxiliary
        self.drop_path_prob = 0.0
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        c_aux = c_prev
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            cell = Cell(genotype, c_prev_prev, c_prev, c_curr, reduction, reduction_prev, cell_affine, pool_bn)
            reduction_prev = reduction
            self.cells.append(cell)
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if i == 2 * layers // 3:
                c_aux = c_prev
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadCIFAR(c_aux, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == 2 * self._layers // 3 and self._auxiliary and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits, aux


def count_params(net: nn.Module) -> int:
    """Parameters without the auxiliary head, as DARTS' `count_parameters_in_MB` (times 1e6)."""
    return sum(p.numel() for name, p in net.named_parameters() if "auxiliary" not in name)
