"""Sweeps end to end: trials table, report, W&B runs, score cache, resume after a kill, workers, storage."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import optuna
import polars as pl
import pytest
from conftest import REPO, alive, children, sweep_killed_after
from omegaconf import OmegaConf
from rich.console import Console

from meco_lab.core.config import compose_config
from meco_lab.core.errors import ConfigError
from meco_lab.scoring.run import score_run
from meco_lab.sweeps.runner import SweepSettings, validate
from meco_lab.sweeps.spec import available_sweeps, load_sweep
from meco_lab.sweeps.trial import trial_overrides

QUICK = ["ablation-n", "profile=quick", "space.sample=40"]


def sweep(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    return subprocess.run([sys.executable, "-m", "meco_lab.sweep", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def quick_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    done = sweep(*QUICK, f"sweep.dir={root / 'a'}", f"sweep.cache_dir={root / 'cache'}")
    assert done.returncode == 0, done.stderr
    return root


def test_quick_sweep_leaves_trials_report_and_wandb_runs(quick_sweep):
    trials = pl.read_parquet(quick_sweep / "a" / "trials.parquet")
    assert len(trials) == 12 and sorted(set(trials["proxy.n"])) == [2, 4, 6, 8, 12, 16]
    assert sorted(trials["seed"].to_list()) == [0] * 6 + [1] * 6
    assert (trials["n_archs"] == 40).all() and (trials["forward_passes"] == 40).all()
    assert (trials["ranked_against"] == "accuracy").all()
    n8 = trials.filter(pl.col("proxy.n") == 8)["spearman_cifar10"]
    report = (quick_sweep / "a" / "report.md").read_text()
    assert "| 8 | cifar10 |" in report and "0.900" in report  # the paper's Table 5 value beside ours
    assert (f"Made by `python -m meco_lab.sweep ablation-n profile=quick space.sample=40 sweep.dir={quick_sweep / 'a'} "
            f"sweep.cache_dir={quick_sweep / 'cache'}`") in report  # the exact command line, overrides included
    n8_row = next(line for line in report.splitlines() if line.startswith("| 8 | 0."))  # the one-row-per-value table
    cells = [c.strip() for c in n8_row.strip("|").split("|")]
    assert cells[1] == f"{n8.mean():.3f} (0.90)" and float(cells[-1]) > 0  # rho (paper), seconds per architecture
    assert (quick_sweep / "a" / "rho.png").stat().st_size > 10_000
    runs = list((quick_sweep / "a" / "wandb").glob("offline-run-*"))
    assert len(runs) == 6
    assert b"ablation-n-quick" in next(runs[0].glob("run-*.wandb")).read_bytes()  # the W&B group


def test_trial_metrics_equal_a_score_run_of_the_same_config(quick_sweep, tmp_path):
    """A trial row's rho, tau and top-10 accuracy are exactly those of `score` on the trial's config."""
    spec = load_sweep("ablation-n", "quick")
    trials = pl.read_parquet(quick_sweep / "a" / "trials.parquet")
    for n, seed in ((8, 0), (2, 1)):
        config = compose_config(trial_overrides(spec, {"proxy.n": n}, seed, ["space.sample=40"]))
        summary = score_run(OmegaConf.create(config), tmp_path / f"{n}-{seed}", Console(file=io.StringIO()))
        row = trials.filter((pl.col("proxy.n") == n) & (pl.col("seed") == seed)).row(0, named=True)
        for metric in ("spearman", "kendall", "top10_mean_accuracy"):
            for d, value in summary[metric].items():
                assert row[f"{metric}_{d}"] == value, (n, seed, metric, d)


def test_report_tables_match_the_trials(quick_sweep):
    """report.md's rows are the trials' mean ± std (ddof 0) of rho and tau per point, and rho minus the paper."""
    from meco_lab.sweeps.paper import paper_value

    trials = pl.read_parquet(quick_sweep / "a" / "trials.parquet")
    report = (quick_sweep / "a" / "report.md").read_text()
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in report.splitlines()
            if line.startswith("| ") and len(line.split("|")) == 11 and not line.startswith("| proxy.n |")]
    assert len(rows) == 6 * 3
    paper = {4: "n4", 6: "n6", 8: "n8"}
    for n, dataset, rho, _ci, tau, _top, ref, diff, seeds in rows:
        mine = trials.filter(pl.col("proxy.n") == int(n))
        for cell, metric in ((rho, "spearman"), (tau, "kendall")):
            values = mine[f"{metric}_{dataset}"]
            assert cell == f"{values.mean():.4f} ± {values.std(ddof=0):.4f}", (n, dataset, metric)
        assert seeds == "2"
        if int(n) in paper:
            expected = paper_value(f"table5_meco_opt_n_rho.tss.{paper[int(n)]}")[dataset]
            assert ref == f"{expected:.3f}" and diff == f"{mine[f'spearman_{dataset}'].mean() - expected:+.3f}"
        else:
            assert ref == diff == ""


def test_identical_trials_run_no_forward_pass(quick_sweep):
    """A second sweep over the same settings takes every score from the cache."""
    done = sweep(*QUICK, f"sweep.dir={quick_sweep / 'b'}", f"sweep.cache_dir={quick_sweep / 'cache'}",
                 "sweep.tracking=none")
    assert done.returncode == 0, done.stderr
    first = pl.read_parquet(quick_sweep / "a" / "trials.parquet").sort("proxy.n", "seed")
    again = pl.read_parquet(quick_sweep / "b" / "trials.parquet").sort("proxy.n", "seed")
    assert again["forward_passes"].sum() == 0 and again["cache_hit"].all()
    assert again["spearman_cifar10"].to_list() == first["spearman_cifar10"].to_list()


def test_rerunning_a_finished_sweep_runs_nothing(quick_sweep):
    done = sweep(*QUICK, f"sweep.dir={quick_sweep / 'a'}", f"sweep.cache_dir={quick_sweep / 'cache'}")
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="ablation-n-quick", storage=f"sqlite:///{quick_sweep / 'a' / 'optuna.db'}")
    assert len(study.trials) == 6 and all(t.state.name == "COMPLETE" for t in study.trials)


def test_killed_sweep_resumes_with_every_trial_exactly_once(tmp_path):
    # trial by trial (no one pass first: that would leave the trials nothing to do but read the cache)
    args = [sys.executable, "-m", "meco_lab.sweep", "hooks", "profile=quick", "space.sample=120",
            f"sweep.dir={tmp_path}", f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none",
            "sweep.one_pass=false"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    deadline = time.time() + 180
    states: list[str] = []
    while time.time() < deadline:
        time.sleep(0.3)
        try:
            states = [t.state.name for t in optuna.load_study(study_name="hooks-quick", storage=storage).trials]
        except Exception:  # the study is not created yet
            continue
        if "COMPLETE" in states and "RUNNING" in states:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "COMPLETE" in states and "RUNNING" in states, states

    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    trials = optuna.load_study(study_name="hooks-quick", storage=storage).trials
    complete = [t.params["proxy.hooks"] for t in trials if t.state.name == "COMPLETE"]
    assert sorted(complete) == ["cells", "leaves", "reference"]
    assert any(t.state.name == "FAIL" for t in trials)  # the interrupted trial, redone
    started = [t.params["proxy.hooks"] for t in sorted(trials, key=lambda t: t.datetime_start or t.datetime_complete)
               if t.state.name == "COMPLETE"]
    assert started == [p["proxy.hooks"] for p in load_sweep("hooks", "quick").grid()]  # interrupted one first
    table = pl.read_parquet(tmp_path / "trials.parquet")
    assert len(table) == 6 and table.select("proxy.hooks", "seed").is_unique().all()


def test_an_interrupted_trial_resumes_from_its_written_parts(tmp_path):
    """A sweep killed inside its only trial, once 2 of 150 cache parts exist, scores only the rest on resume."""
    spec = tmp_path / "one.yaml"
    spec.write_text(json.dumps({"base": ["space.limit=1500", "chunk=10"], "params": {"proxy": ["meco"]},
                                "seeds": [0]}))
    args = [str(spec), f"sweep.dir={tmp_path / 'dir'}", f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none"]
    sweep_killed_after(args, tmp_path / "cache", 2)
    written = pl.concat([pl.read_parquet(p) for p in (tmp_path / "cache").glob("*/.scores/part-*.parquet")])
    assert 20 <= len(written) < 1500

    done = subprocess.run([sys.executable, "-m", "meco_lab.sweep", *args], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    row = pl.read_parquet(tmp_path / "dir" / "trials.parquet").row(0, named=True)
    assert row["n_archs"] == 1500 and row["forward_passes"] == 1500 - len(written) and not row["cache_hit"]
    parts = pl.concat([pl.read_parquet(p) for p in (tmp_path / "cache").glob("*/.scores/part-*.parquet")])
    assert len(parts) == 1500 and parts["index"].is_unique().all()


def test_two_workers_on_postgresql(tmp_path, postgres_url, quick_sweep):
    done = sweep(*QUICK, "sweep.workers=2", f"sweep.storage={postgres_url}", f"sweep.dir={tmp_path}",
                 f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none")
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="ablation-n-quick", storage=postgres_url)
    assert sorted(t.params["proxy.n"] for t in study.trials if t.state.name == "COMPLETE") == [2, 4, 6, 8, 12, 16]
    ours = pl.read_parquet(tmp_path / "trials.parquet").sort("proxy.n", "seed")
    one_worker = pl.read_parquet(quick_sweep / "a" / "trials.parquet").sort("proxy.n", "seed")
    assert ours["spearman_cifar10"].to_list() == one_worker["spearman_cifar10"].to_list()


def test_tpe_sweep_reports_tuned_and_held_out_rho(tmp_path):
    done = sweep("tune-meco", "profile=quick", "space.sample=40", f"sweep.dir={tmp_path}",
                 f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none")
    assert done.returncode == 0, done.stderr
    trials = pl.read_parquet(tmp_path / "trials.parquet")
    assert trials["trial"].n_unique() == 6
    assert {"tune_spearman_cifar10", "holdout_spearman_cifar10"} <= set(trials.columns)
    report = (tmp_path / "report.md").read_text()
    assert "held-out half" in report and "tuning half" in report


@pytest.mark.parametrize(("args", "key", "value", "allowed"), [
    (["no-such-sweep"], "sweep", "no-such-sweep", "ablation-n, ablation-samples"),
    (["ablation-n", "proxy.nope=3"], "proxy.nope", "3", "an existing config key"),
    (["ablation-n", "data.size=big"], "data.size", "big", "an integer >= 8"),
    (["ablation-n", "profile=huge"], "profile", "huge", "one of quick"),
    (["ablation-n", "sweep.workers=two"], "sweep.workers", "two", "an integer >= 1"),
    (["ablation-n", "sweep.executor=spark"], "sweep.executor", "spark", "one of local, ray"),
    (["ablation-n", "sweep.executor=ray", "sweep.address=x"], "sweep.address", "x", "auto, host:port"),
    (["ablation-n", "sweep.executor=ray", "sweep.num_cpus=all"], "sweep.num_cpus", "all", "a number > 0"),
    (["ablation-n", "sweep.storage=postgresql://nobody@127.0.0.1:1/none"], "sweep.storage",
     "postgresql://nobody@127.0.0.1:1/none", "a reachable database URL"),
])
def test_bad_input_fails_in_one_line_before_work(tmp_path, args, key, value, allowed):
    done = sweep(*args, f"sweep.dir={tmp_path / 'dir'}", f"sweep.cache_dir={tmp_path / 'cache'}")
    err = done.stderr.strip()
    assert done.returncode == 2 and "Traceback" not in err and len(err.splitlines()) == 1, done.stderr
    assert err.startswith(f"error: {key}={value!r} is not allowed: expected ") and allowed in err, err
    assert not (tmp_path / "cache").exists()


def test_bad_parameter_path_in_a_sweep_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: [proxy=meco]\nparams:\n  proxy.width: [1, 2]\nseeds: [0]\n")
    done = sweep(str(bad), f"sweep.dir={tmp_path / 'dir'}")
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("error: proxy.width='1' is not allowed: expected an existing config key"), err


def test_wrong_value_type_in_a_sweep_file(tmp_path):
    bad = tmp_path / "typed.yaml"
    bad.write_text(json.dumps({"base": ["proxy=meco_opt"], "params": {"proxy.n": [4, "eight"]}, "seeds": [0]}))
    done = sweep(str(bad), f"sweep.dir={tmp_path / 'dir'}")
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert err == "error: proxy.n='eight' is not allowed: expected an integer >= 1", err


def test_report_cli_and_offline_wandb_publish(quick_sweep):
    (quick_sweep / "a" / "report.md").unlink()
    env = {**os.environ, "WANDB_MODE": "offline"}
    done = subprocess.run([sys.executable, "-m", "meco_lab.report", str(quick_sweep / "a"), "--wandb", "--refresh"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "W&B report not published" in done.stdout + done.stderr
    assert "| 4 | cifar100 |" in (quick_sweep / "a" / "report.md").read_text()


def test_reproduce_table_reads_finished_sweeps(quick_sweep, tmp_path):
    sweeps = tmp_path / "sweeps"
    sweeps.mkdir()
    (sweeps / "ablation-n-quick").symlink_to(quick_sweep / "a")
    out = tmp_path / "paper.md"
    done = subprocess.run([sys.executable, "-m", "meco_lab.reproduce", "--sweeps-dir", str(sweeps), "--profile",
                           "quick", "--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    doc = out.read_text()
    trials = pl.read_parquet(quick_sweep / "a" / "trials.parquet").filter(pl.col("proxy.n") == 8)
    ours = trials["spearman_cifar10"].mean()
    assert f"| Table 5 MeCo_opt n=8 (rho) | cifar10 | 0.900 | {ours:.3f}" in doc
    assert "| Table 1 MeCo, real data (rho) | - | - | not run |" in doc


@pytest.mark.parametrize("name", available_sweeps())
def test_every_sweep_and_its_quick_profile_composes(name, tmp_path):
    """Each shipped sweep's points (quick profile and full) compose into valid configs."""
    for profile in ("quick", None):
        spec = load_sweep(name, profile)
        assert spec.budget >= 2 and spec.seeds
        validate(spec, SweepSettings(dir=tmp_path / str(profile), tracking="none"))


