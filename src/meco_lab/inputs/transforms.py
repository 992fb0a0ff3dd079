"""Per-dataset normalisation (NAS-Bench-201 statistics) and resizing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Mean and std per channel on the 0..255 scale, as in NAS-Bench-201 (divided by 255 before use).
NORM_STATS_255: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar100": ((129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
    "imagenet16": ((122.68, 116.66, 104.01), (63.22, 61.26, 65.09)),
}

# Side length of the images as stored.
NATIVE_SIZE: dict[str, int] = {"cifar10": 32, "cifar100": 32, "imagenet16": 16}


def norm_stats(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of dataset `name` on the 0..1 scale, float32 tensors of shape (3, 1, 1)."""
    mean, std = NORM_STATS_255[name]
    to_t = lambda v: (torch.tensor(v, dtype=torch.float64) / 255).to(torch.float32).view(3, 1, 1)  # noqa: E731
    return to_t(mean), to_t(std)


def normalize(images: torch.Tensor, name: str) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> float32, scaled to 0..1, then (x - mean) / std."""
    mean, std = norm_stats(name)
    return (images.to(torch.float32) / 255 - mean) / std


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear, antialiased resize of a float batch (N, 3, H, W) to (N, 3, size, size)."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
