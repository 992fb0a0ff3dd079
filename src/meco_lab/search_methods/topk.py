"""`method=topk`: rank the candidates (the space selection: `space.limit` / `space.sample` / `space.indices`) by
proxy score and keep the best `k`. Scores come from, in order:

1. `scores=PATH`: a `scores.parquet`, or a run dir holding one;
2. an earlier scoring run found under `reuse_from` (`**/summary.json` whose config has the same space,
   proxy, data and seed, i.e. the same `scoring.plan.fingerprint`, and whose scores cover every candidate);
3. a new scoring run (`meco_lab.scoring.run.score_run`) in `<run dir>/scores/`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from omegaconf import OmegaConf
from rich.console import Console

from meco_lab.benchmarks import Benchmark, Task, get_benchmark
from meco_lab.core.checks import check_int
from meco_lab.core.errors import ConfigError
from meco_lab.scoring.plan import fingerprint, plan_run
from meco_lab.scoring.run import score_run
from meco_lab.scoring.scorer import score_column
from meco_lab.scoring.selection import select_space
from meco_lab.search_methods.tables import accuracy_stats, topk_table

SCORE_KEYS = ("space", "proxy", "data", "truth", "benchmark", "seed", "workers", "threads", "device", "chunk",
              "cache_dir")


def read_scores(path: str | os.PathLike[str], key: str = "scores", column: str = "score") -> tuple[pl.DataFrame, Path]:
    """A scores table (index, score[, arch]) from a parquet file or a run dir holding `scores.parquet`; `column` is
    the score column to rank by (a task's `score_<task>` of a benchmark scored per task), read as `score`."""
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / "scores.parquet"
    allowed = f"a scores.parquet with columns index and {column} (or a scoring run dir holding one)"
    if not file.is_file():
        raise ConfigError(key, str(path), allowed)
    try:
        scores = pl.read_parquet(file)
    except Exception as err:  # polars raises several kinds for a file that is not parquet
        raise ConfigError(key, str(path), allowed) from err
    if not {"index", column} <= set(scores.columns):
        raise ConfigError(key, str(path), allowed)
    keep = [c for c in scores.columns if not c.startswith("score") or c == column]
    return scores.select(keep).rename({column: "score"}), file


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


def rank_column(benchmark: Benchmark, tasks: tuple[Task, ...]) -> str:
    """The score column top-k ranks by: `score`, or for a benchmark scored per task the first selected task's
    (`benchmark.tasks=[task]` chooses it)."""
    return score_column(tasks[0].name if benchmark.per_task else None)


def score_config(config: dict[str, Any]) -> dict[str, Any]:
    """The `score` config of a search config (for a scoring run of its candidates)."""
    return {**{k: config[k] for k in SCORE_KEYS if k in config}, "tracking": {"name": "none"}}


def check_topk(config: dict[str, Any]) -> None:
    """Every setting of a top-k search, checked before any work (the scoring settings too, when it must score)."""
    check_int("k", config["k"])
    if config["proxy"]["name"] == "multi":
        raise ConfigError("proxy", "multi", "a proxy with one score per architecture for method=topk (a single proxy, "
                                            "or proxy=ensemble)")
    space_cfg = config["space"]
    benchmark = get_benchmark(space_cfg["name"])
    tasks = benchmark.select_tasks((config.get("benchmark") or {}).get("tasks"))
    indices = select_space(space_cfg, len(benchmark.build_space(space_cfg)))
    benchmark.load_truth(config["truth"], indices)
    if config.get("scores") is not None:
        read_scores(config["scores"], column=rank_column(benchmark, tasks))
    else:
        if config["k"] > len(indices):
            raise ConfigError("k", config["k"], f"an integer in 1..{len(indices)} (the candidates)")
        plan_run(score_config(config))


def topk_run(config: dict[str, Any], run_dir: Path, console: Console) -> tuple[dict[str, Any], str]:
    """The top-k selection and the line that says where its scores came from."""
    check_int("k", config["k"])
    space_cfg = config["space"]
    benchmark = get_benchmark(space_cfg["name"])
    tasks = benchmark.select_tasks((config.get("benchmark") or {}).get("tasks"))
    space = benchmark.build_space(space_cfg)
    indices = select_space(space_cfg, len(space))
    selection_given = any(space_cfg.get(key) is not None for key in ("limit", "sample", "indices"))

    if config.get("scores") is not None:
        scores, path = read_scores(config["scores"], column=rank_column(benchmark, tasks))
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
            score_run(OmegaConf.create(score_config(config)), path.parent)
        else:
            console.print(f"reusing the scores of {path.parent}")
        scores, path = read_scores(path, column=rank_column(benchmark, tasks))
    scores = scores.filter(pl.col("index").is_in(indices)).unique("index", keep="first").sort("index")
    if "arch" not in scores.columns:
        scores = scores.with_columns(pl.Series("arch", [space.arch(i) for i in scores["index"].to_list()]))
    ranked, n_finite = rank_topk(scores, config["k"])

    truth_cfg = config["truth"]
    truth = benchmark.load_truth(truth_cfg, indices)
    top = ranked["index"].to_numpy()
    candidates = np.asarray(indices, dtype=np.int64)
    entries = [
        {"rank": rank, "index": int(row["index"]), "arch": row["arch"], "score": float(row["score"]),
         "accuracy": {t.name: float(truth.values[t.name][row["index"]]) for t in tasks}}
        for rank, row in enumerate(ranked.iter_rows(named=True), start=1)
    ]
    selection = {
        "method": config["method"],
        "k": config["k"],
        "space": space_cfg["name"],
        "proxy": config["proxy"]["name"],
        "best": entries[0],
        "ranked": entries,
        "topk_accuracy": {t.name: accuracy_stats(truth.values[t.name][top]) for t in tasks},
        "candidates_best": {t.name: accuracy_stats(truth.values[t.name][candidates])["max" if t.higher_is_better
                                                                                    else "min"] for t in tasks},
        "tasks": {t.name: t.describe() for t in tasks},
        "n_candidates": len(indices),
        "n_finite_scores": n_finite,
        "scores": {"path": str(path.resolve()), "source": source, "column": rank_column(benchmark, tasks)},
        "truth": truth.source,
        "std": "population std (ddof=0) over the top-k",
        "config": config,
    }
    title = (f"top-{config['k']} of {len(indices)} {space_cfg['name']} archs by {config['proxy']['name']} "
             f"(data={config['data']['name']}): {truth_cfg.get('metric', 'test')} values")
    if any(np.isfinite(truth.values[t.name][candidates]).any() for t in tasks):
        console.print(topk_table(selection, title, tasks))
    else:
        console.print(f"no benchmark accuracy for these {space_cfg['name']} archs in {truth.source}: "
                      "the selection ranks them by score only")
    return selection, f"scores {source} from {path}"
