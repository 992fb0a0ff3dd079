"""Compose `conf/score.yaml` with overrides through Hydra's compose API (no Hydra app needed)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from meco_lab.cli import CONF_DIR, check_group_choices
from meco_lab.errors import ConfigError


def compose_config(overrides: Sequence[str], config_name: str = "score") -> dict[str, Any]:
    """The resolved config for `overrides`; an unknown key or group value raises a one-line ConfigError."""
    overrides = list(overrides)
    check_group_choices(overrides)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        try:
            cfg = compose(config_name=config_name, overrides=overrides)
        except (HydraException, OmegaConfBaseException) as error:
            match = re.search(r"override '([^']+)'", str(error)) or re.search(r"Key '([^']+)'", str(error))
            key = match.group(1) if match else ", ".join(overrides)
            value = next((o.partition("=")[2] for o in overrides if o.partition("=")[0].lstrip("+~") == key), "")
            raise ConfigError(key, value, "an existing config key (see conf/ and `--cfg job`)") from None
    return OmegaConf.to_container(cfg, resolve=True)
