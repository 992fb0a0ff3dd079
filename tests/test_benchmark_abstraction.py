"""A benchmark with other tasks than NATS-Bench's runs end to end: score, a quick sweep, its report, top-k search.

The toy benchmark holds the first 60 NATS-TSS cells with two tasks: `acc` (higher is better, the CIFAR-10 accuracy)
and `loss` (lower is better and negative-valued: -100 - acc / 10, a strictly decreasing map of `acc`). Rank metrics
are oriented by each task's direction, so `loss` must give exactly `acc`'s rho and tau, while its top-10 mean is
of the raw (negative) values. It registers itself in SPACES, BENCHMARKS and Hydra's ConfigStore, as a new
benchmark would from its own file.
"""

from __future__ import annotations

import io
import json

import numpy as np
import polars as pl
import pytest
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from rich.console import Console

from meco_lab.benchmarks import BENCHMARKS, Benchmark, GroundTruth, Task
from meco_lab.benchmarks.truth import load_table_truth
from meco_lab.core.config import compose_config
from meco_lab.core.errors import ConfigError
from meco_lab.scoring.run import score_run
from meco_lab.search_methods.run import search_run
from meco_lab.spaces import SPACES
from meco_lab.spaces.nb201.space import NatsTss
from meco_lab.sweeps.report import write_report
from meco_lab.sweeps.runner import SweepSettings, run_sweep
from meco_lab.sweeps.spec import load_sweep

SIZE = 60


@SPACES.register("toy")
class ToySpace(NatsTss):
    name = "toy"

    def __len__(self) -> int:
        return SIZE


@BENCHMARKS.register("toy")
class ToyBenchmark(Benchmark):
    name = space_name = "toy"
    tasks = (Task("acc", "accuracy", "%"), Task("loss", "loss", "", higher_is_better=False))

    def load_truth(self, truth, indices) -> GroundTruth:
        acc = load_table_truth("test").values["cifar10"][:SIZE]
        return GroundTruth(values={"acc": acc, "loss": -100.0 - acc / 10}, arch=None, source="toy truth")


ConfigStore.instance().store(group="space", name="toy", node={"name": "toy", "limit": None, "sample": None,
                                                             "sample_seed": 0, "indices": None})


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("toy") / "score"
    summary = score_run(OmegaConf.create(compose_config(["space=toy"])), run_dir, quiet())
    return run_dir, summary


def test_score_reports_the_benchmarks_tasks_oriented_by_direction(scored):
    run_dir, summary = scored
    assert list(summary["spearman"]) == ["acc", "loss"] and summary["n_archs"] == SIZE
    assert summary["spearman"]["loss"] == summary["spearman"]["acc"] > 0.5
    assert summary["kendall"]["loss"] == summary["kendall"]["acc"]
    scores = pl.read_parquet(run_dir / "scores.parquet")
    top = scores.sort(["score", "index"], descending=[True, False]).head(10)["index"].to_numpy()
    acc = load_table_truth("test").values["cifar10"]
    assert summary["top10_mean_accuracy"]["acc"] == pytest.approx(acc[top].mean(), abs=1e-12)
    assert summary["top10_mean_accuracy"]["loss"] == pytest.approx((-100.0 - acc[top] / 10).mean(), abs=1e-12)
    assert summary["tasks"]["loss"] == {"metric": "loss", "unit": "", "higher_is_better": False}
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk["spearman"] == summary["spearman"] and (run_dir / "scatter.png").stat().st_size > 10_000


def test_tasks_can_be_narrowed_and_bad_ones_are_refused(tmp_path):
    summary = score_run(OmegaConf.create(compose_config(["space=toy", "benchmark.tasks=[loss]"])), tmp_path, quiet())
    assert list(summary["spearman"]) == ["loss"]
    with pytest.raises(ConfigError, match=r"benchmark\.tasks=\['cifar10'\] is not allowed: .*acc, loss"):
        score_run(OmegaConf.create(compose_config(["space=toy", "benchmark.tasks=[cifar10]"])), tmp_path, quiet())


def test_quick_sweep_and_report_use_the_tasks(tmp_path):
    spec_file = tmp_path / "toy-n.yaml"
    spec_file.write_text(json.dumps({
        "description": "MeCo_opt n on the toy benchmark", "base": ["space=toy", "proxy=meco_opt"],
        "params": {"proxy.n": [4, 8]}, "seeds": [0, 1], "objective": {"metric": "spearman.loss"},
        "profiles": {"quick": {"overrides": ["space.limit=40"], "seeds": [0]}}}))
    spec = load_sweep(str(spec_file), "quick")
    settings = SweepSettings(dir=tmp_path / "sweep", cache_dir=tmp_path / "cache", tracking="none")
    trials = run_sweep(spec, settings, quiet(), command="test")
    assert len(trials) == 2 and (trials["n_archs"] == 40).all()
    assert trials["spearman_loss"].to_list() == trials["spearman_acc"].to_list()
    assert {"top10_mean_accuracy_acc", "top10_mean_accuracy_loss"} <= set(trials.columns)
    assert "cifar10" not in " ".join(trials.columns)
    report = write_report(settings.dir).read_text()
    assert "| 4 | loss |" in report and "Lower is better on loss" in report and "cifar10" not in report
    loss_top = trials.filter(pl.col("proxy.n") == 8)["top10_mean_accuracy_loss"][0]
    assert f"{loss_top:.4f}" in report and loss_top < -100  # a 4-decimal cell of a negative, unit-less value


def test_bad_objective_task_is_refused(tmp_path):
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(json.dumps({"base": ["space=toy"], "params": {"proxy": ["meco"]}, "seeds": [0],
                                     "objective": {"metric": "spearman.cifar10"}}))
    with pytest.raises(ConfigError, match=r"objective\.metric='spearman\.cifar10' .* spearman\.acc, spearman\.loss"):
        run_sweep(load_sweep(str(spec_file)), SweepSettings(dir=tmp_path / "s", tracking="none"), quiet())


def test_topk_search_selects_by_score_and_reports_every_task(scored, tmp_path):
    run_dir, _ = scored
    config = compose_config(["space=toy", "k=5", f"scores={run_dir}", f"latest={tmp_path / 'latest.json'}"],
                            config_name="search")
    selection = search_run(OmegaConf.create(config), tmp_path / "search", quiet())
    scores = pl.read_parquet(run_dir / "scores.parquet").sort(["score", "index"], descending=[True, False])
    assert [r["index"] for r in selection["ranked"]] == scores.head(5)["index"].to_list()
    acc = load_table_truth("test").values["cifar10"]
    best = selection["best"]
    assert best["accuracy"] == {"acc": acc[best["index"]], "loss": -100.0 - acc[best["index"]] / 10}
    top = np.array([r["index"] for r in selection["ranked"]])
    assert selection["candidates_best"]["loss"] == pytest.approx((-100.0 - acc[:SIZE] / 10).min())
    assert selection["topk_accuracy"]["loss"]["mean"] == pytest.approx((-100.0 - acc[top] / 10).mean())
