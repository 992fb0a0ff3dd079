"""Loaders for the CIFAR-10 / CIFAR-100 "python version" archives (as extracted by users)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from meco_lab.core.errors import ConfigError
from meco_lab.inputs._pickle_io import read_labelled_batches

# dataset -> (sub-folder of the archive, {split: batch files in reading order}, label key)
LAYOUT: dict[str, tuple[str, dict[str, list[str]], str]] = {
    "cifar10": (
        "cifar-10-batches-py",
        {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
        "labels",
    ),
    "cifar100": ("cifar-100-python", {"train": ["train"], "test": ["test"]}, "fine_labels"),
}


def _allowed(name: str, split: str) -> str:
    folder, files, _ = LAYOUT[name]
    pretty = "CIFAR-10" if name == "cifar10" else "CIFAR-100"
    return (
        f"a folder holding {folder}/ ({pretty} python version, with {', '.join(files[split])}) "
        "or that folder itself, or null for the built-in sample"
    )


def find_folder(name: str, root: str | os.PathLike[str], split: str) -> Path:
    """The folder holding the batch files of `split`: `root/<archive folder>` or `root` itself."""
    folder, files, _ = LAYOUT[name]
    base = Path(root)
    for cand in (base / folder, base):
        if (cand / files[split][0]).is_file():
            return cand
    raise ConfigError("data.root", str(root), _allowed(name, split))


def load_cifar(
    name: str, root: str | os.PathLike[str], split: str = "train", min_count: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,) of `split`, in file order.

    Batch files are read in order; reading stops once `min_count` images are in (None: all files)
    or at the first missing file.
    """
    if split not in LAYOUT[name][1]:
        raise ConfigError("data.split", split, list(LAYOUT[name][1]))
    folder = find_folder(name, root, split)
    _, files, label_key = LAYOUT[name]
    return read_labelled_batches(folder, files[split], 32, label_key, root, _allowed(name, split), min_count)


def load_cifar10(
    root: str | os.PathLike[str], split: str = "train", min_count: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 python version: `data_batch_1..5` (train) or `test_batch` (test)."""
    return load_cifar("cifar10", root, split, min_count)


def load_cifar100(
    root: str | os.PathLike[str], split: str = "train", min_count: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-100 python version: `train` or `test`, fine labels 0..99."""
    return load_cifar("cifar100", root, split, min_count)
