"""The minimum eigenvalue of a C x C Pearson correlation against the channel count C, for Gaussian C x L maps:
why MeCo anti-correlates with width on NATS-SSS and MeCo_opt does not (`python -m meco_lab.sss_width`)."""

from __future__ import annotations

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
