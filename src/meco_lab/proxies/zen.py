"""Zen-score, proxy `zen` (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition",
ICCV 2021).

Definition: with every Conv2d / Linear weight drawn from N(0, 1) (biases 0, batch-norm weight 1
and bias 0), train mode, and the features f(.) just before global average pooling,
Zen = log(mean_n sum_{c,h,w} |f(x) - f(x + gamma * eps)|) + sum over BatchNorm2d layers of
log sqrt(mean_c running_var), with eps ~ N(0, 1) and gamma = 1e-2; averaged over `proxy.repeat`
draws of the weights and of eps. Labels are ignored and no gradient is taken.

Reference followed: idstcv/ZenNAS `ZeroShotProxy/compute_zen_score.py` (also HamsterMimi/MeCo
`.../measures/zen.py`): two forwards (x, then the mixed-up input), each updating the batch-norm
running statistics with the default momentum 0.1, and the running variances read after both, exactly
as the reference does (its BN "scaling factor"). Differences, all deliberate:
- the reference draws a fresh Gaussian input each repeat and ignores the dataset; we use the
  configured batch `x` (Gaussian with `data=random`, the paper's setting) and draw eps per repeat;
- the Gaussian draws come from a generator seeded by the architecture's weight seed, so the score
  is reproducible;
- `repeat` defaults to 1 (the reference uses 32; each repeat costs two forwards). The running
  statistics carry over between repeats, as in the reference.
The pre-GAP features are the input of the network's last `nn.AdaptiveAvgPool2d` (in NB201: the
output of the final BN + ReLU, as the reference's `forward_pre_GAP`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from meco_lab.core.errors import ConfigError
from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import BaselineProxy, channels_last
from meco_lab.proxies.shared import SharedPass, alone
from meco_lab.spaces.base import Candidate, GlobalAvgPool


def gaussian_init(net: nn.Module, generator: torch.Generator) -> None:
    """Zen-NAS's `network_weight_gaussian_init`: conv/linear weights N(0, 1), biases 0, BN weight 1, bias 0."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):  # drawn in logical order, whatever the memory layout
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator, device=m.weight.device,
                                           dtype=m.weight.dtype))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def pre_gap_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input of the last global average pooling layer in one forward of `x`."""
    pools = [m for m in net.modules() if isinstance(m, (nn.AdaptiveAvgPool2d, GlobalAvgPool))]
    if not pools:
        raise ValueError("zen needs a network with a global average pooling layer (nn.AdaptiveAvgPool2d or "
                         "spaces.base.GlobalAvgPool)")
    seen: list[torch.Tensor] = []
    handle = pools[-1].register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[0].clone()))
    try:
        net(x)
    finally:
        handle.remove()
    return seen[-1]


def zen_score(net: nn.Module, x: torch.Tensor, generator: torch.Generator, repeat: int = 1,
              mixup_gamma: float = 1e-2) -> float:
    scores = []
    for _ in range(repeat):
        gaussian_init(net, generator)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        mixed = x + mixup_gamma * noise
        if x.dim() == 4:
            mixed = mixed.contiguous(memory_format=torch.channels_last)
        difference = (pre_gap_features(net, x) - pre_gap_features(net, mixed)).abs()
        nas = difference.flatten(1).sum(1).mean()
        log_bn = sum(0.5 * math.log(float(m.running_var.mean())) for m in net.modules()
                     if isinstance(m, nn.BatchNorm2d) and m.running_var is not None)
        scores.append(math.log(float(nas)) + log_bn)
    return sum(scores) / len(scores)


@PROXIES.register("zen")
class Zen(BaselineProxy):
    """Zen-score: log of the pre-GAP feature change under a small input perturbation, plus BN scale terms."""

    name = "zen"
    task_kinds = frozenset({"classification", "regression"})  # networks with a global average pooling head

    def __init__(self, repeat: int = 1, mixup_gamma: float = 1e-2, **_: object):
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
            raise ConfigError("proxy.repeat", repeat, "an integer >= 1")
        if not isinstance(mixup_gamma, (int, float)) or isinstance(mixup_gamma, bool) or mixup_gamma <= 0:
            raise ConfigError("proxy.mixup_gamma", mixup_gamma, "a number > 0")
        self.repeat, self.mixup_gamma = repeat, float(mixup_gamma)

    @torch.no_grad()
    def from_shared(self, ctx: SharedPass) -> float:
        net, x = channels_last(ctx.fresh_network(), ctx.x)  # a network of its own: Gaussian weights
        generator = torch.Generator(device=x.device).manual_seed(ctx.candidate.weight_seed)
        return zen_score(net, x, generator, self.repeat, self.mixup_gamma)

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)
