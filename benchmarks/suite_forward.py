"""Forward time of the NAS-Bench-Suite-Zero networks: one thread, batch 1, a typical architecture of each.

    python benchmarks/suite_forward.py [--repeats 20]

"Typical" = the architecture with the median parameter count in the shipped table (per task for the
NB360 skeletons). Eval-mode forward of random input under torch.no_grad(), after 3 warm-up calls; prints
the median of `--repeats` calls as a markdown table (also the train-mode forward with a MeCo-style hook
on every leaf module, which is what a proxy pays).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from importlib.resources import files

import polars as pl
import torch
from torch import nn

from meco_lab.spaces.darts import nb301
from meco_lab.spaces.model_stats import model_stats
from meco_lab.spaces.nb101 import Nb101Network, parse_cell
from meco_lab.spaces.nb360 import SKELETONS, TASKS, build_network


def table(name: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(files("meco_lab").joinpath("resources", name).read_bytes()))


def median_row(df: pl.DataFrame, col: str) -> dict:
    return df.sort(col).row(df.height // 2, named=True)


def time_forward(net: nn.Module, shape: tuple[int, ...], repeats: int, hooks: bool) -> float:
    """Median seconds of one forward; `hooks`: train mode with a hook keeping every leaf module's sample 0."""
    x = torch.randn(shape)
    kept: list[torch.Tensor] = []
    handles = []
    if hooks:
        net.train()
        for m in net.modules():
            if next(m.children(), None) is None:
                handles.append(m.register_forward_hook(lambda _m, _args, out: kept.append(out[0])))
    else:
        net.eval()
    times = []
    with torch.no_grad():
        for i in range(3 + repeats):
            kept.clear()
            t = time.perf_counter()
            net(x)
            if i >= 3:
                times.append(time.perf_counter() - t)
    for h in handles:
        h.remove()
    return statistics.median(times)


def cases():
    """(network, task, builder, input shape) of a median-size architecture of each table."""
    r = median_row(table("nb101.parquet").filter(pl.col("flops").is_not_null()), "params")
    yield "NB101", "cifar10", lambda: Nb101Network(parse_cell(r["adjacency"], r["ops"])), (1, 3, 32, 32)
    g = median_row(table("nb301.parquet"), "params")["genotype"]
    yield "NB301", "cifar10", lambda: nb301.build_nb301(g), (1, 3, 32, 32)
    nb360 = table("nb360.parquet")
    for skeleton in SKELETONS:
        for task, spec in TASKS.items():
            a = median_row(nb360.filter(pl.col("skeleton") == skeleton), f"params_{task}")["arch"]
            yield skeleton, task, (lambda s=skeleton, a=a, t=task: build_network(s, a, t)), (1, *spec.input_shape)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread, batch 1, median of {args.repeats} calls\n")
    print("| network | task | input | params | MFLOPs | eval forward (ms) | train forward + leaf hooks (ms) |")
    print("|---|---|---|---|---|---|---|")
    for name, task, build, shape in cases():
        net = build()
        stats = model_stats(net, shape)
        eval_ms = 1e3 * time_forward(net, shape, args.repeats, hooks=False)
        hook_ms = 1e3 * time_forward(net, shape, args.repeats, hooks=True)
        print(f"| {name} | {task} | {'x'.join(map(str, shape[1:]))} | {stats.params:,} | {stats.flops / 1e6:.1f} "
              f"| {eval_ms:.1f} | {hook_ms:.1f} |")


if __name__ == "__main__":
    main()
