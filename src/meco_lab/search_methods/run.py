"""A search run: select architectures by the configured method, write `selection.json` (and the `latest` copy that
`retrain arch=best` reads), log it to W&B, and say where the best one came from.

The selection holds `best`, the ranked architectures with their scores and benchmark values per task, the
values' mean ± std per task, and the config; topk adds where the scores came from, zc_pt every candidate,
the proxy evaluations and the search seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from meco_lab.core.checks import check_choice
from meco_lab.core.io import write_json
from meco_lab.search_methods.topk import check_topk, topk_run
from meco_lab.search_methods.zc_pt_run import plan_zc_pt, zc_pt_run
from meco_lab.tracking import check_tracking, table, wandb_run

METHODS = ("topk", "zc_pt")


def log_selection(tracking: dict[str, Any], run_dir: Path, selection: dict[str, Any]) -> None:
    """One W&B run (job type `search`): the best architecture's values, the top-k statistics, the ranked table."""
    import polars as pl

    with wandb_run(tracking, run_dir, selection["config"], job_type="search") as run:
        if run is None:
            return
        tasks = list(selection["best"]["accuracy"])
        for t in tasks:
            run.summary[f"best_accuracy/{t}"] = selection["best"]["accuracy"][t]
            for stat, value in (selection.get("topk_accuracy") or {}).get(t, {}).items():
                run.summary[f"topk_{stat}_accuracy/{t}"] = value
        run.summary.update({"best/index": selection["best"]["index"], "best/arch": selection["best"]["arch"]})
        rows = [{"rank": r["rank"], "index": r["index"], "arch": r["arch"], "score": r["score"], **r["accuracy"]}
                for r in selection["ranked"]]
        run.log({"ranked": table(pl.DataFrame(rows))})


def check_search(config: dict[str, Any]) -> None:
    """Every setting of a search, checked before any work (the entry point runs this before Hydra makes a run dir)."""
    check_tracking(config["tracking"])
    if check_choice("method", config["method"], METHODS) == "zc_pt":
        plan_zc_pt(config)
    else:
        check_topk(config)


def search_run(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    """Select architectures into `run_dir/selection.json` (and the `latest` copy); return the selection."""
    console = console or Console()
    config = OmegaConf.to_container(cfg, resolve=True)
    check_tracking(config["tracking"])
    if check_choice("method", config["method"], METHODS) == "zc_pt":
        selection, origin = zc_pt_run(config, console, run_dir)
    else:
        selection, origin = topk_run(config, run_dir, console)
    write_json(run_dir / "selection.json", selection)
    latest = Path(config["latest"])
    write_json(latest, {**selection, "selection_path": str((run_dir / "selection.json").resolve())})
    log_selection(config["tracking"], run_dir, selection)
    best = selection["best"]
    index = "" if best["index"] is None else f"#{best['index']} "
    console.print(f"best: {index}{best['arch']} (score {best['score']:.4f}); {origin}; selection in "
                  f"{run_dir / 'selection.json'} and {latest}")
    return selection
