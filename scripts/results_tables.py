"""Markdown tables of rho (bootstrap 95% interval) beside the paper's value, for the README and docs.

    python scripts/results_tables.py runs LABEL=RUN_DIR=PAPER_PATH ...
    python scripts/results_tables.py sweep SWEEP_DIR [--space nb301 ...]

`runs`: one row per scoring run (its summary.json), one column per task; PAPER_PATH is a path in
resources/paper_results.yaml (`table10_tnb101_micro_rho.meco`, or `table2_nb301_cifar10_rho.meco@cifar10` for one
number), or `-` for none. `sweep`: one row per (space, proxy) point of a finished sweep, with the paper's values from
the sweep's `paper` map. A cell is `ours [lo, hi] (paper)`, with `*` where ours differs from the paper by more
than 0.1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

from meco_lab.sweeps.paper import paper_value
from meco_lab.sweeps.report import paper_for


def cell(rho: float, lo: float | None, hi: float | None, paper: float | None) -> str:
    text = f"{rho:.3f}"
    if lo is not None and hi is not None:
        text += f" [{lo:.2f}, {hi:.2f}]"
    if paper is not None:
        text += f" ({paper:.2f}){' *' if abs(rho - paper) > 0.1 else ''}"
    return text


def paper_of(path: str) -> dict[str, float]:
    if path == "-":
        return {}
    path, _, task = path.partition("@")
    found = paper_value(path)
    return {task: found} if task else dict(found)


def runs_table(specs: list[str]) -> list[str]:
    rows, tasks = [], []
    for spec in specs:
        label, run_dir, path = spec.split("=")
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
        tasks += [t for t in summary["spearman"] if t not in tasks]
        rows.append((label, summary, paper_of(path)))
    lines = ["| run | archs | " + " | ".join(tasks) + " |", "|---|---|" + "---|" * len(tasks)]
    for label, summary, paper in rows:
        cells = []
        for t in tasks:
            if t not in summary["spearman"]:
                cells.append("")
                continue
            lo, hi = summary.get("spearman_ci95", {}).get(t, (None, None))
            cells.append(cell(summary["spearman"][t], lo, hi, paper.get(t)))
        lines.append(f"| {label} | {summary['n_archs']} | " + " | ".join(cells) + " |")
    return lines


def sweep_table(sweep_dir: Path, spaces: list[str] | None) -> list[str]:
    record = json.loads((sweep_dir / "sweep.json").read_text())
    trials = pl.read_parquet(sweep_dir / "trials.parquet")
    keys = [k for k in ("space", "proxy") if k in trials.columns]
    lines = []
    for space in spaces or trials["space"].unique(maintain_order=True).to_list():
        part = trials.filter(pl.col("space") == space)
        tasks = [c.removeprefix("spearman_") for c in part.columns if c.startswith("spearman_")
                 and not c.startswith(("spearman_lo_", "spearman_hi_")) and part[c].is_not_null().any()]
        lines += [f"`{space}` ({part['n_archs'].max()} archs)", "", "| proxy | " + " | ".join(tasks) + " |",
                  "|---|" + "---|" * len(tasks)]
        for row in part.sort("proxy").iter_rows(named=True):
            paper = paper_for(record["paper"], "/".join(str(row[k]) for k in keys)) or {}
            cells = [cell(row[f"spearman_{t}"], row.get(f"spearman_lo_{t}"), row.get(f"spearman_hi_{t}"),
                          paper.get(t)) for t in tasks]
            lines.append(f"| {row['proxy']} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    runs = sub.add_parser("runs")
    runs.add_argument("specs", nargs="+", help="LABEL=RUN_DIR=PAPER_PATH")
    sweep = sub.add_parser("sweep")
    sweep.add_argument("dir", type=Path)
    sweep.add_argument("--space", nargs="*")
    args = parser.parse_args()
    lines = runs_table(args.specs) if args.mode == "runs" else sweep_table(args.dir, args.space)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
