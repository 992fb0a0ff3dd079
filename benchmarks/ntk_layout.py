"""ntk (TE-NAS train mode) in channels-last against NCHW: seconds per architecture and float32 error.

For `--archs` seeded NATS-TSS architectures and `--samples` built-in CIFAR-10 images, one torch
thread, scores lambda_min / lambda_max in float64 (NCHW, the reference) and in float32 with each
memory layout (`proxy.layout`), then prints the relative error of each float32 score against float64
and the seconds per architecture of each layout (network build excluded, one backward per sample).

`--cache DIR`: instead, compares the ntk scores that `just sweep proxies` left in the score cache
under DIR in each layout (NCHW from before `proxy.layout`, channels-last after it) on the
architectures both scored: Spearman between the layouts, and each layout's rho against accuracy.

    python benchmarks/ntk_layout.py [--archs 12] [--samples 16] [--seed 1]
    python benchmarks/ntk_layout.py --cache outputs/cache/scores
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from meco_lab.core.config import compose_config
from meco_lab.inputs import make_batch
from meco_lab.proxies.baselines_common import channels_last, fresh_network
from meco_lab.proxies.gradient_kernels import ntk_matrix
from meco_lab.scoring.cache import cache_key
from meco_lab.scoring.plan import fingerprint, plan_run
from meco_lab.scoring.store import ScoreStore
from meco_lab.spaces import SPACES, Candidate
from meco_lab.sweeps.spec import load_sweep
from meco_lab.sweeps.trial import trial_overrides

LAYOUTS = ("contiguous", "channels_last")


def ntk_score(candidate: Candidate, x: torch.Tensor, layout: str, dtype: torch.dtype) -> tuple[float, float]:
    """(lambda_min / lambda_max, seconds) of the train-mode NTK in `layout` and `dtype`."""
    net, x = fresh_network(candidate, x).to(dtype), x.to(dtype)
    if layout == "channels_last":
        net, x = channels_last(net, x)
    start = time.perf_counter()
    eigenvalues = torch.linalg.eigvalsh(ntk_matrix(net, x))
    return float(eigenvalues[0] / eigenvalues[-1]), time.perf_counter() - start


def compare_cached(root: Path) -> None:
    """Spearman between the cached NCHW and channels-last ntk scores of the proxies sweep, and against accuracy."""
    spec = load_sweep("proxies", "full")
    config = compose_config(trial_overrides(spec, {"proxy": "ntk"}, spec.seeds[0]))
    nchw = {**config, "proxy": {k: v for k, v in config["proxy"].items() if k != "layout"}}
    stores = [ScoreStore(root / cache_key(c), fingerprint(c)).load() for c in (nchw, config)]
    both = stores[0].join(stores[1], on="index", suffix="_cl").drop_nans()
    index, old, new = (both[c].to_numpy() for c in ("index", "score", "score_cl"))
    print(f"ntk at 16 images, {len(both)} archs with a finite score in both layouts (cache {root})")
    print(f"  Spearman(NCHW, channels-last) = {spearmanr(old, new).statistic:.5f}")
    for dataset, accuracy in plan_run(config).truth.values.items():
        print(f"  rho against {dataset}: NCHW {spearmanr(old, accuracy[index]).statistic:.4f}, "
              f"channels-last {spearmanr(new, accuracy[index]).statistic:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1, help="seed of the architecture sample")
    parser.add_argument("--cache", type=Path, default=None, help="compare the cached scores of the proxies sweep")
    args = parser.parse_args()
    if args.cache is not None:
        compare_cached(args.cache)
        return
    torch.set_num_threads(1)
    space = SPACES.get("nats_tss")()
    indices = sorted(np.random.default_rng(args.seed).choice(len(space), args.archs, replace=False).tolist())
    x, _ = make_batch("cifar10", samples=args.samples, seed=0)
    errors: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
    seconds: dict[str, float] = dict.fromkeys(LAYOUTS, 0.0)
    print(f"ntk (train mode), {args.archs} seeded NATS-TSS archs, {args.samples} CIFAR-10 images, 1 thread")
    print(f"{'arch':>6} {'float64 score':>14} " + " ".join(f"{'rel err ' + layout:>22}" for layout in LAYOUTS))
    for i in indices:
        reference, _ = ntk_score(Candidate(space, i, 0), x, "contiguous", torch.float64)
        for layout in LAYOUTS:
            score, took = ntk_score(Candidate(space, i, 0), x, layout, torch.float32)
            errors[layout].append(abs(score - reference) / abs(reference))
            seconds[layout] += took
        print(f"{i:>6} {reference:>14.4e} " + " ".join(f"{errors[layout][-1]:>22.1e}" for layout in LAYOUTS))
    for layout in LAYOUTS:
        print(f"{layout:>14}: {seconds[layout] / len(indices):.3f} s/arch, relative error median "
              f"{statistics.median(errors[layout]):.1e}, max {max(errors[layout]):.1e}")


if __name__ == "__main__":
    main()
