"""Cost baselines `params` and `flops`: the size of the network, in NATS-Bench's units (larger is better).

`params`: the number of parameters in millions, i.e. every tensor of `model.parameters()` counted
and divided by 1e6, as NATS-Bench's `get_cost_info(i, dataset)['params']` (0.129306 for arch 0 on
cifar10; xautodl's current `count_parameters_in_MB` divides by 2^20, but the archive was built with 1e6).

`flops`: MFLOPs as NATS-Bench reports them. Reference followed: xautodl
`utils/flop_benchmark.py::get_model_infos` (D-X-Y/AutoDL-Projects), which built the NATS-Bench cost
tables: one forward with hooks that counts, per sample and only for Conv2d and Linear layers,
multiply-accumulates `k_h * k_w * C_in / groups * C_out * H_out * W_out` (plus `C_out * H_out * W_out`
for a conv bias) and `in * out` (plus `out` for a linear bias), summed and divided by 1e6. Pooling,
batch-norm, ReLU and additions are not counted, as in NATS-Bench. The count depends on the input
size (the spatial size of `x`) and the number of classes; with 32 x 32 inputs (16 x 16 for
ImageNet16-120) it equals the archive's values exactly (tests/test_baselines.py).

Both are data-free (only the shape of `x` matters) and need neither labels nor gradients.
"""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import WEIGHT_LAYERS, BaselineProxy
from meco_lab.proxies.shared import SharedPass, alone
from meco_lab.spaces.base import Candidate


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def layer_macs(module: nn.Module, output_shape: torch.Size) -> int:
    """Multiply-accumulates per sample of one call of a Conv2d or Linear layer with this output shape (xautodl)."""
    if isinstance(module, nn.Conv2d):
        positions = output_shape[2] * output_shape[3]
        kernel = module.kernel_size[0] * module.kernel_size[1]
        bias = module.out_channels * positions if module.bias is not None else 0
        return kernel * module.in_channels // module.groups * module.out_channels * positions + bias
    return module.in_features * module.out_features + (module.out_features if module.bias is not None else 0)


def count_flops(net: nn.Module, x: torch.Tensor) -> float:
    """Multiply-accumulates per sample of the Conv2d and Linear layers in one forward of `x` (xautodl rules)."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += layer_macs(module, output.shape)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
    try:
        with torch.no_grad():
            net(x[:1])
    finally:
        for h in handles:
            h.remove()
    return float(total)


@PROXIES.register("params")
class Params(BaselineProxy):
    """Number of parameters, in millions (as NATS-Bench's `params`)."""

    name = "params"

    def from_shared(self, ctx: SharedPass) -> float:
        return count_params(ctx.network()) / 1e6

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)


@PROXIES.register("flops")
class Flops(BaselineProxy):
    """MFLOPs of one sample of `x`'s size, counted as NATS-Bench counts them (conv and linear MACs)."""

    name = "flops"

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("forward", "outputs")  # the layers' output shapes, from the shared forward (the same per sample)

    def from_shared(self, ctx: SharedPass) -> float:
        return sum(layer_macs(m, z.shape) for m, z in ctx.forward().outputs) / 1e6

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)
