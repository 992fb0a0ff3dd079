"""Which architectures a run scores: `space.limit`, `space.sample` or `space.indices`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from meco_lab.core.checks import check_int
from meco_lab.core.errors import ConfigError


def read_indices(path: str, size: int) -> list[int]:
    """Architecture indices from a text file, one per line (blank lines ignored): at least one, none twice."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("space.indices", path, "a text file of architecture indices, one per line")
    seen: dict[int, int] = {}
    for lineno, line in enumerate(file.read_text().splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        where = f"space.indices ({path}, line {lineno})"
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(where, text, "an integer") from None
        if not 0 <= value < size:
            raise ConfigError(where, value, f"an integer in 0..{size - 1}")
        if value in seen:
            raise ConfigError(where, value, f"an index not listed before (line {seen[value]} has it)")
        seen[value] = lineno
    if not seen:
        raise ConfigError("space.indices", path, "a file listing at least one architecture index")
    return sorted(seen)


def _count(key: str, value: object, size: int) -> int:
    check_int(key, value, 1, allowed=f"an integer in 1..{size}, or null")
    return min(value, size)


def select_space(spec: Mapping[str, Any], size: int) -> list[int]:
    """`select_indices` for a `space` config (its limit, sample, indices and sample_seed keys)."""
    return select_indices(size, spec.get("limit"), spec.get("sample"), spec.get("indices"), spec.get("sample_seed", 0))


def select_indices(size: int, limit: int | None = None, sample: int | None = None, indices: str | None = None,
                   sample_seed: int = 0) -> list[int]:
    """Sorted architecture indices: all, the first `limit`, a seeded `sample`, or those listed in `indices`."""
    given = {k: v for k, v in (("space.limit", limit), ("space.sample", sample), ("space.indices", indices))
             if v is not None}
    if len(given) > 1:
        first, second = list(given)[:2]
        raise ConfigError(second, given[second], f"null when {first} is set")
    if indices is not None:
        return read_indices(str(indices), size)
    if sample is not None:
        rng = np.random.default_rng(sample_seed)
        return sorted(rng.choice(size, _count("space.sample", sample, size), replace=False).tolist())
    if limit is not None:
        return list(range(_count("space.limit", limit, size)))
    return list(range(size))
