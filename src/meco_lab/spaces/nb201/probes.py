"""Fast feature probes for the NB201 network: a functional forward that builds no modules.

It computes each distinct feature map once and lists every module site of `TinyNetwork` whose hook
would see it (see `FeatureProbe`). Exact shortcuts, all of which leave the MeCo value unchanged:
- containers (Sequential, ReLUConvBN, Pooling, cells) re-emit a child's output: one probe;
- BatchNorm at initialisation is a positive per-channel affine map, so conv and BN share a probe;
- a node with one non-zero input edge *is* that edge's output, and skip_connect re-emits its input;
- zero edges, and everything computed only from zeros, are zero: marked, never computed;
- the ReLU of a node is computed once however many conv edges read it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from meco_lab.spaces.base import FeatureProbe, Needed, Site, draw_weights
from meco_lab.spaces.nb201.cell import Genotype
from meco_lab.spaces.nb201.network import stage_layout, weight_specs

_RELU_CONV_BN = (("", "ReLUConvBN", False), (".op", "Sequential", False), (".op.1", "Conv2d", True),
                 (".op.2", "BatchNorm2d", True))
_RELU = ((".op.0", "ReLU", True),)
_ZERO_CONV = (*_RELU_CONV_BN, *_RELU)
_POOL = (("", "Pooling", False), (".op", "AvgPool2d", True))


def _bn(x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, None, None, training=True, momentum=0.0, eps=1e-5)


class _Forward:
    """State of one probe forward: probes in order, and the zero sites."""

    def __init__(self) -> None:
        self.probes: list[FeatureProbe] = []
        self.zero = FeatureProbe(None)
        self.relu_of: dict[int, FeatureProbe] = {}

    def new(self, feature: torch.Tensor, prefix: str, sites) -> FeatureProbe:
        probe = FeatureProbe(feature, [Site(prefix + s, k, leaf) for s, k, leaf in sites])
        self.probes.append(probe)
        return probe

    def mark(self, probe: FeatureProbe | None, prefix: str, sites) -> None:
        target = self.zero if probe is None else probe
        target.sites.extend(Site(prefix + s, k, leaf) for s, k, leaf in sites)

    def relu(self, src: FeatureProbe, prefix: str) -> FeatureProbe:
        """The ReLU of a probe, computed once; the site is added on every use."""
        cached = self.relu_of.get(id(src))
        if cached is None:
            cached = self.relu_of[id(src)] = FeatureProbe(F.relu(src.feature))
            self.probes.append(cached)
        self.mark(cached, prefix, _RELU)
        return cached

    def relu_conv_bn(self, src: FeatureProbe | None, w: torch.Tensor, stride: int, prefix: str):
        if src is None:
            self.mark(None, prefix, _ZERO_CONV)
            return None
        r = self.relu(src, prefix)
        out = _bn(F.conv2d(r.feature, w, None, stride, w.shape[-1] // 2))
        return self.new(out, prefix, _RELU_CONV_BN)

    def cell(self, genotype: Genotype, src: FeatureProbe | None, weights, prefix: str) -> FeatureProbe | None:
        nodes, k = [src], 0
        for node in genotype:
            parts: list[FeatureProbe] = []
            for op, s in node:
                name, k = f"{prefix}.layers.{k}", k + 1
                v = nodes[s]
                if op.startswith("nor_conv_"):
                    v = self.relu_conv_bn(v, next(weights), 1, name)
                elif op == "avg_pool_3x3":
                    if v is not None:
                        v = self.new(F.avg_pool2d(v.feature, 3, 1, 1, count_include_pad=False), name, _POOL)
                    else:
                        self.mark(None, name, _POOL)
                else:
                    self.mark(None if op == "none" else v, name, (("", "Zero" if op == "none" else "Identity", True),))
                    v = None if op == "none" else v
                if v is not None:
                    parts.append(v)
            if len(parts) > 1:
                total = parts[0].feature
                for p in parts[1:]:
                    total = total + p.feature
                nodes.append(FeatureProbe(total))
                self.probes.append(nodes[-1])
            else:
                nodes.append(parts[0] if parts else None)
        self.mark(nodes[-1], prefix, (("", "InferCell", False),))
        return nodes[-1]

    def reduction(self, src: FeatureProbe | None, weights, prefix: str) -> FeatureProbe | None:
        w_a, w_b, w_d = next(weights), next(weights), next(weights)
        a = self.relu_conv_bn(src, w_a, 2, prefix + ".conv_a")
        b = self.relu_conv_bn(a, w_b, 1, prefix + ".conv_b")
        if src is None:
            self.mark(None, prefix, (("", "ResNetBasicblock", False), (".downsample", "Sequential", False),
                                     (".downsample.0", "AvgPool2d", True), (".downsample.1", "Conv2d", True)))
            return None
        pooled = self.new(F.avg_pool2d(src.feature, 2, 2), prefix, ((".downsample.0", "AvgPool2d", True),))
        down = self.new(F.conv2d(pooled.feature, w_d), prefix,
                        ((".downsample", "Sequential", False), (".downsample.1", "Conv2d", True)))
        return self.new(down.feature + b.feature, prefix, (("", "ResNetBasicblock", False),))


def first_unneeded_cell(layout: list[tuple[int, bool]], channels: int, size: int, needed: Needed | None) -> int:
    """Index of the first cell from which on no feature (lastact included) can matter; len(layout) if none."""
    if needed is None:
        return len(layout)
    shapes: list[set[tuple[int, int]]] = []  # feature shapes (C, L) per cell, the last entry for lastact
    c_prev, side = channels, size
    for c, reduction in layout:
        if reduction:
            shapes.append({(c_prev, side * side), (c, (side // 2) ** 2), (c_prev, (side // 2) ** 2)})
            side //= 2
        else:
            shapes.append({(c, side * side)})
        c_prev = c
    shapes.append({(c_prev, side * side)})
    cut = len(layout)
    while cut > 0 and not any(needed(*shape) for later in shapes[cut - 1 :] for shape in later):
        cut -= 1
    return cut


def nb201_probes(genotype: Genotype, x: torch.Tensor, seed: int, channels: int = 16, cells_per_stage: int = 5,
                 num_classes: int = 10, needed: Needed | None = None) -> list[FeatureProbe]:
    """Probes of `build_network(genotype, seed, ...)(x)` in train mode, without building the network.

    With `needed`, the forward stops before the first cell from which on no feature can matter
    (for MeCo at 32x32 input: the last stage, whose 64 channels have only 64 positions).
    """
    layout = stage_layout(channels, cells_per_stage)
    cut = first_unneeded_cell(layout, channels, x.shape[-1], needed)
    specs = weight_specs(genotype, channels, cells_per_stage, num_classes)
    convs_per_cell = sum(op.startswith("nor_conv_") for node in genotype for op, _ in node)
    used = 1 + sum(3 if reduction else convs_per_cell for _, reduction in layout[:cut])
    # channels-last runs pooling, BN and 3x3 convs 1.5-4x faster on the CPU for these small maps
    x = x.contiguous(memory_format=torch.channels_last)
    weights = iter(w.to(x.device).contiguous(memory_format=torch.channels_last)
                   for w in draw_weights(specs[:used], seed))  # the classifier is never needed here
    fw = _Forward()
    feature: FeatureProbe | None = fw.new(_bn(F.conv2d(x, next(weights), None, 1, 1)), "stem",
                                          (("", "Sequential", False), (".0", "Conv2d", True),
                                           (".1", "BatchNorm2d", True)))
    for i, (_, reduction) in enumerate(layout[:cut]):
        prefix = f"cells.{i}"
        feature = fw.reduction(feature, weights, prefix) if reduction else fw.cell(genotype, feature, weights, prefix)
    if cut == len(layout):
        fw.mark(feature, "lastact", ((".0", "BatchNorm2d", True),))
        if feature is None:
            fw.mark(None, "lastact", (("", "Sequential", False), (".1", "ReLU", True)))
        else:
            fw.new(F.relu(_bn(feature.feature)), "lastact", (("", "Sequential", False), (".1", "ReLU", True)))
        fw.mark(None, "", (("", "TinyNetwork", False), ("global_pooling", "AdaptiveAvgPool2d", True),
                           ("classifier", "Linear", True)))
    return [*fw.probes, fw.zero]
