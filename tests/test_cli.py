"""End-to-end runs of `python -m meco_lab.score` and its output contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest
from conftest import REPO

SAMPLE = ["space.sample=120", "space.sample_seed=3"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "meco"
    done = subprocess.run([sys.executable, "-m", "meco_lab.score", *SAMPLE, f"hydra.run.dir={run_dir}"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return run_dir, done


def test_sample_run_ranks_well_above_chance(sample_run):
    run_dir, done = sample_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_archs"] == 120 and summary["n_nan"] == 0
    assert summary["spearman"]["cifar10"] >= 0.6
    assert set(summary["spearman"]) == set(summary["kendall"]) == {"cifar10", "cifar100", "ImageNet16-120"}
    assert 0 < summary["kendall"]["cifar10"] < summary["spearman"]["cifar10"]
    assert summary["config"]["proxy"] == {"name": "meco", "hooks": "reference"}
    assert summary["seconds"] > 0 and 80 < summary["top10_mean_accuracy"]["cifar10"] < 95
    assert "spearman rho" in done.stderr + done.stdout


def test_output_contract(sample_run):
    run_dir, _ = sample_run
    scores = pl.read_parquet(run_dir / "scores.parquet")
    assert scores.columns[:4] == ["index", "arch", "score", "seconds"]
    assert scores["index"].is_unique().all() and len(scores) == 120
    assert (run_dir / "scatter.png").stat().st_size > 10_000
    assert (run_dir / ".hydra" / "config.yaml").exists() and (run_dir / "config.yaml").exists()


def test_same_config_same_scores_whatever_else_runs(sample_run, tmp_path):
    """Scores depend on (config, seed, index) only: a run over other architectures agrees bit for bit."""
    run_dir, _ = sample_run
    first = pl.read_parquet(run_dir / "scores.parquet")
    picked = first["index"].to_list()[::7]
    (tmp_path / "idx.txt").write_text("\n".join(map(str, reversed(picked))) + "\n\n")
    done = subprocess.run([sys.executable, "-m", "meco_lab.score", f"space.indices={tmp_path / 'idx.txt'}",
                           f"hydra.run.dir={tmp_path / 'again'}"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    again = pl.read_parquet(tmp_path / "again" / "scores.parquet")
    expected = first.filter(pl.col("index").is_in(picked))
    assert again["index"].to_list() == expected["index"].to_list()
    assert again["score"].to_list() == expected["score"].to_list()


def test_two_workers_equal_one(sample_run, tmp_path):
    run_dir, _ = sample_run
    done = subprocess.run([sys.executable, "-m", "meco_lab.score", *SAMPLE, "workers=2", "chunk=25",
                           f"hydra.run.dir={tmp_path}"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    one = pl.read_parquet(run_dir / "scores.parquet")
    two = pl.read_parquet(tmp_path / "scores.parquet")
    assert one["index"].to_list() == two["index"].to_list()
    assert one["score"].to_list() == two["score"].to_list()


def test_killed_run_resumes_without_loss_or_repeats(tmp_path):
    args = [sys.executable, "-m", "meco_lab.score", "space.limit=400", "chunk=20", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    parts = tmp_path / ".scores"
    deadline = time.time() + 120
    while len(list(parts.glob("part-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = pl.concat([pl.read_parquet(p) for p in parts.glob("part-*.parquet")])
    assert 0 < len(written) < 400, "the run must be killed midway"

    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr
    scores = pl.read_parquet(tmp_path / "scores.parquet")
    assert scores["index"].to_list() == list(range(400))
    kept = scores.filter(pl.col("index").is_in(written["index"]))
    assert kept.sort("index")["score"].to_list() == written.sort("index")["score"].to_list()
    all_parts = pl.concat([pl.read_parquet(p) for p in parts.glob("part-*.parquet")])
    assert len(all_parts) == 400 and all_parts["index"].is_unique().all(), "an architecture was scored twice"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_archs"] == 400 and np.isfinite(summary["spearman"]["cifar10"])


def test_run_dir_refuses_other_settings(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "meco_lab.score", "space.limit=5", f"hydra.run.dir={tmp_path}"],
                        cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "meco_lab.score", "space.limit=5", "data.size=16",
                          f"hydra.run.dir={tmp_path}"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "hydra.run.dir" in bad.stderr and "data" in bad.stderr
