"""`python -m meco_lab.report SWEEP_DIR [--wandb] [--refresh]`: rewrite a sweep's report.md and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from meco_lab.core.config import fail
from meco_lab.sweeps.report import write_report
from meco_lab.sweeps.runner import refresh_trials_table
from meco_lab.sweeps.spec import RECORD


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a sweep's report.md and plots.")
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--wandb", action="store_true", help="also publish a W&B Report (when online)")
    parser.add_argument("--refresh", action="store_true",
                        help="first rebuild trials.parquet from the study's storage (a sweep still running or stopped)")
    args = parser.parse_args()
    if not (args.sweep_dir / RECORD).is_file():
        fail(f"sweep_dir={str(args.sweep_dir)!r} is not allowed: expected a sweep dir holding {RECORD}")
    if args.refresh:
        refresh_trials_table(args.sweep_dir)
    if not (args.sweep_dir / "trials.parquet").exists():
        fail(f"sweep_dir={str(args.sweep_dir)!r} is not allowed: expected a sweep dir holding trials.parquet")
    print(write_report(args.sweep_dir, publish_wandb=args.wandb))


if __name__ == "__main__":
    main()
