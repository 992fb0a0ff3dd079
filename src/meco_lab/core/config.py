"""Config plumbing shared by the entry points: config groups, composing configs, and one-line errors.

Every entry point turns a `ConfigError` into one line on stderr and exit code 2, before any work is done.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from meco_lab.core.errors import ConfigError
from meco_lab.core.resources import conf_dir

CONF_DIR = str(conf_dir())
"""The Hydra config folder, as the `config_path` of the Hydra apps."""


def group_options(group: str) -> list[str]:
    """Configs available in a config group: the YAML files of conf/<group>, and any stored in Hydra's ConfigStore
    (how code outside the package, a plugin or a test, adds a space or proxy config)."""
    try:
        stored = ConfigStore.instance().list(group)
    except OSError:  # nothing stored in this group
        stored = []
    return sorted({p.stem for p in (conf_dir() / group).glob("*.yaml")} | {Path(n).stem for n in stored})


def check_group_choices(argv: Sequence[str]) -> None:
    """Refuse `group=value` overrides naming a config that conf/ lacks, in one line (before Hydra's long error)."""
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if sep and "." not in key and (conf_dir() / key).is_dir() and value not in group_options(key):
            raise ConfigError(key, value, group_options(key))


def compose_config(overrides: Sequence[str], config_name: str = "score") -> dict[str, Any]:
    """The resolved config for `overrides`; an unknown key or group value raises a one-line ConfigError."""
    overrides = list(overrides)
    check_group_choices(overrides)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        try:
            cfg = compose(config_name=config_name, overrides=overrides)
        except (HydraException, OmegaConfBaseException) as error:
            match = re.search(r"override '([^']+)'", str(error)) or re.search(r"Key '([^']+)'", str(error))
            key = match.group(1) if match else ", ".join(overrides)
            value = next((o.partition("=")[2] for o in overrides if o.partition("=")[0].lstrip("+~") == key), "")
            raise ConfigError(key, value, "an existing config key (see conf/ and `--cfg job`)") from None
    return OmegaConf.to_container(cfg, resolve=True)


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
