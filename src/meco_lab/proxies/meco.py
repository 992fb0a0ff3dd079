"""MeCo and MeCo_opt (Jiang, Wang, Bie; NeurIPS 2023): minimum eigenvalue of feature correlation.

For each hooked module, take the first sample of its output (C x H x W), flatten it to C x HW, form
the C x C Pearson correlation matrix (NaN/inf entries set to 0) and take its minimum eigenvalue; MeCo
is the sum over modules, dropping NaN/inf terms. Reference: github.com/HamsterMimi/MeCo,
`correlation/NAS_Bench_201.py::get_score`.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from meco_lab.core.checks import check_int
from meco_lab.proxies.base import PROXIES, Proxy, TaskBatch
from meco_lab.proxies.correlation import correlation
from meco_lab.proxies.hook_sets import hook_filter
from meco_lab.proxies.shared import SharedPass
from meco_lab.spaces.base import Candidate, FeatureProbe, SearchSpace, Site


def first_sample(probe: FeatureProbe) -> torch.Tensor | None:
    """The probe's first sample as a C x L matrix (a view where the layout allows), or None for zero sites."""
    if probe.feature is None or probe.feature.dim() < 2:
        return None
    f = probe.feature[0]
    if f.dim() == 3 and f.stride(0) == 1:  # channels-last: C x L is the transpose of a contiguous L x C
        return f.permute(1, 2, 0).reshape(-1, f.shape[0]).mT
    return f.reshape(f.shape[0], -1)


def stack_rows(mats: list[torch.Tensor]) -> torch.Tensor:
    """Stack C x L matrices into K x C x L with the channels fastest (the layout the correlation GEMM gets), copying
    each once; a single matrix already in that layout (channels-last features) is used without a copy."""
    if len(mats) == 1 and mats[0].stride(0) == 1:
        return mats[0].unsqueeze(0)
    return torch.stack([m.mT for m in mats]).mT


def finite_sum(terms: torch.Tensor) -> float:
    """Sum of the finite terms (MeCo drops NaN and inf terms)."""
    return float(terms[torch.isfinite(terms)].sum()) if terms.numel() else 0.0


def meco_sum(probes: list[FeatureProbe], keep) -> float:
    """MeCo: sum over kept sites of the minimum eigenvalue of their feature's correlation matrix.

    Sites sharing a probe share the term, so each distinct feature is solved once: one batched
    correlation per feature shape, then one batched eigen-solve per matrix size (on the CPU).
    """
    groups: dict[tuple[int, int], list[tuple[torch.Tensor, int]]] = defaultdict(list)
    for probe in probes:
        count = sum(1 for site in probe.sites if keep(site))
        f = first_sample(probe) if count else None
        if f is not None and f.shape[1] > f.shape[0]:  # with L - 1 < C the term is exactly 0
            groups[tuple(f.shape)].append((f, count))
    by_size: dict[int, list[torch.Tensor]] = defaultdict(list)
    counts: dict[int, list[int]] = defaultdict(list)
    for (size, _), items in groups.items():
        by_size[size].append(correlation(stack_rows([f for f, _ in items])))
        counts[size] += [c for _, c in items]
    total = 0.0
    for size, mats in by_size.items():
        corr = torch.cat(mats).cpu()
        total += finite_sum(torch.linalg.eigvalsh(corr)[:, 0] * torch.tensor(counts[size], dtype=torch.float64))
    return total


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function, element-wise on uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def channel_samples(key: str, names: list[str], channels: int, n: int) -> np.ndarray:
    """The n channels MeCo_opt keeps at each named site (one row per name), out of `channels`.

    A site's channels are the n lowest of `channels` keyed hashes, seeded by the architecture key
    and the module name: reproducible, independent per site and of run order, and vectorised.
    """
    seeds = np.array([int.from_bytes(hashlib.blake2b(f"{key}/{name}".encode(), digest_size=8).digest(), "little")
                      for name in names], dtype=np.uint64)
    with np.errstate(over="ignore"):
        ranks = _splitmix64(seeds[:, None] + np.arange(1, channels + 1, dtype=np.uint64)[None, :] * _GOLDEN)
    return np.argsort(ranks, axis=1, kind="stable")[:, :n]


def channel_sample(key: str, site: Site, channels: int, n: int) -> list[int]:
    """The n channels MeCo_opt keeps at `site` (see `channel_samples`)."""
    return channel_samples(key, [site.name], channels, n)[0].tolist()


