"""Reference re-implementation vs the engine on a fixed set of NATS-Bench TSS architectures, on one core.

The reference builds each network as an nn.Module and hooks every module with `torch.corrcoef` and
`torch.linalg.eig` (float32), as the official MeCo code does. The engine is `meco_lab`'s MeCo proxy.
Both see the same weights and input. Prints per-architecture times, throughputs, their ratio and the
largest score difference.

    python benchmarks/bench_engine.py [--archs 200] [--proxy meco|meco_opt] [--size 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from meco_lab.inputs import make_input
from meco_lab.proxies import PROXIES
from meco_lab.proxies.reference import reference_meco
from meco_lab.spaces import SPACES, Candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=200)
    parser.add_argument("--proxy", choices=["meco", "meco_opt"], default="meco")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    space = SPACES.get("nats_tss")()
    indices = sorted(np.random.default_rng(0).choice(len(space), args.archs, replace=False).tolist())
    x = make_input("random", size=args.size, seed=args.seed)
    proxy = PROXIES.get(args.proxy)()
    n = 8 if args.proxy == "meco_opt" else None

    build = score = 0.0
    reference = []
    for i in indices:
        t0 = time.perf_counter()
        net = Candidate(space, i, args.seed).network()
        t1 = time.perf_counter()
        reference.append(reference_meco(net, x, n=n, key=f"{args.seed}:{i}"))
        t2 = time.perf_counter()
        build, score = build + t1 - t0, score + t2 - t1
    start = time.perf_counter()
    engine = [proxy.score(Candidate(space, i, args.seed), x) for i in indices]
    fast = time.perf_counter() - start

    ref_total = build + score
    ref_arr, eng_arr = np.array(reference), np.array(engine)
    rel = np.abs(eng_arr - ref_arr) / np.maximum(np.abs(ref_arr), 1e-12)
    print(f"{args.proxy}, {len(indices)} NATS-TSS archs, input 1x3x{args.size}x{args.size}, torch threads = 1")
    print(f"reference : {1e3 * ref_total / len(indices):7.2f} ms/arch (build {1e3 * build / len(indices):.2f} + "
          f"score {1e3 * score / len(indices):.2f})  {len(indices) / ref_total:8.1f} arch/s")
    print(f"engine    : {1e3 * fast / len(indices):7.2f} ms/arch                        "
          f"{len(indices) / fast:8.1f} arch/s")
    print(f"speed-up  : {ref_total / fast:.1f}x")
    print(f"scores    : max |engine - reference| = {np.abs(eng_arr - ref_arr).max():.2e}, "
          f"median relative {np.median(rel):.1e}, Spearman(engine, reference) = "
          f"{np.corrcoef(np.argsort(np.argsort(eng_arr)), np.argsort(np.argsort(ref_arr)))[0, 1]:.6f}")


if __name__ == "__main__":
    main()
