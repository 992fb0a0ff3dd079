"""Resumable score storage: parts written as scores are computed, one table at the end.

Each finished chunk is an atomic Parquet part under `.scores/`. The store heals itself: a part that cannot be
read (a truncated file, a disk error) is named in one warning line and moved aside as `*.corrupt`, so its
architectures are scored again; temporary files left by an interrupted write are removed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from meco_lab.core.errors import ConfigError
from meco_lab.core.io import TMP_SUFFIX, atomic_path, write_text


def schema(columns: tuple[str, ...] = ("score",)) -> dict[str, pl.DataType]:
    """The parts' schema for these score columns (`score`, or one `score_<task>` per task)."""
    return {"index": pl.Int64, "arch": pl.String, **dict.fromkeys(columns, pl.Float64), "seconds": pl.Float64,
            "error": pl.String}


class ScoreStore:
    """Scores of one run dir (or score-cache entry).

    A run dir belongs to one fingerprint (the score-relevant config); reopening it with another
    config is refused, so scores of different settings never mix.
    """

    def __init__(self, run_dir: Path, fingerprint: dict[str, Any], console: Console | None = None,
                 columns: tuple[str, ...] = ("score",)):
        self.console = console or Console(stderr=True)
        self.schema = schema(columns)
        self.parts = run_dir / ".scores"
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob(f"*{TMP_SUFFIX}"):  # an interrupted write's temporary file
            stale.unlink(missing_ok=True)
        stamp = self.parts / "fingerprint.json"
        text = json.dumps(fingerprint, sort_keys=True, indent=1)
        if stamp.exists() and stamp.read_text() != text:
            try:
                old = json.loads(stamp.read_text())
            except ValueError:  # damaged: written atomically since, so only by hand or a disk error
                old = {}
            diff = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
            raise ConfigError("hydra.run.dir", str(run_dir),
                              f"a new run dir: this one holds scores for other settings of {', '.join(diff)}")
        write_text(stamp, text)

    def _next_part(self) -> Path:
        numbers = [int(p.name.split("-")[1].split(".")[0]) for p in self.parts.glob("part-*.parquet*")]
        return self.parts / f"part-{max(numbers, default=-1) + 1:06d}.parquet"

    def load(self) -> pl.DataFrame:
        """All scores written so far, one row per index (sorted); unreadable parts are moved aside."""
        parts = sorted(self.parts.glob("part-*.parquet"))
        if not parts:
            return pl.DataFrame(schema=self.schema)
        try:  # one read of every part (a cache entry of the whole space has hundreds): 5x faster than part by part
            return self._table(pl.read_parquet(parts, columns=list(self.schema)).cast(self.schema))
        except Exception:  # a damaged part or parts of differing dtypes: part by part, as below
            pass
        frames = []
        for part in parts:
            try:
                frames.append(pl.read_parquet(part).select(list(self.schema)).cast(self.schema))
            except Exception as error:  # polars raises several kinds for a damaged file
                moved = part.with_name(part.name + ".corrupt")
                part.rename(moved)
                reason = " ".join(str(error).split())[:120]
                self.console.print(f"warning: {part} cannot be read ({reason}); moved to {moved.name}, its "
                                   "architectures are scored again", soft_wrap=True, highlight=False)
        if not frames:
            return pl.DataFrame(schema=self.schema)
        return self._table(pl.concat(frames))

    @staticmethod
    def _table(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.unique("index", keep="first").sort("index")

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write rows as a new part: to a temporary name first, then renamed, so a kill leaves no half part."""
        if not rows:
            return
        buffer = io.BytesIO()  # encoded first, so that a full disk fails in a plain write that names the file
        pl.DataFrame(rows, schema=self.schema).write_parquet(buffer)
        with atomic_path(self._next_part()) as tmp:
            tmp.write_bytes(buffer.getvalue())
