"""Where ntk's time goes: torch.profiler over `SharedPass.ntk_matrix` (the N backward passes of TE-NAS's train-mode NTK
over the shared forward) on seeded NATS-TSS architectures, one torch thread; the forwards run before profiling.

    python benchmarks/ntk_profile.py [--archs 6] [--samples 16] [--rows 12]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from meco_lab.inputs import make_batch
from meco_lab.proxies.shared import SharedPass
from meco_lab.spaces import SPACES, Candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=6)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--rows", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = SPACES.get("nats_tss")()
    indices = sorted(np.random.default_rng(0).choice(len(space), args.archs, replace=False).tolist())
    x, y = make_batch("cifar10", samples=args.samples, seed=0)
    passes = []
    for index in indices:
        ctx = SharedPass(Candidate(space, index, 0), x, y)
        ctx.want("forward", "graph")
        ctx.forward()
        passes.append(ctx)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for ctx in passes:
            ctx.ntk_matrix()
    wall = time.perf_counter() - start
    print(f"ntk's {args.samples} backward passes on {args.archs} seeded NATS-TSS archs (seed 0), 1 thread: "
          f"{wall / args.archs:.3f} s/arch under the profiler")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
