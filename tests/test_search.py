"""`python -m meco_lab.search`: top-k selection, reuse of scoring runs, the selection files, bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from meco_lab.benchmarks.truth import NATS_DATASETS, load_table_truth
from meco_lab.scoring.plan import fingerprint
from meco_lab.search_methods.topk import find_scoring_run, rank_topk

SAMPLE = ("space.sample=200",)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One search that scores (200 sampled archs), and a second one (k=5) that must reuse those scores."""
    from conftest import run_cli

    cwd = tmp_path_factory.mktemp("search")
    first = run_cli(*SAMPLE, "k=10", "hydra.run.dir=outputs/search/first", module="meco_lab.search", cwd=cwd)
    assert first.returncode == 0, first.stderr
    second = run_cli(*SAMPLE, "k=5", "hydra.run.dir=outputs/search/second", module="meco_lab.search", cwd=cwd)
    assert second.returncode == 0, second.stderr
    return cwd, first, second


def test_topk_ranking_and_accuracies_match_the_scores_and_the_table(searched):
    cwd, first, _ = searched
    run = cwd / "outputs" / "search" / "first"
    selection = json.loads((run / "selection.json").read_text())
    scores = pl.read_parquet(run / "scores" / "scores.parquet")
    assert len(scores) == 200 and selection["n_candidates"] == 200 and selection["scores"]["source"] == "scored"
    # the ranking: the 10 highest scores, in descending order, ties by index
    expected = scores.sort(["score", "index"], descending=[True, False]).head(10)
    ranked = selection["ranked"]
    assert [r["index"] for r in ranked] == expected["index"].to_list()
    assert [r["score"] for r in ranked] == expected["score"].to_list()
    assert [r["arch"] for r in ranked] == expected["arch"].to_list()
    assert [r["rank"] for r in ranked] == list(range(1, 11))
    assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(ranked))
    assert selection["best"] == ranked[0]
    # the accuracies reported are the built-in table's, and their mean / std are of those values
    truth = load_table_truth("test")
    for d in NATS_DATASETS:
        table = truth.values[d][expected["index"].to_numpy()]
        assert [r["accuracy"][d] for r in ranked] == table.tolist()
        assert selection["topk_accuracy"][d]["mean"] == pytest.approx(table.mean(), abs=1e-12)
        assert selection["topk_accuracy"][d]["std"] == pytest.approx(table.std(), abs=1e-12)
        assert selection["candidates_best"][d] == truth.values[d][scores["index"].to_numpy()].max()
    # and agree with the scoring run's own top-10 metric
    summary = json.loads((run / "scores" / "summary.json").read_text())
    for d in NATS_DATASETS:
        assert selection["topk_accuracy"][d]["mean"] == pytest.approx(summary["top10_mean_accuracy"][d], abs=1e-9)
    assert selection["config"]["k"] == 10 and selection["config"]["proxy"]["name"] == "meco"
    # the rich table on stdout shows mean ± std per dataset
    for d in NATS_DATASETS:
        stats = selection["topk_accuracy"][d]
        assert f"{stats['mean']:.2f} ± {stats['std']:.2f}" in first.stdout
    assert "top-10 mean±std" in first.stdout


def test_latest_selection_is_a_copy_of_the_newest(searched):
    cwd, _, _ = searched
    latest = json.loads((cwd / "outputs" / "latest_selection.json").read_text())
    second = json.loads((cwd / "outputs" / "search" / "second" / "selection.json").read_text())
    assert latest["selection_path"] == str((cwd / "outputs" / "search" / "second" / "selection.json").resolve())
    assert {k: v for k, v in latest.items() if k != "selection_path"} == second


def test_a_matching_scoring_run_is_reused(searched):
    cwd, _, second = searched
    run = cwd / "outputs" / "search" / "second"
    first = json.loads((cwd / "outputs" / "search" / "first" / "selection.json").read_text())
    selection = json.loads((run / "selection.json").read_text())
    assert not (run / "scores").exists() and "reusing the scores of" in second.stdout
    assert selection["scores"]["source"] == "reused"
    assert selection["scores"]["path"] == str((cwd / "outputs/search/first/scores/scores.parquet").resolve())
    assert selection["ranked"] == first["ranked"][:5]


