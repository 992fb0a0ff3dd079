"""Process hygiene: worker processes die with their parent, whatever signal ends it, and ignore Ctrl-C (the parent
handles it and ends them), so a killed run never leaves orphans scoring on and holding locks."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, poll: float = 1.0) -> None:
    """End this (worker) process as soon as `parent` dies: the kernel's parent-death signal on Linux, and a thread
    that watches the parent id as a backstop elsewhere (and for a parent gone before the signal was armed)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def worker_init(parent: int) -> None:
    """What every worker process runs first: die with `parent`, and leave SIGINT to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


class Terminated(Exception):
    """SIGTERM received: raised in the main thread so that runs stop as on Ctrl-C (finished parts kept)."""


def raise_on_sigterm() -> None:
    """Turn SIGTERM into a `Terminated` exception in the main thread."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
