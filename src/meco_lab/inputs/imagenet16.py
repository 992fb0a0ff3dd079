"""Loader for ImageNet16-120 as distributed for NAS-Bench-201 (downsampled ImageNet 16x16 pickles)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from meco_lab.errors import ConfigError
from meco_lab.inputs._pickle_io import batch_images, read_batch

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
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for fname in FILES[split]:
        path = folder / fname
        if not path.is_file():  # a partial copy: use the files present up to the first missing one
            break
        entry = read_batch(path)
        x = batch_images(entry, 16, path, root, _allowed(split))
        y = np.asarray(entry.get("labels", []), dtype=np.int64)
        if len(y) != len(x):
            raise ConfigError("data.root", str(root), _allowed(split) + f" ({fname}: no 'labels')")
        keep = (y >= 1) & (y <= NUM_KEPT)
        xs.append(x[keep])
        ys.append(y[keep] - 1)
        if min_count is not None and sum(len(v) for v in xs) >= min_count:
            break
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))
