"""The MeCo paper's published numbers (resources/paper_results.yaml, transcribed with table references), and the
comparison of the paper's TSS numbers with finished sweeps (`python -m meco_lab.reproduce`, `just paper`).

The comparison reads the sweeps `seeds` (Table 1 meco / meco_opt rows, real data; Table 12 top-10 accuracy),
`random-vs-real` (Table 3, random input) and `ablation-n` (Table 5), and renders one table of paper, ours
and the difference, with the commands that made the sweeps.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from rich.table import Table

from meco_lab.benchmarks.truth.nats_table import NATS_DATASETS
from meco_lab.core.resources import resource_path
from meco_lab.sweeps.spec import RECORD, SweepRecord


@lru_cache(maxsize=1)
def paper_results() -> dict[str, Any]:
    return yaml.safe_load(resource_path("paper_results.yaml").read_text())


def paper_value(path: str) -> Any:
    """The entry at a dotted path such as `table5_meco_opt_n_rho.tss.n4` (a dataset -> value mapping)."""
    node: Any = paper_results()
    for part in path.split("."):
        node = node[part]
    return node


ROWS = [  # (label, sweep, filter column, filter value, metric, paper path)
    ("Table 1 MeCo, real data (rho)", "seeds", "proxy", "meco", "spearman", "table1_rho.tss.meco"),
    ("Table 1 MeCo_opt n=8, real data (rho)", "seeds", "proxy", "meco_opt", "spearman", "table1_rho.tss.meco_opt"),
    ("Table 3 MeCo, random input (rho)", "random-vs-real", "data", "random", "spearman",
     "table3_random_input_rho.tss.meco"),
    ("Table 5 MeCo_opt n=4 (rho)", "ablation-n", "proxy.n", 4, "spearman", "table5_meco_opt_n_rho.tss.n4"),
    ("Table 5 MeCo_opt n=6 (rho)", "ablation-n", "proxy.n", 6, "spearman", "table5_meco_opt_n_rho.tss.n6"),
    ("Table 5 MeCo_opt n=8 (rho)", "ablation-n", "proxy.n", 8, "spearman", "table5_meco_opt_n_rho.tss.n8"),
    ("Table 12 MeCo top-10 mean acc. (%)", "seeds", "proxy", "meco", "top10_mean_accuracy",
     "table12_top10_mean_test_accuracy.meco"),
]


def collect(sweeps_dir: Path, profile: str | None) -> list[dict]:
    """One entry per row and dataset: paper value, our mean and std over seeds, the number of seeds."""
    out = []
    for label, sweep, column, value, metric, path in ROWS:
        trials_file = sweeps_dir / (sweep if profile is None else f"{sweep}-{profile}") / "trials.parquet"
        if not trials_file.exists():
            out.append({"row": label, "missing": str(trials_file)})
            continue
        trials = pl.read_parquet(trials_file).filter(pl.col(column) == value)
        for d in NATS_DATASETS:
            paper = paper_value(path)[d]
            paper = paper[0] if isinstance(paper, list) else paper
            ours = trials[f"{metric}_{d}"]
            out.append({"row": label, "dataset": d, "paper": paper, "ours": ours.mean(), "std": ours.std(ddof=0),
                        "seeds": len(ours), "archs": int(trials["n_archs"].max()), "sweep": sweep})
    return out


def sweep_commands(sweeps_dir: Path, profile: str | None) -> list[str]:
    """The command that made each sweep read here, from its sweep.json."""
    commands = []
    for sweep in dict.fromkeys(row[1] for row in ROWS):
        folder = sweeps_dir / (sweep if profile is None else f"{sweep}-{profile}")
        if (folder / RECORD).exists():
            record = SweepRecord.load(folder)
            finished = pl.read_parquet(folder / "trials.parquet")["trial"].n_unique()
            budget = record.spec.budget
            note = "" if finished >= budget else f" (partial: {finished} of {budget} trials)"
            commands.append(f"- `{record.command}`{note}")
    return commands


def render(entries: list[dict], profile: str | None, commands: list[str]) -> tuple[Table, str]:
    table = Table(title="MeCo paper (NATS-Bench TSS) vs meco_lab")
    for col in ("result", "dataset", "paper", "ours (mean ± std)", "diff", "seeds", "archs"):
        table.add_column(col)
    md = ["| result | dataset | paper | ours (mean ± std) | diff | seeds | archs |", "|---|---|---|---|---|---|---|"]
    for e in entries:
        if "missing" in e:
            table.add_row(e["row"], "-", "-", f"not run ({e['missing']})", "-", "-", "-")
            md.append(f"| {e['row']} | - | - | not run | - | - | - |")
            continue
        digits = 2 if "acc" in e["row"] else 3
        cells = [e["row"], e["dataset"], f"{e['paper']:.{digits}f}", f"{e['ours']:.{digits}f} ± {e['std']:.{digits}f}",
                 f"{e['ours'] - e['paper']:+.{digits}f}", str(e["seeds"]), str(e["archs"])]
        table.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    suffix = f" profile={profile}" if profile else ""
    doc = "\n".join([
        "# The MeCo paper's TSS numbers, reproduced", "",
        f"`just paper{suffix}` runs `python -m meco_lab.sweep NAME sweep.workers=2{suffix}` for random-vs-real, "
        "ablation-n and seeds, then `python -m meco_lab.reproduce" + (f" --profile {profile}" if profile else "")
        + "`, which wrote this file from the sweeps run as listed below.", "",
        "Spearman rho against NATS-Bench TSS 200-epoch test accuracy (built-in table), mean ± std over the "
        "sweep's seeds (inputs and weights re-drawn per seed). 'Real data' is one CIFAR-10 image "
        "(built-in sample) for all three datasets, as the paper's default. The `archs` column gives the "
        "number of architectures scored; top-10 accuracy over a sample is not comparable with the paper's "
        "full-space Table 12.", "", "The sweeps read here were run as:", "", *commands, "", *md, ""])
    return table, doc


BENCHMARK_SWEEPS = ("transnas", "benchmarks")
"""Sweeps whose points carry the paper's Tables 2 and 8-11 (their `paper` maps, per point `space/proxy`)."""


