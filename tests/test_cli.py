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
from golden import CLI_RUNS
from test_golden import assert_summary_is_golden

SAMPLE = CLI_RUNS["sample120"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "meco"
    done = subprocess.run([sys.executable, "-m", "meco_lab.score", *SAMPLE, f"hydra.run.dir={run_dir}"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return run_dir, done


def test_sample_run_summary_is_golden(sample_run):
    """rho, tau and top-10 accuracy of the CLI equal the pinned values (tests/fixtures/golden.json)."""
    run_dir, done = sample_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert_summary_is_golden("sample120", summary)
    assert set(summary["spearman"]) == set(summary["kendall"]) == {"cifar10", "cifar100", "ImageNet16-120"}
    assert summary["config"]["proxy"] == {"name": "meco", "hooks": "reference"}
    assert summary["n_failed"] == 0 and summary["seconds"] > 0
    assert summary["arch_seconds_sum"] == pytest.approx(pl.read_parquet(run_dir / "scores.parquet")["seconds"].sum())
    printed = done.stderr + done.stdout  # the table rounds the summary's values to 4 and 2 decimals
    assert "spearman rho" in printed and f"{summary['spearman']['cifar10']:.4f}" in printed
    assert f"{summary['top10_mean_accuracy']['ImageNet16-120']:.2f}" in printed


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


def wait_for_parts(parts, count: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Block until `count` parts are written under `parts` (the explicit event a kill test waits on)."""
    deadline = time.time() + timeout
    while len(list(parts.glob("part-*.parquet"))) < count:
        assert proc.poll() is None, "the run ended before the kill"
        assert time.time() < deadline, f"no {count} parts after {timeout} s"
        time.sleep(0.05)


def test_killed_run_resumes_without_loss_or_repeats(tmp_path):
    """Killed (SIGKILL, whole group) once 2 of its 150 parts are on disk, then resumed by the same command.

    1,500 architectures in parts of 10 leave the run over 100 parts short of its end when the kill lands,
    about 5 s of scoring even on an idle machine, so the kill always catches it midway.
    """
    args = [sys.executable, "-m", "meco_lab.score", "space.limit=1500", "chunk=10", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    parts = tmp_path / ".scores"
    try:
        wait_for_parts(parts, 2, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    written = pl.concat([pl.read_parquet(p) for p in parts.glob("part-*.parquet")])
    assert 20 <= len(written) < 1500, "the run must be killed midway"

    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {len(written)} of 1500 architectures already scored" in done.stderr
    scores = pl.read_parquet(tmp_path / "scores.parquet")
    assert scores["index"].to_list() == list(range(1500))
    kept = scores.filter(pl.col("index").is_in(written["index"]))
    assert kept.sort("index")["score"].to_list() == written.sort("index")["score"].to_list()
    all_parts = pl.concat([pl.read_parquet(p) for p in parts.glob("part-*.parquet")])
    assert len(all_parts) == 1500 and all_parts["index"].is_unique().all(), "an architecture was scored twice"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_archs"] == 1500 and np.isfinite(summary["spearman"]["cifar10"])


def test_a_later_limit_extends_a_run_dir(sample_run, tmp_path):
    """`space.limit=` raised on the same run dir scores only the new architectures, with the same values."""
    first = subprocess.run([sys.executable, "-m", "meco_lab.score", "space.limit=30", f"hydra.run.dir={tmp_path}"],
                           cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = pl.read_parquet(tmp_path / "scores.parquet")
    more = subprocess.run([sys.executable, "-m", "meco_lab.score", "space.limit=50", f"hydra.run.dir={tmp_path}"],
                          cwd=REPO, capture_output=True, text=True)
    assert more.returncode == 0, more.stderr
    assert "resuming: 30 of 50 architectures already scored" in more.stderr
    after = pl.read_parquet(tmp_path / "scores.parquet")
    assert after["index"].to_list() == list(range(50))
    assert after.head(30)["score"].to_list() == before["score"].to_list()
    rows = pl.concat([pl.read_parquet(p) for p in (tmp_path / ".scores").glob("part-*.parquet")])
    assert sorted(rows["index"].to_list()) == list(range(50)), "the first 30 were scored again"
    assert json.loads((tmp_path / "summary.json").read_text())["n_archs"] == 50


def test_failed_architectures_fill_the_error_column_and_n_failed(tmp_path):
    """jacov fails on NATS #9894 (every edge `none`, a constant output): a NaN score, the reason, and a count."""
    indices = tmp_path / "idx.txt"
    indices.write_text("0\n9894\n1462\n")
    done = subprocess.run([sys.executable, "-m", "meco_lab.score", "proxy=jacov", "data=cifar10", "data.samples=4",
                           f"space.indices={indices}", f"hydra.run.dir={tmp_path / 'run'}"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet")
    failed = scores.filter(pl.col("index") == 9894).row(0, named=True)
    assert np.isnan(failed["score"])
    assert failed["error"] == "ValueError: jacov: the Jacobian correlation has NaN entries (a constant Jacobian row)"
    assert scores.filter(pl.col("index") != 9894)["error"].to_list() == [None, None]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_archs"] == 3 and summary["n_nan"] == 1 and summary["n_failed"] == 1
    assert "1 NaN scores" in done.stderr


def test_two_threads_score_as_one_to_float_rounding(sample_run, tmp_path):
    """`threads=2` runs, and its scores equal one thread's up to float32 summation order."""
    run_dir, _ = sample_run
    done = subprocess.run([sys.executable, "-m", "meco_lab.score", *SAMPLE, "threads=2",
                           f"hydra.run.dir={tmp_path}"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    one = pl.read_parquet(run_dir / "scores.parquet")["score"].to_numpy()
    two = pl.read_parquet(tmp_path / "scores.parquet")["score"].to_numpy()
    assert np.allclose(two, one, rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / "summary.json").read_text())["config"]["threads"] == 2


def test_run_dir_refuses_other_settings(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "meco_lab.score", "space.limit=5", f"hydra.run.dir={tmp_path}"],
                        cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "meco_lab.score", "space.limit=5", "data.size=16",
                          f"hydra.run.dir={tmp_path}"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "hydra.run.dir" in bad.stderr and "data" in bad.stderr
