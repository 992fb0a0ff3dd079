"""Shared plumbing of the baseline zero-cost proxies (docs/baselines.md).

- `BaselineProxy`: a Proxy whose `check` refuses `data.*` settings that give it fewer samples per call
  than it needs (`min_samples`), in one line that names the proxy, the need and the key to change.
- `fresh_network`: the candidate's seeded network on the input's device, in train mode.
- `weight_layers` / `layer_weights`: the Conv2d and Linear layers that the zero-cost-nas ("foresight")
  proxies score, in module order.
- `sample_statistics`: batch-norm that normalises each sample by its own statistics, so one batched pass
  equals N batch-of-1 passes.
- `per_sample_grads`: per-sample loss gradients, each sample alone in its forward pass (batch-norm
  statistics of that sample only), vectorised with `torch.func.vmap` instead of N backward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, replace_all_batch_norm_modules_, vmap

from meco_lab.core.errors import ConfigError
from meco_lab.proxies.base import Proxy
from meco_lab.spaces.base import Candidate

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)


class BaselineProxy(Proxy):
    """A baseline proxy: declares how many samples one `score` call needs and refuses settings that give fewer."""

    #: samples that one `score` call needs together in its batch, and why (for the one-line refusal)
    min_samples: ClassVar[int] = 1
    samples_reason: ClassVar[str] = ""

    def __init__(self, **_: object) -> None:
        """A proxy without options ignores the config keys it does not use."""

    def required_samples(self) -> int:
        return self.min_samples

    def check(self, data: dict[str, Any]) -> None:
        need = self.required_samples()
        if need <= 1:
            return
        samples = data.get("samples")
        why = f" ({self.samples_reason})" if self.samples_reason else ""
        if isinstance(samples, int) and not isinstance(samples, bool) and samples < need:
            raise ConfigError("data.samples", samples, f"an integer >= {need} for proxy {self.name}{why}")
        if data.get("reduce", "first") == "mean":
            raise ConfigError("data.reduce", "mean", f"'first' for proxy {self.name}: 'mean' scores one sample per "
                                                     f"call and {self.name} needs >= {need} samples together{why}")

    def require(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """Refuse (per architecture) a batch smaller than `required_samples()` or missing labels."""
        if x.shape[0] < self.required_samples():
            raise ValueError(f"{self.name} needs >= {self.required_samples()} samples, got {x.shape[0]}")
        if self.needs_labels and y is None:
            raise ValueError(f"{self.name} needs labels y")


def fresh_network(candidate: Candidate, x: torch.Tensor) -> nn.Module:
    """The candidate's freshly built, seeded network on `x`'s device, in train mode."""
    return candidate.network().to(x.device).train()


def channels_last(net: nn.Module, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    """`net` and `x` in channels-last layout (2x faster convolutions on CPU; the same numbers up to rounding)."""
    if x.dim() != 4:
        return net, x
    return net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)


def sample_statistics(net: nn.Module) -> nn.Module:
    """`net` with every BatchNorm2d normalising each sample over its own H x W (train mode with a batch of 1).

    That is instance normalisation with the batch-norm's affine parameters and eps, so one forward of N
    samples gives each sample the output its own batch-of-1 pass would, and the gradient of the summed
    loss is the sum of the per-sample gradients, from one backward. Running statistics are not touched.
    """
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.forward = instance_norm_forward(module)
    return net


def instance_norm_forward(bn: nn.BatchNorm2d) -> Callable[[torch.Tensor], torch.Tensor]:
    """A forward for `bn` that normalises each sample over its own H x W with `bn`'s affine parameters and eps
    (`F.instance_norm`), returning a channels-last input's result channels-last again: `F.instance_norm` returns NCHW,
    and a channels-last network fed NCHW runs several times slower. (`F.group_norm` with one channel per group keeps
    the layout but its float32 variance is less accurate, which KNAS amplifies on nearly constant channels: up to
    0.75% against float64, where this is within 0.11% on the same architectures.)"""
    def forward(x: torch.Tensor) -> torch.Tensor:
        out = F.instance_norm(x, weight=bn.weight, bias=bn.bias, eps=bn.eps)
        if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    return forward


def weight_layers(net: nn.Module) -> list[nn.Module]:
    """Conv2d and Linear layers in `net.modules()` order (what foresight's `get_layer_metric_array` visits)."""
    return [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]


def layer_weights(net: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in weight_layers(net)]


def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, the loss of every reference implementation followed here."""
    return F.cross_entropy(logits, y)


def per_sample_grads(net: nn.Module, names: list[str], x: torch.Tensor, y: torch.Tensor | None = None,
                     objective: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor] | None = None,
                     chunk: int = 16, batch_stats: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Gradients of each sample's own objective w.r.t. the named parameters, `chunk` samples at a time.

    Each sample goes through the network alone (a batch of 1), as the per-sample loops of the
    references do; `vmap` runs those N single-sample passes as one vectorised forward and backward.
    `objective(logits, y)` defaults to the cross-entropy loss. With `batch_stats` (train mode)
    batch-norm normalises each sample by its own statistics and the running statistics are dropped
    first (they do not change train-mode outputs); without it the network's mode is left as it is.
    Yields {name: (chunk, *shape)} per chunk of samples.
    """
    if batch_stats:
        replace_all_batch_norm_modules_(net)
    net.requires_grad_(False)
    params = dict(net.named_parameters())
    wanted = {n: params[n].detach() for n in names}
    objective = objective or loss_fn
    labels = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device) if y is None else y

    def sample_value(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        logits = functional_call(net, p, (xi.unsqueeze(0),), strict=False)
        return objective(logits, None if y is None else yi.unsqueeze(0))

    step: Callable = vmap(grad(sample_value), in_dims=(None, 0, 0))
    for xs, ys in zip(x.split(chunk), labels.split(chunk), strict=True):
        yield step(wanted, xs, ys)


def weight_names(net: nn.Module) -> list[str]:
    """`named_parameters()` names of the Conv2d / Linear weights, in module order."""
    return [f"{name}.weight" if name else "weight" for name, m in net.named_modules() if isinstance(m, WEIGHT_LAYERS)]
