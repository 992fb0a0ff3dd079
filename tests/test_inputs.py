"""Tests of meco_lab.inputs: random and real-image proxy inputs, original-format loaders, errors."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from meco_lab.core.errors import ConfigError
from meco_lab.inputs import (
    INPUT_SOURCES,
    NUM_CLASSES,
    load_builtin,
    load_cifar10,
    load_cifar10_jpeg,
    load_cifar100,
    load_imagenet16,
    make_input,
    norm_stats,
)

REPO = Path(__file__).resolve().parents[1]
JPEG_NPZ = REPO / "tests" / "fixtures" / "cifar10_jpeg_subset.npz"  # 200 train + 100 test images per class
SPEC = {  # NAS-Bench-201 statistics, 0..255 scale, as given in the spec
    "cifar10": ([125.3, 123.0, 113.9], [63.0, 62.1, 66.7]),
    "cifar100": ([129.3, 124.1, 112.4], [68.2, 65.4, 70.4]),
    "imagenet16": ([122.68, 116.66, 104.01], [63.22, 61.26, 65.09]),
}
NATIVE = {"cifar10": 32, "cifar100": 32, "imagenet16": 16}


def _spec_stats(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = SPEC[name]
    return torch.tensor(mean).view(3, 1, 1) / 255, torch.tensor(std).view(3, 1, 1) / 255


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def test_constants() -> None:
    assert INPUT_SOURCES == ["random", "cifar10", "cifar100", "imagenet16"]
    assert NUM_CLASSES == {"random": 10, "cifar10": 10, "cifar100": 100, "imagenet16": 120}


@pytest.mark.parametrize("name", INPUT_SOURCES)
@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_shape_dtype(name: str, size: int) -> None:
    x = make_input(name, size=size, samples=3, seed=1)
    assert x.shape == (3, 3, size, size)
    assert x.dtype == torch.float32 and x.device.type == "cpu" and x.is_contiguous()
    assert torch.isfinite(x).all()


def test_random_equals_seeded_randn() -> None:
    expected = torch.randn((4, 3, 20, 20), generator=torch.Generator().manual_seed(123))
    assert torch.equal(make_input("random", size=20, samples=4, seed=123), expected)
    assert torch.equal(make_input("random", size=20, samples=4, seed=123, root="/does/not/matter"), expected)


@pytest.mark.parametrize("name", INPUT_SOURCES)
def test_seed_determinism(name: str) -> None:
    a = make_input(name, samples=8, seed=7)
    b = make_input(name, samples=8, seed=7)
    c = make_input(name, samples=8, seed=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "imagenet16"])
def test_builtin_sample_contents(name: str) -> None:
    x, y = load_builtin(name)
    n = {"cifar10": 100, "cifar100": 100, "imagenet16": 120}[name]
    assert x.shape == (n, 3, NATIVE[name], NATIVE[name]) and x.dtype == torch.uint8
    assert y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) < NUM_CLASSES[name]
    first = {"cifar10": [6, 9, 9, 4, 1], "cifar100": [19, 29, 0, 11, 1], "imagenet16": [0, 1, 2, 3, 4]}[name]
    assert y[:5].tolist() == first
    if name == "imagenet16":
        assert y.tolist() == list(range(120))


# sha256 of the arrays `x` (NHWC uint8) and `y` (as int64) of ../shared/data/images/<file>, taken when the
# built-in sample was made from them (resources/INPUTS_PROVENANCE.md):
#   python -c "import numpy as np, hashlib; d = np.load(F); print(hashlib.sha256(d['x'].tobytes()).hexdigest(),
#              hashlib.sha256(d['y'].astype(np.int64).tobytes()).hexdigest())"
SHARED_SHA256 = {
    "cifar10": ("bc8e46267ad4dac1623f772581f67a1f84f11e49c740ad6fdbc0f097d4f238c7",  # cifar10_first100_train_exact
                "8d0e0b4c9fab6da3bdc2e0488f7041d187b43ee16c0bd85ad9681dc60339b23c"),
    "cifar100": ("27a53441f2acce34ad8e310a71bd60fd5e94528d665538e0e39b6efb691257ec",  # cifar100_first100_train_exact
                 "25d675f39d0fdbbdac5fe207ffd2a189e77c1cfcc1e95ba51445c59396741760"),
    "imagenet16": ("85ee00e0a847cbac7e3307f8d54199f194386508d37b3d023c4cbe4040643cee",  # imagenet16_120_derived
                   "fc256ff91ecfd419717ef3077f33d0d67c0cd9056b3975a8f9a3b4c2ba50bb10"),
}


@pytest.mark.parametrize("name", list(SHARED_SHA256))
def test_builtin_matches_shared_files(name: str) -> None:
    """The built-in sample holds exactly the shared files' images and labels (their pinned sha256)."""
    x, y = load_builtin(name)
    x_hash = hashlib.sha256(np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy()).tobytes()).hexdigest()
    assert (x_hash, hashlib.sha256(y.numpy().tobytes()).hexdigest()) == SHARED_SHA256[name]


