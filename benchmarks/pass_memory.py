"""Peak memory of one pass of several proxies (`proxies.shared.SharedPass`) on the largest networks of a space, in one
process and one torch thread, architecture after architecture (what a scoring worker does).

    python benchmarks/pass_memory.py [--space nb101] [--archs 5] [--samples 16] [--proxies meco grasp ...]

The default proxies are the `benchmarks` sweep's 13 (paper Tables 2 and 9), on 16 seeded Gaussian inputs with seeded
labels (its batch). The architectures are the space's largest by parameter count. For each it prints the pass's
seconds, the resident memory after it and the process's peak so far (`ru_maxrss`). glibc's allocator matters here:
`MALLOC_MMAP_THRESHOLD_=4194304 python benchmarks/pass_memory.py` returns large freed blocks to the system
(docs/baselines.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch

from meco_lab.inputs import make_batch
from meco_lab.proxies import PROXIES
from meco_lab.proxies.cost import count_params
from meco_lab.proxies.shared import SharedPass
from meco_lab.spaces import SPACES, Candidate

BENCHMARKS = ("meco", "meco_opt", "grasp", "fisher", "grad_norm", "snip", "synflow", "l2_norm", "params", "zen",
              "jacov", "nwot", "zico")


def mib_now() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def mib_peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="nb101")
    parser.add_argument("--archs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--proxies", nargs="*", default=list(BENCHMARKS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = SPACES.get(args.space)()
    sizes = sorted(((count_params(space.network(i, 10, 0)), i) for i in range(len(space))), reverse=True)
    x, y = make_batch("random", samples=args.samples, seed=0)
    proxies = [PROXIES.get(name)() for name in args.proxies]
    print(f"{len(proxies)} proxies in one pass, {args.samples} samples, 1 thread, the {args.archs} largest "
          f"{args.space} networks; MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}; "
          f"before the first pass: {mib_now():.0f} MiB", flush=True)
    for params, index in sizes[: args.archs]:
        start = time.perf_counter()
        results = SharedPass(Candidate(space, index, 0), x, y).run(proxies)
        failed = [n for n, (v, _) in zip(args.proxies, results, strict=True) if isinstance(v, Exception)]
        print(f"arch {index:>6} ({params / 1e6:6.2f} M params): {time.perf_counter() - start:6.1f} s, "
              f"{mib_now():6.0f} MiB after, peak {mib_peak():6.0f} MiB{f'; failed: {failed}' if failed else ''}",
              flush=True)


if __name__ == "__main__":
    main()
