"""A plain re-implementation of the official MeCo scorer, for fidelity tests and the benchmark.

Hooks every module of a built network and, per hook, runs `torch.corrcoef` and the general
`torch.linalg.eig` in float32, exactly as github.com/HamsterMimi/MeCo `correlation/NAS_Bench_201.py`.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from meco_lab.proxies.meco import channel_sample
from meco_lab.spaces.base import Site


def reference_meco(net: nn.Module, x: torch.Tensor, n: int | None = None, key: str = "", keep=None,
                   dtype: torch.dtype = torch.float32) -> float:
    """MeCo (n=None) or MeCo_opt (n channels, scaled by C/n) of `net(x)`, the reference way.

    `dtype=float32` is the official code; `float64` runs the same algorithm on the same features with
    less rounding (float32 `eig` returns noise of about 1e-6 where the exact minimum is 0).
    """
    results: list[torch.Tensor] = []

    def make_hook(site: Site):
        def hook(_module, _inputs, output):
            fea = output[0].detach()  # first sample of a tensor output, first element of a tuple
            fea = fea.reshape(fea.shape[0], -1).to(dtype)
            scale = 1.0
            channels = fea.shape[0]
            if n is not None and channels > n:
                fea = fea[channel_sample(key, site, channels, n)]
                scale = channels / n
            with warnings.catch_warnings():  # one observation per row (pooled / linear outputs): NaN, as intended
                warnings.simplefilter("ignore", UserWarning)
                corr = torch.corrcoef(fea)
            corr[torch.isnan(corr)] = 0
            corr[torch.isinf(corr)] = 0
            values = torch.linalg.eig(corr)[0]
            results.append(torch.min(torch.real(values)) * scale)

        return hook

    handles = []
    for name, module in net.named_modules():
        site = Site(name, type(module).__name__, next(module.children(), None) is None)
        if keep is None or keep(site):
            handles.append(module.register_forward_hook(make_hook(site)))
    try:
        with torch.no_grad():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    values = torch.stack(results) if results else torch.zeros(0)
    return float(values[torch.isfinite(values)].sum())
