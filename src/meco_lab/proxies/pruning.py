"""Pruning-at-initialisation saliencies summed into zero-cost proxies (Abdelfattah, Mehrotra, Dudziak, Lane,
"Zero-Cost Proxies for Lightweight NAS", ICLR 2021): `snip`, `grad_norm`, `fisher`, `grasp`, `l2_norm`.

Reference followed for all five: SamsungLabs/zero-cost-nas ("foresight"), `pruners/measures/*.py` and
`pruners/predictive.py::find_measures`, which sums each per-weight saliency array over the weights
of every Conv2d and Linear layer (`get_layer_metric_array`, then `sum_arr`). Batch-norm is kept
(`bn=True`), the network is in train mode (batch statistics), the loss is the mean cross-entropy
of the whole batch (`split_data=1`), gradients are taken w.r.t. the layer weights (not biases).
With `data=random` the labels are seeded random labels (`make_batch`), so the label-dependent
proxies then measure the fit to random labels.

- `snip` (Lee, Ajanthan, Torr, ICLR 2019): sum |w * dL/dw|. foresight takes the gradient w.r.t. a
  multiplicative mask of ones, which equals w * dL/dw.
- `grad_norm`: sum over layers of the Frobenius norm ||dL/dW|| of each layer (per-layer norms
  summed, as foresight does; not the norm of the whole gradient).
- `fisher` (Theis et al. 2018; Turner et al., BlockSwap, ICLR 2020): per output channel k of each
  layer, F_k = 0.5 * mean_n (sum_{h,w} z * dL/dz)^2, z the layer's output (before batch-norm). As
  foresight does, each channel's value is broadcast over that channel's weights before the sum, so
  it counts fan_in = C_in/groups * k_h * k_w (in_features for Linear) times.
- `grasp` (Wang, Zhang, Grosse, ICLR 2020): sum of -w * (H g), with g = dL/dw and H g the
  Hessian-gradient product, i.e. d(g.detach() . g)/dw. foresight computes g in one forward/backward
  and H g in a second forward with `create_graph`; in train mode the two forwards of the same batch
  are identical, so we use one forward, one backward with `create_graph` and one double backward.
  T = 1 and one iteration, as foresight's defaults.
- `l2_norm`: sum over layers of ||W|| (Frobenius). No data, no gradient.
"""

from __future__ import annotations

import torch

from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import BaselineProxy, layer_weights
from meco_lab.proxies.shared import SharedPass, alone
from meco_lab.spaces.base import Candidate


def _total(terms: list[torch.Tensor]) -> float:
    return float(torch.stack(terms).sum()) if terms else 0.0


def _weight_grads(ctx: SharedPass) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The conv/linear weights of the shared forward's network and the loss gradients (zeros where unused)."""
    weights = layer_weights(ctx.forward().net)
    grads = ctx.loss_grads().weights
    return [w.detach() for w in weights], [torch.zeros_like(w) if g is None else g for w, g in
                                           zip(weights, grads, strict=True)]


class _LabelGradientProxy(BaselineProxy):
    """A proxy of the loss gradient w.r.t. the conv/linear weights: one backward, shared in a pass (`SharedPass`)."""

    needs_labels = True
    needs_backward = True

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("forward", "graph")
        ctx.want("loss_grads", "weights")

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)


@PROXIES.register("snip")
class Snip(_LabelGradientProxy):
    """SNIP: sum over Conv2d/Linear weights of |w * dL/dw| (foresight)."""

    name = "snip"

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x, ctx.y)
        weights, grads = _weight_grads(ctx)
        return _total([(w * g).abs().sum() for w, g in zip(weights, grads, strict=True)])


@PROXIES.register("grad_norm")
class GradNorm(_LabelGradientProxy):
    """grad_norm: sum over Conv2d/Linear layers of ||dL/dW|| (foresight: per-layer norms, summed)."""

    name = "grad_norm"

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x, ctx.y)
        _, grads = _weight_grads(ctx)
        return _total([torch.linalg.vector_norm(g) for g in grads])


@PROXIES.register("fisher")
class Fisher(_LabelGradientProxy):
    """Fisher: per channel 0.5 * mean_n (sum_hw z * dL/dz)^2, times the channel's fan-in, summed (foresight)."""

    name = "fisher"

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("forward", "graph", "outputs")
        ctx.want("loss_grads", "outputs")

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x, ctx.y)
        acts = ctx.forward().outputs  # (layer, output z) per call, in module order
        terms = []
        for (m, z), g in zip(acts, ctx.loss_grads().outputs, strict=True):
            if g is None:
                continue
            prod = (z.detach() * g).flatten(2).sum(2) if z.dim() > 2 else z.detach() * g  # N x C
            fan_in = m.weight[0].numel()
            terms.append(prod.pow(2).mean(0).mul(0.5).abs().sum() * fan_in)
        return _total(terms)


@PROXIES.register("grasp")
class Grasp(_LabelGradientProxy):
    """GraSP: sum over Conv2d/Linear weights of -w * (H g), H g = d(g.detach() . g)/dw (foresight)."""

    name = "grasp"

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("forward", "graph")
        ctx.want("loss_grads", "weights", "hessian")  # the shared backward keeps its graph for the second one

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x, ctx.y)
        weights = layer_weights(ctx.forward().net)
        used = [(w, g) for w, g in zip(weights, ctx.loss_grads().graph, strict=True) if g is not None]
        if not used:
            return 0.0
        with torch.enable_grad():
            z = torch.stack([(g.detach() * g).sum() for _, g in used]).sum()
            hg = torch.autograd.grad(z, [w for w, _ in used], retain_graph=True, allow_unused=True)
        return _total([-(w.detach() * h).sum() for (w, _), h in zip(used, hg, strict=True) if h is not None])


@PROXIES.register("l2_norm")
class L2Norm(BaselineProxy):
    """l2_norm: sum over Conv2d/Linear layers of ||W|| at initialisation (foresight)."""

    name = "l2_norm"

    def from_shared(self, ctx: SharedPass) -> float:
        with torch.no_grad():  # in logical order, whatever the memory layout: the same sum as the built network's
            return _total([torch.linalg.vector_norm(w.contiguous()) for w in layer_weights(ctx.network())])

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)
