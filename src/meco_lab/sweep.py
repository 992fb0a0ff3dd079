"""`python -m meco_lab.sweep NAME [profile=quick] [sweep.workers=K] [sweep.storage=URL] [config overrides...]`."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from meco_lab.cli import fail
from meco_lab.errors import ConfigError
from meco_lab.report import write_report
from meco_lab.sweep_runner import SweepSettings, run_sweep
from meco_lab.sweep_spec import available_sweeps, load_sweep

SETTINGS = {"sweep.dir", "sweep.storage", "sweep.workers", "sweep.cache_dir", "sweep.tracking"}


def parse(argv: list[str]) -> tuple[str, str | None, dict[str, str], list[str]]:
    """Split the command line into the sweep name, its profile, `sweep.*` settings and config overrides."""
    if not argv or argv[0].startswith("-") or "=" in argv[0]:
        raise ConfigError("sweep", argv[0] if argv else "", available_sweeps())
    name, profile, settings, overrides = argv[0], None, {}, []
    for arg in argv[1:]:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(arg, "", "key=value overrides after the sweep name")
        if key == "profile":
            profile = value
        elif key.startswith("sweep."):
            if key not in SETTINGS:
                raise ConfigError(key, value, sorted(SETTINGS))
            settings[key] = value
        else:
            overrides.append(arg)
    return name, profile, settings, overrides


def _int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(key, value, "an integer >= 1") from None


def main(argv: list[str] | None = None) -> None:
    console = Console(stderr=True)
    try:
        name, profile, raw, overrides = parse(sys.argv[1:] if argv is None else argv)
        spec = load_sweep(name, profile)
        settings = SweepSettings(
            dir=Path(raw.get("sweep.dir", f"outputs/sweeps/{spec.study_name}")),
            storage=raw.get("sweep.storage"),
            workers=_int("sweep.workers", raw.get("sweep.workers", "1")),
            cache_dir=Path(raw.get("sweep.cache_dir", "outputs/cache/scores")),
            tracking=raw.get("sweep.tracking", "wandb"),
            overrides=tuple(overrides),
        )
        run_sweep(spec, settings, console)
        report = write_report(settings.dir, console=console)
    except ConfigError as error:
        fail(str(error))
    console.print(f"report: {report}")


if __name__ == "__main__":
    main()
