"""Why MeCo anti-correlates with width on NATS-SSS: the minimum eigenvalue of a C x C correlation falls as C grows.

For random C x L feature maps (Gaussian, `draws` per point) this prints and plots the MeCo term (the
minimum eigenvalue of the Pearson correlation of all C channels) and the MeCo_opt term (n sampled
channels, scaled by C/n) against C in {8, ..., 64}, for each number of positions L = H x W.

    python -m meco_lab.sss_width [--positions 64 256] [--draws 20] [--n 8] [--seed 0] [--out docs/sss_min_eig.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from meco_lab.evaluation.width import WIDTHS, plot, width_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, nargs="+", default=[64, 256], help="L = H x W of the maps")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--n", type=int, default=8, help="MeCo_opt channels per map")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/sss_min_eig.png"))
    args = parser.parse_args(argv)
    for key, values, low in (("--positions", args.positions, 2), ("--draws", [args.draws], 1), ("--n", [args.n], 1)):
        if min(values) < low:
            parser.error(f"{key}={min(values)} is not allowed: expected integers >= {low}")
    table = width_table(args.positions, args.draws, args.n, args.seed)
    print(f"min eigenvalue of the Pearson correlation of Gaussian C x L maps, mean ± std over {args.draws} draws")
    print(f"{'L':>5} {'C':>4} {'MeCo term':>18} {f'MeCo_opt term (n={args.n})':>24}")
    for length, row in table.items():
        for k, c in enumerate(WIDTHS):
            meco = f"{row['meco_mean'][k]:.4f} ± {row['meco_std'][k]:.4f}"
            opt = f"{row['opt_mean'][k]:.4f} ± {row['opt_std'][k]:.4f}"
            print(f"{length:>5} {c:>4} {meco:>18} {opt:>24}")
    print(f"plot: {plot(table, args.n, args.draws, args.out)}")


if __name__ == "__main__":
    main()
