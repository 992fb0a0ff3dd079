"""Config plumbing shared by the entry points: config groups, composing configs, and one-line errors.

Every entry point turns a `ConfigError` into one line on stderr and exit code 2, before any work is done.
"""

from __future__ import annotations

import difflib
import errno
import functools
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException, HydraException
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from meco_lab.core.errors import ConfigError
from meco_lab.core.process import Terminated, raise_on_sigterm
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


def group_config(group: str, option: str) -> dict[str, Any]:
    """The resolved config of one option of a config group (conf/<group>/<option>.yaml, or Hydra's ConfigStore), as
    `<group>=<option>` would compose it; an unknown option raises a one-line ConfigError naming the group."""
    path = conf_dir() / group / f"{option}.yaml"
    if path.is_file():
        node = OmegaConf.load(path)
    else:
        try:
            node = ConfigStore.instance().load(f"{group}/{option}.yaml").node
        except (OSError, ConfigCompositionException):
            raise ConfigError(group, option, group_options(group)) from None
    return OmegaConf.to_container(node, resolve=True)


def check_group_choices(argv: Sequence[str]) -> None:
    """Refuse `group=value` overrides naming a config that conf/ lacks, in one line (before Hydra's long error)."""
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if sep and "." not in key and (conf_dir() / key).is_dir() and value not in group_options(key):
            raise ConfigError(key, value, group_options(key))


def compose_config(overrides: Sequence[str], config_name: str = "score", hydra: bool = False) -> dict[str, Any]:
    """The resolved config for `overrides` (with Hydra's own `hydra` node when `hydra`); an unknown key or group value
    raises a one-line ConfigError that suggests the closest existing key."""
    overrides = list(overrides)
    check_group_choices(overrides)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        try:
            cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=hydra)
        except (HydraException, OmegaConfBaseException) as error:
            match = re.search(r"override '([^']+)'", str(error)) or re.search(r"Key '([^']+)'", str(error))
            key = match.group(1) if match else ", ".join(overrides)
            value = next((o.partition("=")[2] for o in overrides if o.partition("=")[0].lstrip("+~") == key), "")
            rest = [o for o in overrides if o.partition("=")[0].lstrip("+~") != key]
            raise ConfigError(key, value, "an existing config key" + _suggestion(key, rest, config_name)) from None
        if hydra:  # Hydra's runtime fields are filled in by a real app run: keep only what a check needs
            run_dir = OmegaConf.select(cfg, "hydra.run.dir")
            with open_dict(cfg):
                del cfg["hydra"]
            return {**OmegaConf.to_container(cfg, resolve=True), "hydra": {"run": {"dir": run_dir}}}
        return OmegaConf.to_container(cfg, resolve=True)


def _suggestion(key: str, overrides: list[str], config_name: str) -> str:
    """` (did you mean K?)` for the existing config key K closest to a misspelt `key`, else a pointer to `--cfg job`."""
    try:
        cfg = OmegaConf.to_container(compose(config_name=config_name, overrides=overrides))
    except (HydraException, OmegaConfBaseException):
        cfg = {}
    keys: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for k, v in node.items():
            keys.append(prefix + str(k))
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")

    walk(cfg, "")
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else " (see conf/ and `--cfg job`)"


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG)
INTERRUPTED = "interrupted ({signal}): what finished is kept; the same command resumes"


def one_line_errors(task: Callable[..., Any]) -> Callable[..., Any]:
    """Run an entry point's task with the project's exit contract: a ConfigError is one line and exit 2; a full or
    read-only disk is one line naming the path and exit 1; Ctrl-C (130) and SIGTERM (143) stop in one line, with
    whatever was finished kept (scores are written in atomic parts)."""

    @functools.wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        raise_on_sigterm()
        try:
            return task(*args, **kwargs)
        except ConfigError as error:
            fail(str(error))
        except KeyboardInterrupt:
            fail(INTERRUPTED.format(signal="Ctrl-C"), 130)
        except Terminated:
            fail(INTERRUPTED.format(signal="SIGTERM"), 143)
        except OSError as error:
            if error.errno not in WRITE_ERRORS:
                raise
            fail(f"cannot write {error.filename or 'a file'}: {error.strerror}; what finished is kept; free space or "
                 "choose a writable folder, then repeat the command to resume", 1)

    return wrapper


def hydra_overrides(argv: Sequence[str]) -> list[str] | None:
    """The config overrides of a Hydra app's command line, or None when it has Hydra flags (`--cfg`, `-m`, ...)."""
    if any(a.startswith("-") for a in argv):
        return None
    return list(argv)


def check_run_dir(path: Path) -> None:
    """Refuse a run dir that cannot be written (read-only, not a folder), before Hydra or the run creates it."""
    probe = Path(path)
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError("hydra.run.dir", str(path), f"a folder ({probe} is a file)")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as error:
        raise ConfigError("hydra.run.dir", str(path), f"a writable folder ({probe}: {error.strerror})") from None


def main_with_checks(hydra_main: Callable[[], Any], config_name: str | None = None,
                     precheck: Callable[[dict[str, Any]], Any] | None = None) -> None:
    """Check the command line before Hydra runs the app (Hydra creates the run dir first): config-group choices,
    every key (a misspelt one gets the closest suggestion), the run dir, and `precheck(config)`, which is the app's
    own validation (e.g. planning a scoring run). A refused command prints one line, exits 2 and creates nothing."""
    task = one_line_errors(lambda: _precheck(config_name, precheck))
    task()
    hydra_main()


def _precheck(config_name: str | None, precheck: Callable[[dict[str, Any]], Any] | None) -> None:
    check_group_choices(sys.argv[1:])
    overrides = hydra_overrides(sys.argv[1:])
    if config_name is None or overrides is None:
        return
    config = compose_config(overrides, config_name, hydra=True)
    check_run_dir(Path(config.pop("hydra")["run"]["dir"]))
    if precheck is not None:
        precheck(config)
