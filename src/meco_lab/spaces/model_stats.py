"""Parameters and FLOPs as NAS-Bench-Suite-Zero measured them (its `params` and `flops` proxies).

NASLib's zero-cost runner (automl/NASLib @ 8c45f19 `naslib/predictors/pruners/predictive.py`) calls
tensorwatch's `ModelStats(net, [1, C, H, W])` (microsoft/tensorwatch `model_graph/torchstat/analyzer.py`,
`compute_flops.py`): forward hooks on every leaf module, one eval-mode forward of a batch-1 input, then
sums over the leaf modules that ran of (a) their parameters and (b) torchstat's FLOPs: conv
k_h*k_w*C_in*(C_out/groups)*H_out*W_out (+ bias), batch norm numel (x2 when affine), ReLU numel,
pooling C*H_out*W_out*k*k, adaptive pooling by its windows, linear in*out. `params` and `flops` in the
suite's tables are these sums / 1e6. Leaf modules that never run (an auxiliary head in eval mode)
count nothing; a leaf module that runs twice counts once.

`model_stats` reproduces that count. It also runs on the meta device (shapes only, no arithmetic), though
a batch-1 CPU forward is usually as fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn


@dataclass(frozen=True)
class ModelStats:
    params: int
    flops: int


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)  # type: ignore[return-value]


def leaf_flops(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """torchstat's FLOPs of one leaf module call (0 for modules it does not know)."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        n, c_out, h, w = y.shape
        flops = kh * kw * x.shape[1] * (c_out // module.groups) * n * h * w
        return flops + (c_out * n * h * w if module.bias is not None else 0)
    if isinstance(module, nn.BatchNorm2d):
        return x.numel() * (2 if module.affine else 1)
    if isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)):
        k, s, p = _pair(module.kernel_size), _pair(module.stride), _pair(module.padding)
        # torchstat's formula: width from kernel/padding index 0, height from index 1, both with stride[0]
        w_out = math.floor((x.shape[3] + 2 * p[0] - k[0]) / float(s[0]) + 1)
        h_out = math.floor((x.shape[2] + 2 * p[1] - k[1]) / float(s[0]) + 1)
        return x.shape[0] * x.shape[1] * w_out * h_out * k[0] * k[1]
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        h_in, w_in, h_out, w_out = x.shape[2], x.shape[3], y.shape[2], y.shape[3]
        flops = 0
        for i in range(h_out):
            rows = math.ceil((i + 1) * h_in / h_out) - math.floor(i * h_in / h_out) + 1
            for j in range(w_out):
                cols = math.ceil((j + 1) * w_in / w_out) - math.floor(j * w_in / w_out) + 1
                flops += x.shape[0] * x.shape[1] * rows * cols
        return flops
    if isinstance(module, (nn.ReLU, nn.ReLU6, nn.PReLU, nn.ELU, nn.LeakyReLU)):
        return x.numel()
    if isinstance(module, nn.Linear):
        return x.shape[0] * x.shape[1] * y.shape[1]
    return 0


def model_stats(net: nn.Module, input_shape: tuple[int, ...]) -> ModelStats:
    """Parameters and FLOPs of `net` as tensorwatch counts them for one input of `input_shape` (batch included).

    The input is zeros on the device of the net's parameters; the net is put in eval mode (and left there).
    """
    device = next(net.parameters()).device
    seen: dict[str, tuple[int, int]] = {}
    hooks = []

    def hook_for(name: str):
        def hook(module: nn.Module, args, output) -> None:
            x = args[0]
            y = output[0] if isinstance(output, (tuple, list)) else output
            seen[name] = (sum(p.numel() for p in module.parameters()), leaf_flops(module, x, y))

        return hook

    for name, module in net.named_modules():
        if next(module.children(), None) is None:
            hooks.append(module.register_forward_hook(hook_for(name)))
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(input_shape, device=device))
    finally:
        for h in hooks:
            h.remove()
    return ModelStats(sum(p for p, _ in seen.values()), sum(f for _, f in seen.values()))


@lru_cache(maxsize=4096)
def module_params(factory: Callable[..., nn.Module], *args: Hashable) -> int:
    """Parameters of `factory(*args)`, built once on the meta device and remembered (for per-row size checks)."""
    with torch.device("meta"):
        return sum(p.numel() for p in factory(*args).parameters())
