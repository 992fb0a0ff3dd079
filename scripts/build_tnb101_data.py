"""Build the built-in TransNAS-Bench-101 tables (truth + NASLib network sizes) and TNB101_PROVENANCE.md.

Usage (from the repo root): python scripts/build_tnb101_data.py SHARED_DATA_DIR

Reads SHARED_DATA_DIR/nasbench_suite_zero/tnb101_{micro,macro}_{truth,naslib_sizes}.csv and writes
src/meco_lab/resources/tnb101_{micro,macro}.parquet (zstd): one row per architecture in naslib_idx order,
columns naslib_idx, naslib_arch, arch, the 7 task truth columns, params_<task> (exact count, int64) and
flops_<task> (MFLOPs as stored), null where the sizes file has no row for that (arch, task).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from meco_lab.spaces.tnb101.arch import N_MACRO, N_MICRO, from_naslib, parse_arch  # noqa: E402
from meco_lab.spaces.tnb101.tasks import TASKS  # noqa: E402

OUT_DIR = REPO / "src" / "meco_lab" / "resources"
PROVENANCE = OUT_DIR / "TNB101_PROVENANCE.md"
SUBDIR = "nasbench_suite_zero"
N_ROWS = {"micro": N_MICRO, "macro": N_MACRO}
MAX_BYTES = 400_000


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise SystemExit(f"check failed: {msg}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _naslib_tuple(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in s.strip("()").split(",") if x.strip())


def build(shared: Path, space: str) -> pl.DataFrame:
    """Join truth and sizes for one space, cross-checking arch strings, tuples and counts."""
    truth = pl.read_csv(shared / SUBDIR / f"tnb101_{space}_truth.csv")
    sizes = pl.read_csv(shared / SUBDIR / f"tnb101_{space}_naslib_sizes.csv")
    n = N_ROWS[space]
    _check(truth.height == n, f"{space} truth: {truth.height} rows, expected {n}")
    _check(sorted(truth["naslib_idx"].to_list()) == list(range(n)), f"{space} truth: naslib_idx is not 0..{n - 1}")
    _check(truth["tnb_arch_str"].n_unique() == n, f"{space} truth: duplicate arch strings")
    for idx, tup, arch in truth.select("naslib_idx", "naslib_arch", "tnb_arch_str").iter_rows():
        a = parse_arch(arch)
        _check(a.space == space and a.arch_str == arch, f"{space} idx {idx}: {arch!r} does not round-trip")
        _check(from_naslib(_naslib_tuple(tup), space) == a, f"{space} idx {idx}: tuple {tup} != {arch}")
    _check(set(truth.columns) == {"naslib_idx", "naslib_arch", "tnb_arch_str", *TASKS}, f"{space} truth columns")
    for t in TASKS:
        _check(truth[t].null_count() == 0, f"{space} truth: nulls in {t}")
    _check(set(sizes["task"].unique()) <= set(TASKS), f"{space} sizes: unknown task")
    _check(sizes.select("naslib_idx", "task").is_duplicated().sum() == 0, f"{space} sizes: duplicate (idx, task)")
    joined = sizes.join(truth.select("naslib_idx", "naslib_arch", "tnb_arch_str"), on="naslib_idx", how="left",
                        suffix="_truth")
    _check((joined["tnb_arch_str"] == joined["tnb_arch_str_truth"]).all(), f"{space} sizes: arch differs from truth")
    _check((joined["naslib_arch"] == joined["naslib_arch_truth"]).all(), f"{space} sizes: tuple differs from truth")
    counts = (sizes["params"] * 1e6).round(0)
    _check(((sizes["params"] * 1e6 - counts).abs() < 1e-3).all(), f"{space} sizes: params * 1e6 not an integer")
    sizes = sizes.with_columns(counts.cast(pl.Int64).alias("params_count"))

    out = truth.rename({"tnb_arch_str": "arch"}).with_columns(
        pl.col("naslib_idx").cast(pl.Int32), *(pl.col(t).cast(pl.Float64) for t in TASKS)
    )
    for t in TASKS:
        part = sizes.filter(pl.col("task") == t).select(
            pl.col("naslib_idx").cast(pl.Int32),
            pl.col("params_count").alias(f"params_{t}"),
            pl.col("flops").cast(pl.Float64).alias(f"flops_{t}"),
        )
        out = out.join(part, on="naslib_idx", how="left")
    out = out.select("naslib_idx", "naslib_arch", "arch", *TASKS,
                     *[c for t in TASKS for c in (f"params_{t}", f"flops_{t}")]).sort("naslib_idx")
    _check(out.height == n, f"{space}: {out.height} rows after join")
    return out


def _provenance(shared: Path, tables: dict[str, pl.DataFrame], shas: dict[str, str], out_shas: dict[str, str]) -> str:
    cov = []
    for space, df in tables.items():
        per = ", ".join(f"{t} {df[f'params_{t}'].is_not_null().sum()}" for t in TASKS)
        cov.append(f"- `tnb101_{space}.parquet`: {df.height} rows; archs with NASLib sizes per task: {per}.")
    inputs = "\n".join(f"| `{SUBDIR}/{name}` | `{sha}` |" for name, sha in shas.items())
    outputs = "\n".join(f"| `{name}` | `{sha}` |" for name, sha in out_shas.items())
    task_rows = "\n".join(f"| `{t}` | float64 | {desc} |" for t, desc in (
        ("class_scene", "scene classification, `valid_top1` (%)"),
        ("class_object", "object classification, `valid_top1` (%)"),
        ("autoencoder", "autoencoding, `valid_ssim` (0-1)"),
        ("normal", "surface normals, `valid_ssim` (0-1)"),
        ("jigsaw", "jigsaw permutation classification, `valid_top1` (%)"),
        ("room_layout", "room layout regression, `valid_neg_loss` (negative L2 loss, higher is better)"),
        ("segmentsemantic", "semantic segmentation, `valid_acc` (pixel accuracy %, not mIoU)"),
    ))
    return f"""# Provenance of the built-in TransNAS-Bench-101 tables

