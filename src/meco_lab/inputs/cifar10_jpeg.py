"""Loader for the full CIFAR-10 as JPEG bytes (`cifar10_all60k_jpeg_bytes.npz`; lossy, quality ~75)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from meco_lab.core.errors import ConfigError

SPLIT_CODE = {"train": 0, "test": 1}
KEYS = ("jpeg_bytes", "offsets", "labels", "split")
ALLOWED = "the CIFAR-10 JPEG archive .npz (arrays jpeg_bytes, offsets, labels, split)"


def load_cifar10_jpeg(
    npz_path: str | os.PathLike[str], split: str = "train", indices: Sequence[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode images of `split` with Pillow: uint8 (N, 3, 32, 32) and labels int64 (N,).

    Order is the file's (sorted by label, then file number in the class). `indices` picks positions
    inside the split to decode (default: all of it).
    """
    if split not in SPLIT_CODE:
        raise ConfigError("data.split", split, list(SPLIT_CODE))
    try:
        with np.load(npz_path) as d:
            if not set(KEYS) <= set(d.files):
                raise ConfigError("data.root", str(npz_path), ALLOWED)
            blob, offsets, labels, splits = (d[k] for k in KEYS)
    except (OSError, ValueError) as err:
        raise ConfigError("data.root", str(npz_path), ALLOWED) from err
    rows = np.flatnonzero(splits == SPLIT_CODE[split])
    if indices is not None:
        rows = rows[np.asarray(indices, dtype=np.int64)]
    images = np.empty((len(rows), 32, 32, 3), dtype=np.uint8)
    for j, i in enumerate(rows):
        with Image.open(io.BytesIO(blob[offsets[i] : offsets[i + 1]].tobytes())) as im:
            images[j] = np.asarray(im.convert("RGB"))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(labels[rows].astype(np.int64))


def count_cifar10_jpeg(npz_path: str | os.PathLike[str], split: str) -> int:
    """Number of images of `split` in the archive, without decoding."""
    if split not in SPLIT_CODE:
        raise ConfigError("data.split", split, list(SPLIT_CODE))
    try:
        with np.load(npz_path) as d:
            return int((d["split"] == SPLIT_CODE[split]).sum())
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError("data.root", str(npz_path), ALLOWED) from err
