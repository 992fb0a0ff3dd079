"""`python -m meco_lab.retrain`: data loaders on original-format files, augmentation, smoke accuracy, resume, errors."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from meco_lab.benchmarks.truth import load_params, load_table_truth
from meco_lab.training.archs import quote_arch_overrides

REPO = Path(__file__).resolve().parents[1]
JPEG_NPZ = REPO / "tests" / "fixtures" / "cifar10_jpeg_subset.npz"  # the archive's format, 3,000 images
LIGHT_C10 = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"  # NATS #13987
SMALL = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
ENV = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONUNBUFFERED": "1"}


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def make_cifar100(root: Path, n_train: int = 64, n_test: int = 40) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """cifar-100-python/{train,test} pickles as in the original archive (rows of 3072 uint8, fine_labels)."""
    rng = np.random.default_rng(1)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 100, n).tolist()
        _dump(root / "cifar-100-python" / split, {b"filenames": [b"x.png"] * n, b"fine_labels": labels,
                                                  b"coarse_labels": [0] * n, b"data": data})
        out[split] = (data.reshape(-1, 3, 32, 32), np.asarray(labels))
    return out


def make_cifar10_batches(root: Path, per_batch: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2)
    folder = root / "cifar-10-batches-py"
    xs, ys = [], []
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        _dump(folder / f"data_batch_{i}", {b"batch_label": b"b", b"labels": labels, b"data": data})
        xs.append(data)
        ys += labels
    test = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
    test_labels = rng.integers(0, 10, per_batch).tolist()
    _dump(folder / "test_batch", {b"labels": test_labels, b"data": test})
    return {"train": (np.concatenate(xs).reshape(-1, 3, 32, 32), np.asarray(ys)),
            "test": (test.reshape(-1, 3, 32, 32), np.asarray(test_labels))}


def make_imagenet16(root: Path, n_train: int = 600, n_val: int = 200, batches: int = 2,
                    learnable: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """ImageNet16 pickles (train_data_batch_1.., val_data): rows of 768 uint8, 1-based labels 1..1000.

    Labels above 120 are mixed in (the loader drops them). With `learnable`, each class has its own
    mean colour, so a network can learn it in a few steps.
    """
    rng = np.random.default_rng(3)
    kept: dict[str, list] = {"train": [[], []], "val": [[], []]}

    def batch(n: int, split: str) -> dict:
        labels = rng.integers(1, 11, n)  # 10 of the 120 classes ...
        labels[::10] = 500  # ... and some outside ImageNet16-120
        base = (labels[:, None] * 23 % 256).astype(np.int64) if learnable else 128
        data = np.clip(base + rng.integers(-40, 41, (n, 768)), 0, 255).astype(np.uint8)
        keep = labels <= 120
        kept[split][0].append(data[keep].reshape(-1, 3, 16, 16))
        kept[split][1].append(labels[keep] - 1)
        return {"data": data, "labels": labels.tolist(), "mean": np.zeros(768)}

    for i in range(1, batches + 1):
        _dump(root / f"train_data_batch_{i}", batch(n_train // batches, "train"))
    _dump(root / "val_data", batch(n_val, "val"))
    return {s: (np.concatenate(v[0]), np.concatenate(v[1])) for s, v in kept.items()}


def make_cifar10_jpeg(path: Path, n_train: int = 30, n_test: int = 10) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A small archive in the format of cifar10_all60k_jpeg_bytes.npz (lossless enough: quality 95)."""
    from PIL import Image

    rng = np.random.default_rng(4)
    blobs, labels, splits, decoded = [], [], [], {"train": [[], []], "test": [[], []]}
    for split, code, n in (("train", 0, n_train), ("test", 1, n_test)):
        for _ in range(n):
            image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, format="JPEG", quality=95)
            blob = buf.getvalue()
            label = int(rng.integers(0, 10))
            blobs.append(np.frombuffer(blob, dtype=np.uint8))
            labels.append(label)
            splits.append(code)
            with Image.open(io.BytesIO(blob)) as im:
                decoded[split][0].append(np.asarray(im.convert("RGB")).transpose(2, 0, 1))
            decoded[split][1].append(label)
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    np.savez(path, jpeg_bytes=np.concatenate(blobs), offsets=offsets, labels=np.asarray(labels, dtype=np.uint8),
             split=np.asarray(splits, dtype=np.uint8))
    return {s: (np.stack(v[0]), np.asarray(v[1])) for s, v in decoded.items()}


