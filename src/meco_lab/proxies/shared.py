"""Several proxies of one architecture in one pass (`SharedPass`): the network built once, one forward of the batch,
one backward of the loss, one per-sample pass, each shared by every proxy that needs it.

A proxy takes part in two steps. `prepare(ctx)` says what it will read (so that, for example, the one backward of
the loss computes the gradients of every proxy that asked); `from_shared(ctx)` then computes its score from what the
pass holds. Each shared result is computed once, on first use, and always in the same way whichever proxies asked for
it, so a proxy scores the same alone (`alone`: a pass of one proxy, what `Proxy.score` runs) as in a pass of many
(tests/test_one_pass.py). What is shared, and by whom:

- `network()`: the candidate's network, built once (train mode, channels-last): params, l2_norm, and all below
  except synflow and zen, which change the weights of a network of their own;
- `forward()`: one train-mode forward of the batch, with the proxies' hooks; its graph is kept when a proxy takes
  a gradient: flops (layer shapes), nwot (ReLU codes), and the next three;
- `loss_grads()`: one backward of the loss w.r.t. the union of what was asked (conv/linear weights, all parameters,
  conv/linear outputs; `create_graph` when grasp asks, which leaves the values the same bit for bit): snip,
  grad_norm, fisher, nasi and grasp's first step;
- `input_grad()`: one backward of the summed output w.r.t. the input: jacov;
- `ntk_matrix()`: one backward per sample of the summed logits (batch statistics couple the rows): ntk;
- `sample_pass()`: one forward with batch-norm per sample (`sample_statistics`) and one backward of the summed loss,
  giving each sample's gradient of every conv/linear weight and their sum over all parameters: gradsign, knas;
- `probes()`: the space's feature probes for the union of what the probe proxies need: meco, meco_opt.

Time is attributed per proxy: its own work, plus each shared result's time split evenly between the proxies that
used it, so the seconds of a pass add up to its wall time.

Memory: `run` drops the results that hold graphs, per-sample gradients or features (`RESULTS`) once the last proxy
that said in `prepare` it reads them (`want`) is done, so a pass holds about what its heaviest proxy needs rather
than everything until its end; reading a dropped result raises.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from meco_lab.proxies.baselines_common import (
    WEIGHT_LAYERS,
    channels_last,
    instance_norm_forward,
)
from meco_lab.spaces.base import Candidate, FeatureProbe

if TYPE_CHECKING:
    from meco_lab.proxies.base import Proxy

LAYOUTS = ("channels_last", "contiguous")
# The results `SharedPass.run` drops after the last proxy that said (`want`) it reads them: the ones that hold a
# graph, per-sample gradients or features. A reader of one also reads what it is computed from (`DEPENDS`).
RESULTS = ("forward", "loss_grads", "input_grad", "ntk", "sample", "probes")
DEPENDS = {"loss_grads": ("forward",), "input_grad": ("forward",), "ntk": ("forward",)}


def logit_ntk(logits: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """The empirical NTK (N x N, float64) of each sample's summed logits over `weights`: one backward per sample
    through the graph of `logits` (batch statistics couple the rows, so no vectorised pass gives them), summed over
    parameters of A_p A_p^T one parameter at a time."""
    n = logits.shape[0]
    rows: list[list[torch.Tensor]] = [[] for _ in weights]
    with torch.enable_grad():
        for i in range(n):
            grads = torch.autograd.grad(logits[i].sum(), weights, retain_graph=True, allow_unused=True)
            for parts, w, g in zip(rows, weights, grads, strict=True):
                parts.append((torch.zeros_like(w) if g is None else g).unsqueeze(0))
    return param_gram(rows, n, logits.device)


def param_gram(blocks: list[list[torch.Tensor]], n: int, device: torch.device) -> torch.Tensor:
    """sum over parameters of A_p A_p^T (float64), A_p the N x |p| rows of parameter p, one parameter at a time."""
    gram = torch.zeros((n, n), dtype=torch.float64, device=device)
    for parts in blocks:
        rows = torch.cat([part.flatten(1) for part in parts]).double()
        gram += rows @ rows.T
    return gram


@dataclass
class Forward:
    """One train-mode forward of the batch: the network, its input (requiring grad when asked), the logits, every
    conv/linear call's output in module order (when asked) and the proxies' hook objects (`forward_hook`)."""

    net: nn.Module
    x: torch.Tensor
    logits: torch.Tensor
    outputs: list[tuple[nn.Module, torch.Tensor]] = field(default_factory=list)
    hooks: dict[Hashable, Any] = field(default_factory=dict)


@dataclass
class LossGrads:
    """The gradients of one backward of the loss (detached): per conv/linear weight (module order), per parameter
    (`named_parameters` order) and per recorded conv/linear output, None where unused; with "hessian", `graph` holds
    the conv/linear weights' gradients with their graph, for a second backward."""

    weights: list[torch.Tensor | None]
    params: dict[str, torch.Tensor | None]
    outputs: list[torch.Tensor | None]
    graph: list[torch.Tensor | None] = field(default_factory=list)


