"""`python -m meco_lab.reproduce`: the MeCo paper's TSS numbers beside ours, from finished sweeps (sweeps.paper)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from meco_lab.core.io import write_text
from meco_lab.sweeps.paper import benchmark_tables, collect, render, sweep_commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweeps-dir", type=Path, default=Path("outputs/sweeps"))
    parser.add_argument("--profile", default=None, help="read the sweeps run with this profile (e.g. quick)")
    parser.add_argument("--out", type=Path, default=Path("docs/paper.md"))
    args = parser.parse_args()
    table, doc = render(collect(args.sweeps_dir, args.profile), args.profile,
                        sweep_commands(args.sweeps_dir, args.profile))
    Console().print(table)
    doc += "\n".join(["", "## The other benchmarks (Tables 2, 8, 9, 10, 11)", "",
                       *benchmark_tables(args.sweeps_dir, args.profile)])
    write_text(args.out, doc)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
