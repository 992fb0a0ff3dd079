"""Resumable score storage: parts written as scores are computed, one table at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from meco_lab.core.errors import ConfigError
from meco_lab.core.io import atomic_path

SCHEMA = {"index": pl.Int64, "arch": pl.String, "score": pl.Float64, "seconds": pl.Float64, "error": pl.String}


class ScoreStore:
    """Scores of one run dir. Each finished chunk is an atomic Parquet part under `.scores/`.

    A run dir belongs to one fingerprint (the score-relevant config); reopening it with another
    config is refused, so scores of different settings never mix.
    """

    def __init__(self, run_dir: Path, fingerprint: dict[str, Any]):
        self.parts = run_dir / ".scores"
        self.parts.mkdir(parents=True, exist_ok=True)
        stamp = self.parts / "fingerprint.json"
        text = json.dumps(fingerprint, sort_keys=True, indent=1)
        if stamp.exists() and stamp.read_text() != text:
            old = json.loads(stamp.read_text())
            diff = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
            raise ConfigError("hydra.run.dir", str(run_dir),
                              f"a new run dir: this one holds scores for other settings of {', '.join(diff)}")
        stamp.write_text(text)
        self._next = len(list(self.parts.glob("part-*.parquet")))

    def load(self) -> pl.DataFrame:
        """All scores written so far, one row per index (sorted)."""
        files = sorted(self.parts.glob("part-*.parquet"))
        if not files:
            return pl.DataFrame(schema=SCHEMA)
        return pl.concat([pl.read_parquet(f) for f in files]).unique("index", keep="first").sort("index")

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write rows as a new part: to a temporary name first, then renamed, so a kill leaves no half part."""
        if not rows:
            return
        with atomic_path(self.parts / f"part-{self._next:06d}.parquet") as tmp:
            pl.DataFrame(rows, schema=SCHEMA).write_parquet(tmp)
        self._next += 1
