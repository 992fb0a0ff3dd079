"""One writer per run dir, sweep dir and score-cache entry: an exclusive file lock (filelock), with the holder's PID.

The lock is the operating system's (flock): it is released when its process ends, however it ends, so a stale lock
file from a killed run never blocks a resume.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from meco_lab.core.errors import ConfigError
from meco_lab.core.io import write_text


@contextmanager
def exclusive(lock_file: Path, key: str, value: str, what: str = "a folder", wait: bool = False) -> Iterator[None]:
    """Hold the lock `lock_file` for the block. Without `wait`, a lock held by another process raises a one-line
    ConfigError(key, value) naming the holder's PID; with `wait`, block until it is free."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    owner = lock_file.with_name(lock_file.name + ".pid")
    lock = FileLock(lock_file)
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        holder = owner.read_text().strip() if owner.is_file() else "unknown"
        raise ConfigError(key, value, f"{what} no other process is writing (PID {holder} holds it)") from None
    try:
        write_text(owner, f"{os.getpid()}\n")
        yield
    finally:
        lock.release()