def test_sss_sweep_ranks_against_params_without_accuracy(tmp_path):
    """On NATS-Bench SSS without its archive a sweep's rho is against exact #params (as `score` reports it),
    the top-10 accuracy is a dash, and the paper's accuracy rho is not set beside it."""
    spec = tmp_path / "sss.yaml"
    spec.write_text(json.dumps({"base": ["space=nats_sss", "space.sample=30"],
                                "params": {"proxy": ["meco", "meco_opt"]}, "seeds": [0],
                                "paper": {"meco": "table1_rho.tss.meco"}}))
    done = sweep(str(spec), f"sweep.dir={tmp_path / 'dir'}", f"sweep.cache_dir={tmp_path / 'cache'}",
                 "sweep.tracking=none")
    assert done.returncode == 0, done.stderr
    trials = pl.read_parquet(tmp_path / "dir" / "trials.parquet").sort("proxy")
    assert trials["truth"].to_list() == ["#params (M), exact, counted by nats_sss"] * 2
    assert trials["ranked_against"].to_list() == ["params"] * 2
    summary = score_run(OmegaConf.create(compose_config(["space=nats_sss", "space.sample=30", "proxy=meco"])),
                        tmp_path / "run", Console(file=io.StringIO()))
    for d in ("cifar10", "cifar100", "ImageNet16-120"):
        assert trials[f"spearman_{d}"][0] == pytest.approx(summary["size_correlation"]["params"]["spearman"][d])
        assert trials[f"top10_mean_accuracy_{d}"].is_nan().all()
    meco, opt = trials["spearman_cifar10"].to_list()
    assert meco < 0 < 0.8 < opt  # the paper's SSS finding: MeCo anti-correlates with width, MeCo_opt repairs it
    report = (tmp_path / "dir" / "report.md").read_text()
    assert "against #params (M), exact" in report and "| meco | " in report and "(0.89)" not in report
    assert "– / – / –" in report


