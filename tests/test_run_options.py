"""Run options end to end: real-image inputs, sample reduction, the nats_bench ground-truth backend."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
import torch
from conftest import REPO
from golden import CLI_RUNS
from rich.console import Console
from test_golden import assert_summary_is_golden

from meco_lab.inputs import make_input
from meco_lab.scoring.compute import progress_bar
from meco_lab.scoring.plan import resolve_device
from meco_lab.scoring.scorer import Scorer, ScoringJob

FIXTURE_TORCH_HOME = REPO / "tests" / "fixtures" / "fake_torch_dir"


def job(**overrides) -> ScoringJob:
    base = dict(space={"name": "nats_tss"}, proxy={"name": "meco", "hooks": "reference"},
                x=make_input("random", samples=3, seed=4), seed=0, num_classes=10)
    return ScoringJob(**{**base, **overrides})


def test_reduce_mean_is_the_mean_of_single_sample_scores():
    x = make_input("random", samples=3, seed=4)
    mean = Scorer(job(x=x, reduce="mean")).score(77)["score"]
    singles = [Scorer(job(x=x[k : k + 1])).score(77)["score"] for k in range(3)]
    assert mean == pytest.approx(sum(singles) / 3, rel=1e-12)


def test_reduce_first_scores_sample_zero_of_one_batch_forward():
    """BN statistics span the batch, so 'first' differs from scoring sample 0 alone."""
    x = make_input("random", samples=3, seed=4)
    first = Scorer(job(x=x, reduce="first")).score(77)["score"]
    alone = Scorer(job(x=x[:1])).score(77)["score"]
    assert first != alone and abs(first - alone) < 0.5 * abs(alone)


@pytest.mark.parametrize("data", ["cifar10", "cifar100", "imagenet16"])
def test_real_image_inputs_run(cli, tmp_path, data):
    """Each real-image input through the CLI gives the pinned summary (tests/fixtures/golden.json)."""
    done = cli(*CLI_RUNS[f"{data}/limit40"], f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["data"]["name"] == data
    assert_summary_is_golden(f"{data}/limit40", summary)


def test_real_and_random_inputs_give_different_scores():
    real = Scorer(job(x=make_input("cifar10", seed=0))).score(5)["score"]
    noise = Scorer(job(x=make_input("random", seed=0))).score(5)["score"]
    assert real != noise


def test_nats_bench_backend_through_the_cli(cli, tmp_path):
    indices = tmp_path / "idx.txt"
    indices.write_text("0\n11\n284\n")
    os.environ["TORCH_HOME"] = str(FIXTURE_TORCH_HOME)
    try:
        archive = cli("truth=nats_bench", f"space.indices={indices}", f"hydra.run.dir={tmp_path / 'a'}")
    finally:
        del os.environ["TORCH_HOME"]
    table = cli(f"space.indices={indices}", f"hydra.run.dir={tmp_path / 't'}")
    assert archive.returncode == 0 and table.returncode == 0, archive.stderr + table.stderr
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    t = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert a["spearman"] == t["spearman"] and a["top10_mean_accuracy"] == t["top10_mean_accuracy"]
    assert "nats_bench" in a["truth"].lower() or "archive" in a["truth"].lower()


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_scores_match_cpu():
    for index in (0, 11, 284, 5000, 12345):
        cpu = Scorer(job(device="cpu")).score(index)["score"]
        gpu = Scorer(job(device="cuda")).score(index)["score"]
        assert gpu == pytest.approx(cpu, rel=1e-4)


def test_a_failing_architecture_is_recorded_and_the_run_goes_on(monkeypatch):
    """A proxy error on one architecture becomes a NaN score with the error text; the others are scored."""
    scorer = Scorer(job())
    real_score = scorer.proxy.score

    def flaky(candidate, x, y=None):
        if candidate.index == 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_score(candidate, x, y)

    monkeypatch.setattr(scorer.proxy, "score", flaky)
    rows = scorer.score_many([1, 2, 3])
    assert [r["error"] for r in rows] == [None, "RuntimeError: CUDA out of memory (simulated)", None]
    assert rows[1]["score"] != rows[1]["score"] and all(r["score"] == r["score"] for r in (rows[0], rows[2]))


def test_progress_written_to_a_file_is_a_line_per_interval():
    """Rich draws a bar only on a terminal; to a file (`nohup`, a batch job) the progress bar prints plain lines with
    done/total, the rate, the time elapsed and the time left at the rate since the task started (a resumed task
    counts from where it resumed)."""
    log = io.StringIO()
    with progress_bar(Console(file=log, width=200), "one pass", every=0) as progress:
        task = progress.add_task("one pass", total=10, completed=4, rate="")
        for k in range(3):
            time.sleep(0.05)
            progress.update(task, rate=f"{k + 1} arch/s")
            progress.advance(task, 2)
    lines = [line for line in log.getvalue().splitlines() if line.startswith("one pass:")]
    assert [line.split(",")[0] for line in lines] == ["one pass: 6/10 (60.0%)", "one pass: 8/10 (80.0%)",
                                                     "one pass: 10/10 (100.0%)"]
    assert "1 arch/s" in lines[0] and "elapsed, about 0:00:00 left" in lines[-1]
    log = io.StringIO()  # advancing through `update` (as zc_pt does) prints the same lines
    with progress_bar(Console(file=log, width=200), "zc_pt", info="info", every=0) as progress:
        task = progress.add_task("zc_pt", total=4, info="")
        progress.update(task, advance=1, info="3 proxy calls")
    assert "zc_pt: 1/4 (25.0%), 3 proxy calls, 0:00:00 elapsed" in log.getvalue()
    quiet_log = io.StringIO()  # on a terminal the bar itself shows progress: no extra lines
    with progress_bar(Console(file=quiet_log, force_terminal=True), "one pass", every=0) as progress:
        task = progress.add_task("one pass", total=2, rate="")
        progress.advance(task, 2)
    assert "one pass:" not in quiet_log.getvalue()
