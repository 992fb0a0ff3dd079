"""Baseline proxies against published NB201 scores over the whole NATS-Bench TSS space, and their cost.

`agreement` (default): scores all 15,625 architectures (seed 0) with `params`, `synflow` (data-free)
and `nwot` (64 real CIFAR-10 images of the built-in sample, as FreeREA's batch of 64), in
`--workers` processes of one torch thread each, writing one .npz per chunk under `--out` (a rerun
resumes), then compares with the published tables in ../shared/data/zero_cost/ (FreeREA: params_M,
synflow, naswot; BayesWatch/nas-without-training: params_M) and prints the agreement.

`timing`: seconds per architecture of every baseline proxy (network build included, one thread)
on `--archs` seeded architectures with `--samples` CIFAR-10 images and their labels.

    python benchmarks/agreement.py [--workers 2] [--limit N] [--out outputs/agreement/samples64]
    python benchmarks/agreement.py timing [--archs 50] [--samples 64]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import polars as pl
import torch
from scipy.stats import kendalltau, spearmanr

from meco_lab.benchmarks.truth import load_params, load_table_truth
from meco_lab.inputs import make_batch
from meco_lab.proxies import PROXIES
from meco_lab.spaces import SPACES, Candidate

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "zero_cost"
AGREEMENT_PROXIES = ("params", "synflow", "nwot")
TIMED = ("params", "flops", "l2_norm", "synflow", "snip", "grad_norm", "fisher", "grasp", "jacov", "nwot", "zen",
         "zico", "gradsign", "knas", "nasi", "ntk", "ntk:eval")


def score_chunk(indices: list[int], samples: int) -> dict[str, np.ndarray]:
    torch.set_num_threads(1)
    space = SPACES.get("nats_tss")()
    x, _ = make_batch("cifar10", samples=samples, seed=0)
    blank = torch.zeros(1, 3, 32, 32)
    out: dict[str, list[float]] = {p: [] for p in AGREEMENT_PROXIES}
    seconds = {p: 0.0 for p in AGREEMENT_PROXIES}
    for i in indices:
        candidate = Candidate(space, i, 0)
        for name, data in (("params", blank), ("synflow", blank), ("nwot", x)):
            start = time.perf_counter()
            out[name].append(PROXIES.get(name)().score(candidate, data))
            seconds[name] += time.perf_counter() - start
    return {"index": np.array(indices), **{p: np.array(v) for p, v in out.items()},
            **{f"seconds_{p}": np.array(s) for p, s in seconds.items()}}


def run_scores(indices: list[int], workers: int, out: Path, chunk: int, samples: int) -> dict[str, np.ndarray]:
    out.mkdir(parents=True, exist_ok=True)
    parts = [indices[i : i + chunk] for i in range(0, len(indices), chunk)]
    todo = [(k, p) for k, p in enumerate(parts) if not (out / f"part_{p[0]:05d}_{p[-1]:05d}.npz").exists()]
    print(f"{len(parts) - len(todo)} of {len(parts)} chunks already scored in {out}", flush=True)
    start, done = time.perf_counter(), 0
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(score_chunk, p, samples): p for _, p in todo}
        for future in as_completed(futures):
            p = futures[future]
            np.savez(out / f"part_{p[0]:05d}_{p[-1]:05d}.npz", **future.result())
            done += len(p)
            rate = done / (time.perf_counter() - start)
            print(f"  {done} archs scored, {rate:.2f} arch/s", flush=True)
    loaded = [dict(np.load(f)) for f in sorted(out.glob("part_*.npz"))]
    merged = {k: np.concatenate([d[k] for d in loaded if d[k].ndim]) for k in ("index", *AGREEMENT_PROXIES)}
    merged.update({k: sum(float(d[k]) for d in loaded) for k in loaded[0] if k.startswith("seconds_")})
    order = np.argsort(merged["index"])
    merged.update({k: merged[k][order] for k in ("index", *AGREEMENT_PROXIES)})
    keep = np.isin(merged["index"], indices)
    return {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in merged.items()}


def rho(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[ok], b[ok]).statistic), float(kendalltau(a[ok], b[ok]).statistic), int(ok.sum())


def agreement(args: argparse.Namespace) -> None:
    space = SPACES.get("nats_tss")()
    indices = list(range(len(space)))[: args.limit]
    wall = time.perf_counter()
    out = Path(args.out) if args.out else REPO / "outputs" / "agreement" / f"samples{args.samples}"
    s = run_scores(indices, args.workers, out, args.chunk, args.samples)
    wall = time.perf_counter() - wall
    idx = s["index"]
    freerea = pl.read_csv(SHARED / "nb201_freerea_proxies_cifar10.csv").sort("index")
    bayes = pl.read_csv(SHARED / "nb201_naswot_bayeswatch_cifar10.csv").sort("index")
    acc = load_table_truth("test").values["cifar10"][idx]
    n = len(idx)
    print(f"\nNATS-Bench TSS, {n} architectures, seed 0, CIFAR-10 heads; nwot on {args.samples} CIFAR-10 images")

    count = np.rint(s["params"] * 1e6).astype(np.int64)
    print("\nparams (millions)")
    exact = load_params("cifar10")[idx]
    print(f"  equal to the built-in exact counts (load_params):     {np.sum(count == exact)} / {n}")
    print(f"  equal to FreeREA params_M (float-exact):              "
          f"{np.sum(s['params'] == freerea['params_M'].to_numpy()[idx])} / {n}")
    bw = np.rint(bayes["params_M"].to_numpy()[idx] * 1e6).astype(np.int64)
    fr = np.rint(freerea["params_M"].to_numpy()[idx] * 1e6).astype(np.int64)
    print(f"  equal to BayesWatch params_M (as counts):             {np.sum(count == bw)} / {n}"
          f"  (the {np.sum(count != bw)} others differ from FreeREA too: {np.all(bw[count != bw] != fr[count != bw])})")

    for ours, theirs in (("synflow", "synflow"), ("nwot", "naswot")):
        a, b = s[ours], freerea[theirs].to_numpy()[idx]
        r, t, k = rho(a, b)
        same_nonfinite = np.array_equal(np.isfinite(a), np.isfinite(b))
        print(f"\n{ours} vs FreeREA {theirs}")
        print(f"  Spearman {r:.4f}, Kendall {t:.4f} over {k} archs with finite scores in both "
              f"({n - int(np.isfinite(a).sum())} non-finite here, {n - int(np.isfinite(b).sum())} there, "
              f"same archs: {same_nonfinite})")
        print(f"  Spearman with CIFAR-10 test accuracy: ours {rho(a, acc)[0]:.4f}, FreeREA's {rho(b, acc)[0]:.4f}")
    a, b = s["nwot"], bayes["naswot_v1_score"].to_numpy()[idx]
    print(f"\nnwot vs BayesWatch naswot_v1_score (the paper's v1 score, a different definition): "
          f"Spearman {rho(a, b)[0]:.4f} over {rho(a, b)[2]} archs")

    print(f"\nscoring time: {wall:.0f} s wall with {args.workers} workers; per architecture (one thread): "
          + ", ".join(f"{p} {s['seconds_' + p] / n * 1e3:.1f} ms" for p in AGREEMENT_PROXIES))


def timing(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    space = SPACES.get("nats_tss")()
    indices = sorted(np.random.default_rng(0).choice(len(space), args.archs, replace=False).tolist())
    x, y = make_batch("cifar10", samples=args.samples, seed=0)
    print(f"seconds per architecture, {args.archs} seeded NATS-TSS archs, {args.samples} CIFAR-10 images, 1 thread")
    for spec in args.proxies or TIMED:
        name, _, mode = spec.partition(":")
        proxy = PROXIES.get(name)(**({"mode": mode} if mode else {}))
        start = time.perf_counter()
        for i in indices:
            proxy.score(Candidate(space, i, 0), x, y)
        seconds = (time.perf_counter() - start) / len(indices)
        print(f"  {spec:10s} {seconds:8.3f} s/arch", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=["agreement", "timing"], default="agreement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N architectures only")
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--samples", type=int, default=64, help="CIFAR-10 images (nwot; every data proxy in timing)")
    parser.add_argument("--out", default=None, help="default: outputs/agreement/samples<samples>")
    parser.add_argument("--archs", type=int, default=50, help="timing: architectures")
    parser.add_argument("--proxies", nargs="*", help="timing: proxies (name or name:mode), default all baselines")
    args = parser.parse_args()
    agreement(args) if args.mode == "agreement" else timing(args)


if __name__ == "__main__":
    main()