def retrain(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meco_lab.retrain", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------- loaders and augmentation (in process)


def test_datamodule_reads_generated_original_format_files(tmp_path):
    from meco_lab.training.data import ImageDataModule

    c100 = make_cifar100(tmp_path / "c100")
    dm = ImageDataModule("cifar100", tmp_path / "c100", batch_size=16)
    dm.setup("fit")
    assert dm.train_set.images.dtype == torch.uint8 and dm.train_set.images.shape == (64, 3, 32, 32)
    assert np.array_equal(dm.train_set.images.numpy(), c100["train"][0])
    assert np.array_equal(dm.test_set.labels.numpy(), c100["test"][1])
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64

    c10 = make_cifar10_batches(tmp_path / "c10")
    dm = ImageDataModule("cifar10", tmp_path / "c10", train_images=30, subset_seed=5)
    dm.setup("fit")
    picked = torch.randperm(100, generator=torch.Generator().manual_seed(5))[:30].sort().values.numpy()
    assert np.array_equal(dm.train_set.images.numpy(), c10["train"][0][picked])
    assert np.array_equal(dm.train_set.labels.numpy(), c10["train"][1][picked])
    assert len(dm.test_set) == 20

    i16 = make_imagenet16(tmp_path / "i16")
    dm = ImageDataModule("imagenet16", tmp_path / "i16")
    dm.setup("fit")
    assert dm.train_set.images.shape[1:] == (3, 16, 16)
    assert np.array_equal(dm.train_set.images.numpy(), i16["train"][0])
    assert np.array_equal(dm.test_set.labels.numpy(), i16["val"][1])  # NB201 tests ImageNet16-120 on val_data
    assert int(dm.train_set.labels.max()) < 120 and len(dm.train_set) == 540


def test_jpeg_archive_is_decoded_once_and_cached_by_size_and_mtime(tmp_path, monkeypatch):
    from meco_lab.training import data

    npz = tmp_path / "c10.npz"
    decoded = make_cifar10_jpeg(npz)
    cache = tmp_path / "cache"
    x, y = data.load_cifar10_jpeg_cached(npz, "train", cache)
    assert np.array_equal(x.numpy(), decoded["train"][0]) and np.array_equal(y.numpy(), decoded["train"][1])
    assert sorted(p.name.split(".", 1)[1] for p in cache.iterdir()) == ["train.x.npy", "train.y.npy"]
    data.ensure_jpeg_cache(npz, cache)
    assert len(list(cache.glob("*.npy"))) == 4

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(data, "load_cifar10_jpeg", no_decoding)
    x2, _ = data.load_cifar10_jpeg_cached(npz, "train", cache)  # from the cache
    assert torch.equal(x, x2)
    st = npz.stat()
    os.utime(npz, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a changed archive: a new key
    with pytest.raises(AssertionError, match="decoded again"):
        data.load_cifar10_jpeg_cached(npz, "test", cache)


def test_random_crop_flip_picks_windows_of_the_padded_image():
    from meco_lab.training.data import random_crop_flip

    torch.manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(random_crop_flip(x, 0, False), x)
    out = random_crop_flip(x, 2, True)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    flips = 0
    for i in range(len(x)):
        windows = {(dy, dx, f) for dy in range(5) for dx in range(5) for f in (False, True)
                   if torch.equal(out[i], (padded[i, :, dy:dy + 8, dx:dx + 8].flip(2) if f
                                           else padded[i, :, dy:dy + 8, dx:dx + 8]))}
        assert windows, i
        flips += all(f for _, _, f in windows)
    assert 15 < flips < 49  # about half are mirrored


def test_cosine_schedule_ends_at_lr_min():
    from meco_lab.training.module import cosine_factor

    assert cosine_factor(0, 100, 0.0) == 1.0 and cosine_factor(50, 100, 0.0) == pytest.approx(0.5)
    assert cosine_factor(100, 100, 0.0) == pytest.approx(0.0, abs=1e-12) and cosine_factor(150, 100, 0.1) == 0.1


def test_arch_overrides_are_quoted_for_hydra():
    assert quote_arch_overrides([f"arch={SMALL}", "seeds=[0,1]"]) == [f"arch='{SMALL}'", "seeds=[0,1]"]
    assert quote_arch_overrides([f"arch=[best,{SMALL}]"]) == [f"arch=['best','{SMALL}']"]
    assert quote_arch_overrides(["arch='x'"]) == ["arch='x'"]


# ---------------------------------------------------------------- end to end (the real CLI)


def test_smoke_profile_learns_cifar10_above_chance(tmp_path):
    start = time.perf_counter()
    done = retrain("profile=smoke", f"arch={LIGHT_C10}", f"data.root={JPEG_NPZ}", f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=tmp_path)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "run" / "nats-13987" / "seed_0" / "result.json").read_text())
    assert result["train_images"] == 2000 and result["test_images"] == 1000 and result["epochs_trained"] == 2
    assert result["test_acc"] > 20.0, result  # chance is 10%
    assert result["params"] == load_params("cifar10")[13987]  # our network is NATS-Bench's
    table = pl.read_csv(tmp_path / "run" / "final_accuracy.csv")
    row = table.row(0, named=True)
    assert row["nats_index"] == 13987 and row["test_acc_mean"] == pytest.approx(result["test_acc"])
    assert row["test_acc_std"] == 0.0 and row["params"] == result["params"]
    assert row["benchmark_test_acc"] == pytest.approx(load_table_truth("test").values["cifar10"][13987])
    md = (tmp_path / "run" / "final_accuracy.md").read_text()
    assert f"{result['test_acc']:.2f} ± 0.00" in md and "93.60" in md and "372,346" in md
    history = pl.read_csv(tmp_path / "run" / "nats-13987" / "seed_0" / "history.csv")
    assert history["epoch"].to_list() == [0, 1] and history["lr"][-1] == pytest.approx(0.0, abs=1e-9)
    print(f"smoke: {result['test_acc']:.2f}% test accuracy, {result['train_seconds']:.1f} s training, "
          f"{wall:.1f} s wall")


