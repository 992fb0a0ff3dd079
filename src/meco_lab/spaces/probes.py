"""Feature probes: which module sites emit a feature map, and generic probes from forward hooks on any network."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class Site:
    """One module whose forward hook would see a feature: its `named_modules()` name and class name."""

    name: str
    kind: str
    leaf: bool


@dataclass
class FeatureProbe:
    """A feature map (whole batch, N x C x H x W) and every module site that emits it.

    Sites share a probe when their outputs have the same Pearson correlation per sample: the same
    tensor (a container re-emits its child's output), or a per-channel positive affine map of it
    (BatchNorm at initialisation). `feature is None` marks sites whose output is constant (zero ops,
    global pooling, the classifier): their MeCo term is exactly 0.
    """

    feature: torch.Tensor | None
    sites: list[Site] = field(default_factory=list)


def _first_tensor(output: object) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def collect_probes(net: nn.Module, x: torch.Tensor) -> list[FeatureProbe]:
    """Run `net(x)` with a hook on every module that `named_modules()` yields.

    Outputs that are the same tensor object at the same version (a container re-emitting its last
    child's output) share one probe; a tensor changed in place afterwards gets a new probe.
    """
    probes: dict[tuple[int, int], FeatureProbe] = {}
    order: list[FeatureProbe] = []
    keep_alive: list[torch.Tensor] = []

    def hook(name: str, module: nn.Module):
        site = Site(name, type(module).__name__, next(module.children(), None) is None)

        def record(_module: nn.Module, _inputs: object, output: object) -> None:
            tensor = _first_tensor(output)
            if tensor is None:
                return
            key = (id(tensor), tensor._version)
            probe = probes.get(key)
            if probe is None:
                keep_alive.append(tensor)
                probe = FeatureProbe(tensor.detach().clone())
                probes[key] = probe
                order.append(probe)
            probe.sites.append(site)

        return record

    handles = [m.register_forward_hook(hook(name, m)) for name, m in net.named_modules()]
    try:
        net(x)
    finally:
        for handle in handles:
            handle.remove()
    return order
