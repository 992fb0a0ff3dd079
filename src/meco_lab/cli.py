"""Command-line plumbing shared by the Hydra apps: config-group checks and one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from meco_lab.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def group_options(group: str) -> list[str]:
    """Config files available in a config group of conf/."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_group_choices(argv: Sequence[str]) -> None:
    """Refuse `group=value` overrides naming a config that conf/ lacks, in one line (before Hydra's long error)."""
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if sep and "." not in key and (CONF_DIR / key).is_dir() and value not in group_options(key):
            raise ConfigError(key, value, group_options(key))


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def one_line_errors(task: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ConfigError raised by a Hydra task into one line on stderr and exit code 2."""

    @functools.wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return task(*args, **kwargs)
        except ConfigError as error:
            fail(str(error))

    return wrapper


def main_with_checks(hydra_main: Callable[[], Any]) -> None:
    """Check config-group choices, then hand over to the Hydra app."""
    try:
        check_group_choices(sys.argv[1:])
    except ConfigError as error:
        fail(str(error))
    hydra_main()