def test_stop_early_kill_and_resume_continue_the_epoch_count(tmp_path):
    """Stop after epoch 1 (trainer.max_epochs), go on and get killed in epoch 3, then finish all 4.

    The kill waits on an explicit event, epoch 2's checkpoint on disk; an epoch of 68 steps (several seconds
    on one thread) leaves the kill far more time to land inside epoch 3 than a loaded machine needs.
    """
    make_imagenet16(tmp_path / "i16", n_train=2400, n_val=200)
    selection = tmp_path / "selection.json"
    index = 14108  # a light cell: |avg_pool_3x3~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|none~1|none~2|
    arch = load_table_truth("test").arch[index]
    selection.write_text(json.dumps({"best": {"index": index, "arch": arch}}))
    args = ["arch=best", f"selection={selection}", "data=imagenet16", f"data.root={tmp_path / 'i16'}",
            "profile=smoke", "protocol.epochs=4", "protocol.batch_size=32", "protocol.train_images=null",
            "protocol.test_images=null", "threads=1", f"hydra.run.dir={tmp_path / 'run'}"]
    seed_dir = tmp_path / "run" / f"nats-{index}" / "seed_0"

    first = retrain(*args, "trainer.max_epochs=1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    stopped = json.loads((seed_dir / "result.json").read_text())
    assert stopped["epochs_trained"] == 1 and "1 of 4" in (tmp_path / "run" / "final_accuracy.md").read_text()

    ckpt = seed_dir / "last.ckpt"
    before = ckpt.stat().st_mtime_ns
    with open(tmp_path / "killed.out", "w") as out_file, open(tmp_path / "killed.err", "w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "meco_lab.retrain", *args], cwd=tmp_path, env=ENV,
                                stdout=out_file, stderr=err_file, text=True)
        try:
            while ckpt.stat().st_mtime_ns == before:  # epoch 2 is saved: kill the run inside epoch 3
                assert proc.poll() is None, (tmp_path / "killed.err").read_text()[-3000:]
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    out = (tmp_path / "killed.out").read_text()
    assert proc.returncode == -signal.SIGKILL
    assert "resuming from" in out and "after epoch 1 of 4" in out
    saved = pl.read_csv(seed_dir / "history.csv")["epoch"].to_list()
    assert saved == [0, 1]  # killed inside epoch 3

    last = retrain(*args, "tracking=wandb", cwd=tmp_path)
    assert last.returncode == 0, last.stderr[-3000:]
    assert f"after epoch {len(saved)} of 4" in last.stdout
    history = pl.read_csv(seed_dir / "history.csv")
    assert history["epoch"].to_list() == [0, 1, 2, 3]
    # the learning rate followed one cosine over 4 epochs across the stop, the kill and the resume
    steps = math.ceil(2160 / 32)  # 2,400 images, 2,160 of them in the 120 classes
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * (e + 1) * steps / (4 * steps))) for e in range(4)]
    assert history["lr"].to_list() == pytest.approx(expected, abs=1e-9)
    result = json.loads((seed_dir / "result.json").read_text())
    assert result["epochs_trained"] == 4 and result["train_seconds"] == pytest.approx(history["seconds"].sum())
    assert result["test_acc"] > 20  # 10 learnable classes; chance is 10%
    row = pl.read_csv(tmp_path / "run" / "final_accuracy.csv").row(0, named=True)
    assert row["epochs"] == "4 of 4" and row["nats_index"] == index and row["dataset"] == "imagenet16"
    assert row["benchmark_test_acc"] == pytest.approx(load_table_truth("test").values["ImageNet16-120"][index])
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    log = next(runs[0].glob("run-*.wandb")).read_bytes()
    assert f"test_acc_mean/nats-{index}".encode() in log and b"final_accuracy" in log


