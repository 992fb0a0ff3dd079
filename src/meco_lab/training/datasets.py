"""Training datasets and their locations, checked without loading Lightning (so bad input fails fast)."""

from __future__ import annotations

import os
from pathlib import Path

from meco_lab.core.errors import ConfigError
from meco_lab.inputs import DATASET_CLASSES

TRUTH_DATASET = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "ImageNet16-120"}
"""Training dataset -> its column in the built-in NATS-Bench table."""
SIDE = {"cifar10": 32, "cifar100": 32, "imagenet16": 16}
EXPECTED = {
    "cifar10": "a folder of the CIFAR-10 python batches (cifar-10-batches-py/) or the CIFAR-10 JPEG archive .npz",
    "cifar100": "a folder of the CIFAR-100 python version (cifar-100-python/)",
    "imagenet16": "a folder of the ImageNet16 pickles (train_data_batch_1..10, val_data)",
}


def default_cache_dir() -> Path:
    """`$MECO_LAB_CACHE`, else `~/.cache/meco_lab`."""
    return Path(os.environ.get("MECO_LAB_CACHE", "~/.cache/meco_lab")).expanduser()


def check_root(name: str, root: str | os.PathLike[str] | None) -> Path:
    """The dataset location `root`, checked to exist and to suit `name`; one-line ConfigError otherwise."""
    if name not in DATASET_CLASSES:
        raise ConfigError("data.name", name, list(DATASET_CLASSES))
    if root is None or str(root) == "":
        raise ConfigError("data.root", root, EXPECTED[name])
    path = Path(root).expanduser()
    if not path.exists():
        raise ConfigError("data.root", str(root), f"an existing path: {EXPECTED[name]}")
    if path.is_file() and not (name == "cifar10" and path.suffix == ".npz"):
        raise ConfigError("data.root", str(root), EXPECTED[name])
    return path
