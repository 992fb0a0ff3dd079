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

from meco_lab.spaces.base import FeatureProbe, Site, draw_weights
from meco_lab.spaces.nb201_cell import Genotype
from meco_lab.spaces.nb201_network import stage_layout, weight_specs

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


def nb201_probes(genotype: Genotype, x: torch.Tensor, seed: int, channels: int = 16, cells_per_stage: int = 5,
                 num_classes: int = 10) -> list[FeatureProbe]:
    """Probes of `build_network(genotype, seed, ...)(x)` in train mode, without building the network."""
    specs = weight_specs(genotype, channels, cells_per_stage, num_classes)
    weights = draw_weights(specs, seed)
    weights = iter(weights if x.device.type == "cpu" else [w.to(x.device) for w in weights])
    fw = _Forward()
    feature: FeatureProbe | None = fw.new(_bn(F.conv2d(x, next(weights), None, 1, 1)), "stem",
                                          (("", "Sequential", False), (".0", "Conv2d", True),
                                           (".1", "BatchNorm2d", True)))
    for i, (_, reduction) in enumerate(stage_layout(channels, cells_per_stage)):
        prefix = f"cells.{i}"
        feature = fw.reduction(feature, weights, prefix) if reduction else fw.cell(genotype, feature, weights, prefix)
    fw.mark(feature, "lastact", ((".0", "BatchNorm2d", True),))
    if feature is None:
        fw.mark(None, "lastact", (("", "Sequential", False), (".1", "ReLU", True)))
    else:
        fw.new(F.relu(_bn(feature.feature)), "lastact", (("", "Sequential", False), (".1", "ReLU", True)))
    fw.mark(None, "", (("", "TinyNetwork", False), ("global_pooling", "AdaptiveAvgPool2d", True),
                       ("classifier", "Linear", True)))
    return [*fw.probes, fw.zero]
