"""Generic feature probes: forward hooks on every module of any network."""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.spaces.base import FeatureProbe, Site


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
