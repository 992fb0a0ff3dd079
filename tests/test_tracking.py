"""W&B tracking offline: the run records the resolved config, the summary, the score table and the plot."""

from __future__ import annotations

import json

import polars as pl


def test_wandb_offline_run_records_config_summary_table_and_plot(cli, tmp_path):
    done = cli("space.limit=30", "tracking=wandb", "tracking.group=test", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    log = next(runs[0].glob("run-*.wandb")).read_bytes()  # the run's protobuf transaction log
    for recorded in (b'"reference"', b'"nats_tss"', b"spearman/cifar10", b'"group"', b"test"):
        assert recorded in log, recorded
    table = json.loads(next((runs[0] / "files" / "media" / "table").glob("scores_*.table.json")).read_text())
    scores = pl.read_parquet(tmp_path / "scores.parquet")
    assert table["columns"] == scores.columns
    assert [row[2] for row in table["data"]] == scores["score"].to_list()
    assert list((runs[0] / "files" / "media" / "images").glob("scatter_*.png"))


def test_tracking_none_writes_no_wandb_files(cli, tmp_path):
    done = cli("space.limit=3", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "wandb").exists()
    assert (tmp_path / "scatter.png").exists()
