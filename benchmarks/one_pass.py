"""Seconds per architecture of each proxy alone and of all of them in one pass (`proxies.shared.SharedPass`), on the
same seeded NATS-TSS architectures and batch (16 CIFAR-10 images and labels: the proxies sweep's), one torch thread;
and whether both ways give the same scores.

    python benchmarks/one_pass.py [--archs 20] [--samples 16] [--proxies ntk grasp ...] [--seed 0]

"alone" is one `proxy.score` call per architecture (the network built each time); "in the pass" is the proxy's share
of one pass of all the listed proxies (its own work plus an even share of every shared result it used), and "pass" the
wall time of the whole pass. Alone and in the pass alternate architecture by architecture, so a load that changes
while it runs weighs on both alike.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

from meco_lab.inputs import make_batch
from meco_lab.proxies import PROXIES
from meco_lab.proxies.shared import SharedPass
from meco_lab.spaces import SPACES, Candidate

TABLE1 = ("l2_norm", "params", "flops", "meco", "meco_opt", "synflow", "nwot", "jacov", "zen", "fisher", "grad_norm",
          "snip", "zico", "nasi", "knas", "gradsign", "grasp", "ntk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="draws the architectures")
    parser.add_argument("--proxies", nargs="*", default=list(TABLE1))
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = SPACES.get("nats_tss")()
    indices = sorted(np.random.default_rng(args.seed).choice(len(space), args.archs, replace=False).tolist())
    x, y = make_batch("cifar10", samples=args.samples, seed=0)
    proxies = [PROXIES.get(name)() for name in args.proxies]
    alone = dict.fromkeys(args.proxies, 0.0)
    share = dict.fromkeys(args.proxies, 0.0)
    wall, worst, differ = 0.0, 0.0, 0
    print(f"{args.archs} seeded NATS-TSS archs (seed {args.seed}), {args.samples} CIFAR-10 images, 1 thread; "
          f"load average at start {os.getloadavg()[0]:.2f}", flush=True)
    for index in indices:
        candidate = Candidate(space, index, 0)
        single = {}
        for name, proxy in zip(args.proxies, proxies, strict=True):
            start = time.perf_counter()
            try:
                single[name] = float(proxy.score(candidate, x, y))
            except Exception as error:
                single[name] = error
            alone[name] += time.perf_counter() - start
        start = time.perf_counter()
        results = SharedPass(candidate, x, y).run(proxies)
        wall += time.perf_counter() - start
        for name, (value, seconds) in zip(args.proxies, results, strict=True):
            share[name] += seconds
            a = single[name]
            if isinstance(a, Exception) or isinstance(value, Exception):
                differ += type(a) is not type(value)
            elif not (math.isnan(a) and math.isnan(value)) and a != value:
                differ += not math.isclose(a, value, rel_tol=1e-9)
                worst = max(worst, abs(a - value) / max(abs(a), 1e-300))
    n = len(indices)
    print(f"{'proxy':10s} {'alone':>9s} {'in the pass':>12s}   (s/arch)")
    for name in args.proxies:
        print(f"{name:10s} {alone[name] / n:9.3f} {share[name] / n:12.3f}")
    print(f"{'total':10s} {sum(alone.values()) / n:9.3f} {wall / n:12.3f}   (the pass: wall time)")
    print(f"scores alone vs in the pass: {differ} differ beyond 1e-9 relative; "
          f"largest relative difference {worst:.1e}; "
          f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
