"""`python -m meco_lab.sweep NAME [profile=quick] [sweep.workers=K] [sweep.storage=URL] [config overrides...]`:
run a named sweep from sweeps/ (meco_lab.sweeps.runner), then write its report (meco_lab.sweeps.report)."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from meco_lab.core.checks import check_int
from meco_lab.core.config import fail
from meco_lab.core.errors import ConfigError
from meco_lab.sweeps.report import write_report
from meco_lab.sweeps.runner import SweepSettings, parse_command, run_sweep
from meco_lab.sweeps.spec import load_sweep


def main(argv: list[str] | None = None) -> None:
    console = Console(stderr=True)
    try:
        name, profile, raw, overrides = parse_command(sys.argv[1:] if argv is None else argv)
        spec = load_sweep(name, profile)
        settings = SweepSettings(
            dir=Path(raw.get("sweep.dir", f"outputs/sweeps/{spec.study_name}")),
            storage=raw.get("sweep.storage"),
            workers=check_int("sweep.workers", _int(raw.get("sweep.workers", "1"))),
            cache_dir=Path(raw.get("sweep.cache_dir", "outputs/cache/scores")),
            tracking=raw.get("sweep.tracking", "wandb"),
            overrides=tuple(overrides),
        )
        run_sweep(spec, settings, console)
        report = write_report(settings.dir, console=console)
    except ConfigError as error:
        fail(str(error))
    console.print(f"report: {report}")


def _int(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value


if __name__ == "__main__":
    main()
