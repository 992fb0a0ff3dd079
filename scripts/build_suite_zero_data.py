"""Build the NAS-Bench-Suite-Zero resources (NB101, NB301, NB360-task tables as zstd parquet) and their provenance.

Usage (from the repo root): python scripts/build_suite_zero_data.py [SHARED_DATA_DIR]

Reads `SHARED_DATA_DIR/nasbench_suite_zero/*.csv` (values only: nothing is trained or measured here),
cross-checks the files against each other and writes into src/meco_lab/resources/:
- nb101.parquet: one row per distinct NB101 module hash (accuracies; the cell of the hash's first sampled row);
- nb101_cells.parquet: one row per distinct pruned cell (isomorphic cells share a hash but not always a size);
- nb301.parquet: one row per genotype (surrogate accuracy, NASLib compact form, size);
- nb360.parquet: one row per (skeleton, architecture) with the three task accuracies and sizes per task;
- SUITE_ZERO_PROVENANCE.md.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
from pathlib import Path

import polars as pl

from meco_lab.spaces.darts import format_genotype, parse_genotype
from meco_lab.spaces.darts.nb301 import format_compact, parse_compact
from meco_lab.spaces.nb101 import from_naslib_tuple, parse_cell
from meco_lab.spaces.nb201.cell import format_arch, parse_arch
from meco_lab.spaces.nb360 import nb201_from_naslib, tnb_micro_from_naslib

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "meco_lab" / "resources"
SUB = "nasbench_suite_zero"
PROVENANCE = OUT_DIR / "SUITE_ZERO_PROVENANCE.md"
TASKS = ("svhn", "ninapro", "scifar100")
INPUTS = (
    "nb101_truth.csv",
    "nb101_naslib_testasset_30archs_truth.csv",
    "nb101_naslib_sizes.csv",
    "nb301_truth.csv",
    "nb301_naslib_sizes.csv",
    "nb201_9x_truth.csv",
    "nb201_9x_naslib_sizes.csv",
    "nb301_9x_truth.csv",
    "nb301_9x_naslib_sizes.csv",
    "tnb101_micro_9x_truth.csv",
    "tnb101_micro_9x_naslib_sizes.csv",
)
NOTES: list[str] = []


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise SystemExit(f"check failed: {msg}")


def _read(shared: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(shared / SUB / name, infer_schema=False)  # all strings: no digits lost to int parsing


def _millions_to_int(col: str, name: str) -> pl.Expr:
    return (pl.col(col).cast(pl.Float64) * 1e6).round(0).cast(pl.Int64).alias(name)


def _check_integral(df: pl.DataFrame, col: str, what: str) -> None:
    x = df[col].cast(pl.Float64) * 1e6
    _check(((x - x.round(0)).abs() < 1e-3).all(), f"{what}: {col} * 1e6 is not an integer")


# ---------------------------------------------------------------- NB101


def _fix_adjacency(adj: str, ops: str) -> str:
    """The sizes csv lost each adjacency's leading zero (written as an integer): pad back to n * n."""
    n = len(ops.split("|"))
    _check(len(adj) <= n * n, f"adjacency {adj} longer than {n * n}")
    return adj.zfill(n * n)


