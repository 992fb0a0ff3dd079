"""Training data: uint8 image tensors from the original dataset files, augmented on the training device.

Sources (`data.root`):

- CIFAR-10 / CIFAR-100: a folder of the original "python version" batches (`meco_lab.inputs.cifar`);
- CIFAR-10 also: the JPEG archive `cifar10_all60k_jpeg_bytes.npz`, decoded once with Pillow and cached
  as uint8 `.npy` files in `cache_dir`, keyed by the archive's name, size and mtime;
- ImageNet16-120: a folder of the ImageNet16 pickles (`meco_lab.inputs.imagenet16`); its test split is
  `val_data`, as in NAS-Bench-201.

Images stay uint8 (N, 3, H, W) on the host; batches move to the device as uint8 and are cropped,
flipped and normalised there (`random_crop_flip`, `normalize_on_device`), so no torchvision is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from meco_lab.core.errors import ConfigError
from meco_lab.core.io import atomic_path
from meco_lab.inputs import DATASET_CLASSES
from meco_lab.inputs.cifar import load_cifar10, load_cifar100
from meco_lab.inputs.cifar10_jpeg import load_cifar10_jpeg
from meco_lab.inputs.imagenet16 import load_imagenet16
from meco_lab.training.datasets import check_root, default_cache_dir

_FOLDER_LOADERS = {"cifar10": load_cifar10, "cifar100": load_cifar100, "imagenet16": load_imagenet16}


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def jpeg_cache_paths(npz: Path, cache_dir: Path, split: str) -> tuple[Path, Path]:
    """The cached (images, labels) .npy files of one split; the key changes when the archive's size or mtime does."""
    st = npz.stat()
    key = f"{npz.stem}-{st.st_size}-{st.st_mtime_ns}"
    return cache_dir / f"{key}.{split}.x.npy", cache_dir / f"{key}.{split}.y.npy"


