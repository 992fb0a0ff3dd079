"""Reading the pickled batch files of the original CIFAR / ImageNet16 distributions."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meco_lab.core.errors import ConfigError


def read_batch(path: Path) -> dict[str, Any]:
    """Unpickle one batch file; bytes keys (b'data') become str keys ('data').

    These files are pickles: only open dataset files from a source you trust.
    """
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise ConfigError("data.root", str(path), "a readable batch file of the original dataset") from err
    if not isinstance(entry, dict):
        raise ConfigError("data.root", str(path), "a batch file holding a dict with 'data' and labels")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in entry.items()}


def batch_images(entry: dict[str, Any], side: int, path: Path, root: object, allowed: str) -> np.ndarray:
    """The 'data' rows of a batch as uint8 (N, 3, side, side); ConfigError on a malformed file."""
    data = np.asarray(entry.get("data", np.zeros((0, 0))))
    if data.ndim != 2 or data.shape[1] != 3 * side * side:
        raise ConfigError("data.root", str(root), f"{allowed} ({path.name}: 'data' is not (N, {3 * side * side}))")
    return data.astype(np.uint8, copy=False).reshape(-1, 3, side, side)


Keep = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def read_labelled_batches(folder: Path, files: Sequence[str], side: int, label_key: str, root: object,
                          allowed: str, min_count: int | None, keep: Keep | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 (N, 3, side, side) and int64 labels of the batch `files` under `folder`, in order.

    Reading stops once `min_count` images are in (None: all files) or at the first missing file (a
    partial copy). `keep(x, y)` may filter or relabel each batch.
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for fname in files:
        path = folder / fname
        if not path.is_file():
            break
        entry = read_batch(path)
        x = batch_images(entry, side, path, root, allowed)
        y = np.asarray(entry.get(label_key, []), dtype=np.int64)
        if len(y) != len(x):
            raise ConfigError("data.root", str(root), f"{allowed} ({fname}: no '{label_key}')")
        x, y = keep(x, y) if keep else (x, y)
        xs.append(x)
        ys.append(y)
        if min_count is not None and sum(len(v) for v in xs) >= min_count:
            break
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))
