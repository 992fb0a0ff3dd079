"""`python -m meco_lab.search [overrides]`: select architectures from a benchmark by proxy score.

`method=topk` ranks the candidates (the space selection: `space.limit` / `space.sample` / `space.indices`)
by score and keeps the best `k`. Scores come from, in order:

1. `scores=PATH`: a `scores.parquet`, or a run dir holding one;
2. an earlier scoring run found under `reuse_from` (`**/summary.json` whose config has the same space,
   proxy, data and seed, i.e. the same `runner.fingerprint`, and whose scores cover every candidate);
3. a new scoring run (`meco_lab.runner.score_run`) in `<run dir>/scores/`.

`method=zc_pt` runs Zero-Cost-PT on the space's supernet (`meco_lab.zc_pt_search`, docs/zc_pt.md):
`zc_pt.candidates` pruned networks, the best by proxy score.

The run dir gets `selection.json` (`best`, the ranked architectures with scores and benchmark accuracies,
the accuracy mean ± std per dataset, and the config; topk adds where the scores came from, zc_pt every
candidate, the proxy evaluations and the search seconds); `latest` gets a copy of it, which
`python -m meco_lab.retrain arch=best` reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import polars as pl
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from meco_lab.cli import CONF_DIR, main_with_checks, one_line_errors
from meco_lab.errors import ConfigError
from meco_lab.runner import check_positive, fingerprint, score_run
from meco_lab.scoring import build_space
from meco_lab.selection import select_indices
from meco_lab.truth import DATASETS, load_truth_config

METHODS = ("topk", "zc_pt")
SCORE_KEYS = ("space", "proxy", "data", "truth", "seed", "workers", "threads", "device", "chunk")
SELECTION_KEYS = ("limit", "sample", "indices")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


def read_scores(path: str | os.PathLike[str], key: str = "scores") -> tuple[pl.DataFrame, Path]:
    """A scores table (index, score[, arch]) from a parquet file or a run dir holding `scores.parquet`."""
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / "scores.parquet"
    allowed = "a scores.parquet with columns index and score (or a scoring run dir holding one)"
    if not file.is_file():
        raise ConfigError(key, str(path), allowed)
    try:
        scores = pl.read_parquet(file)
    except Exception as err:  # polars raises several kinds for a file that is not parquet
        raise ConfigError(key, str(path), allowed) from err
    if not {"index", "score"} <= set(scores.columns):
        raise ConfigError(key, str(path), allowed)
    return scores, file


def find_scoring_run(config: dict[str, Any], indices: list[int], root: Path, exclude: Path) -> Path | None:
    """The newest `scores.parquet` under `root` whose run has this config's fingerprint and covers `indices`."""
    want = fingerprint(config)
    needed = set(indices)
    found: tuple[float, Path] | None = None
    for summary in root.glob("**/summary.json"):
        if exclude == summary.parent or exclude in summary.parents:
            continue
        try:
            if fingerprint(json.loads(summary.read_text())["config"]) != want:
                continue
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        parquet = summary.parent / "scores.parquet"
        try:
            have = set(pl.read_parquet(parquet, columns=["index"])["index"].to_list())
        except Exception:  # missing or unreadable: not a usable run
            continue
        if needed <= have and (found is None or summary.stat().st_mtime > found[0]):
            found = (summary.stat().st_mtime, parquet)
    return None if found is None else found[1]


def rank_topk(scores: pl.DataFrame, k: int) -> tuple[pl.DataFrame, int]:
    """The k highest finite scores (ties: lower index first) and the number of candidates with a finite score."""
    finite = scores.filter(pl.col("score").is_finite())
    if k > len(finite):
        raise ConfigError("k", k, f"an integer in 1..{len(finite)} (candidates with a finite score)")
    return finite.sort(["score", "index"], descending=[True, False]).head(k), len(finite)


def accuracy_stats(values: np.ndarray) -> dict[str, float]:
    """Mean, population std (ddof=0), min and max of the finite values."""
    ok = values[np.isfinite(values)]
    if not len(ok):
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"mean": float(ok.mean()), "std": float(ok.std()), "min": float(ok.min()), "max": float(ok.max())}


def results_table(selection: dict[str, Any], title: str) -> Table:
    k, n = selection["k"], selection["n_candidates"]
    table = Table(title=title)
    for column in ("dataset", f"top-{k} mean±std", "top-1", f"max top-{k}", f"max all {n}"):
        table.add_column(column, justify="left" if column == "dataset" else "right", no_wrap=True)
    for d in DATASETS:
        stats = selection["topk_accuracy"][d]
        table.add_row(d, f"{stats['mean']:.2f} ± {stats['std']:.2f}", f"{selection['best']['accuracy'][d]:.2f}",
                      f"{stats['max']:.2f}", f"{selection['candidates_max_accuracy'][d]:.2f}")
    return table