def ensure_jpeg_cache(npz: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> None:
    """Decode the train and test splits of the JPEG archive into the cache unless they are there already."""
    npz = Path(npz)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    for split in ("train", "test"):
        if not all(p.is_file() for p in jpeg_cache_paths(npz, cache, split)):
            load_cifar10_jpeg_cached(npz, split, cache)


def load_cifar10_jpeg_cached(npz: str | os.PathLike[str], split: str,
                             cache_dir: str | os.PathLike[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of the CIFAR-10 JPEG archive as uint8 (N, 3, 32, 32) and int64 labels, decoding only once.

    The first call decodes the whole split with Pillow and writes it (atomically) to `cache_dir`;
    later calls read the .npy files. A changed archive (size or mtime) gets a fresh cache entry.
    """
    npz = Path(npz)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    x_path, y_path = jpeg_cache_paths(npz, cache, split)
    if not (x_path.is_file() and y_path.is_file()):
        x, y = load_cifar10_jpeg(npz, split)
        _save_npy_atomic(y_path, y.numpy())
        _save_npy_atomic(x_path, x.numpy())
        return x, y
    return torch.from_numpy(np.load(x_path)), torch.from_numpy(np.load(y_path))


def load_split(name: str, root: str | os.PathLike[str], split: str,
               cache_dir: str | os.PathLike[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All images (uint8 N x 3 x H x W) and labels (int64) of `split` ("train" or "test") of dataset `name`."""
    path = check_root(name, root)
    if path.is_file():
        return load_cifar10_jpeg_cached(path, split, cache_dir)
    return _FOLDER_LOADERS[name](path, split)


def take_subset(x: torch.Tensor, y: torch.Tensor, count: int | None, seed: int,
                key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` images drawn without replacement by a permutation seeded with `seed` (all when null or larger)."""
    if count is None:
        return x, y
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigError(key, count, "an integer >= 1, or null for the whole split")
    if count >= len(x):
        return x, y
    picked = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:count]
    picked = picked.sort().values  # keep the file order among the picked images
    return x[picked], y[picked]


class ImageTensors(Dataset):
    """uint8 images and labels in memory; a list of indices fetches a whole batch in one indexing op."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        picked = torch.as_tensor(indices, dtype=torch.int64)
        return self.images[picked], self.labels[picked]


def as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """collate_fn: `ImageTensors.__getitems__` already returns a stacked batch."""
    return batch


class ImageDataModule(L.LightningDataModule):
    """Train and test splits of CIFAR-10, CIFAR-100 or ImageNet16-120 as uint8 tensors.

    `train_images` / `test_images` keep a seeded subset (same for every training seed: `subset_seed`).
    Augmentation and normalisation are the model's job, on the device (`on_after_batch_transfer`).
    """

    def __init__(self, name: str, root: str | os.PathLike[str], batch_size: int = 256,
                 eval_batch_size: int = 512, train_images: int | None = None, test_images: int | None = None,
                 subset_seed: int = 0, cache_dir: str | os.PathLike[str] | None = None):
        super().__init__()
        self.name, self.root = name, check_root(name, root)
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.train_images, self.test_images, self.subset_seed = train_images, test_images, subset_seed
        self.cache_dir = cache_dir
        self.train_set: ImageTensors | None = None
        self.test_set: ImageTensors | None = None

    def prepare_data(self) -> None:
        if self.root.is_file():  # decode the JPEG archive once, into the cache
            ensure_jpeg_cache(self.root, self.cache_dir)

    def _load(self, split: str, count: int | None, key: str) -> ImageTensors:
        x, y = load_split(self.name, self.root, split, self.cache_dir)
        bad = (y < 0) | (y >= DATASET_CLASSES[self.name])
        if bool(bad.any()):
            raise ConfigError("data.root", str(self.root),
                              f"labels in 0..{DATASET_CLASSES[self.name] - 1} ({split} has {int(y[bad][0])})")
        return ImageTensors(*take_subset(x, y, count, self.subset_seed, key))

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._load("train", self.train_images, "protocol.train_images")
        if stage in (None, "fit", "test") and self.test_set is None:
            self.test_set = self._load("test", self.test_images, "protocol.test_images")

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, drop_last=False,
                          collate_fn=as_batch, num_workers=0)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=self.eval_batch_size, shuffle=False, collate_fn=as_batch,
                          num_workers=0)


def random_crop_flip(images: torch.Tensor, padding: int, flip: bool,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image random crop from a zero-padded copy (`padding` pixels each side) and a horizontal flip (p=0.5).

    Works on any dtype (uint8 before normalisation: padding is black, as torchvision's RandomCrop on a
    PIL image) and on any device, with one gather for the whole batch.
    """
    n, _, h, w = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding,) * 4) if padding else images
    oy = torch.randint(0, 2 * padding + 1, (n, 1), device=device, generator=generator)
    ox = torch.randint(0, 2 * padding + 1, (n, 1), device=device, generator=generator)
    rows = oy + torch.arange(h, device=device)
    cols = torch.arange(w, device=device).expand(n, w)
    if flip:
        mirrored = torch.rand((n, 1), device=device, generator=generator) < 0.5
        cols = torch.where(mirrored, w - 1 - cols, cols)
    cols = ox + cols
    batch = torch.arange(n, device=device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c): advanced dims come first
    return out.permute(0, 3, 1, 2).contiguous()


def normalize_on_device(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (or 0..255 float) images -> float32 (x / 255 - mean) / std, with (3, 1, 1) mean and std on 0..1."""
    return (images.to(torch.float32) / 255 - mean) / std


def cutout(images: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one `length` x `length` square per image, centred at a uniform pixel and clipped at the border.

    As DARTS' `Cutout` (applied after normalisation, so the square is the mean colour): rows
    [cy - length // 2, cy + length // 2) and likewise columns, on any device, for the whole batch at once.
    """
    if length <= 0:
        return images
    n, _, h, w = images.shape
    device = images.device
    cy = torch.randint(0, h, (n, 1), device=device, generator=generator)
    cx = torch.randint(0, w, (n, 1), device=device, generator=generator)
    rows = torch.arange(h, device=device)
    cols = torch.arange(w, device=device)
    in_rows = (rows >= cy - length // 2) & (rows < cy + length // 2)  # (n, h)
    in_cols = (cols >= cx - length // 2) & (cols < cx + length // 2)  # (n, w)
    hole = in_rows[:, :, None] & in_cols[:, None, :]
    return images.masked_fill(hole[:, None], 0)