# ---------------------------------------------------------------- bad input: one line each

BAD = {
    "unknown op": ([f"arch={SMALL.replace('avg_pool_3x3', 'max_pool_3x3')}"], "arch", "max_pool_3x3", "nor_conv_3x3"),
    "wrong edge count": (["arch=|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|"], "arch", "|none~0|",
                         "node 2 has 1 edge, expected 2"),
    "best without a selection": (["arch=best"], "arch", "best", "latest_selection.json is missing"),
    "missing selection file": (["arch=best", "selection=/nonexistent/selection.json"], "selection",
                               "/nonexistent/selection.json", "meco_lab.search"),
    "missing data root": ([f"arch={SMALL}", "data.root=/nonexistent/cifar"], "data.root", "/nonexistent/cifar",
                          "existing path"),
    "data root of another dataset": ([f"arch={SMALL}", "data=cifar100"], "data.root", "None", "CIFAR-100"),
    "bad seeds": ([f"arch={SMALL}", f"data.root={JPEG_NPZ}", "seeds=[0,0]"], "seeds", "[0, 0]", "distinct"),
    "unknown profile": ([f"arch={SMALL}", "profile=fast"], "profile", "fast", "smoke"),
    "trainer setting Lightning refuses": ([f"arch={SMALL}", f"data.root={JPEG_NPZ}", "trainer.precision=7"], "trainer",
                                          "precision=7",
                                          "Precision 7 is invalid"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_fails_in_one_line(tmp_path, case):
    args, key, value, allowed = BAD[case]
    done = retrain(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    err = done.stderr.strip()
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(err.splitlines()) == 1, done.stderr
    assert err.startswith(f"error: {key}=") and value in err and allowed in err.split(" is not allowed: ", 1)[1], err
    assert not (tmp_path / "run" / "retrain_fingerprint.json").exists()
