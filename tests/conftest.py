"""Shared test helpers: run the real CLI in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, module: str = "meco_lab.score", cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m module args...` with W&B offline, returning the finished process."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd or REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def load_ground_truth(name: str, metric: str = "test", path: str | None = None, hp: str = "200",
                      indices=None, space: str = "tss"):
    """The NATS benchmark's ground truth for a `truth` config, as `score` loads it."""
    from meco_lab.benchmarks import BENCHMARKS

    return BENCHMARKS.get(f"nats_{space}")().load_truth({"name": name, "metric": metric, "path": path, "hp": hp},
                                                        indices)


def sweep_killed_after(args: list[str], cache: Path, parts: int) -> None:
    """Run `python -m meco_lab.sweep args` and SIGKILL its process group once `cache` holds `parts` score parts
    (asserting it is still running then, within 300 s)."""
    proc = subprocess.Popen([sys.executable, "-m", "meco_lab.sweep", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while len(list(cache.glob("*/.scores/part-*.parquet"))) < parts:
            assert proc.poll() is None and time.time() < deadline, "the sweep ended before the kill"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def children(pid: int, spawned_only: bool = False) -> list[int]:
    """Processes whose parent is `pid` (from /proc); with `spawned_only`, multiprocessing's spawned workers only."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            spawned = b"spawn_main" in (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and (spawned or not spawned_only):
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server (pgserver's wheel, from the dev extra), started for the test session."""
    import shutil
    import tempfile

    import pgserver

    root = tempfile.mkdtemp(prefix="meco-pg-")  # short: the server's socket lives here
    server = pgserver.get_server(root, cleanup_mode="stop")
    try:
        server.psql("CREATE DATABASE optuna;")
        yield server.get_uri("optuna")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (timings and float sums as in a single scoring worker)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
