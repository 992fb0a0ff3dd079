"""Why MeCo anti-correlates with width on NATS-SSS: the minimum eigenvalue of a C x C correlation falls as C grows.

For random C x L feature maps (Gaussian, `draws` per point) this prints and plots the MeCo term (the
minimum eigenvalue of the Pearson correlation of all C channels) and the MeCo_opt term (n sampled
channels, scaled by C/n) against C in {8, ..., 64}, for each number of positions L = H x W.

    python -m meco_lab.sss_width [--positions 64 256] [--draws 20] [--n 8] [--seed 0] [--out docs/sss_min_eig.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from meco_lab.proxies.correlation import correlation

WIDTHS = tuple(range(8, 65, 8))


def min_eig_terms(channels: int, positions: int, draws: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(MeCo terms, MeCo_opt terms) of `draws` Gaussian `channels` x `positions` maps, one value per draw."""
    gen = torch.Generator().manual_seed(seed)
    maps = torch.randn(draws, channels, positions, generator=gen)
    full = torch.linalg.eigvalsh(correlation(maps))[:, 0]
    keep = min(channels, n)
    rows = torch.stack([torch.randperm(channels, generator=gen)[:keep] for _ in range(draws)])
    sampled = correlation(maps[torch.arange(draws)[:, None], rows])
    opt = torch.linalg.eigvalsh(sampled)[:, 0] * (channels / keep)
    return full.numpy(), opt.numpy()


def width_table(positions: list[int], draws: int, n: int, seed: int) -> dict[int, dict[str, np.ndarray]]:
    """Per L: mean and std over draws of both terms at every width (arrays aligned with WIDTHS)."""
    out = {}
    for length in positions:
        terms = [min_eig_terms(c, length, draws, n, seed + c) for c in WIDTHS]
        out[length] = {
            "meco_mean": np.array([t[0].mean() for t in terms]),
            "meco_std": np.array([t[0].std() for t in terms]),
            "opt_mean": np.array([t[1].mean() for t in terms]),
            "opt_std": np.array([t[1].std() for t in terms]),
        }
    return out


def plot(table: dict[int, dict[str, np.ndarray]], n: int, draws: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for length, row in table.items():
        axes[0].errorbar(WIDTHS, row["meco_mean"], yerr=row["meco_std"], marker="o", capsize=3, label=f"L = {length}")
        axes[1].errorbar(WIDTHS, row["opt_mean"], yerr=row["opt_std"], marker="o", capsize=3, label=f"L = {length}")
    axes[0].set_title("MeCo term: min eig of the C x C correlation", fontsize=10)
    axes[1].set_title(f"MeCo_opt term: min eig of {n} sampled channels x C/{n}", fontsize=10)
    for ax in axes:
        ax.set_xlabel("channels C")
        ax.set_xticks(WIDTHS)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    axes[0].set_ylabel(f"mean ± std over {draws} Gaussian C x L maps")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
