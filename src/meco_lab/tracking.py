"""Run tracking: `tracking=wandb` (offline by default, no account needed) or `tracking=none`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from meco_lab.errors import ConfigError


class NoTracker:
    """Logs nothing."""

    def log(self, summary: dict[str, Any], scores: pl.DataFrame, plot: Path | None) -> None:
        pass

    def close(self) -> None:
        pass


class WandbTracker:
    """One W&B run: resolved config, summary metrics, the score table and the scatter plot."""

    def __init__(self, run_dir: Path, config: dict[str, Any], project: str, mode: str, group: str | None,
                 name: str | None, tags: list[str]):
        import wandb

        if mode not in ("offline", "online", "disabled"):
            raise ConfigError("tracking.mode", mode, ("offline", "online", "disabled"))
        os.environ.setdefault("WANDB_SILENT", "true")
        self.wandb = wandb
        self.run = wandb.init(project=project, mode=mode, dir=str(run_dir), config=config, group=group,
                              name=name, tags=list(tags), reinit="create_new")

    def log(self, summary: dict[str, Any], scores: pl.DataFrame, plot: Path | None) -> None:
        flat = {f"{metric}/{dataset}": value for metric in ("spearman", "kendall", "top10_mean_accuracy")
                for dataset, value in summary[metric].items()}
        flat.update({k: summary[k] for k in ("n_archs", "n_nan", "seconds")})
        for size, stats in summary.get("size_correlation", {}).items():  # runs without accuracy
            flat.update({f"{m}_vs_{size}/{d}": v for m, per in stats.items() for d, v in per.items()})
        self.run.summary.update(flat)
        table = self.wandb.Table(columns=scores.columns, data=scores.rows())
        payload: dict[str, Any] = {"scores": table}
        if plot is not None:
            payload["scatter"] = self.wandb.Image(str(plot))
        self.run.log(payload)

    def close(self) -> None:
        self.run.finish()


def make_tracker(cfg: dict[str, Any], run_dir: Path, config: dict[str, Any]) -> NoTracker | WandbTracker:
    """The tracker named by `tracking.name`."""
    name = cfg.get("name")
    if name == "none":
        return NoTracker()
    if name == "wandb":
        return WandbTracker(run_dir, config, cfg.get("project", "meco_lab"), cfg.get("mode", "offline"),
                            cfg.get("group"), cfg.get("run_name"), cfg.get("tags") or [])
    raise ConfigError("tracking.name", name, ("none", "wandb"))
