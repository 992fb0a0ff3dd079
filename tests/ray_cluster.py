"""A real Ray cluster on this machine for the tests: a head and worker nodes, every one on 127.0.0.1.

`RayCluster` starts this file as a script in its own process. The script holds the nodes through Ray's test utility
(`ray.cluster_utils.Cluster`), each node its own set of processes (raylet, agents, workers), prints one JSON line per
event and takes commands on stdin: `add` starts another node, `kill ID` kills a node's processes at once (Ray's
simulated node death), and the end of stdin shuts every node down, so a test process that dies takes its cluster
with it. Token authentication is on (a fresh token in the cluster's folder), the dashboard is off, and
`RAY_TMPDIR` gives each cluster its own folder, where `ray.init(address="auto")` finds it. The head also serves Ray
Client (`client_address`, ray://).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Ray on Linux replaces a node address of 127.0.0.1 with the machine's network address unless this is 0; with it,
# every Ray server of these nodes and every driver binds and dials loopback only.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


class RayCluster:
    """A running cluster: `env` connects a driver to it (`executor.address=auto`), `address` is its GCS."""

    def __init__(self, nodes: int = 2, cpus: int = 1):
        self.root = Path(tempfile.mkdtemp(prefix="meco-ray-"))  # short: Ray's socket paths live under it
        (self.root / "ray").mkdir()
        token = self.root / "auth_token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        self.env = {**os.environ, **LOOPBACK, "RAY_TMPDIR": str(self.root), "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN_PATH": str(token)}
        self.proc = subprocess.Popen([sys.executable, __file__, str(nodes), str(cpus)], env=self.env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        started = self._read()
        self.address: str = started["address"]
        self.client_address: str = started["client_address"]  # Ray Client (ray://) on the head
        self.nodes: list[dict[str, Any]] = started["nodes"]

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Ray cluster process ended (exit {self.proc.wait()})")
        return json.loads(line)

    def _command(self, line: str) -> dict[str, Any]:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def add_node(self) -> dict[str, Any]:
        node = self._command("add")
        self.nodes.append(node)
        return node

    def kill_node(self, node: dict[str, Any]) -> None:
        """Kill all processes of a worker node at once (SIGKILL), as when its machine dies."""
        self._command(f"kill {node['id']}")
        self.nodes.remove(node)

    def logs(self, pattern: str) -> str:
        """The tails of the cluster's log files matching `pattern` (for a failing test's message)."""
        return "".join(f"\n--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
                       for path in sorted(self.root.rglob(pattern)))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # the script shuts its nodes down
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def listening(pids: set[int]) -> list[str]:
    """The addresses (`ip:port`) on which the processes `pids` listen for TCP connections (from /proc)."""
    inodes = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():  # no IPv6 on this machine
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                host, port = fields[1].split(":")
                raw = bytes.fromhex(host)
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]  # each 32-bit word little-endian
                ip = ipaddress.ip_address(b"".join(words)) if width == 32 else ipaddress.ip_address(raw[::-1])
                if getattr(ip, "ipv4_mapped", None):
                    ip = ip.ipv4_mapped
                found.append(f"{ip}:{int(port, 16)}")
    return found


def task_processes(raylet_pid: int, name: str) -> list[int]:
    """The worker processes of a node that are running a task `name` now (Ray titles them `ray::NAME`)."""
    found = []
    for pid in descendants(raylet_pid):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(f"ray::{name}".encode()):
                found.append(pid)
        except OSError:
            continue
    return found


def _serve(nodes: int, cpus: int) -> None:
    from ray.cluster_utils import Cluster

    args = {"node_ip_address": "127.0.0.1", "num_cpus": cpus, "include_dashboard": False}
    with socket.socket() as probe:  # a free port for the head's Ray Client server
        probe.bind(("127.0.0.1", 0))
        client_port = probe.getsockname()[1]
    cluster = Cluster(initialize_head=True, head_node_args={**args, "ray_client_server_port": client_port})
    started = {}

    def describe(node: Any) -> dict[str, Any]:
        started[node.node_id] = node
        return {"id": node.node_id, "raylet_pid": node.all_processes["raylet"][0].process.pid}

    try:
        head = describe(cluster.head_node)
        workers = [describe(cluster.add_node(**args)) for _ in range(nodes - 1)]
        cluster.wait_for_nodes()
        print(json.dumps({"address": cluster.address, "client_address": f"ray://127.0.0.1:{client_port}",
                          "nodes": [head, *workers]}), flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "add":
                node = cluster.add_node(**args)
                cluster.wait_for_nodes()
                print(json.dumps(describe(node)), flush=True)
            elif command == "kill":
                cluster.remove_node(started.pop(arg), allow_graceful=False)
                print(json.dumps({"killed": arg}), flush=True)
    finally:
        cluster.shutdown()
        time.sleep(0.5)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
