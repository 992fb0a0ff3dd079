"""Proxy inputs: a seeded batch of Gaussian noise or real, normalised images.

`make_input` is the one entry point; the loaders of the original dataset files live in
`cifar`, `imagenet16` and `cifar10_jpeg`, the built-in sample in `builtin`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from meco_lab.core.checks import check_choice, check_int
from meco_lab.core.errors import ConfigError
from meco_lab.core.seeds import stable_seed
from meco_lab.inputs.builtin import load_builtin
from meco_lab.inputs.cifar import load_cifar10, load_cifar100
from meco_lab.inputs.cifar10_jpeg import count_cifar10_jpeg, load_cifar10_jpeg
from meco_lab.inputs.imagenet16 import load_imagenet16
from meco_lab.inputs.transforms import NATIVE_SIZE, NORM_STATS_255, norm_stats, normalize, resize

__all__ = [
    "DATASET_CLASSES",
    "INPUT_SOURCES",
    "NATIVE_SIZE",
    "NORM_STATS_255",
    "NUM_CLASSES",
    "SPLITS",
    "load_builtin",
    "load_cifar10",
    "load_cifar10_jpeg",
    "load_cifar100",
    "load_imagenet16",
    "make_batch",
    "make_input",
    "norm_stats",
    "random_input",
]

INPUT_SOURCES: list[str] = ["random", "cifar10", "cifar100", "imagenet16"]
DATASET_CLASSES: dict[str, int] = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
"""Classes of each image dataset (labels 0..classes-1); retraining reads the same table."""
NUM_CLASSES: dict[str, int] = {"random": 10, **DATASET_CLASSES}
"""Classes of the networks a proxy scores on each input source (random: 10, with seeded random labels)."""
# Splits accepted per source ("random" ignores it; "val" and "test" both mean val_data for ImageNet16).
SPLITS: dict[str, tuple[str, ...]] = {
    "random": ("train", "test", "val"),
    "cifar10": ("train", "test"),
    "cifar100": ("train", "test"),
    "imagenet16": ("train", "test", "val"),
}
_LOADERS = {"cifar10": load_cifar10, "cifar100": load_cifar100, "imagenet16": load_imagenet16}


def _check(name: str, size: int, samples: int, split: str) -> None:
    check_choice("data.name", name, INPUT_SOURCES)
    check_int("data.size", size, 8)
    check_int("data.samples", samples, 1)
    if split not in SPLITS[name]:
        raise ConfigError("data.split", split, SPLITS[name])


def _too_many(samples: int, available: int, where: str) -> ConfigError:
    return ConfigError("data.samples", samples, f"an integer between 1 and {available} (images in {where})")


def _pick(
    name: str, samples: int, gen: torch.Generator, root: str | os.PathLike[str] | None, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """`samples` uint8 images (samples, 3, H, W) and their labels, chosen by a seeded permutation."""
    if root is None:
        if split != "train":
            raise ConfigError("data.split", split, "'train' for the built-in sample (set data.root for other splits)")
        images, labels = load_builtin(name)
        where = "the built-in sample"
    else:
        path = Path(root)
        if not path.exists():
            raise ConfigError("data.root", str(root), "an existing folder (or .npz for cifar10), or null")
        if path.is_file():
            if name != "cifar10" or path.suffix != ".npz":
                raise ConfigError("data.root", str(root), "a folder of the original dataset files, or null")
            n = count_cifar10_jpeg(path, split)
            if samples > n:
                raise _too_many(samples, n, f"{path.name} ({split})")
            return load_cifar10_jpeg(path, split, torch.randperm(n, generator=gen)[:samples].tolist())
        images, labels = _LOADERS[name](path, split, min_count=samples)
        where = f"{root} ({split})"
    if samples > len(images):
        raise _too_many(samples, len(images), where)
    picked = torch.randperm(len(images), generator=gen)[:samples]
    return images[picked], labels[picked]


def make_batch(
    name: str,
    *,
    size: int = 32,
    samples: int = 1,
    seed: int = 0,
    root: str | None = None,
    split: str = "train",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs, float32 (samples, 3, size, size) contiguous on the CPU, and int64 labels; same arguments, same bits.

    "random": standard Gaussian from a generator seeded with `seed` (root and split ignored), then
    seeded random labels over NUM_CLASSES["random"] classes from the same generator.
    Datasets: real images and their labels, picked by a seeded permutation, normalised with the
    NAS-Bench-201 statistics, then resized (bilinear, antialiased) when `size` differs from the native
    size. `root=None` uses the built-in sample; otherwise the original dataset files under `root`.
    """
    _check(name, size, samples, split)
    gen = torch.Generator().manual_seed(seed)
    if name == "random":
        x = torch.randn((samples, 3, size, size), generator=gen)
        return x, torch.randint(NUM_CLASSES["random"], (samples,), generator=gen)
    images, labels = _pick(name, samples, gen, root, split)
    x = normalize(images, name)
    if size != NATIVE_SIZE[name]:
        x = resize(x, size)
    return x.contiguous(), labels.to(torch.int64)


def random_input(shape: tuple[int, ...], samples: int, seed: int) -> torch.Tensor:
    """`samples` standard Gaussian inputs of one sample shape `shape` (any rank), from `seed` and the shape."""
    check_int("data.samples", samples, 1)
    generator = torch.Generator().manual_seed(stable_seed(seed, "x".join(map(str, shape))))
    return torch.randn((samples, *shape), generator=generator)


def make_input(name: str, **kwargs) -> torch.Tensor:
    """The inputs of `make_batch` alone (see there for the arguments)."""
    return make_batch(name, **kwargs)[0]
