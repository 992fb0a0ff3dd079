"""Atomic file writes: a temporary file beside the target, renamed over it, so a kill never leaves half a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"
"""Suffix of the temporary files `atomic_path` makes (an interrupted write leaves one behind)."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside `path`; when the block ends normally it replaces `path` atomically,
    otherwise it is removed. Write the whole file to the yielded path inside the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; outputs and caches may be shared
        os.replace(tmp, path)
    except OSError as error:  # a full or read-only disk: name the file the user knows
        tmp.unlink(missing_ok=True)
        if error.filename is None:
            error.filename = str(path)
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by None, so it serialises as valid JSON (null, not NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json(path: Path, payload: Any) -> None:
    """Write `payload` as indented, valid JSON (non-finite floats as null) to `path` atomically."""
    write_text(path, json.dumps(json_safe(payload), indent=2, allow_nan=False) + "\n")