def test_scores_path_is_ranked_as_given(searched, cli, tmp_path):
    cwd, _, _ = searched
    scores = cwd / "outputs" / "search" / "first" / "scores"
    done = cli("k=3", f"scores={scores}", f"hydra.run.dir={tmp_path / 'run'}", f"latest={tmp_path / 'latest.json'}",
               module="meco_lab.search", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    first = json.loads((cwd / "outputs" / "search" / "first" / "selection.json").read_text())
    assert selection["scores"]["source"] == "given" and selection["n_candidates"] == 200
    assert selection["ranked"] == first["ranked"][:3]
    assert (tmp_path / "latest.json").is_file()


def _fake_run(root: Path, name: str, config: dict, indices: list[int]) -> Path:
    run = root / name
    run.mkdir(parents=True)
    pl.DataFrame({"index": indices, "arch": ["a"] * len(indices), "score": np.arange(len(indices), dtype=float)}
                 ).write_parquet(run / "scores.parquet")
    (run / "summary.json").write_text(json.dumps({"config": config}))
    return run / "scores.parquet"


def test_reuse_needs_the_same_fingerprint_and_all_candidates(tmp_path):
    base = {"space": {"name": "nats_tss", "channels": 16, "cells_per_stage": 5, "limit": None, "sample": None,
                      "sample_seed": 0, "indices": None},
            "proxy": {"name": "meco", "hooks": "reference"},
            "data": {"name": "random", "size": 32, "samples": 1, "reduce": "first", "root": None, "split": "train"},
            "seed": 0}
    other_seed = {**base, "seed": 1}
    other_proxy = {**base, "proxy": {"name": "meco_opt", "n": 8, "hooks": "reference"}}
    limited = {**base, "space": {**base["space"], "limit": 50}}
    assert fingerprint(limited) == fingerprint(base)  # the selection is not part of it
    _fake_run(tmp_path, "seed1", other_seed, list(range(100)))
    _fake_run(tmp_path, "opt", other_proxy, list(range(100)))
    _fake_run(tmp_path, "few", base, list(range(50)))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "summary.json").write_text("{not json")
    assert find_scoring_run(base, list(range(80)), tmp_path, tmp_path / "self") is None
    good = _fake_run(tmp_path, "good", limited, list(range(100)))
    assert find_scoring_run(base, list(range(80)), tmp_path, tmp_path / "self") == good
    assert find_scoring_run(base, list(range(40)), tmp_path, tmp_path / "good") == tmp_path / "few" / "scores.parquet"


def test_rank_topk_skips_nan_and_breaks_ties_by_index():
    scores = pl.DataFrame({"index": [5, 3, 9, 1, 7], "arch": list("abcde"),
                           "score": [1.0, float("nan"), 2.0, 2.0, 0.5]})
    top, finite = rank_topk(scores, 3)
    assert finite == 4 and top["index"].to_list() == [1, 9, 5]


BAD = {
    "unknown method": (["method=random"], "method", "random", "topk"),
    "k below 1": (["k=0"], "k", "0", ">= 1"),
    "k above candidates": (["space.limit=5", "k=6"], "k", "6", "1..5"),
    "missing scores": (["scores=/nonexistent/scores.parquet"], "scores", "/nonexistent/scores.parquet",
                       "scores.parquet"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_fails_in_one_line(cli, tmp_path, case):
    args, key, value, allowed = BAD[case]
    done = cli(*args, f"hydra.run.dir={tmp_path / 'run'}", module="meco_lab.search", cwd=tmp_path)
    err = done.stderr.strip()
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(err.splitlines()) == 1, done.stderr
    assert err.startswith(f"error: {key}=") and value in err and allowed in err.split(" is not allowed: ", 1)[1], err
    assert not (tmp_path / "outputs" / "latest_selection.json").exists()