def test_sample_file_small() -> None:
    path = REPO / "src" / "meco_lab" / "resources" / "inputs_sample.npz"
    assert 0 < path.stat().st_size < 1_000_000


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "imagenet16"])
def test_normalisation_stats(name: str) -> None:
    mean, std = norm_stats(name)
    ref_mean, ref_std = _spec_stats(name)
    assert torch.allclose(mean, ref_mean, atol=1e-7) and torch.allclose(std, ref_std, atol=1e-7)
    # make_input at native size = (uint8 / 255 - mean) / std of the images the seeded permutation picks
    imgs, _ = load_builtin(name)
    perm = torch.randperm(len(imgs), generator=torch.Generator().manual_seed(5))[:6]
    expected = (imgs[perm].float() / 255 - ref_mean) / ref_std
    got = make_input(name, size=NATIVE[name], samples=6, seed=5)
    assert torch.allclose(got, expected, atol=1e-5)


def test_denormalise_gives_back_uint8() -> None:
    imgs, _ = load_builtin("cifar10")
    mean, std = _spec_stats("cifar10")
    x = make_input("cifar10", size=32, samples=100, seed=0)
    perm = torch.randperm(100, generator=torch.Generator().manual_seed(0))
    back = ((x * std + mean) * 255).round().to(torch.uint8)
    assert torch.equal(back, imgs[perm])
    k = 17  # image k of the batch is stored image perm[k]
    assert torch.equal(back[k], imgs[perm[k]])
    assert set(perm.tolist()) == set(range(100))  # all 100 images, each once


@pytest.mark.parametrize(("name", "size"), [("cifar10", 64), ("cifar10", 16), ("cifar100", 24), ("imagenet16", 32)])
def test_resize(name: str, size: int) -> None:
    native = make_input(name, size=NATIVE[name], samples=2, seed=3)
    x = make_input(name, size=size, samples=2, seed=3)
    assert x.shape == (2, 3, size, size)
    ref = F.interpolate(native, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    assert torch.equal(x, ref)


def test_cifar10_original_format(tmp_path: Path) -> None:
    imgs, labels = load_builtin("cifar10")
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": labels.tolist(),
        b"data": imgs.reshape(100, 3072).numpy(),
        b"filenames": [f"img_{i}.png".encode() for i in range(100)],
    }
    _dump(tmp_path / "cifar-10-batches-py" / "data_batch_1", batch)
    for root in (tmp_path, tmp_path / "cifar-10-batches-py"):  # parent folder or the batch folder itself
        x, y = load_cifar10(root, "train")
        assert torch.equal(x, imgs) and torch.equal(y, labels) and y.dtype == torch.int64
    # same 100 images in the same order -> same picks as the built-in sample
    from_root = make_input("cifar10", samples=9, seed=4, root=str(tmp_path))
    assert torch.equal(from_root, make_input("cifar10", samples=9, seed=4))
    with pytest.raises(ConfigError, match=r"data\.samples"):
        make_input("cifar10", samples=101, root=str(tmp_path))  # only data_batch_1 (100 images) present
    with pytest.raises(ConfigError, match=r"data\.root"):
        make_input("cifar10", split="test", root=str(tmp_path))  # no test_batch


