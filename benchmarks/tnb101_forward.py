"""Forward time of TransNAS-Bench-101 encoders and task heads (CPU, 1 thread, batch 1, eval mode, no grad).

Usage: python benchmarks/tnb101_forward.py [--archs 64-41414-3_33_333 64-41414-basic] [--repeats 5]

Prints, per arch: the encoder on one 256 x 256 image, the encoder on the 9 jigsaw tiles (9 calls of 64 x 64),
and each head on the encoder output; median (and min) of ``repeats`` timed runs after one warm-up run, and the
FLOPs by NASLib's (tensorwatch) rules (transposed convs count 0 there, so dense heads' FLOPs are understated).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from meco_lab.spaces.tnb101 import (
    TASKS,
    build_decoder,
    build_encoder,
    decoder_sizes,
    encoder_sizes,
    parse_arch,
    task_spec,
)
from meco_lab.spaces.tnb101.network import jigsaw_concat


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", nargs="+", default=["64-41414-3_33_333", "64-41414-basic"])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch 1, eval, no_grad")
    print(f"{'arch':<20} {'part':<36} {'input':<18} {'median ms':>10} {'min ms':>9} {'MFLOPs':>10}")
    for arch in args.archs:
        a = parse_arch(arch)
        enc = build_encoder(a).eval()
        x = torch.randn(1, 3, 256, 256)
        tiles = torch.rand(1, 9, 3, 64, 64)
        with torch.no_grad():
            feat = enc(x)
            tile_feat = jigsaw_concat([enc(tiles[:, i]) for i in range(9)])
            med, low = _time(lambda enc=enc, x=x: enc(x), args.repeats)
            _, f256, shape256 = encoder_sizes(a, 256, 256)
            _, f64, shape64 = encoder_sizes(a, 64, 64)
            print(f"{arch:<20} {'encoder':<36} {'1x3x256x256':<18} {med * 1e3:>10.2f} {low * 1e3:>9.2f} "
                  f"{f256 / 1e6:>10.1f}")
            med, low = _time(lambda enc=enc, tiles=tiles: [enc(tiles[:, i]) for i in range(9)], args.repeats)
            print(f"{arch:<20} {'encoder x 9 jigsaw tiles':<36} {'9 x 1x3x64x64':<18} {med * 1e3:>10.2f} "
                  f"{low * 1e3:>9.2f} {9 * f64 / 1e6:>10.1f}")
            for task in TASKS:
                dec = build_decoder(task, a).eval()
                inp = tile_feat if task == "jigsaw" else feat
                med, low = _time(lambda dec=dec, inp=inp: dec(inp), args.repeats)
                shape = "x".join(map(str, inp.shape))
                out = "x".join(map(str, task_spec(task).output_shape))
                dflops = decoder_sizes(task, a, shape64 if task == "jigsaw" else shape256)[1]
                print(f"{arch:<20} {'head ' + task + ' -> ' + out:<36} {shape:<18} {med * 1e3:>10.2f} "
                      f"{low * 1e3:>9.2f} {dflops / 1e6:>10.1f}")


if __name__ == "__main__":
    main()