`tnb101_micro.parquet` and `tnb101_macro.parquet` (zstd) hold TransNAS-Bench-101 ground truth for the 7 tasks and
the size (parameters, FLOPs) of every network NASLib scored, one row per architecture in NASLib index order.
Nothing in them was trained or measured by this project; we only joined and re-encoded the values.

Rebuild (from the repo root; the argument is the shared data dir):

    python scripts/build_tnb101_data.py ../shared/data

The script checks: 4,096 / 3,256 rows with `naslib_idx` 0..n-1, unique arch strings that parse as members of
the space and round-trip, NASLib tuple = arch string, no nulls in the truth, the sizes file's arch and tuple
equal the truth file's for its `naslib_idx`, no duplicate (arch, task) and `params * 1e6` integral.

## Columns

| column | type | meaning |
|---|---|---|
| `naslib_idx` | int32 | NASLib's index of the arch in the suite |
| `naslib_arch` | str | NASLib's op tuple, e.g. `(2, 3, 2, 3, 2, 3)` (macro: the digits, some zero-padded to 6) |
| `arch` | str | arch string (`tnb_arch_str` in the source), e.g. `64-41414-2_32_323`, `64-232323-basic` |
{task_rows}
| `params_<task>` | int64 | NASLib's parameter count of its network for the task = round(`params` (M) * 1e6) |
| `flops_<task>` | float64 | NASLib's FLOPs of that network in MFLOPs (10 significant digits, as stored) |

`params_<task>` / `flops_<task>` are null where the sizes file has no row for that (arch, task).

NASLib queried the TransNAS API in mode 'final' (last epoch). `params`/`flops` come from tensorwatch 0.9.1
`ModelStats` on a batch of 1 (see docs/transnas.md for the counting rules; our networks reproduce every value).

## Coverage

{chr(10).join(cov)}

## Inputs (sha256)

| file in the shared data dir | sha256 |
|---|---|
{inputs}

## Outputs (sha256 at build time)

| file | sha256 |
|---|---|
{outputs}

## Upstream origins (from the shared data README, section "nasbench_suite_zero")

All values come from NAS-Bench-Suite-Zero (automl/NASLib), branch `zerocost` @
8c45f19dc259956c3bd253071135c798ad3df8ce. The full `naslib/data/zc_*.json` files were not reachable, so the truth
was recovered from the suite's per-proxy runner outputs (zips of `benchmark--<space>--<task>--<start>.json`, each
record `{{idx, arch, <proxy>: {{score, time}}, val_accuracy}}`) and from early, partial versions of the `zc_*.json`
files. Truth sources: `naslib/data/zc_benchmarks/all_benchmarks_zen.zip` (micro) and
`run/results/benchmarks/tnb101_macro_zen.zip` (macro); the same values appear in the synflow, epe_nas and fisher
runs of the same branch (checked by the data's authors: identical). NASLib queried the TransNAS API in mode
'final': class_scene, class_object, jigsaw `valid_top1` (%); autoencoder, normal `valid_ssim`; room_layout
`valid_neg_loss`; segmentsemantic `valid_acc` (pixel accuracy %). The sizes files hold NASLib's `flops` (M) and
`params` (M) of the exact networks it scored, per arch and task, for the archs of the partial files only.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared", type=Path, help="shared data dir (holding nasbench_suite_zero/)")
    args = ap.parse_args()
    shared = args.shared.resolve()
    tables, shas, out_shas = {}, {}, {}
    for space in ("micro", "macro"):
        for kind in ("truth", "naslib_sizes"):
            name = f"tnb101_{space}_{kind}.csv"
            shas[name] = _sha256(shared / SUBDIR / name)
        df = build(shared, space)
        path = OUT_DIR / f"tnb101_{space}.parquet"
        df.write_parquet(path, compression="zstd", compression_level=22, statistics=False)
        size = path.stat().st_size
        _check(size < MAX_BYTES, f"{path.name} is {size} bytes (limit {MAX_BYTES})")
        _check(pl.read_parquet(path).equals(df), f"{path.name} does not read back equal")
        tables[space], out_shas[path.name] = df, _sha256(path)
        print(f"wrote {path.relative_to(REPO)}: {df.height} rows, {size:,} bytes")
    PROVENANCE.write_text(_provenance(shared, tables, shas, out_shas))
    print(f"wrote {PROVENANCE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
