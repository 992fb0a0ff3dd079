"""`python -m meco_lab.sweep NAME [profile=quick] [sweep.workers=K] [sweep.storage=URL] [sweep.executor=ray]
[config overrides...]`: run a named sweep from sweeps/ (meco_lab.sweeps.runner), then write its report
(meco_lab.sweeps.report)."""

from __future__ import annotations

import sys

from rich.console import Console

from meco_lab.core.config import one_line_errors
from meco_lab.sweeps.report import write_report
from meco_lab.sweeps.runner import parse_command, run_sweep


@one_line_errors  # bad input, Ctrl-C, SIGTERM and a full disk: one line and the project's exit codes
def main(argv: list[str] | None = None) -> None:
    console = Console(stderr=True)
    spec, settings = parse_command(sys.argv[1:] if argv is None else argv)
    run_sweep(spec, settings, console)
    report = write_report(settings.dir, console=console)
    console.print(f"report: {report}")


if __name__ == "__main__":
    main()
