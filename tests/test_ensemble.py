"""`proxy=ensemble`: rank aggregation of member scores from the score cache, and the TPE sweep that tunes it."""

from __future__ import annotations

import io
import math

import numpy as np
import polars as pl
import pytest
from omegaconf import OmegaConf
from rich.console import Console

from meco_lab.core.config import compose_config
from meco_lab.proxies import PROXIES
from meco_lab.scoring.cache import cached_scores
from meco_lab.scoring.ensemble import combine, normalised_ranks
from meco_lab.scoring.plan import plan_run
from meco_lab.scoring.run import score_run

pytestmark = pytest.mark.usefixtures("one_thread")

BASE = ["data=cifar10", "data.samples=4", "space.sample=16", "space.sample_seed=2"]


def quiet() -> Console:
    return Console(file=io.StringIO())


def test_ranks_are_normalised_with_ties_averaged_and_failures_last():
    assert normalised_ranks(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == [1.0, 0.25, 0.625, 0.625]
    ranks = normalised_ranks(np.array([0.5, np.nan, -1.0, np.inf * 0, 7.0]))
    assert ranks.tolist() == [0.8, 0.3, 0.6, 0.3, 1.0]  # NaN scores tie below every finite one


def test_log_rank_and_mean_rank_aggregation_by_hand():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 3.0, 2.0, 1.0])
    got = combine([a, b], [2.0, 1.0], "logrank")
    assert got == pytest.approx([2 * math.log(0.25) + math.log(1.0), 2 * math.log(0.5) + math.log(0.75),
                                 2 * math.log(0.75) + math.log(0.5), 2 * math.log(1.0) + math.log(0.25)])
    assert combine([a, b], [1.0, 1.0], "rank") == pytest.approx([0.625] * 4)
    assert combine([a, b], [1.0, 0.0], "logrank") == pytest.approx(np.log(normalised_ranks(a)))  # weight 0: left out


def test_ensemble_of_cached_members_runs_no_forward_pass(tmp_path, monkeypatch):
    """With the members in the cache, `score proxy=ensemble` calls no proxy and scores the rank aggregation of the
    members' cached scores; rho and tau are those of that aggregation."""
    members = ["meco", "snip", "nwot"]
    cache = tmp_path / "cache"
    frames = {m: cached_scores(plan_run(compose_config([*BASE, f"proxy={m}"])), cache, quiet())[0] for m in members}
    for m in members:
        monkeypatch.setattr(PROXIES.get(m), "score", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
        monkeypatch.setattr(PROXIES.get(m), "from_shared", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
    config = compose_config([*BASE, "proxy=ensemble", f"proxy.members=[{','.join(members)}]",
                             "+proxy.weights.snip=0.5", f"cache_dir={cache}"])
    summary = score_run(OmegaConf.create(config), tmp_path / "run", quiet())
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet")
    order = scores["index"].to_list()
    columns = [frames[m].sort("index")["score"].to_numpy() for m in members]
    assert order == sorted(order) and scores["score"].to_numpy() == pytest.approx(
        combine(columns, [1.0, 0.5, 1.0], "logrank"))
    assert summary["n_archs"] == 16 and summary["n_nan"] == 0


def test_ensemble_scores_what_the_cache_lacks_in_one_pass(tmp_path):
    plan = plan_run(compose_config([*BASE, "proxy=ensemble", "proxy.members=[meco,params]"]))
    scores, passes, _ = cached_scores(plan, tmp_path, quiet())
    assert passes == 16 and len(scores) == 16 and scores["score"].is_finite().all()
    _, again, _ = cached_scores(plan, tmp_path, quiet())
    assert again == 0


def test_ensemble_tpe_sweep_reports_held_out_rho(tmp_path, cli):
    out = cli("ensemble", "profile=quick", f"sweep.dir={tmp_path / 'sweep'}", f"sweep.cache_dir={tmp_path / 'cache'}",
              "sweep.tracking=none", module="meco_lab.sweep", timeout=1200)
    assert out.returncode == 0, out.stderr
    trials = pl.read_parquet(tmp_path / "sweep" / "trials.parquet")
    assert len(trials) == 6 and {"tune_spearman_cifar10", "holdout_spearman_ImageNet16-120"} <= set(trials.columns)
    assert trials["forward_passes"][1:].sum() == 0  # the first trial scored the members, the others read them
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "on the held-out half" in report
