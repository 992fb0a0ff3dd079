"""Zero-Cost-PT (Xiang et al., AAAI 2023; Algorithm 1 of the MeCo paper): prune a supernet with a proxy.

For each of N candidates, the edges of the supernet are visited in a random order. On an edge, each
operation still there is removed in turn and the supernet under that mask is scored; the operation
whose removal lowers the score the most is kept and the others are dropped (an operation a space never keeps,
DARTS' `none`, is not tested). For spaces whose nodes keep
only some inputs (`PruningProblem.keep_inputs > 0`, DARTS), the nodes are then visited in a random order
and each keeps the `keep_inputs` input edges whose removal lowers the score the most. The best of the N
candidates by `final_score` is returned.

What follows the official code (HamsterMimi/MeCo, `nasbench201/init_projection.py::pt_project`,
`nasbench201/networks_proposal.py`, `zerocostnas/post_validate.py`, `sota/cnn/init_projection.py`):

- one supernet, its weights drawn once, scores all candidates; one seeded random stream draws every
  candidate's edge order (the reference draws a random remaining edge at each step from one seeded
  `np.random`: the same thing as a random permutation);
- the kept operation is `nanargmin` of the scores with each operation removed (a NaN score never wins;
  ties go to the first operation in `problem.ops`);
- nodes keep the inputs with the lowest scores when removed (`project_edge`, which, since it does not
  re-mask between its rounds, keeps the `keep_inputs` lowest);
- the final choice scores each distinct discretised architecture once and takes `nanargmax`, the first
  found on ties (`post_validate.py`, which scores the *discrete* network).

Where this differs: the edges of all cells form one problem and are visited in one random order (the DARTS
reference alternates a normal-cell and a reduction-cell edge, each drawn at random); the node step uses the
same proxy as the operation step (the DARTS reference scores it with the Jacobian-covariance proxy whatever
the operation criterion); DARTS' `none` is never kept and so not tested (the reference tests it, and its
`genotype()` turns a kept `none` into the first other op). Scores of identical masks are computed once (the
proxy sees the same weights and input), so `evaluations` counts proxy calls and `cache_hits` the repeated masks
served from memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.supernet import Mask, MaskableSupernet, PruningProblem, supernet_candidate

ScoreFn = Callable[[Mask], float]
"""The proxy's score of the supernet under a mask (higher is better)."""


@dataclass
class ZcPtCandidate:
    """One discretised network: its mask, how it was found and its scores."""

    mask: Mask
    edge_order: list[str]
    node_order: list[str]
    supernet_score: float  # the supernet's score under the final mask
    score: float = math.nan  # the score `final_score` gives it (by default the supernet's)


@dataclass
class ZcPtResult:
    """The best candidate and all of them, with the cost of the search."""

    best: int  # position of the best candidate in `candidates`
    candidates: list[ZcPtCandidate]
    evaluations: int  # proxy calls on the supernet
    final_evaluations: int  # `final_score` calls (one per distinct mask)
    cache_hits: int  # supernet scores served from memory (a mask seen before)
    seconds: float

    @property
    def best_mask(self) -> Mask:
        return self.candidates[self.best].mask

    @property
    def best_score(self) -> float:
        return self.candidates[self.best].score


