"""NAS-Bench-301, NAS-Bench-101 and the NAS-Bench-360 tasks as benchmarks, and rho's bootstrap interval."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from meco_lab.benchmarks import get_benchmark
from meco_lab.core.config import compose_config
from meco_lab.core.resources import resource_path
from meco_lab.evaluation.metrics import spearman_interval
from meco_lab.scoring.plan import plan_run
from meco_lab.spaces import SPACES

pytestmark = pytest.mark.usefixtures("one_thread")


def params(net) -> int:
    return sum(p.numel() for p in net.parameters())


def test_nb301_space_is_the_truth_files_genotypes_and_networks():
    space, table = SPACES.get("nb301")(), pl.read_parquet(resource_path("nb301.parquet"))
    assert len(space) == 1218 and [space.arch(i) for i in range(len(space))] == table["genotype"].to_list()
    for i in (0, 500, 1217):
        assert params(space.network(i, 10, 0)) == table["params"][i]
    truth = get_benchmark("nb301").load_truth({"name": "table"}, None)
    assert np.isfinite(truth.values["cifar10"]).all() and "surrogate" in truth.source


def test_nb101_space_is_named_by_hash_with_both_truths():
    space, table = SPACES.get("nb101")(), pl.read_parquet(resource_path("nb101.parquet"))
    assert len(space) == 321 and space.arch(0) == table["nb101_hash"][0] and len(space.arch(0)) == 32
    for i in (0, 100, 320):
        assert params(space.network(i, 10, 0)) == table["params"][i]
    bench = get_benchmark("nb101")
    valid = bench.load_truth({"name": "table", "metric": "valid"}, None).values["cifar10"]
    test = bench.load_truth({"name": "table", "metric": "test"}, None).values["cifar10"]
    assert np.isfinite(valid).sum() == 292 and np.isfinite(test).sum() == 30


@pytest.mark.parametrize("name", ["nb201_360", "nb301_360", "tnb101_micro_360"])
def test_nb360_task_networks_have_the_suites_sizes(name):
    space = SPACES.get(name)(inputs="task")
    skeleton = {"nb201_360": "nb201", "nb301_360": "nb301", "tnb101_micro_360": "tnb101_micro"}[name]
    table = pl.read_parquet(resource_path("nb360.parquet")).filter(pl.col("skeleton") == skeleton)
    assert len(space) == len(table)
    for task in ("svhn", "ninapro", "scifar100"):
        expected = table[f"params_{task}"][3]
        if expected is not None:
            assert params(space.for_task(task).network(3, 0, 0)) == expected, task


def test_nb360_inputs_are_the_papers_or_each_tasks_own():
    paper = plan_run(compose_config(["space=nb201_360", "space.limit=3"]))
    assert {tuple(t.x.shape) for t in paper.job.tasks} == {(1, 3, 32, 32)}
    own = plan_run(compose_config(["space=nb201_360", "space.limit=3", "space.inputs=task"]))
    assert {t.name: tuple(t.x.shape) for t in own.job.tasks} == {
        "svhn": (1, 3, 32, 32), "ninapro": (1, 1, 16, 52), "scifar100": (1, 3, 60, 60)}
    assert {t.name: t.classes for t in own.job.tasks} == {"svhn": 10, "ninapro": 18, "scifar100": 100}


def test_cli_on_nb301_writes_genotypes_rho_and_its_interval(cli, tmp_path):
    done = cli("space=nb301", "space.limit=40", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    scores = pl.read_parquet(tmp_path / "scores.parquet")
    truth = pl.read_parquet(resource_path("nb301.parquet")).head(40)
    assert scores["arch"].to_list() == truth["genotype"].to_list()  # joins with the suite's own file
    summary = json.loads((tmp_path / "summary.json").read_text())
    rho = spearmanr(scores["score"].to_numpy(), truth["val_accuracy"].to_numpy()).statistic
    assert summary["spearman"]["cifar10"] == pytest.approx(rho, abs=1e-12)
    lo, hi = summary["spearman_ci95"]["cifar10"]
    assert lo < rho < hi and (lo, hi) == pytest.approx(spearman_interval(scores["score"].to_numpy(),
                                                                         truth["val_accuracy"].to_numpy()))
    assert "95% CI" in done.stderr and f"{lo:.3f} .. {hi:.3f}" in done.stderr


def test_bootstrap_interval_equals_explicit_resampling():
    """The O(n) weighted mid-rank rho of each draw is Spearman rho of the resampled pairs (ties included)."""
    rng = np.random.default_rng(7)
    truth = np.round(rng.normal(size=120), 1)  # many ties
    scores = truth + rng.normal(size=120)
    lo, hi = spearman_interval(scores, truth, resamples=200, seed=3)
    draws = np.random.default_rng(3)
    rhos = [spearmanr(scores[i], truth[i]).statistic for _ in range(4) for i in draws.integers(0, 120, (50, 120))]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(rhos, [2.5, 97.5])), abs=1e-12)
    assert spearman_interval(scores, -truth, higher_is_better=False) == spearman_interval(scores, truth)
    assert spearman_interval(scores, truth) == spearman_interval(scores, truth)  # seeded
    assert all(np.isnan(spearman_interval(scores[:2], truth[:2])))
