"""Files shipped with the package: data under meco_lab/resources, the configs (conf/) and sweeps (sweeps/).

`conf/` and `sweeps/` live at the repository's top level and ship inside the wheel as the packages
`meco_lab._conf` and `meco_lab._sweeps` (pyproject.toml maps them), so an editable install and an installed
wheel find them the same way, whatever the working folder.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path


def resource_path(name: str) -> Path:
    """Path of a data file shipped in meco_lab/resources (see the PROVENANCE files there)."""
    return Path(str(files("meco_lab") / "resources" / name))


@cache
def conf_dir() -> Path:
    """The Hydra config folder (the repository's conf/)."""
    return Path(str(files("meco_lab._conf")))


@cache
def sweeps_dir() -> Path:
    """The named sweeps folder (the repository's sweeps/)."""
    return Path(str(files("meco_lab._sweeps")))