def benchmark_tables(sweeps_dir: Path, profile: str | None) -> list[str]:
    """Markdown of the paper's Tables 2 and 8-11 beside the `transnas` and `benchmarks` sweeps' rho (with its
    bootstrap 95% interval and the number of architectures), for the sweeps that were run."""
    out = []
    for sweep in BENCHMARK_SWEEPS:
        folder = sweeps_dir / (sweep if profile is None else f"{sweep}-{profile}")
        if not (folder / "trials.parquet").is_file():
            out += [f"Sweep `{sweep}`: not run (`just sweep {sweep}" + (f" profile={profile}" if profile else "")
                    + "`).", ""]
            continue
        record = SweepRecord.load(folder)
        trials = pl.read_parquet(folder / "trials.parquet")
        out += [f"Sweep `{sweep}`, run as `{record.command}`: Spearman rho (bootstrap 95% interval) against each "
                f"benchmark's truth, the paper's value and the difference.", "",
                "| space | proxy | task | paper | ours | 95% interval | diff | archs |", "|---" * 8 + "|"]
        for row in trials.sort("space", "proxy").iter_rows(named=True):
            path = record.spec.paper.get(f"{row['space']}/{row['proxy']}")
            if not path:
                continue
            path, _, only = path.partition("@")
            paper = paper_value(path)
            paper = {only: paper} if only else paper
            for task in record.tasks:
                ours, ref = row.get(f"spearman_{task}"), paper.get(task)
                if ours is None or ref is None:
                    continue
                lo, hi = row.get(f"spearman_lo_{task}"), row.get(f"spearman_hi_{task}")
                span = "" if lo is None else f"{lo:.2f} .. {hi:.2f}"
                out.append(f"| {row['space']} | {row['proxy']} | {task} | {ref:.2f} | {ours:.3f} | {span} | "
                           f"{ours - ref:+.3f} | {row['n_archs']} |")
        out.append("")
    return out
