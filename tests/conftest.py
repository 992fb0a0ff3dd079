"""Shared test helpers: run the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.fixture
def cli():
    return run_cli


def _postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server (Debian's package; .ci/run installs it), started for the test session."""
    import pwd
    import shutil
    import socket
    import tempfile

    bindir = _postgres_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: `apt-get install postgresql` (as .ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="meco-pg-"))  # outside pytest's root-only tmp, so postgres can enter
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the package's postgres user
        user = pwd.getpwnam("postgres")
        for path in (root, sock):
            shutil.chown(path, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "meco"], check=True,
                   capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                    f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        subprocess.run([*as_user, str(bindir.parent / "bin" / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", "meco", "optuna"], check=True, capture_output=True)
        yield f"postgresql+psycopg2://meco@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (timings and float sums as in a single scoring worker)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
