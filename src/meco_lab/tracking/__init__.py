"""Tracking and plots: W&B runs (one init path for every entry point) and the pictures written into run dirs."""

from meco_lab.tracking.plots import scatter_plot
from meco_lab.tracking.runs import check_tracking, image, table, wandb_run

__all__ = ["check_tracking", "image", "scatter_plot", "table", "wandb_run"]