@dataclass
class SamplePass:
    """Per-sample gradients from one batched pass with batch-norm per sample: each conv/linear weight's per-sample
    gradients (N x *shape, module order; None where unused), and the sum over samples per parameter."""

    weights: list[torch.Tensor | None]
    params: dict[str, torch.Tensor | None]


class SharedPass:
    """One architecture, one input batch: shared results for the proxies scored on it (see the module docstring)."""

    def __init__(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None):
        self.candidate, self.x, self.y = candidate, x, y
        self.wants: dict[str, set[Hashable]] = defaultdict(set)
        self._memo: dict[Hashable, Any] = {}
        self._stack: list[Hashable] = []
        self._own: dict[Hashable, float] = defaultdict(float)
        self._deps: dict[Hashable, set[Hashable]] = defaultdict(set)
        self._hooks: dict[Hashable, tuple[type[nn.Module], Callable[[torch.Tensor], Any]]] = {}
        self._preparing: int | None = None  # the proxy whose `prepare` runs (`run`)
        self._last_user: dict[str, int] = {}  # per result name, the last proxy of `run` that said it reads it
        self._released: set[Hashable] = set()

    # -- requests and memoisation ----------------------------------------------------------------------------------

    def want(self, result: str, *items: Hashable) -> None:
        """Say, before any result is computed, that the proxy reads `result` (a `RESULTS` name), and ask that it
        include `items` (e.g. `want("loss_grads", "params")`). `run` drops a result once its last reader is done."""
        self.wants[result].update(items)
        if self._preparing is not None:
            for name in (result, *DEPENDS.get(result, ())):
                self._last_user[name] = max(self._last_user.get(name, -1), self._preparing)

    def forward_hook(self, key: Hashable, kind: type[nn.Module], make: Callable[[torch.Tensor], Any]) -> None:
        """Ask that the shared forward run `make(x)`'s `hook(module, inputs, output)` on every module of type `kind`
        (`x` the forward's input); the object is `forward().hooks[key]`. Hooks run under `no_grad`."""
        self._hooks[key] = (kind, make)
        self.want("forward")

    @contextmanager
    def _timed(self, key: Hashable) -> Iterator[None]:
        if self._stack:
            self._deps[self._stack[-1]].add(key)
        self._stack.append(key)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self._stack.pop()
            self._own[key] += elapsed
            if self._stack:
                self._own[self._stack[-1]] -= elapsed

    def _shared(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """`compute()` once per pass (its value, or the exception it raised, is kept for every later caller)."""
        if key in self._released:
            raise RuntimeError(f"the shared result {key!r} was read after the last proxy that said it reads it: "
                               "a proxy must say what it reads in `prepare` (`ctx.want`)")
        if self._stack:
            self._deps[self._stack[-1]].add(key)
        if key not in self._memo:
            with self._timed(key):
                try:
                    self._memo[key] = (True, compute())
                except Exception as error:  # every proxy that needs this result fails with the same error
                    self._memo[key] = (False, error)
        ok, value = self._memo[key]
        if not ok:
            raise value
        return value

    def run(self, proxies: Sequence[Proxy]) -> list[tuple[float | Exception, float]]:
        """Every proxy's score (or the exception it raised) and its seconds, in `proxies` order."""
        for k, proxy in enumerate(proxies):
            self._preparing = k
            try:
                with self._timed(("proxy", k)):
                    proxy.prepare(self)
            finally:
                self._preparing = None
        values: list[float | Exception] = []
        for k, proxy in enumerate(proxies):
            with self._timed(("proxy", k)):
                try:
                    values.append(float(proxy.from_shared(self)))
                except Exception as error:
                    values.append(error)
            self._release(k)
        return list(zip(values, self.seconds(len(proxies)), strict=True))

    def _release(self, done: int) -> None:
        """Drop the results (`RESULTS`) that no proxy after `done` said it reads, so that a pass holds no more memory
        than its heaviest proxy needs; reading one again raises."""
        for key in list(self._memo):
            name = key if isinstance(key, str) else key[0]
            if name in RESULTS and self._last_user.get(name, -1) <= done:
                del self._memo[key]
                self._released.add(key)

    def seconds(self, n: int) -> list[float]:
        """Each proxy's own time plus an even share of every shared result it used (directly or through another)."""
        def closure(key: Hashable) -> set[Hashable]:
            seen, todo = set(), [key]
            while todo:
                for dep in self._deps.get(todo.pop(), ()):
                    if dep not in seen:
                        seen.add(dep)
                        todo.append(dep)
            return seen

        used = [closure(("proxy", k)) for k in range(n)]
        users: dict[Hashable, int] = defaultdict(int)
        for keys in used:
            for key in keys:
                users[key] += 1
        return [self._own[("proxy", k)] + sum(self._own[key] / users[key] for key in used[k]) for k in range(n)]

    # -- shared results --------------------------------------------------------------------------------------------

    def network(self, layout: str = "channels_last") -> nn.Module:
        """The candidate's network on the input's device in train mode, built once per layout. Readers may run it
        (train-mode running statistics do not count) but must leave its weights, mode and modules as they found them;
        a proxy that changes a network builds its own (`fresh_network`)."""
        return self._shared(("network", layout), lambda: self._build(layout))

    def _build(self, layout: str) -> nn.Module:
        net = self.fresh_network()
        return channels_last(net, self.x)[0] if layout == "channels_last" else net

    def fresh_network(self) -> nn.Module:
        """A network of the caller's own: freshly built and seeded, on the input's device, in train mode."""
        return self.candidate.network().to(self.x.device).train()

    def inputs(self, layout: str = "channels_last") -> torch.Tensor:
        """The input batch in the network's memory layout."""
        return self._shared(("inputs", layout), lambda: channels_last(nn.Identity(), self.x)[1]
                            if layout == "channels_last" else self.x)

    def forward(self, layout: str = "channels_last") -> Forward:
        """One train-mode forward of the batch. Wants (`want("forward", ...)`): "graph" (keep the graph for a
        backward), "input" (the input requires grad), "outputs" (record conv/linear outputs); and the proxies'
        `forward_hook`s."""
        return self._shared(("forward", layout), lambda: self._forward(layout))

    def _forward(self, layout: str) -> Forward:
        wants = self.wants["forward"]
        net, x = self.network(layout), self.inputs(layout)
        if "input" in wants:
            x = x.detach().clone().requires_grad_(True)
        outputs: list[tuple[nn.Module, torch.Tensor]] = []
        hooks = {key: make(x) for key, (_, make) in self._hooks.items()}
        handles = []
        if "outputs" in wants:
            handles += [m.register_forward_hook(lambda m, _i, out: outputs.append((m, out)))
                        for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
        for key, (kind, _) in self._hooks.items():
            handles += [m.register_forward_hook(_no_grad(hooks[key].hook)) for m in net.modules()
                        if isinstance(m, kind)]
        try:
            with torch.set_grad_enabled("graph" in wants):
                logits = net(x)
        finally:
            for h in handles:
                h.remove()
        return Forward(net, x, logits, outputs, hooks)

    def loss_grads(self) -> LossGrads:
        """One backward of the loss (the space's: cross-entropy, or a task's own) over the shared forward, w.r.t. the
        union of what was asked (`want("loss_grads", ...)`): "weights" (conv/linear), "params" (every parameter
        requiring grad), "outputs" (the recorded conv/linear outputs), "hessian" (with `create_graph`, for a second
        backward; the first-order values are the same bit for bit)."""
        return self._shared("loss_grads", self._loss_grads)

    def _loss_grads(self) -> LossGrads:
        wants = self.wants["loss_grads"]
        fwd = self.forward()
        if self.y is None:
            raise ValueError("the loss needs labels y")
        weights = [m.weight for m in fwd.net.modules() if isinstance(m, WEIGHT_LAYERS)] if "weights" in wants else []
        params = {n: p for n, p in fwd.net.named_parameters() if p.requires_grad} if "params" in wants else {}
        outputs = [z for _, z in fwd.outputs] if "outputs" in wants else []
        unique: dict[int, torch.Tensor] = {}
        for t in [*weights, *params.values(), *outputs]:
            unique.setdefault(id(t), t)
        with torch.enable_grad():
            loss = self.candidate.loss(fwd.logits, self.y)
            grads = torch.autograd.grad(loss, list(unique.values()), retain_graph=True,
                                        create_graph="hessian" in wants, allow_unused=True)
        found = dict(zip(unique, grads, strict=True))
        plain = {k: None if g is None else g.detach() for k, g in found.items()}
        return LossGrads([plain[id(w)] for w in weights], {n: plain[id(p)] for n, p in params.items()},
                         [plain[id(z)] for z in outputs], [found[id(w)] for w in weights] if "hessian" in wants else [])

    def input_grad(self) -> torch.Tensor:
        """The gradient of the summed output w.r.t. the input batch (one backward over the shared forward)."""
        def compute() -> torch.Tensor:
            fwd = self.forward()
            with torch.enable_grad():
                return torch.autograd.grad(fwd.logits.sum(), fwd.x, retain_graph=True)[0]

        return self._shared("input_grad", compute)

    def ntk_matrix(self, layout: str = "channels_last") -> torch.Tensor:
        """The empirical NTK (N x N, float64) of the summed logits of each sample over every parameter named "weight",
        from one backward per sample over the shared train-mode forward (TE-NAS; the rows are coupled by batch
        statistics, so no vectorised pass gives them)."""
        def compute() -> torch.Tensor:
            fwd = self.forward(layout)
            return logit_ntk(fwd.logits, [p for name, p in fwd.net.named_parameters() if "weight" in name])

        return self._shared(("ntk", layout), compute)

    def sample_pass(self) -> SamplePass:
        """Per-sample gradients of each sample's own loss, each sample normalised by its own batch-norm statistics (as
        if alone in its forward pass), from one batched forward and one backward of the summed loss: `weights` holds
        each conv/linear weight's per-sample gradients (N x *shape), `params` every parameter's sum over samples."""
        return self._shared("sample", self._sample_pass)

    def _sample_pass(self) -> SamplePass:
        """No sample's output depends on another's, so each sample's gradient w.r.t. a conv/linear weight is computed
        from that layer's input and output gradient (`per_sample_weight_grads`), and the weight's gradient summed over
        the samples is theirs; the other parameters get the sum over samples from autograd."""
        net, x = self.network(), self.inputs()
        if self.y is None:
            raise ValueError("per-sample loss gradients need labels y")
        layers = [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
        weight_ids = {id(m.weight) for m in layers}
        others = {n: p for n, p in net.named_parameters() if id(p) not in weight_ids and p.requires_grad}
        calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
        handles = [m.register_forward_hook(lambda m, i, out: calls.append((m, i[0].detach(), out))) for m in layers]
        try:
            with per_sample_batch_norm(net), torch.enable_grad():
                loss = self.candidate.loss(net(x), self.y, reduction="sum")
        finally:
            for h in handles:
                h.remove()
        targets = [*others.values(), *(z for _, _, z in calls)]
        with torch.enable_grad():
            grads = torch.autograd.grad(loss, targets, allow_unused=True)
        other_grads = dict(zip(others, grads[: len(others)], strict=True))
        per_layer: dict[nn.Module, list[torch.Tensor]] = defaultdict(list)
        for (module, a, _), g in zip(calls, grads[len(others):], strict=True):
            if g is not None:
                per_layer[module].append(per_sample_weight_grads(module, a, g))
        weights = [torch.stack(per_layer[m]).sum(0) if per_layer[m] else None for m in layers]
        sums = {id(m.weight): None if w is None else w.sum(0) for m, w in zip(layers, weights, strict=True)}
        params = {name: sums[id(p)] if id(p) in sums else other_grads.get(name) for name, p in net.named_parameters()}
        return SamplePass(weights, params)

    def probes(self) -> list[FeatureProbe]:
        """The space's feature probes of one no-grad forward, for the union of what the probe proxies need
        (`want("probes", needed)`): each proxy reads the features it needs and skips the others."""
        def compute() -> list[FeatureProbe]:
            needs = list(self.wants["probes"])

            def needed(channels: int, positions: int) -> bool:
                return any(need(channels, positions) for need in needs)

            with torch.no_grad():
                return self.candidate.probes(self.x, needed=needed if needs else None)

        return self._shared("probes", compute)


def _no_grad(hook: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        with torch.no_grad():
            return hook(*args)

    return run


def alone(proxy: Proxy, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """`proxy`'s score in a pass of its own: what `Proxy.score` runs, so that alone and together are one computation."""
    ctx = SharedPass(candidate, x, y)
    proxy.prepare(ctx)
    return float(proxy.from_shared(ctx))


@contextmanager
def per_sample_batch_norm(net: nn.Module) -> Iterator[None]:
    """While inside, every BatchNorm2d of `net` normalises each sample over its own H x W (as `sample_statistics`);
    the modules' forwards are restored on exit."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [m.__dict__.get("forward") for m in norms]
    for m in norms:
        m.forward = instance_norm_forward(m)
    try:
        yield
    finally:
        for m, old in zip(norms, before, strict=True):
            if old is None:
                del m.forward
            else:
                m.forward = old


def per_sample_weight_grads(module: nn.Module, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Each sample's gradient of `module.weight` (N x *weight.shape) from the layer's input `a` and the gradient `g` of
    its output, where sample n's output depends on sample n's input alone. A Conv2d's come from one
    `convolution_backward` of the batch as N groups (the batch folded into the channels), as `torch.func`'s batching
    rule does, without materialising the unfolded input."""
    if isinstance(module, nn.Linear):
        if a.dim() == 2:
            return torch.einsum("no,ni->noi", g, a)
        return torch.einsum("nlo,nli->noi", g.flatten(1, -2), a.flatten(1, -2))
    assert isinstance(module, nn.Conv2d)
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise ValueError(f"per-sample gradients of {module} need numeric zero padding")
    weight, n = module.weight.detach(), a.shape[0]
    folded = torch.ops.aten.convolution_backward(
        g.reshape(1, -1, *g.shape[2:]), a.reshape(1, -1, *a.shape[2:]), weight.repeat(n, *([1] * (weight.dim() - 1))),
        None, list(module.stride), list(module.padding), list(module.dilation), False, [0, 0], n * module.groups,
        [False, True, False])[1]
    return folded.view(n, *weight.shape)


__all__ = ["LAYOUTS", "Forward", "LossGrads", "SamplePass", "SharedPass", "alone", "logit_ntk", "param_gram",
           "per_sample_batch_norm", "per_sample_weight_grads"]