def build_nb101(shared: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    truth = _read(shared, "nb101_truth.csv").with_row_index("row")
    asset = _read(shared, "nb101_naslib_testasset_30archs_truth.csv")
    sizes = _read(shared, "nb101_naslib_sizes.csv")
    _check(truth.height == 500 and asset.height == 30, "NB101 truth / asset row counts")

    # every sampled NASLib tuple prunes to the row's cell, and every cell hashes to the row's hash
    for r in truth.iter_rows(named=True):
        cell = from_naslib_tuple(ast.literal_eval(r["naslib_arch"]))
        _check(cell.adjacency_string() == r["pruned_adjacency_rowmajor"], f"NB101 pruning of {r['naslib_arch']}")
        _check(cell.ops_string() == r["pruned_ops"], f"NB101 pruned ops of {r['naslib_arch']}")
        _check(cell.module_hash() == r["nb101_hash"], f"NB101 hash of {r['naslib_arch']}")
    short = sizes.filter(
        pl.col("pruned_adjacency_rowmajor").str.len_chars() != pl.col("pruned_ops").str.split("|").list.len().pow(2)
    ).height
    if short:
        NOTES.append(f"`nb101_naslib_sizes.csv`: {short} of {sizes.height} adjacency strings had lost their leading "
                     "`0` (written as integers); padded back to n x n characters.")
    sizes = sizes.with_columns(
        pl.struct("pruned_adjacency_rowmajor", "pruned_ops")
        .map_elements(lambda r: _fix_adjacency(r["pruned_adjacency_rowmajor"], r["pruned_ops"]), return_dtype=pl.String)
        .alias("pruned_adjacency_rowmajor")
    )
    for df, name in ((sizes, "sizes"), (asset, "asset")):
        for r in df.iter_rows(named=True):
            cell = parse_cell(r["pruned_adjacency_rowmajor"], r["pruned_ops"])
            _check(cell.is_pruned() and cell.module_hash() == r["nb101_hash"], f"NB101 {name} cell {r['nb101_hash']}")
    _check_integral(sizes, "params", "nb101 sizes")
    _check_integral(sizes, "flops", "nb101 sizes")

    key = ["nb101_hash", "pruned_adjacency_rowmajor", "pruned_ops"]
    truth_cells = truth.select(key).unique()
    size_cells = sizes.select(key)
    _check(size_cells.n_unique() == sizes.height, "nb101 sizes has duplicate cells")
    _check(truth_cells.sort(key).equals(size_cells.sort(key)), "nb101 sizes cells != truth cells")

    archs = truth.group_by(key).agg(
        pl.col("naslib_arch").unique(maintain_order=True).alias("naslib_archs"), pl.len().cast(pl.Int32).alias("n_rows")
    )
    cells_sizes = sizes.join(archs, on=key, how="left").select(
        *key,
        _millions_to_int("params", "params"),
        _millions_to_int("flops", "flops"),
        pl.lit(None, dtype=pl.Int64).alias("trainable_parameters"),
        pl.lit("nb101_naslib_sizes.csv").alias("source"),
        "n_rows",
        "naslib_archs",
    )
    cells_asset = asset.select(
        *key,
        pl.lit(None, dtype=pl.Int64).alias("params"),
        pl.lit(None, dtype=pl.Int64).alias("flops"),
        pl.col("trainable_parameters").cast(pl.Int64),
        pl.lit("nb101_naslib_testasset_30archs_truth.csv").alias("source"),
        pl.lit(0, dtype=pl.Int32).alias("n_rows"),
        pl.lit([], dtype=pl.List(pl.String)).alias("naslib_archs"),
    )
    overlap = cells_asset.join(cells_sizes, on=key, how="semi").height
    _check(overlap == 0, "an asset cell also in sizes (merge them)")
    cells = (
        pl.concat([cells_sizes, cells_asset])
        .rename({"pruned_adjacency_rowmajor": "adjacency", "pruned_ops": "ops"})
        .sort("nb101_hash", "source", "adjacency", "ops")
    )
    n_variant = sizes.group_by("nb101_hash").len().filter(pl.col("len") > 1)
    NOTES.append(
        f"NB101: {n_variant.height} hashes have 2 isomorphic pruned cells among the suite's samples; "
        f"{sizes.group_by('nb101_hash').agg(pl.col('params').n_unique()).filter(pl.col('params') > 1).height} of them "
        "differ in size (the channel split gives the extra channels to the lowest-numbered vertices), so sizes "
        "are kept per cell in `nb101_cells.parquet`."
    )

    first = truth.sort("row").group_by("nb101_hash", maintain_order=True).first()
    per_hash = truth.group_by("nb101_hash").agg(
        pl.col("val_accuracy").cast(pl.Float64).mean().alias("val_accuracy"),
        pl.len().cast(pl.Int32).alias("n_rows"),
        pl.col("val_accuracy").cast(pl.Float64).n_unique().cast(pl.Int32).alias("n_distinct_val"),
    )
    table = (
        first.select(key)
        .join(per_hash, on="nb101_hash")
        .join(sizes.select(*key, _millions_to_int("params", "params"), _millions_to_int("flops", "flops")), on=key)
    )
    asset_cols = asset.select(
        "nb101_hash",
        pl.col("val_acc_mean").cast(pl.Float64).alias("asset_val_accuracy_mean"),
        pl.col("test_acc_mean").cast(pl.Float64).alias("asset_test_accuracy_mean"),
        pl.col("trainable_parameters").cast(pl.Int64).alias("asset_trainable_parameters"),
        pl.col("pruned_adjacency_rowmajor").alias("asset_adjacency"),
        pl.col("pruned_ops").alias("asset_ops"),
    )
    table = table.join(asset_cols, on="nb101_hash", how="full", coalesce=True)
    table = table.with_columns(
        pl.col("pruned_adjacency_rowmajor").fill_null(pl.col("asset_adjacency")).alias("adjacency"),
        pl.col("pruned_ops").fill_null(pl.col("asset_ops")).alias("ops"),
        pl.col("n_rows").fill_null(0),
        pl.col("n_distinct_val").fill_null(0),
        pl.col("params").fill_null(pl.col("asset_trainable_parameters")),
    ).select(
        "nb101_hash", "adjacency", "ops", "val_accuracy", "n_rows", "n_distinct_val",
        "asset_val_accuracy_mean", "asset_test_accuracy_mean", "asset_trainable_parameters", "params", "flops",
    ).sort("nb101_hash")
    _check(table["nb101_hash"].n_unique() == table.height == 321, f"nb101 hashes: {table.height}")
    return table, cells


# ---------------------------------------------------------------- NB301


def build_nb301(shared: Path) -> pl.DataFrame:
    truth = _read(shared, "nb301_truth.csv")
    sizes = _read(shared, "nb301_naslib_sizes.csv")
    _check(truth.height == sizes.height == 1218, "nb301 row counts")
    _check(truth["genotype"].equals(sizes["genotype"]), "nb301 truth and sizes genotypes differ (row order)")
    _check(truth["naslib_compact"].equals(sizes["naslib_compact"]), "nb301 truth and sizes compact forms differ")
    for r in truth.iter_rows(named=True):
        g = parse_genotype(r["genotype"])
        _check(format_genotype(g) == r["genotype"], f"nb301 genotype does not round-trip: {r['genotype']}")
        _check(parse_compact(r["naslib_compact"]) == g and format_compact(g) == r["naslib_compact"],
               f"nb301 compact form of {r['genotype']}")
    _check(truth["genotype"].n_unique() == truth.height, "nb301 duplicate genotypes")
    _check((truth["in_naslib_archs_11221"] == "False").all(), "nb301 in_naslib_archs_11221 not all False")
    _check_integral(sizes, "params", "nb301 sizes")
    _check_integral(sizes, "flops", "nb301 sizes")
    return pl.DataFrame([truth["genotype"], truth["naslib_compact"].alias("compact")]).with_columns(
        truth["val_accuracy"].cast(pl.Float64),
        truth["val_accuracy_other_run"].cast(pl.Float64),
        truth["src_commit"],
        sizes.select(_millions_to_int("params", "params")).to_series(),
        sizes.select(_millions_to_int("flops", "flops")).to_series(),
    )


# ---------------------------------------------------------------- NB360 tasks


SKELETONS = {
    # skeleton: (truth csv, sizes csv, arch column, NASLib tuple -> arch string)
    "nb201": ("nb201_9x_truth.csv", "nb201_9x_naslib_sizes.csv", "arch_str",
              lambda t: format_arch(nb201_from_naslib(t))),
    "nb301": ("nb301_9x_truth.csv", "nb301_9x_naslib_sizes.csv", "genotype",
              lambda t: format_genotype(parse_compact(str(t)))),
    "tnb101_micro": ("tnb101_micro_9x_truth.csv", "tnb101_micro_9x_naslib_sizes.csv", "cell_str_nb201style",
                     lambda t: format_arch(tnb_micro_from_naslib(t))),
}


def build_nb360(shared: Path) -> pl.DataFrame:
    parts = []
    for skeleton, (truth_csv, sizes_csv, col, from_tuple) in SKELETONS.items():
        truth = _read(shared, truth_csv)
        sizes = _read(shared, sizes_csv)
        for r in truth.iter_rows(named=True):
            _check(from_tuple(ast.literal_eval(r["naslib_arch"])) == r[col], f"{truth_csv}: tuple vs {col} of {r}")
            if skeleton != "nb301":
                _check(format_arch(parse_arch(r[col])) == r[col], f"{truth_csv}: {col} does not round-trip")
        _check(truth["naslib_idx"].n_unique() == truth.height, f"{truth_csv}: duplicate naslib_idx")
        _check(truth[col].n_unique() == truth.height, f"{truth_csv}: duplicate architectures")
        _check(sizes.height == 3 * truth.height, f"{sizes_csv}: {sizes.height} rows for {truth.height} archs")
        _check_integral(sizes, "params", sizes_csv)
        _check_integral(sizes, "flops", sizes_csv)
        table = truth.select(
            pl.lit(skeleton).alias("skeleton"),
            pl.col("naslib_idx").cast(pl.Int32),
            "naslib_arch",
            pl.col(col).alias("arch"),
            (pl.col("nats_index").cast(pl.Int32) if "nats_index" in truth.columns
             else pl.lit(None, dtype=pl.Int32)).alias("nats_index"),
            (pl.col("tnb_equiv_cell_str") if "tnb_equiv_cell_str" in truth.columns
             else pl.lit(None, dtype=pl.String)).alias("tnb_equiv_cell_str"),
            *[pl.col(t).cast(pl.Float64).alias(f"test_{t}") for t in TASKS],
        )
        for t in TASKS:
            s = sizes.filter(pl.col("dataset") == t)
            _check(s.height == truth.height, f"{sizes_csv}: {s.height} {t} rows")
            s = s.select(
                pl.col("naslib_idx").cast(pl.Int32),
                pl.col(col).alias(f"arch_{t}"),
                _millions_to_int("params", f"params_{t}"),
                _millions_to_int("flops", f"flops_{t}"),
            )
            table = table.join(s, on="naslib_idx", how="left")
            _check((table["arch"] == table[f"arch_{t}"]).all(), f"{sizes_csv}: {t} archs differ from {truth_csv}")
            table = table.drop(f"arch_{t}")
        parts.append(table)
    out = pl.concat(parts)
    _check(out.null_count().select(pl.exclude("nats_index", "tnb_equiv_cell_str")).sum_horizontal().item() == 0,
           "nb360 table has nulls")
    return out


# ---------------------------------------------------------------- provenance


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


README_KEEP = ("NAS-Bench-301", "NAS-Bench-101", "NAS-Bench-360", "Sizes")


def _readme_section(shared: Path) -> str:
    """The shared README's section on the suite: its introduction and the subsections these tables use."""
    text = (shared / "README.md").read_text()
    start = text.index(f"## {SUB}/")
    end = text.find("\n---", start)
    section = text[start : end if end > 0 else None].strip()
    parts = section.split("\n### ")
    kept = [parts[0]] + ["### " + p for p in parts[1:] if p.startswith(README_KEEP)]
    return "\n\n".join(p.strip() for p in kept)


PROVENANCE_HEAD = """\
# Provenance of the built-in NAS-Bench-Suite-Zero tables

Values only: nothing here was trained or measured by this project. Rebuild from the repo root with

    python scripts/build_suite_zero_data.py ../shared/data

The inputs are the shared data dir's `{sub}/` csvs (their upstream origin is quoted below from the shared
data README). Their sha256 at build time:

| input | sha256 |
|---|---|
{inputs}
Outputs (zstd parquet):

| file | rows | sha256 |
|---|---|---|
{outputs}
## What was converted

- `nb101.parquet`: one row per distinct NB101 module hash: the 292 hashes of `nb101_truth.csv` (500 rows)
  and the 29 further hashes of NASLib's 30-cell test asset. `val_accuracy` = mean of the hash's rows in
  `nb101_truth.csv` (each row is the 108-epoch validation accuracy of ONE random repeat; `n_rows` rows,
  `n_distinct_val` distinct values); `adjacency` / `ops` = the pruned cell of the hash's first row there
  (for asset-only hashes the asset's cell); `asset_*` = the test asset's means over its 3 repeats and NB101's
  `trainable_parameters` (null elsewhere); `params` / `flops` = NASLib's size of that cell (raw counts:
  the csv's millions x 1e6, all integral; for asset-only hashes `params` = `trainable_parameters`, `flops` null).
- `nb101_cells.parquet`: one row per distinct pruned cell (`nb101_hash`, `adjacency` row-major 0/1,
  `ops` joined by `|`): the 301 cells of `nb101_naslib_sizes.csv` (`params`, `flops`, the NASLib tuples
  `naslib_archs` of `nb101_truth.csv` that prune to the cell, `n_rows`) and the 30 test-asset cells
  (`trainable_parameters`).
- `nb301.parquet`: `genotype` (the string of `nb301_truth.csv`), `compact` (NASLib's compact form, as
  written there), `val_accuracy` (surrogate prediction), `val_accuracy_other_run`, `src_commit`, and
  `params` / `flops` (raw counts) of `nb301_naslib_sizes.csv` (same rows, same order: checked).
- `nb360.parquet`: one row per (`skeleton` in nb201 / nb301 / tnb101_micro, architecture): `naslib_idx`,
  `naslib_arch` (NASLib tuple), `arch` (NB201 string / DARTS genotype / NB201-style TNB-micro cell),
  `nats_index` (nb201), `tnb_equiv_cell_str` (tnb101_micro), `test_{{svhn,ninapro,scifar100}}` (%), and
  `params_*` / `flops_*` per task (raw counts) from the `*_9x_naslib_sizes.csv` files (joined on
  `naslib_idx`, architecture identity checked).

Checks made by the build: every NASLib tuple converts to the architecture string of its row; every
NB101 tuple prunes to the row's pruned cell and hashes (NB101's module hash) to its `nb101_hash`; every
sizes cell is pruned and hashes to its hash; the NB301 genotypes and compact forms convert into each
other; sizes are integral after x 1e6.

Notes:
{notes}

## Upstream origins, from the shared data README (section `{sub}/`, the parts these tables use)

"""


def write_provenance(shared: Path, outputs: dict[str, pl.DataFrame]) -> None:
    inputs = "".join(f"| `{SUB}/{n}` | `{_sha256(shared / SUB / n)}` |\n" for n in INPUTS)
    outs = "".join(f"| `{n}` | {df.height} | `{_sha256(OUT_DIR / n)}` |\n" for n, df in outputs.items())
    notes = "".join(f"- {n}\n" for n in NOTES)
    head = PROVENANCE_HEAD.format(sub=SUB, inputs=inputs, outputs=outs, notes=notes)
    PROVENANCE.write_text(head + _readme_section(shared) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared", nargs="?", default=str(REPO.parent / "shared" / "data"), help="shared data dir")
    shared = Path(ap.parse_args().shared)
    nb101, nb101_cells = build_nb101(shared)
    outputs = {
        "nb101.parquet": nb101,
        "nb101_cells.parquet": nb101_cells,
        "nb301.parquet": build_nb301(shared),
        "nb360.parquet": build_nb360(shared),
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, df in outputs.items():
        df.write_parquet(OUT_DIR / name, compression="zstd", compression_level=19, statistics=False)
        print(f"wrote {name}: {df.height} rows, {(OUT_DIR / name).stat().st_size:,} bytes")
    write_provenance(shared, outputs)
    print(f"wrote {PROVENANCE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
