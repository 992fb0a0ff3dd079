"""Build src/meco_lab/resources/inputs_sample.npz, the built-in image sample of meco_lab.inputs.

Usage: python scripts/build_inputs_sample.py [--images ../shared/data/images] [--out PATH]
Arrays written (NCHW uint8 images, uint8 labels): cifar10_x/y (100), cifar100_x/y (100), imagenet16_x/y (120).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SOURCES = {  # dataset -> (file in shared/data/images, images, label key, side)
    "cifar10": ("cifar10_first100_train_exact_nhwc.npz", 100, "y", 32),
    "cifar100": ("cifar100_first100_train_exact_nhwc.npz", 100, "y", 32),
    "imagenet16": ("imagenet16_120_derived_from_val_samples_nhwc.npz", 120, "y", 16),
}
FIRST_LABELS = {"cifar10": [6, 9, 9, 4, 1], "cifar100": [19, 29, 0, 11, 1], "imagenet16": [0, 1, 2, 3, 4]}
MAX_BYTES = 1_000_000


def build(images_dir: Path) -> dict[str, np.ndarray]:
    """Read and check the three shared files; return the arrays to store."""
    out: dict[str, np.ndarray] = {}
    for name, (fname, n, ykey, side) in SOURCES.items():
        with np.load(images_dir / fname) as d:
            x, y = d["x"], d[ykey]
        assert x.shape == (n, side, side, 3) and x.dtype == np.uint8, (name, x.shape, x.dtype)
        assert y.shape == (n,) and list(y[:5]) == FIRST_LABELS[name], (name, y[:5])
        assert y.min() >= 0 and y.max() < 256
        out[f"{name}_x"] = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        out[f"{name}_y"] = y.astype(np.uint8)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "images")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "meco_lab" / "resources" / "inputs_sample.npz")
    args = ap.parse_args()
    arrays = build(args.images)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    size = args.out.stat().st_size
    assert size < MAX_BYTES, f"{args.out} is {size} bytes, over {MAX_BYTES}"
    print(f"wrote {args.out} ({size} bytes): " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    main()