def meco_opt_sum(probes: list[FeatureProbe], keep, n: int, key: str) -> float:
    """MeCo_opt: per kept site, the minimum eigenvalue over n sampled channels, scaled by C/n.

    Each site draws its own channels, as each hook does in the reference. A channel subset's
    correlation is a sub-matrix of the full one, so each site gathers its n rows from its feature and
    only the n x n blocks are formed (batched per feature shape). When C <= n every channel is kept,
    the term is the plain MeCo term (scale C/C = 1) and sites sharing a feature share its matrix.
    """
    groups: dict[tuple[int, int], list[tuple[torch.Tensor, list[str]]]] = defaultdict(list)
    for probe in probes:
        names = [site.name for site in probe.sites if keep(site)]
        f = first_sample(probe) if names else None
        if f is not None:
            groups[tuple(f.shape)].append((f, names))
    total = 0.0
    for (channels, length), items in groups.items():
        size = min(channels, n)
        if length - 1 < size:  # every block is rank-deficient: its minimum eigenvalue is exactly 0
            continue
        if channels > n:  # each feature's n-row blocks, gathered into one contiguous K x n x L tensor
            idx = torch.from_numpy(channel_samples(key, [nm for _, names in items for nm in names], channels, n))
            rows = idx.split([len(names) for _, names in items])
            blocks = correlation(torch.cat([f.index_select(0, r.flatten().to(f.device)).reshape(len(r), n, length)
                                            for (f, _), r in zip(items, rows, strict=True)]).contiguous()).cpu()
        else:  # every site of a feature keeps all its channels: one matrix per feature
            owner = torch.tensor([k for k, (_, names) in enumerate(items) for _ in names])
            blocks = correlation(stack_rows([f for f, _ in items])).cpu()[owner]
        total += finite_sum(torch.linalg.eigvalsh(blocks)[:, 0] * (channels / size))
    return total


class ProbeProxy(Proxy):
    """A proxy computed from feature probes alone (one no-grad forward in train mode, hooks on every module).

    `from_probes` turns one network's probes into the score; `needed(channels, positions)` says which feature
    shapes can matter, so a space may skip the others. A space with one network per task can give every task's
    probes with its shared parts computed once (`SearchSpace.task_probes`).
    """

    modifies_network = False  # a no_grad forward in train mode with hooks: the weights, layout and mode stay

    def needed(self, channels: int, positions: int) -> bool:
        return True

    def from_probes(self, probes: list[FeatureProbe], seed: int, index: int) -> float:
        raise NotImplementedError

    @torch.no_grad()
    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return self.from_probes(candidate.probes(x, needed=self.needed), candidate.seed, candidate.index)

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("probes", self.needed)  # one probe forward for every probe proxy of the pass

    @torch.no_grad()
    def from_shared(self, ctx: SharedPass) -> float:
        return self.from_probes(ctx.probes(), ctx.candidate.seed, ctx.candidate.index)

    @torch.no_grad()
    def score_tasks(self, space: SearchSpace, index: int, seed: int,
                    inputs: Mapping[str, TaskBatch]) -> dict[str, float | Exception]:
        found, _ = score_tasks_together([self], space, index, seed, inputs)[0]
        if isinstance(found, Exception):
            raise found
        return found


@torch.no_grad()
def score_tasks_together(proxies: Sequence[ProbeProxy], space: SearchSpace, index: int, seed: int,
                         inputs: Mapping[str, TaskBatch]
                         ) -> list[tuple[dict[str, float | Exception] | Exception, float]]:
    """Every probe proxy's `score_tasks` of `index` from one `task_probes` (the features any of them needs), with
    the seconds each took: its own work plus an even share of the probes. Equal to each proxy's `score_tasks`: a
    proxy reads only the features it needs (MeCo skips those its `needed` leaves out: their terms are exactly 0).
    A failure of the probes, or of one proxy, is that proxy's result, as `score_tasks` raising it would be."""
    start = time.perf_counter()
    try:
        probes = space.task_probes(index, {t: x for t, (x, _, _) in inputs.items()}, seed,
                                   lambda channels, positions: any(p.needed(channels, positions) for p in proxies))
    except Exception as failure:
        share = (time.perf_counter() - start) / len(proxies)
        return [(failure, share) for _ in proxies]
    share = (time.perf_counter() - start) / len(proxies)
    results: list[tuple[dict[str, float | Exception] | Exception, float]] = []
    for proxy in proxies:
        begin = time.perf_counter()
        try:
            found: dict[str, float | Exception] | Exception = {
                t: p if isinstance(p, Exception) else proxy.from_probes(p, seed, index) for t, p in probes.items()}
        except Exception as failure:
            found = failure
        results.append((found, share + time.perf_counter() - begin))
    return results


@PROXIES.register("meco")
class MeCo(ProbeProxy):
    """MeCo: sum over hooked modules of the minimum eigenvalue of the feature correlation matrix."""

    name = "meco"

    def __init__(self, hooks: str = "reference", **_: object):
        self.keep = hook_filter(hooks)

    def needed(self, channels: int, positions: int) -> bool:
        return positions > channels  # a C x L feature with L - 1 < C has minimum eigenvalue exactly 0

    def from_probes(self, probes: list[FeatureProbe], seed: int, index: int) -> float:
        return meco_sum(probes, self.keep)


@PROXIES.register("meco_opt")
class MeCoOpt(ProbeProxy):
    """MeCo_opt: MeCo on `n` channels sampled per module, each term scaled by C/n."""

    name = "meco_opt"

    def __init__(self, n: int = 8, hooks: str = "reference", **_: object):
        self.n = check_int("proxy.n", n)
        self.keep = hook_filter(hooks)

    def needed(self, channels: int, positions: int) -> bool:
        return positions > min(channels, self.n)

    def from_probes(self, probes: list[FeatureProbe], seed: int, index: int) -> float:
        return meco_opt_sum(probes, self.keep, self.n, f"{seed}:{index}")


