"""Loader for ImageNet16-120 as distributed for NAS-Bench-201 (downsampled ImageNet 16x16 pickles)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from meco_lab.core.errors import ConfigError
from meco_lab.inputs._pickle_io import read_labelled_batches

FILES: dict[str, list[str]] = {
    "train": [f"train_data_batch_{i}" for i in range(1, 11)],
    "val": ["val_data"],
    "test": ["val_data"],  # NAS-Bench-201 tests ImageNet16-120 on the ImageNet16 validation files
}
NUM_KEPT = 120  # ImageNet16-120 = original 1-based labels 1..120


def _allowed(split: str) -> str:
    return (
        f"a folder holding the ImageNet16 files ({', '.join(FILES[split])}), directly or in ImageNet16/, "
        "or null for the built-in sample"
    )


def find_folder(root: str | os.PathLike[str], split: str) -> Path:
    """The folder holding the ImageNet16 batch files of `split`: `root` or `root/ImageNet16`."""
    base = Path(root)
    for cand in (base, base / "ImageNet16"):
        if (cand / FILES[split][0]).is_file():
            return cand
    raise ConfigError("data.root", str(root), _allowed(split))


def load_imagenet16(
    root: str | os.PathLike[str], split: str = "train", min_count: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 (N, 3, 16, 16) and labels int64 0..119 of the ImageNet16-120 classes, in file order.

    Images with original label > 120 are dropped. Files are read in order until `min_count` images of
    the 120 classes are in (None: all files of the split) or up to the first missing file.
    """
    if split not in FILES:
        raise ConfigError("data.split", split, list(FILES))
    folder = find_folder(root, split)

    def keep_120(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kept = (y >= 1) & (y <= NUM_KEPT)
        return x[kept], y[kept] - 1

    return read_labelled_batches(folder, FILES[split], 16, "labels", root, _allowed(split), min_count, keep_120)