def test_cifar10_reads_only_first_batch(tmp_path: Path) -> None:
    imgs, labels = load_builtin("cifar10")
    folder = tmp_path / "cifar-10-batches-py"
    _dump(folder / "data_batch_1", {b"data": imgs[:60].reshape(60, -1).numpy(), b"labels": labels[:60].tolist()})
    _dump(folder / "data_batch_2", {b"data": imgs[60:].reshape(40, -1).numpy(), b"labels": labels[60:].tolist()})
    (folder / "data_batch_3").write_bytes(b"not a pickle")  # never read below
    x, _ = load_cifar10(tmp_path, "train", min_count=50)
    assert torch.equal(x, imgs[:60])
    x, y = load_cifar10(tmp_path, "train", min_count=80)
    assert torch.equal(x, imgs) and torch.equal(y, labels)
    assert make_input("cifar10", samples=80, root=str(tmp_path)).shape == (80, 3, 32, 32)
    with pytest.raises(ConfigError, match=r"data\.root.*data_batch_3"):
        load_cifar10(tmp_path, "train")  # all files: the broken third one is reported


def test_cifar100_original_format(tmp_path: Path) -> None:
    imgs, labels = load_builtin("cifar100")
    coarse = (labels // 5).tolist()
    train = {b"data": imgs.reshape(100, -1).numpy(), b"fine_labels": labels.tolist(), b"coarse_labels": coarse}
    _dump(tmp_path / "cifar-100-python" / "train", train)
    test = {b"data": imgs[:10].reshape(10, -1).numpy(), b"fine_labels": labels[:10].tolist()}
    _dump(tmp_path / "cifar-100-python" / "test", test)
    x, y = load_cifar100(tmp_path, "train")
    assert torch.equal(x, imgs) and torch.equal(y, labels)
    x, y = load_cifar100(tmp_path / "cifar-100-python", "test")
    assert torch.equal(x, imgs[:10]) and torch.equal(y, labels[:10])
    from_root = make_input("cifar100", samples=5, seed=2, root=str(tmp_path))
    assert torch.equal(from_root, make_input("cifar100", samples=5, seed=2))
    with pytest.raises(ConfigError, match=r"data\.samples"):
        make_input("cifar100", samples=11, split="test", root=str(tmp_path))


def test_imagenet16_original_format(tmp_path: Path) -> None:
    imgs, labels = load_builtin("imagenet16")
    extra_labels = [121, 500, 1000, 999, 121, 250]  # other ImageNet16 classes: must be dropped
    extra = torch.full((len(extra_labels), 3, 16, 16), 7, dtype=torch.uint8)
    # interleave: every 20th position gets an extra image
    order_x, order_y = [], []
    for i in range(120):
        order_x.append(imgs[i])
        order_y.append(int(labels[i]) + 1)  # original 1-based labels
        if i % 20 == 0:
            order_x.append(extra[i // 20])
            order_y.append(extra_labels[i // 20])
    data = torch.stack(order_x).reshape(len(order_x), 768).numpy()
    _dump(tmp_path / "train_data_batch_1", {"data": data, "labels": order_y, "mean": np.zeros(768)})
    _dump(tmp_path / "val_data", {"data": data[:30], "labels": order_y[:30]})
    x, y = load_imagenet16(tmp_path, "train")
    assert len(order_y) == 126 and x.shape == (120, 3, 16, 16)
    assert torch.equal(x, imgs) and torch.equal(y, labels) and int(y.max()) == 119
    x, y = load_imagenet16(tmp_path, "val")
    assert len(y) == 28 and torch.equal(x, imgs[:28]) and torch.equal(y, labels[:28])
    # "test" maps to val_data too; root may hold an ImageNet16/ folder
    (tmp_path / "nb201").mkdir()
    (tmp_path / "train_data_batch_1").rename(tmp_path / "nb201" / "train_data_batch_1")
    x2, _ = load_imagenet16(tmp_path, "test")
    assert torch.equal(x2, x)
    with pytest.raises(ConfigError, match=r"data\.root"):
        load_imagenet16(tmp_path, "train")
    (tmp_path / "nb201").rename(tmp_path / "ImageNet16")
    assert torch.equal(load_imagenet16(tmp_path, "train")[0], imgs)
    from_root = make_input("imagenet16", size=16, samples=12, seed=9, root=str(tmp_path))
    assert torch.equal(from_root, make_input("imagenet16", size=16, samples=12, seed=9))


def test_cifar10_jpeg_archive() -> None:
    """The JPEG archive loader, on the archive's format (tests/fixtures/README.md: a per-class subset of it)."""
    x, y = load_cifar10_jpeg(JPEG_NPZ, "test")
    assert x.shape == (1_000, 3, 32, 32) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [100] * 10
    # sorted by (split, label, index_in_class), 200 train images per class here -> the first train image is
    # airplane (0); train position 1,200 is frog #0000 = the first CIFAR-10 training image (label 6), JPEG'd.
    xt, yt = load_cifar10_jpeg(JPEG_NPZ, "train", indices=[0, 1_200])
    assert yt.tolist() == [0, 6]
    exact = load_builtin("cifar10")[0][0].double()
    mse = ((xt[1].double() - exact) ** 2).mean()
    psnr = 10 * torch.log10(255.0**2 / mse)
    assert 25.0 < psnr < 36.0
    a = make_input("cifar10", samples=4, seed=1, root=str(JPEG_NPZ), split="test")
    perm = torch.randperm(1_000, generator=torch.Generator().manual_seed(1))[:4]
    mean, std = _spec_stats("cifar10")
    assert torch.allclose(a, (x[perm].float() / 255 - mean) / std, atol=1e-5)
    with pytest.raises(ConfigError, match=r"data\.root"):
        make_input("cifar100", root=str(JPEG_NPZ))


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"name": "mnist"}, "data.name"),
        ({"name": "cifar10", "size": 7}, "data.size"),
        ({"name": "random", "size": 4}, "data.size"),
        ({"name": "cifar10", "size": 16.0}, "data.size"),
        ({"name": "cifar10", "samples": 0}, "data.samples"),
        ({"name": "cifar10", "samples": 101}, "data.samples"),
        ({"name": "imagenet16", "samples": 121}, "data.samples"),
        ({"name": "cifar10", "split": "valid"}, "data.split"),
        ({"name": "cifar100", "split": "val"}, "data.split"),
        ({"name": "cifar10", "split": "test"}, "data.split"),  # built-in sample has train images only
        ({"name": "cifar10", "root": "/no/such/folder"}, "data.root"),
        ({"name": "cifar100", "root": "EMPTY"}, "data.root"),
        ({"name": "imagenet16", "root": "EMPTY"}, "data.root"),
    ],
)
def test_errors(kwargs: dict, key: str, tmp_path: Path) -> None:
    if kwargs.get("root") == "EMPTY":
        kwargs = {**kwargs, "root": str(tmp_path)}
    name = kwargs.pop("name")
    with pytest.raises(ConfigError) as info:
        make_input(name, **kwargs)
    assert key in str(info.value) and info.value.key == key


def test_root_error_names_expected_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        make_input("cifar10", root=str(tmp_path))
    assert "cifar-10-batches-py" in str(info.value) and "data_batch_1" in str(info.value)
    with pytest.raises(ConfigError) as info:
        make_input("imagenet16", root=str(tmp_path), split="val")
    assert "val_data" in str(info.value)


def test_make_batch_labels_follow_the_images():
    from meco_lab.inputs import load_builtin, make_batch

    x, y = make_batch("cifar10", samples=7, seed=3)
    images, labels = load_builtin("cifar10")
    picked = torch.randperm(len(images), generator=torch.Generator().manual_seed(3))[:7]
    assert torch.equal(y, labels[picked].to(torch.int64))
    assert torch.equal(x, make_input("cifar10", samples=7, seed=3))


def test_random_labels_are_seeded_and_in_range():
    from meco_lab.inputs import make_batch

    x, y = make_batch("random", samples=50, seed=1)
    assert torch.equal(x, make_input("random", samples=50, seed=1))
    assert torch.equal(y, make_batch("random", samples=50, seed=1)[1])
    assert y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) < 10 and len(set(y.tolist())) > 3
