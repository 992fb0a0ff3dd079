"""SynFlow (Tanaka, Kunin, Yamins, Ganguli, NeurIPS 2020), as a zero-cost proxy (Abdelfattah et al., ICLR 2021).

Definition: with every parameter replaced by its absolute value, R = sum of the network's outputs
for an all-ones input; SynFlow = sum over the weights w of the Conv2d and Linear layers of
|w * dR/dw|. Data-free: only the shape of one sample of `x` is used; labels are ignored.

Reference followed: SamsungLabs/zero-cost-nas (foresight) `pruners/measures/synflow.py`, measure
`synflow` (registered with `bn=False`):
- batch-norm layers are bypassed (their forward is the identity), as foresight's `bn=False` copy
  does (the `synflow_bn` variant, which keeps them, is not the one reported);
- all parameters become their absolute values, the network runs in float64, the input is
  `ones(1, C, H, W)`, and one backward of `sum(output)` gives the gradients;
- the score sums |w * grad| over the weights (not biases) of Conv2d and Linear layers.
FreeREA (Cavagnero et al.) uses the same code with Kaiming-normal weights averaged over three
initialisations; we use the candidate's own (PyTorch default) initialisation, as foresight does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import BaselineProxy, layer_weights
from meco_lab.proxies.shared import SharedPass, alone
from meco_lab.spaces.base import Candidate


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def synflow_score(net: nn.Module, sample_shape: tuple[int, ...], device: torch.device | str = "cpu") -> float:
    """SynFlow of `net` (modified in place: BN bypassed, |params|, float64)."""
    for m in net.modules():
        if isinstance(m, _BatchNorm):
            m.forward = _identity  # foresight bn=False: the layer passes its input through
    net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    weights = layer_weights(net)
    out = net(torch.ones((1, *sample_shape), dtype=torch.float64, device=device))
    grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    terms = [(w.detach() * g).abs().sum() for w, g in zip(weights, grads, strict=True) if g is not None]
    return float(torch.stack(terms).sum()) if terms else 0.0


@PROXIES.register("synflow")
class SynFlow(BaselineProxy):
    """SynFlow: sum of |w * dR/dw| with |params|, all-ones input, float64 and batch-norm bypassed (foresight)."""

    name = "synflow"
    needs_backward = True

    def from_shared(self, ctx: SharedPass) -> float:
        with torch.enable_grad():  # a network of its own: |params|, float64, batch-norm bypassed
            return synflow_score(ctx.fresh_network(), tuple(ctx.x.shape[1:]), ctx.x.device)

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)
