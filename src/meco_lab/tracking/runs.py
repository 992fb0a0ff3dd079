"""W&B runs: one init path for score, sweep trials, search and retrain (`tracking=wandb`, offline by default).

`check_tracking` refuses a bad `tracking` config in one line before any work; `wandb_run` opens one run
(or nothing, for `tracking=none`) and always finishes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from meco_lab.core.checks import check_choice

NAMES = ("none", "wandb")
MODES = ("offline", "online", "disabled")


def check_tracking(tracking: Mapping[str, Any]) -> None:
    """Raise ConfigError for an unknown `tracking.name` or `tracking.mode`."""
    if check_choice("tracking.name", tracking.get("name"), NAMES) == "wandb":
        check_choice("tracking.mode", tracking.get("mode", "offline"), MODES)


@contextmanager
def wandb_run(tracking: Mapping[str, Any], run_dir: Path, config: dict[str, Any], job_type: str,
              name: str | None = None, group: str | None = None) -> Iterator[Any]:
    """A W&B run in `run_dir` for `tracking` (`project`, `mode`, `group`, `run_name`, `tags`), finished when the
    block ends; None for `tracking=none`. `name` and `group` replace the configured ones when given."""
    check_tracking(tracking)
    if tracking.get("name") == "none":
        yield None
        return
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    run = wandb.init(project=tracking.get("project", "meco_lab"), mode=tracking.get("mode", "offline"),
                     dir=str(run_dir), config=config, group=group or tracking.get("group"),
                     name=name or tracking.get("run_name"), tags=list(tracking.get("tags") or []), job_type=job_type,
                     reinit="create_new")
    try:
        yield run
    finally:
        run.finish()


def table(frame: pl.DataFrame) -> Any:
    """A W&B table of a polars frame."""
    import wandb

    return wandb.Table(columns=frame.columns, data=frame.rows())


def image(path: Path) -> Any:
    import wandb

    return wandb.Image(str(path))