def log_wandb(tracking: dict[str, Any], run_dir: Path, selection: dict[str, Any]) -> None:
    name = tracking.get("name")
    if name == "none":
        return
    if name != "wandb":
        raise ConfigError("tracking.name", name, ("none", "wandb"))
    mode = tracking.get("mode", "offline")
    if mode not in ("offline", "online", "disabled"):
        raise ConfigError("tracking.mode", mode, ("offline", "online", "disabled"))
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    run = wandb.init(project=tracking.get("project", "meco_lab"), mode=mode, dir=str(run_dir),
                     config=selection["config"], group=tracking.get("group"), name=tracking.get("run_name"),
                     tags=list(tracking.get("tags") or []), job_type="search", reinit="create_new")
    try:
        for d in DATASETS:
            run.summary[f"best_accuracy/{d}"] = selection["best"]["accuracy"][d]
            for stat, value in selection.get("topk_accuracy", {}).get(d, {}).items():
                run.summary[f"topk_{stat}_accuracy/{d}"] = value
        run.summary.update({"best/index": selection["best"]["index"], "best/arch": selection["best"]["arch"]})
        columns = ["rank", "index", "arch", "score", *DATASETS]
        rows = [[r["rank"], r["index"], r["arch"], r["score"], *(r["accuracy"][d] for d in DATASETS)]
                for r in selection["ranked"]]
        run.log({"ranked": wandb.Table(columns=columns, data=rows)})
    finally:
        run.finish()


def topk_run(config: dict[str, Any], run_dir: Path, console: Console) -> tuple[dict[str, Any], str]:
    """The top-k selection and the line that says where its scores came from."""
    check_positive("k", config["k"])
    space_cfg = config["space"]
    space = build_space(space_cfg)
    indices = select_indices(len(space), space_cfg.get("limit"), space_cfg.get("sample"), space_cfg.get("indices"),
                             space_cfg.get("sample_seed", 0))
    selection_given = any(space_cfg.get(key) is not None for key in SELECTION_KEYS)

    if config.get("scores") is not None:
        scores, path = read_scores(config["scores"])
        source = "given"
        if selection_given:
            missing = set(indices) - set(scores["index"].to_list())
            if missing:
                raise ConfigError("scores", config["scores"], f"scores for all {len(indices)} selected architectures "
                                                              f"({len(missing)} missing, e.g. {min(missing)})")
        else:
            indices = sorted(scores["index"].to_list())
    else:
        if config["k"] > len(indices):
            raise ConfigError("k", config["k"], f"an integer in 1..{len(indices)} (the candidates)")
        path = find_scoring_run(config, indices, Path(config["reuse_from"]), run_dir)
        source = "reused"
        if path is None:
            source, path = "scored", run_dir / "scores" / "scores.parquet"
            score_cfg = OmegaConf.create({**{k: config[k] for k in SCORE_KEYS}, "tracking": {"name": "none"}})
            score_run(score_cfg, path.parent)
        else:
            console.print(f"reusing the scores of {path.parent}")
        scores, path = read_scores(path)
    scores = scores.filter(pl.col("index").is_in(indices)).unique("index", keep="first").sort("index")
    if "arch" not in scores.columns:
        scores = scores.with_columns(pl.Series("arch", [space.arch(i) for i in scores["index"].to_list()]))
    ranked, n_finite = rank_topk(scores, config["k"])

    truth_cfg = config["truth"]
    truth = load_truth_config(truth_cfg, indices, space=space.benchmark or "tss")
    top = ranked["index"].to_numpy()
    candidates = np.asarray(indices, dtype=np.int64)
    entries = [
        {"rank": rank, "index": int(row["index"]), "arch": row["arch"], "score": float(row["score"]),
         "accuracy": {d: float(truth.accuracy[d][row["index"]]) for d in DATASETS}}
        for rank, row in enumerate(ranked.iter_rows(named=True), start=1)
    ]
    selection = {
        "method": config["method"],
        "k": config["k"],
        "space": space_cfg["name"],
        "proxy": config["proxy"]["name"],
        "best": entries[0],
        "ranked": entries,
        "topk_accuracy": {d: accuracy_stats(truth.accuracy[d][top]) for d in DATASETS},
        "candidates_max_accuracy": {d: accuracy_stats(truth.accuracy[d][candidates])["max"] for d in DATASETS},
        "n_candidates": len(indices),
        "n_finite_scores": n_finite,
        "scores": {"path": str(path.resolve()), "source": source},
        "truth": truth.source,
        "std": "population std (ddof=0) over the top-k",
        "config": config,
    }
    title = (f"top-{config['k']} of {len(indices)} {space_cfg['name']} archs by {config['proxy']['name']} "
             f"(data={config['data']['name']}): {truth_cfg.get('metric', 'test')} accuracy (%)")
    if any(np.isfinite(truth.accuracy[d][candidates]).any() for d in DATASETS):
        console.print(results_table(selection, title))
    else:
        console.print(f"no benchmark accuracy for these {space_cfg['name']} archs in {truth.source}: "
                      "the selection ranks them by score only")
    return selection, f"scores {source} from {path}"


def search_run(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    """Select architectures into `run_dir/selection.json` (and the `latest` copy); return the selection."""
    console = console or Console()
    config = OmegaConf.to_container(cfg, resolve=True)
    if config["method"] not in METHODS:
        raise ConfigError("method", config["method"], METHODS)
    if config["method"] == "zc_pt":
        from meco_lab.zc_pt_search import zc_pt_run  # imported here: it uses this module's helpers

        selection, origin = zc_pt_run(config, console, run_dir)
    else:
        selection, origin = topk_run(config, run_dir, console)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "selection.json", selection)
    latest = Path(config["latest"])
    write_json(latest, {**selection, "selection_path": str((run_dir / "selection.json").resolve())})
    log_wandb(config["tracking"], run_dir, selection)
    best = selection["best"]
    index = "" if best["index"] is None else f"#{best['index']} "
    console.print(f"best: {index}{best['arch']} (score {best['score']:.4f}); {origin}; selection in "
                  f"{run_dir / 'selection.json'} and {latest}")
    return selection


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="search")
@one_line_errors
def main(cfg: DictConfig) -> None:
    search_run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main_with_checks(main)