def test_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    """Killing only the parent (not its group) leaves no orphan scoring on and holding the cache lock."""
    args = [sys.executable, "-m", "meco_lab.sweep", "hooks", "profile=quick", "space.sample=2000", "sweep.workers=2",
            f"sweep.dir={tmp_path}", f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        workers: list[int] = []
        while time.time() < deadline and len(workers) < 2:
            time.sleep(0.5)
            workers = children(proc.pid, spawned_only=True)
        assert len(workers) == 2
        time.sleep(3)  # scoring
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 15
        while time.time() < deadline and any(alive(w) for w in workers):
            time.sleep(0.5)
        assert not any(alive(w) for w in workers)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def test_grid_sweep_with_a_split_reports_the_held_out_half(tmp_path, cli):
    """A grid sweep with `split` has nothing to tune: its report gives each point's metrics on the held-out half."""
    sweep = tmp_path / "halves.yaml"
    sweep.write_text("description: halves\nbase: [space.sample=40]\nparams:\n  proxy: [meco, params]\nsampler: grid\n"
                     "seeds: [0]\nsplit: {fraction: 0.5, seed: 0}\n")
    out = cli(str(sweep), f"sweep.dir={tmp_path / 'sweep'}", f"sweep.cache_dir={tmp_path / 'cache'}",
              "sweep.tracking=none", module="meco_lab.sweep")
    assert out.returncode == 0, out.stderr
    trials = pl.read_parquet(tmp_path / "sweep" / "trials.parquet")
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "on the held-out half" in report
    for row in trials.iter_rows(named=True):
        assert f"| {row['proxy']} | {row['holdout_spearman_cifar10']:.3f} |" in report
        assert row["holdout_spearman_cifar10"] != row["tune_spearman_cifar10"]


def test_a_profile_narrows_a_swept_parameter():
    narrowed = load_sweep("benchmarks", "cifar10")
    assert {p["space"] for p in narrowed.grid()} == {"nb301", "nb101"}
    assert len(narrowed.grid()) == 2 * len(load_sweep("benchmarks").grid()) // 5
    assert narrowed.study_name == "benchmarks-cifar10"
    assert load_sweep("benchmarks", "nb360").metric == "spearman.svhn"  # a profile's own objective


def test_a_profile_cannot_narrow_what_is_not_swept(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("params:\n  proxy: [meco, params]\nprofiles:\n  odd: {params: {space: [nb301]}}\n")
    with pytest.raises(ConfigError) as error:
        load_sweep(str(spec), "odd")
    assert str(error.value) == "profiles.odd.params='space' is not allowed: expected a swept parameter: proxy"


def test_a_point_with_a_nan_objective_is_reported_not_dropped(tmp_path, cli):
    """One architecture gives rho NaN, which Optuna records as a failed trial: the point still has its row in
    trials.parquet (NaN rho) and the report lists it, once, also after a resume, which does not evaluate it again."""
    sweep = tmp_path / "one.yaml"
    sweep.write_text("description: one arch\nbase: [space.limit=1]\nparams:\n  proxy: [params]\nsampler: grid\n"
                     "seeds: [0]\n")
    args = [str(sweep), f"sweep.dir={tmp_path / 'sweep'}", f"sweep.cache_dir={tmp_path / 'cache'}",
            "sweep.tracking=none"]
    for run in range(2):
        out = cli(*args, module="meco_lab.sweep")
        assert out.returncode == 0, out.stderr
        said = out.stdout + out.stderr
        assert ("trial 0 {'proxy': 'params'}: spearman.cifar10 = nan" in said) == (run == 0), said
        assert "trial 1 " not in said
        trials = pl.read_parquet(tmp_path / "sweep" / "trials.parquet")
        assert len(trials) == 1 and trials["proxy"].to_list() == ["params"]
        assert trials["spearman_cifar10"].is_nan().all()
    assert "| params | cifar10 | nan ± nan |" in (tmp_path / "sweep" / "report.md").read_text()
