"""Exhaustive check: BUILT TransNAS-Bench-101 networks (meta device) against NASLib's params / FLOPs, every row.

The test suite checks every row with the closed form (`analytic_sizes`) and built networks on a sample; this
script builds the encoder of every arch in the shipped tables (plus each distinct head) and counts with
tensorwatch's hook rules, so the built modules themselves are checked against all rows. Takes minutes.

Usage: python scripts/check_tnb101_sizes.py [--limit N]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from importlib import resources

import polars as pl
import torch

from meco_lab.spaces.tnb101 import TASKS, build_decoder, build_encoder, parse_arch, task_spec, tensorwatch_counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="archs per space (default: all with sizes)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    failures = 0
    for space in ("micro", "macro"):
        ref = resources.files("meco_lab") / "resources" / f"tnb101_{space}.parquet"
        df = pl.read_parquet(io.BytesIO(ref.read_bytes()))
        df = df.filter(pl.any_horizontal(pl.col(f"params_{t}").is_not_null() for t in TASKS))
        if args.limit:
            df = df.head(args.limit)
        heads: dict[tuple, tuple[int, int]] = {}
        n_rows = 0
        t0 = time.time()
        for row in df.iter_rows(named=True):
            a = parse_arch(row["arch"])
            with torch.device("meta"):
                enc = build_encoder(a).eval()
            enc_counts = {}
            for size in (256, 64):
                x = torch.empty((1, 3, size, size), device="meta")
                p, f = tensorwatch_counts(enc, x)
                enc_counts[size] = (p, f, tuple(enc(x).shape[1:]))
            for task in TASKS:
                if row[f"params_{task}"] is None:
                    continue
                spec = task_spec(task)
                size = spec.input_shape[-1]
                ep, ef, (c, h, w) = enc_counts[size]
                pieces = spec.input_shape[0] if task == "jigsaw" else 1
                key = (task, c, h, w, a.n_stride_stages)
                if key not in heads:
                    with torch.device("meta"):
                        dec = build_decoder(task, a)
                    heads[key] = tensorwatch_counts(dec, torch.empty((1, c * pieces, h, w), device="meta"))
                dp, df_ = heads[key]
                ok_p = ep + dp == row[f"params_{task}"]
                ok_f = float(f"{(ef + df_) / 1e6:.10g}") == row[f"flops_{task}"]
                n_rows += 1
                if not (ok_p and ok_f):
                    failures += 1
                    print(f"MISMATCH {row['arch']} {task}: params {ep + dp} vs {row[f'params_{task}']}, "
                          f"MFLOPs {(ef + df_) / 1e6} vs {row[f'flops_{task}']}", flush=True)
        print(f"{space}: {df.height} archs, {n_rows} (arch, task) rows, {len(heads)} distinct heads, "
              f"{failures} mismatches so far, {time.time() - t0:.0f} s", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
