"""`search method=zc_pt`: Zero-Cost-PT on the space's supernet (`search_methods.zc_pt`), written as a selection.

The supernet comes from `SUPERNETS[space.name]` (weights from `supernet_seed(seed)`), the input batch from
the `data` group as in scoring, and the edge orders from `seed`. Each candidate's final score is, with
`zc_pt.final=discrete` (default), the proxy's score of its own discrete network: the reference's
`post_validate.py` does this, and for a benchmark space it is the very score `meco_lab.score` gives that
architecture. `zc_pt.final=supernet` uses the supernet's score under the final mask instead.

A space without a benchmark table (DARTS: `SupernetSetup.index is None`) gets no accuracies: they are null
in the selection, and the console says so in one line. Proxies that leave the network as they found it
(`Proxy.modifies_network = False`, MeCo) score the supernet itself; the others score a copy of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from meco_lab.benchmarks import BENCHMARKS, Task, get_benchmark
from meco_lab.core.checks import check_choice, check_int
from meco_lab.core.errors import ConfigError
from meco_lab.scoring.compute import progress_bar
from meco_lab.scoring.members import is_composite
from meco_lab.scoring.plan import make_job
from meco_lab.scoring.scorer import Scorer, ScoringJob, build_space
from meco_lab.search_methods.supernets import SUPERNETS
from meco_lab.search_methods.tables import accuracy_stats
from meco_lab.search_methods.zc_pt import ZcPtCandidate, mask_key, steps_per_candidate, zero_cost_pt
from meco_lab.spaces.supernet import Mask, supernet_candidate

FINALS = ("discrete", "supernet")


def check_zc_pt(config: dict[str, Any]) -> dict[str, Any]:
    """The `zc_pt.*` settings, checked; raises ConfigError."""
    options = dict(config.get("zc_pt") or {})
    if is_composite(config.get("proxy") or {}):
        raise ConfigError("proxy", config["proxy"]["name"], "one proxy for method=zc_pt (it scores supernets, which "
                                                           "the score cache does not hold)")
    check_int("zc_pt.candidates", options.get("candidates"))
    check_choice("zc_pt.final", options.get("final", "discrete"), FINALS)
    check_choice("space", config["space"]["name"], sorted(SUPERNETS))
    if config["space"]["name"] in BENCHMARKS:  # the truth settings, checked before the search (no architecture read)
        get_benchmark(config["space"]["name"]).load_truth(config["truth"], [])
    return options


def plan_zc_pt(config: dict[str, Any]) -> tuple[dict[str, Any], ScoringJob, Scorer]:
    """The checked `zc_pt.*` settings, the scoring job and its scorer (which checks the proxy, data and input size)."""
    options = check_zc_pt(config)
    job = make_job(config)
    return options, job, Scorer(job, build_space(config["space"]))


def results_table(selection: dict[str, Any], title: str, tasks: tuple[Task, ...]) -> Table:
    table = Table(title=title)
    for column in ("task", "found", "candidates mean±std", "max of candidates"):
        table.add_column(column, justify="left" if column == "task" else "right", no_wrap=True)
    for t in tasks:
        stats = selection["candidates_accuracy"][t.name]
        table.add_row(
            t.name,
            f"{selection['best']['accuracy'][t.name]:.2f}",
            f"{stats['mean']:.2f} ± {stats['std']:.2f}",
            f"{stats['max']:.2f}",
        )
    return table


def candidates_table(selection: dict[str, Any], title: str) -> Table:
    """The distinct candidates and their scores (a space without benchmark accuracies)."""
    table = Table(title=title)
    for column in ("rank", "candidates", "score", "supernet score"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in selection["ranked"]:
        table.add_row(str(r["rank"]), ", ".join(str(c) for c in r["candidates"]), f"{r['score']:.4f}",
                      f"{r['supernet_score']:.4f}")
    return table


def zc_pt_run(config: dict[str, Any], console: Console, run_dir: Path | None = None) -> tuple[dict[str, Any], str]:
    """Run Zero-Cost-PT as configured; print its table; return the selection and a line on its cost.

    A space whose setup draws its final masks (DARTS) writes the best one's picture into `run_dir`.
    """
    options, job, scorer = plan_zc_pt(config)
    setup = SUPERNETS[config["space"]["name"]](scorer.space, config["space"], config["seed"], job.num_classes, options)
    net = setup.net.to(job.device)
    truth_cfg = config["truth"]
    bench = get_benchmark(config["space"]["name"]) if config["space"]["name"] in BENCHMARKS else None
    tasks = bench.select_tasks((config.get("benchmark") or {}).get("tasks")) if bench is not None else ()
    benchmark = setup.index is not None and bench is not None
    # the built-in table is loaded now; an archive is read for the architectures found (checked in check_zc_pt)
    truth = bench.load_truth(truth_cfg, None) if benchmark and truth_cfg["name"] == "table" else None
    n, problem = options["candidates"], net.problem
    copy = scorer.proxy.modifies_network  # a proxy that leaves the network as it was scores the supernet itself

    def supernet_fn(mask: Mask) -> float:
        return scorer.score_candidate(supernet_candidate(net, mask, config["seed"], job.num_classes, copy=copy))

    discrete = options.get("final", "discrete") == "discrete" and setup.discrete is not None
    final_fn = (lambda mask: scorer.score_candidate(setup.discrete(mask))) if discrete else None

    start = time.perf_counter()
    progress = progress_bar(Console(stderr=True), "zc_pt", info="info")
    with progress:
        task = progress.add_task("zc_pt", total=n * steps_per_candidate(problem), info="")
        counts = {"calls": 0, "cached": 0}

        def on_eval(cached: bool) -> None:
            counts["cached" if cached else "calls"] += 1
            progress.update(task, advance=1, info=f"{counts['calls']} proxy calls, {counts['cached']} cached")

        def on_candidate(k: int, candidate: ZcPtCandidate) -> None:
            progress.console.print(
                f"candidate {k + 1}/{n}: {setup.arch(candidate.mask)} (supernet score {candidate.supernet_score:.4f})"
            )

        result = zero_cost_pt(
            net,
            supernet_fn,
            candidates=n,
            seed=config["seed"],
            final_score=final_fn,
            on_eval=on_eval,
            on_candidate=on_candidate,
        )
    seconds = time.perf_counter() - start

    found = [setup.index(c.mask) if benchmark else None for c in result.candidates]
    if benchmark and truth is None:
        truth = bench.load_truth(truth_cfg, sorted({i for i in found if i is not None}))

    def accuracy(index: int | None) -> dict[str, float | None]:
        return {t.name: None if index is None or truth is None else float(truth.values[t.name][index]) for t in tasks}

    candidates = [
        {
            "candidate": k,
            "arch": setup.arch(c.mask),
            "index": found[k],
            "score": c.score,
            "supernet_score": c.supernet_score,
            "edge_order": c.edge_order,
            "node_order": c.node_order,
            "mask": {edge: list(ops) for edge, ops in c.mask.items()},
        }
        for k, c in enumerate(result.candidates)
    ]
    distinct: dict[tuple, dict[str, Any]] = {}
    for entry, c in zip(candidates, result.candidates, strict=True):
        key = mask_key(c.mask)
        if key not in distinct:
            distinct[key] = {
                "index": entry["index"],
                "arch": entry["arch"],
                "score": entry["score"],
                "supernet_score": entry["supernet_score"],
                "candidates": [],
                "accuracy": accuracy(entry["index"]),
            }
        distinct[key]["candidates"].append(entry["candidate"])
    best_key = mask_key(result.best_mask)
    order = sorted(distinct, key=lambda key: (key != best_key, -np.nan_to_num(distinct[key]["score"], nan=-np.inf)))
    ranked = [{"rank": rank, **distinct[key]} for rank, key in enumerate(order, start=1)]
    values = {t.name: np.array([np.nan if r["accuracy"][t.name] is None else r["accuracy"][t.name] for r in ranked])
              for t in tasks}
    selection = {
        "method": "zc_pt",
        "space": config["space"]["name"],
        "proxy": config["proxy"]["name"],
        "best": ranked[0],
        "ranked": ranked,
        "candidates": candidates,
        "candidates_accuracy": {t.name: accuracy_stats(values[t.name]) for t in tasks} if benchmark else None,
        "n_candidates": n,
        "n_distinct": len(ranked),
        "final": "discrete" if discrete else "supernet",
        "evaluations": {"supernet": result.evaluations, "cached": result.cache_hits, "final": result.final_evaluations},
        "seconds": seconds,
        "threads": torch.get_num_threads(),
        "truth": truth.source if truth is not None else None,
        "std": "population std (ddof=0) over the distinct candidates",
        "config": config,
    }
    if setup.draw is not None and run_dir is not None:
        selection["picture"] = str(setup.draw(result.best_mask, run_dir))
    space = config["space"]["name"]
    title = (
        f"zc_pt on {space} by {config['proxy']['name']} (data={config['data']['name']}, "
        f"{len(ranked)} distinct of {n} candidates)"
    )
    if benchmark:
        console.print(results_table(selection, f"{title}: {truth_cfg.get('metric', 'test')} accuracy (%)", tasks))
    else:
        console.print(candidates_table(selection, f"{title}: proxy scores"))
        console.print(f"no benchmark for {space}: no accuracies (retrain the found arch: python -m meco_lab.retrain "
                      f"arch=best)")
    cost = (
        f"{result.evaluations} supernet proxy calls ({result.cache_hits} repeats cached), "
        f"{result.final_evaluations} final, {seconds:.1f} s"
    )
    return selection, cost
