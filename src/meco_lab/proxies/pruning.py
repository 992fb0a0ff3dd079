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
from torch import nn

from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import (
    BaselineProxy,
    channels_last,
    fresh_network,
    layer_weights,
    weight_layers,
)
from meco_lab.spaces.base import Candidate


def _weights_and_grads(candidate: Candidate, x: torch.Tensor, y: torch.Tensor):
    net, x = channels_last(fresh_network(candidate, x), x)
    weights = layer_weights(net)
    grads = torch.autograd.grad(candidate.loss(net(x), y), weights, allow_unused=True)
    return [w.detach() for w in weights], [torch.zeros_like(w) if g is None else g for w, g in
                                           zip(weights, grads, strict=True)]


def _total(terms: list[torch.Tensor]) -> float:
    return float(torch.stack(terms).sum()) if terms else 0.0


class _LabelGradientProxy(BaselineProxy):
    needs_labels = True
    needs_backward = True


@PROXIES.register("snip")
class Snip(_LabelGradientProxy):
    """SNIP: sum over Conv2d/Linear weights of |w * dL/dw| (foresight)."""

    name = "snip"

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        self.require(x, y)
        with torch.enable_grad():
            weights, grads = _weights_and_grads(candidate, x, y)
        return _total([(w * g).abs().sum() for w, g in zip(weights, grads, strict=True)])


@PROXIES.register("grad_norm")
class GradNorm(_LabelGradientProxy):
    """grad_norm: sum over Conv2d/Linear layers of ||dL/dW|| (foresight: per-layer norms, summed)."""

    name = "grad_norm"

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        self.require(x, y)
        with torch.enable_grad():
            _, grads = _weights_and_grads(candidate, x, y)
        return _total([torch.linalg.vector_norm(g) for g in grads])


@PROXIES.register("fisher")
class Fisher(_LabelGradientProxy):
    """Fisher: per channel 0.5 * mean_n (sum_hw z * dL/dz)^2, times the channel's fan-in, summed (foresight)."""

    name = "fisher"

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        self.require(x, y)
        net, x = channels_last(fresh_network(candidate, x), x)
        layers = weight_layers(net)
        outputs: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in layers}

        def keep(module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            outputs[module].append(output)

        handles = [m.register_forward_hook(keep) for m in layers]
        try:
            with torch.enable_grad():
                loss = candidate.loss(net(x), y)
        finally:
            for h in handles:
                h.remove()
        acts = [(m, z) for m in layers for z in outputs[m]]
        with torch.enable_grad():
            grads = torch.autograd.grad(loss, [z for _, z in acts], allow_unused=True)
        terms = []
        for (m, z), g in zip(acts, grads, strict=True):
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

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        self.require(x, y)
        net, x = channels_last(fresh_network(candidate, x), x)
        weights = layer_weights(net)
        with torch.enable_grad():
            grads = torch.autograd.grad(candidate.loss(net(x), y), weights, create_graph=True, allow_unused=True)
            used = [(w, g) for w, g in zip(weights, grads, strict=True) if g is not None]
            z = torch.stack([(g.detach() * g).sum() for _, g in used]).sum()
            hg = torch.autograd.grad(z, [w for w, _ in used], allow_unused=True)
        return _total([-(w.detach() * h).sum() for (w, _), h in zip(used, hg, strict=True) if h is not None])


@PROXIES.register("l2_norm")
class L2Norm(BaselineProxy):
    """l2_norm: sum over Conv2d/Linear layers of ||W|| at initialisation (foresight)."""

    name = "l2_norm"

    @torch.no_grad()
    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return _total([torch.linalg.vector_norm(w) for w in layer_weights(candidate.network())])
