"""MeCo and MeCo_opt (Jiang, Wang, Bie; NeurIPS 2023): minimum eigenvalue of feature correlation.

For each hooked module, take the first sample of its output (C x H x W), flatten it to C x HW, form
the C x C Pearson correlation matrix (NaN/inf entries set to 0) and take its minimum eigenvalue; MeCo
is the sum over modules, dropping NaN/inf terms. Reference: github.com/HamsterMimi/MeCo,
`correlation/NAS_Bench_201.py::get_score`.
"""

from __future__ import annotations

import random
from collections import defaultdict

import torch

from meco_lab.errors import ConfigError
from meco_lab.proxies.base import PROXIES, Proxy
from meco_lab.proxies.correlation import correlation, min_eigenvalues
from meco_lab.proxies.hook_sets import hook_filter
from meco_lab.spaces.base import Candidate, FeatureProbe, Site


def first_sample(probe: FeatureProbe) -> torch.Tensor | None:
    """The probe's first sample as a C x L matrix (a view where the layout allows), or None for zero sites."""
    if probe.feature is None or probe.feature.dim() < 2:
        return None
    f = probe.feature[0]
    if f.dim() == 3 and f.stride(0) == 1:  # channels-last: C x L is the transpose of a contiguous L x C
        return f.permute(1, 2, 0).reshape(-1, f.shape[0]).mT
    return f.reshape(f.shape[0], -1)


def stack_rows(mats: list[torch.Tensor]) -> torch.Tensor:
    """Stack C x L matrices into K x C x L, copying each once in whichever layout it already has."""
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


def channel_sample(key: str, site: Site, channels: int, n: int) -> list[int]:
    """The n channels MeCo_opt keeps at `site`, seeded by the architecture key and the module name."""
    return random.Random(f"{key}/{site.name}").sample(range(channels), n)


def meco_opt_sum(probes: list[FeatureProbe], keep, n: int, key: str) -> float:
    """MeCo_opt: per kept site, the minimum eigenvalue over n sampled channels, scaled by C/n.

    Each site draws its own channels, as each hook does in the reference. When C <= n every channel
    is kept and the term is the plain MeCo term (scale C/C = 1).
    """
    subs: dict[tuple[int, int], list[torch.Tensor]] = defaultdict(list)
    scales: dict[tuple[int, int], list[float]] = defaultdict(list)
    for probe in probes:
        sites = [site for site in probe.sites if keep(site)]
        f = first_sample(probe) if sites else None
        if f is None:
            continue
        channels, length = f.shape
        rows = correlation(f)  # C x C; a channel subset's correlation is the sub-matrix
        for site in sites:
            if channels > n:
                idx = torch.tensor(channel_sample(key, site, channels, n))
                sub, scale = rows[idx][:, idx], channels / n
            else:
                sub, scale = rows, 1.0
            subs[(sub.shape[0], length)].append(sub)
            scales[(sub.shape[0], length)].append(scale)
    total = 0.0
    for (size, length), mats in subs.items():
        if length - 1 < size:
            continue
        mins = min_eigenvalues(torch.stack(mats).cpu(), length)
        total += finite_sum(mins * torch.tensor(scales[(size, length)], dtype=torch.float64))
    return total


@PROXIES.register("meco")
class MeCo(Proxy):
    """MeCo: sum over hooked modules of the minimum eigenvalue of the feature correlation matrix."""

    name = "meco"

    def __init__(self, hooks: str = "reference", **_: object):
        self.keep = hook_filter(hooks)

    @torch.no_grad()
    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        # a C x L feature with L - 1 < C has minimum eigenvalue exactly 0: the space may skip it
        return meco_sum(candidate.probes(x, needed=lambda c, positions: positions > c), self.keep)


@PROXIES.register("meco_opt")
class MeCoOpt(Proxy):
    """MeCo_opt: MeCo on `n` channels sampled per module, each term scaled by C/n."""

    name = "meco_opt"

    def __init__(self, n: int = 8, hooks: str = "reference", **_: object):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError("proxy.n", n, "an integer >= 1")
        self.n = n
        self.keep = hook_filter(hooks)

    @torch.no_grad()
    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        key = f"{candidate.seed}:{candidate.index}"
        needed = lambda c, positions: positions > min(c, self.n)  # noqa: E731
        return meco_opt_sum(candidate.probes(x, needed=needed), self.keep, self.n, key)


