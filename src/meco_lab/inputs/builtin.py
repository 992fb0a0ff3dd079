"""The small built-in image sample shipped in `meco_lab/resources/inputs_sample.npz`."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import torch

SAMPLE_FILE = "inputs_sample.npz"
# dataset -> number of images in the sample (CIFAR: first 100 training images; ImageNet16: 120, derived)
SAMPLE_SIZES = {"cifar10": 100, "cifar100": 100, "imagenet16": 120}


@lru_cache(maxsize=1)
def _arrays() -> dict[str, np.ndarray]:
    path = resources.files("meco_lab") / "resources" / SAMPLE_FILE
    with resources.as_file(path) as p, np.load(p) as d:
        return {k: d[k] for k in d.files}


def load_builtin(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 (N, 3, H, W) and labels int64 (N,) of the built-in sample of `name`."""
    arrays = _arrays()
    x = torch.from_numpy(arrays[f"{name}_x"].copy())
    y = torch.from_numpy(arrays[f"{name}_y"].astype(np.int64))
    return x, y
