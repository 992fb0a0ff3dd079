"""Run a command and report its wall time and the peak total RSS of its whole process tree (Linux /proc).

    python benchmarks/peak_rss.py -- python -m meco_lab.score workers=2
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def tree_rss_kib(root: int) -> int:
    """Sum of VmRSS over `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total


def main() -> None:
    command = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    print(f"exit {proc.returncode}; wall {wall:.1f} s; peak RSS of the process tree {peak / 1024:.0f} MiB",
          file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
