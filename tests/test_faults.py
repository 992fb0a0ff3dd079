"""Faults, done for real: kill -9 of the parent with workers alive, Ctrl-C and SIGTERM, truncated parts and cache
entries, two runs on one run dir, a full disk (a 64 KiB tmpfs) and a read-only run dir. Each asserts what the
user sees (one line, the exit code), that no process is left behind, and that the scores equal an undisturbed run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import REPO, alive, children

LONG = ["space.limit=1500", "chunk=10"]  # about 5-15 s of scoring: every signal below lands midway


def score_args(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "meco_lab.score", *extra, f"hydra.run.dir={run_dir}"]


def start(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


def kill_group(proc: subprocess.Popen) -> None:
    """Whatever of the run's process group is left (a finally: the test's own cleanup)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def parts(run_dir: Path) -> list[Path]:
    return sorted((run_dir / ".scores").glob("part-*.parquet"))


def wait_for_parts(run_dir: Path, count: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while len(parts(run_dir)) < count:
        assert proc.poll() is None, f"the run ended first: {proc.stderr.read()}"
        assert time.time() < deadline
        time.sleep(0.05)


def wait_gone(pids: list[int], timeout: float = 15) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> pl.DataFrame:
    """The scores of LONG, run once without any fault."""
    run_dir = tmp_path_factory.mktemp("undisturbed") / "run"
    done = subprocess.run(score_args(run_dir, *LONG), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return pl.read_parquet(run_dir / "scores.parquet").select("index", "score")


def resume_equals(run_dir: Path, undisturbed: pl.DataFrame, *extra: str) -> subprocess.CompletedProcess:
    """Repeat the run's command; its scores must equal the undisturbed run's, with no architecture scored twice."""
    done = subprocess.run(score_args(run_dir, *LONG, *extra), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert pl.read_parquet(run_dir / "scores.parquet").select("index", "score").equals(undisturbed)
    rows = pl.concat([pl.read_parquet(p) for p in parts(run_dir)])
    assert len(rows) == 1500 and rows["index"].is_unique().all()
    return done


def test_kill_9_of_the_parent_leaves_no_worker_and_resumes(tmp_path, undisturbed):
    run_dir = tmp_path / "run"
    proc = start(score_args(run_dir, *LONG, "workers=2"))
    try:
        wait_for_parts(run_dir, 2, proc)
        workers = children(proc.pid)
        assert len(workers) >= 2  # the two scoring workers (and the multiprocessing resource tracker)
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, as an OOM kill or `kill -9 PID` does
        proc.wait()
        assert wait_gone(workers) == [], "workers outlived their parent"
    finally:
        kill_group(proc)
    resume_equals(run_dir, undisturbed, "workers=2")


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_ctrl_c_and_sigterm_stop_in_one_line_and_resume(tmp_path, undisturbed, sig, code, name):
    run_dir = tmp_path / "run"
    proc = start(score_args(run_dir, *LONG, "workers=2"))
    try:
        wait_for_parts(run_dir, 2, proc)
        workers = children(proc.pid)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_group(proc)
    lines = [line for line in err.splitlines() if line.strip() and "scoring" not in line]  # the progress bar aside
    assert proc.returncode == code and lines == [
        f"error: interrupted ({name}): what finished is kept; the same command resumes"], err
    assert wait_gone(workers) == []
    kept = len(parts(run_dir))
    assert kept >= 2 and not list((run_dir / ".scores").glob("*.tmp"))
    done = resume_equals(run_dir, undisturbed)
    assert "resuming:" in done.stderr


def test_a_sweep_stops_in_one_line_inside_its_one_pass_and_resumes(tmp_path):
    """A sweep stopped by Ctrl-C while its one pass scores (two workers) ends as a run does: one line, exit code 130,
    no traceback and no worker left; the same command then finishes the sweep from the parts kept. (SIGTERM takes
    the same path: the entry points' `one_line_errors`, tested on a run above.)"""
    sig, code, name = signal.SIGINT, 130, "Ctrl-C"
    spec = tmp_path / "mini.yaml"
    spec.write_text(json.dumps({"base": ["space.limit=300", "chunk=10", "data=cifar10", "data.samples=2"],
                                "params": {"proxy": ["meco", "params", "nwot"]}, "seeds": [0]}))
    args = [sys.executable, "-m", "meco_lab.sweep", str(spec), f"sweep.dir={tmp_path / 'dir'}",
            f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none", "sweep.workers=2"]
    proc = start(args)
    try:
        deadline = time.time() + 300
        while len(list((tmp_path / "cache").glob("*/.scores/part-*.parquet"))) < 2:
            assert proc.poll() is None and time.time() < deadline, "the sweep ended before the signal"
            time.sleep(0.05)
        workers = children(proc.pid)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_group(proc)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == code and "Traceback" not in err, err
    assert lines[-1] == f"error: interrupted ({name}): what finished is kept; the same command resumes", err
    assert wait_gone(workers) == []
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    trials = pl.read_parquet(tmp_path / "dir" / "trials.parquet")
    assert sorted(trials["proxy"].to_list()) == ["meco", "nwot", "params"] and (trials["n_archs"] == 300).all()


def test_a_truncated_part_is_named_moved_aside_and_scored_again(tmp_path, undisturbed):
    run_dir = tmp_path / "run"
    first = subprocess.run(score_args(run_dir, *LONG), cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    damaged = parts(run_dir)[3]
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    (run_dir / ".scores" / ".part-000999.parquet.abc.tmp").write_bytes(b"half")  # an interrupted write's leftover
    done = resume_equals(run_dir, undisturbed)
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(damaged) in warnings[0] and "moved to part-000003.parquet.corrupt" in warnings[0]
    assert (run_dir / ".scores" / "part-000003.parquet.corrupt").is_file()
    assert "resuming: 1490 of 1500 architectures already scored" in done.stderr
    assert not list((run_dir / ".scores").glob("*.tmp"))


def test_a_truncated_score_cache_entry_heals_and_the_trial_completes(tmp_path):
    spec = tmp_path / "one.yaml"
    spec.write_text(json.dumps({"base": ["space.limit=60", "chunk=20"], "params": {"proxy": ["meco"]},
                                "seeds": [0]}))

    def sweep(folder: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meco_lab.sweep", str(spec), f"sweep.dir={tmp_path / folder}",
                               f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none"], cwd=REPO,
                              capture_output=True, text=True)

    assert sweep("a").returncode == 0
    (part, *_) = sorted((tmp_path / "cache").glob("*/.scores/part-*.parquet"))
    part.write_bytes(part.read_bytes()[:100])
    done = sweep("b")
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("warning:") and str(part) in line for line in done.stderr.splitlines()) == 1
    a, b = (pl.read_parquet(tmp_path / f / "trials.parquet") for f in ("a", "b"))
    assert b["forward_passes"].to_list() == [20] and b["spearman_cifar10"].equals(a["spearman_cifar10"])


def test_a_second_run_into_a_busy_run_dir_stops_at_once(tmp_path, undisturbed):
    run_dir = tmp_path / "run"
    first = start(score_args(run_dir, *LONG))
    try:
        wait_for_parts(run_dir, 1, first)
        second = subprocess.run(score_args(run_dir, *LONG), cwd=REPO, capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first run must still be running"
        err = second.stderr.strip()
        assert second.returncode == 2 and err == (
            f"error: hydra.run.dir={str(run_dir)!r} is not allowed: expected a run dir no other process is writing "
            f"(PID {first.pid} holds it)"), err
        os.kill(first.pid, signal.SIGKILL)  # its lock dies with it: a resume is not blocked
        first.wait()
    finally:
        kill_group(first)
    resume_equals(run_dir, undisturbed)


def in_tmpfs(script: str, mount: str, size: str, readonly: bool = False) -> subprocess.CompletedProcess:
    """Run a shell `script` with a fresh `size` tmpfs mounted at `mount` (a private mount namespace: no root needed
    on the host's mounts, and the mount vanishes with the command)."""
    Path(mount).mkdir(parents=True, exist_ok=True)
    ro = f" && mount -o remount,ro {shlex.quote(mount)}" if readonly else ""
    command = f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(mount)}{ro} && {script}"
    return subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", command], cwd=REPO,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "WANDB_MODE": "offline"})


def test_a_full_disk_stops_in_one_line_and_loses_nothing(tmp_path, undisturbed):
    mount, saved = tmp_path / "small", tmp_path / "saved"
    run = mount / "run"
    args = " ".join(shlex.quote(a) for a in score_args(run, *LONG))
    done = in_tmpfs(f"{args}; echo \"exit=$?\"; cp -r {shlex.quote(str(run))} {shlex.quote(str(saved))}",
                    str(mount), "64k")
    assert "exit=1" in done.stdout, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and "scoring" not in line]
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {run}/.scores/") and \
        "No space left on device; what finished is kept" in lines[0], done.stderr
    assert parts(saved) and not list((saved / ".scores").glob("*.tmp"))  # whole parts only, no half-written file
    before = pl.concat([pl.read_parquet(p) for p in parts(saved)])
    resume_equals(saved, undisturbed)
    assert pl.read_parquet(saved / "scores.parquet").filter(pl.col("index").is_in(before["index"])).select(
        "index", "score").equals(before.select("index", "score").sort("index"))


def test_a_read_only_run_dir_is_refused_before_any_work(tmp_path):
    mount = tmp_path / "ro"
    args = " ".join(shlex.quote(a) for a in score_args(mount / "run", "space.limit=5"))
    done = in_tmpfs(f"{args}; echo \"exit=$?\"; ls -A {shlex.quote(str(mount))}", str(mount), "1m", readonly=True)
    err = done.stderr.strip()
    assert "exit=2" in done.stdout and err == (f"error: hydra.run.dir={str(mount / 'run')!r} is not allowed: "
                                               f"expected a writable folder ({mount}: Read-only file system)"), err
    assert done.stdout.strip() == "exit=2"  # nothing was created
