"""Build the small test fixtures in tests/fixtures/ from ../shared/data (see tests/fixtures/README.md).

    python scripts/build_test_fixtures.py ../shared/data

- `cifar10_jpeg_subset.npz`: the first 200 training and first 100 test images of every CIFAR-10 class from
  `images/cifar10_all60k_jpeg_bytes.npz`, in the same format (sorted by split, label, index in class);
- `published_nb201_sample.csv`: the published NB201 params, synflow and NASWOT scores of the 300 architectures
  `tests/test_published_agreement.py` samples, from `zero_cost/nb201_freerea_proxies_cifar10.csv` and
  `zero_cost/nb201_naswot_bayeswatch_cifar10.csv`.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import polars as pl

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
PER_CLASS = {0: 200, 1: 100}  # split code (0 train, 1 test) -> images per class
SAMPLE_SEED, SAMPLE_SIZE, TSS_SIZE = 2024, 300, 15_625  # test_published_agreement.SAMPLE


def jpeg_subset(source: Path, target: Path) -> None:
    with np.load(source) as d:
        blob, offsets, labels, split, in_class = (d[k] for k in ("jpeg_bytes", "offsets", "labels", "split",
                                                                 "index_in_class"))
        names = d["class_names"]
    rows = [i for code, per in PER_CLASS.items() for label in range(10)
            for i in np.flatnonzero((split == code) & (labels == label))[:per]]
    chunks = [blob[offsets[i]:offsets[i + 1]] for i in rows]
    new_offsets = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
    np.savez_compressed(target, jpeg_bytes=np.concatenate(chunks), offsets=new_offsets, labels=labels[rows],
                        split=split[rows], index_in_class=in_class[rows], class_names=names)


def published_sample(shared: Path, target: Path) -> None:
    sample = np.sort(np.random.default_rng(SAMPLE_SEED).choice(TSS_SIZE, SAMPLE_SIZE, replace=False))
    freerea = pl.read_csv(shared / "zero_cost" / "nb201_freerea_proxies_cifar10.csv").sort("index")
    bayeswatch = pl.read_csv(shared / "zero_cost" / "nb201_naswot_bayeswatch_cifar10.csv").sort("index")
    table = freerea.select("index", "ArchitectureString", "params_M", "synflow", "naswot").join(
        bayeswatch.select("index", pl.col("params_M").alias("bayeswatch_params_M")), on="index")
    table.filter(pl.col("index").is_in(sample.tolist())).sort("index").write_csv(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shared", type=Path, help="the shared data folder (../shared/data)")
    args = parser.parse_args()
    jpeg_subset(args.shared / "images" / "cifar10_all60k_jpeg_bytes.npz", FIXTURES / "cifar10_jpeg_subset.npz")
    published_sample(args.shared, FIXTURES / "published_nb201_sample.csv")
    for name in ("cifar10_jpeg_subset.npz", "published_nb201_sample.csv"):
        path = FIXTURES / name
        print(f"{name}: {path.stat().st_size:,} bytes, sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
