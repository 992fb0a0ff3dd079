"""The MeCo paper's published numbers (resources/paper_results.yaml, transcribed with table references)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from meco_lab.resources import resource_path


@lru_cache(maxsize=1)
def paper_results() -> dict[str, Any]:
    return yaml.safe_load(resource_path("paper_results.yaml").read_text())


def paper_value(path: str) -> Any:
    """The entry at a dotted path such as `table5_meco_opt_n_rho.tss.n4` (a dataset -> value mapping)."""
    node: Any = paper_results()
    for part in path.split("."):
        node = node[part]
    return node
