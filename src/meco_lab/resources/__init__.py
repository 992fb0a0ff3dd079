"""Data shipped inside the package (ground-truth tables, a small image sample); see the PROVENANCE files here."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(name: str) -> Path:
    """Path of a file shipped in this folder."""
    return Path(str(files(__name__) / name))