def mask_key(mask: Mask) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable, order-free key of a mask."""
    return tuple(sorted((edge, tuple(ops)) for edge, ops in mask.items()))


def proxy_score_fn(
    proxy, net: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, seed: int = 0, num_classes: int = 10
) -> ScoreFn:
    """Score masks of `net` with `proxy` (a `meco_lab.proxies.Proxy`) on input `x` (labels `y`).

    A proxy that leaves the network as it found it (`modifies_network = False`) scores `net` itself, others a copy.
    """
    copy = getattr(proxy, "modifies_network", True)
    return lambda mask: float(proxy.score(supernet_candidate(net, mask, seed, num_classes, copy), x, y))


def lowest(scores: list[float]) -> list[int]:
    """Positions sorted by score, lowest first; NaN last; ties keep their order (as `np.nanargmin`)."""
    return sorted(range(len(scores)), key=lambda k: math.inf if math.isnan(scores[k]) else scores[k])


class _Memo:
    """A score function that computes each distinct mask once, counting proxy calls and repeats."""

    def __init__(self, score_fn: ScoreFn, on_eval: Callable[[bool], None] | None):
        self.score_fn, self.on_eval = score_fn, on_eval
        self.scores: dict[tuple, float] = {}
        self.calls = self.hits = 0

    def __call__(self, mask: Mask) -> float:
        key = mask_key(mask)
        cached = key in self.scores
        if cached:
            self.hits += 1
        else:
            self.calls += 1
            self.scores[key] = float(self.score_fn(mask))
        if self.on_eval:
            self.on_eval(cached)
        return self.scores[key]


def choose_ops(problem: PruningProblem, mask: Mask, edge_order: list[str], score: ScoreFn) -> Mask:
    """Visit edges in `edge_order`; on each keep the operation whose removal lowers the score the most.

    Only the operations an edge may end with (`problem.keepable`) are tested: DARTS' `none` is dropped untested.
    """
    mask = dict(mask)
    for edge in edge_order:
        ops = mask[edge]
        options = problem.keepable(ops)
        if len(ops) <= 1 or not options:
            continue
        removed = [score({**mask, edge: tuple(o for o in ops if o != op)}) for op in options]
        mask[edge] = (options[lowest(removed)[0]],)
    return mask


def choose_inputs(problem: PruningProblem, mask: Mask, node_order: list[str], score: ScoreFn) -> Mask:
    """Visit nodes in `node_order`; each keeps the `keep_inputs` input edges whose removal lowers the score most."""
    mask = dict(mask)
    for node in node_order:
        edges = [e for e in problem.node_inputs[node] if mask[e]]
        if len(edges) <= problem.keep_inputs:
            continue
        removed = [score({**mask, edge: ()}) for edge in edges]
        keep = {edges[k] for k in lowest(removed)[: problem.keep_inputs]}
        mask.update({edge: () for edge in edges if edge not in keep})
    return mask


def steps_per_candidate(problem: PruningProblem) -> int:
    """Supernet score requests for one candidate (repeats included): every removal test, then the final mask."""
    ops = len(problem.edges) * len(problem.keepable(problem.ops)) if len(problem.ops) > 1 else 0
    nodes = sum(len(e) for e in problem.node_inputs.values() if len(e) > problem.keep_inputs)
    return ops + (nodes if problem.keep_inputs > 0 else 0) + 1


def zero_cost_pt(
    net: nn.Module,
    score_fn: ScoreFn | None = None,
    *,
    proxy=None,
    x: torch.Tensor | None = None,
    y: torch.Tensor | None = None,
    candidates: int = 10,
    seed: int = 0,
    final_score: ScoreFn | None = None,
    on_eval: Callable[[bool], None] | None = None,
    on_candidate: Callable[[int, ZcPtCandidate], None] | None = None,
) -> ZcPtResult:
    """Run Zero-Cost-PT on a `MaskableSupernet`: N candidates, the best by `final_score`.

    Scores come from `score_fn(mask)`, or else from `proxy.score` on input `x` (labels `y`). The edge and
    node orders come from `np.random.default_rng(seed)`. `final_score(mask)` scores each distinct final
    mask (default: the supernet's score under it). `on_eval(cached)` is called after every supernet score
    request (`steps_per_candidate` per candidate) and `on_candidate(k, candidate)` after each candidate.
    """
    if not isinstance(net, MaskableSupernet):
        raise TypeError(f"{type(net).__name__} is not a MaskableSupernet (needs .problem and .set_mask)")
    if not isinstance(candidates, int) or isinstance(candidates, bool) or candidates < 1:
        raise ConfigError("zc_pt.candidates", candidates, "an integer >= 1")
    if score_fn is None:
        if proxy is None or x is None:
            raise TypeError("zero_cost_pt needs score_fn, or proxy and x")
        score_fn = proxy_score_fn(proxy, net, x, y)
    start = time.perf_counter()
    problem: PruningProblem = net.problem
    rng = np.random.default_rng(seed)
    score = _Memo(score_fn, on_eval)
    built: list[ZcPtCandidate] = []
    for k in range(candidates):
        edge_order = [problem.edges[i] for i in rng.permutation(len(problem.edges))]
        mask = choose_ops(problem, problem.full_mask(), edge_order, score)
        node_order: list[str] = []
        if problem.keep_inputs > 0:
            nodes = list(problem.node_inputs)
            node_order = [nodes[i] for i in rng.permutation(len(nodes))]
            mask = choose_inputs(problem, mask, node_order, score)
        built.append(ZcPtCandidate(mask, edge_order, node_order, score(mask)))
        if on_candidate:
            on_candidate(k, built[-1])
    final = _Memo(final_score, None) if final_score is not None else None
    for candidate in built:
        candidate.score = final(candidate.mask) if final is not None else candidate.supernet_score
    best = int(np.argmax([-math.inf if math.isnan(c.score) else c.score for c in built]))
    return ZcPtResult(
        best, built, score.calls, final.calls if final is not None else 0, score.hits, time.perf_counter() - start
    )


__all__ = [
    "ScoreFn",
    "ZcPtCandidate",
    "ZcPtResult",
    "choose_inputs",
    "choose_ops",
    "mask_key",
    "proxy_score_fn",
    "steps_per_candidate",
    "zero_cost_pt",
]
