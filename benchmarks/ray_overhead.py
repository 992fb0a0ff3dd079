"""Overhead of `executor=ray` against `executor=local`: score the same architectures both ways, in alternating pairs,
against a one-node Ray cluster that this script starts on 127.0.0.1 (token authentication on, no dashboard) and
stops; prints one table row per pair and checks that every scores.parquet is identical (docs/cluster.md).

    python benchmarks/ray_overhead.py --pairs 2                     # the whole TSS with MeCo, workers=2
    python benchmarks/ray_overhead.py --pairs 1 -- space.limit=2000  # extra overrides for both commands
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl


def start_cluster(root: Path, cpus: int) -> tuple[subprocess.Popen, dict[str, str]]:
    """`ray start --head --block` in its own process group; the environment that connects a driver to it."""
    token = root / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    (root / "ray").mkdir()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN_PATH": str(token), "RAY_TMPDIR": str(root), "RAY_USAGE_STATS_ENABLED": "0"}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(root / "head.log", "w")  # noqa: SIM115 (open while the head runs)
    head = subprocess.Popen(["ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
                             f"--num-cpus={cpus}", "--include-dashboard=false", "--disable-usage-stats"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while "Ray runtime started" not in (root / "head.log").read_text():
        if head.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"the Ray head did not start: {root / 'head.log'}")
        time.sleep(0.5)
    return head, env


def stop_cluster(head: subprocess.Popen) -> None:
    """End every process of the head's group: SIGTERM, then SIGKILL whatever is left after 30 s."""
    deadline = time.time() + 30
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(head.pid, sig)
            while time.time() < deadline:
                head.poll()  # reap the head itself, so that only live processes keep the group
                os.killpg(head.pid, 0)  # raises once the group is empty
                time.sleep(0.5)
        except ProcessLookupError:
            break
    head.wait()


def score(run_dir: Path, env: dict[str, str], args: list[str]) -> dict:
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, "-m", "meco_lab.score", *args, f"hydra.run.dir={run_dir}"], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    summary = json.loads((run_dir / "summary.json").read_text())
    workers = int(next((a.split("=")[1] for a in args if a.startswith("workers=")), 1))
    return {"load": load, "seconds": summary["seconds"],
            "busy": summary["arch_seconds_sum"] / workers / summary["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="config overrides for both commands (after --)")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    head, env = start_cluster(root, options.workers)
    common = [f"workers={options.workers}", *options.overrides]
    rows = []
    try:
        for pair in range(options.pairs):
            local = score(root / f"local{pair}", env, common)
            ray = score(root / f"ray{pair}", env, ["executor=ray", "executor.address=auto", *common])
            rows.append((local, ray))
            print(f"| {pair + 1} | {local['load']:.1f} / {ray['load']:.1f} | {local['seconds']:.1f} s, "
                  f"{local['busy']:.3f} | {ray['seconds']:.1f} s, {ray['busy']:.3f} | "
                  f"{ray['seconds'] / local['seconds']:.2f} |", flush=True)
    finally:
        stop_cluster(head)
    first = pl.read_parquet(root / "local0" / "scores.parquet").drop("seconds")
    same = all(first.equals(pl.read_parquet(p).drop("seconds")) for p in root.glob("*/scores.parquet"))
    total = sum(r["seconds"] for _, r in rows) / sum(local["seconds"] for local, _ in rows)
    print(f"ray / local over {len(rows)} pairs: {total:.2f}; every scores.parquet identical: {same}; runs in {root}")


if __name__ == "__main__":
    main()
