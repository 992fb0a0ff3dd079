"""Draw a DARTS genotype's normal and reduction cells as one PNG with matplotlib (no graphviz).

`plot_genotype(genotype, path)`; from the command line, `python -m meco_lab.spaces.darts.plot ARCH OUT.png`
where ARCH is a genotype string or a selection.json (its best arch).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from meco_lab.spaces.darts.genotype import Genotype, parse_genotype

INPUT_NAMES = ("c_{k-2}", "c_{k-1}")
SPACING = 2.0
BEND = 0.8


def _positions(steps: int) -> dict[str, tuple[float, float]]:
    """All nodes on one line, in order: c_{k-2}, c_{k-1}, 0 .. steps-1, c_{k}."""
    names = [*INPUT_NAMES, *(str(i) for i in range(steps)), "c_{k}"]
    return {name: (SPACING * i, 0.0) for i, name in enumerate(names)}


def _node_name(index: int) -> str:
    return INPUT_NAMES[index] if index < 2 else str(index - 2)


def draw_cell(ax, edges: tuple[tuple[str, int], ...], concat: tuple[int, ...], title: str) -> None:
    """One cell on `ax` as an arc diagram: op-labelled input edges above the line, the concat below."""
    steps = len(edges) // 2
    pos = _positions(steps)
    arrow = {"arrowstyle": "-|>", "color": "0.25", "lw": 1.2, "shrinkA": 14, "shrinkB": 14}
    top = 0.0
    for k, (op, source) in enumerate(edges):
        a, b = pos[_node_name(source)], pos[str(k // 2)]
        ax.annotate("", xy=b, xytext=a, arrowprops={**arrow, "connectionstyle": f"arc3,rad={-BEND}"})
        height = BEND / 2 * (b[0] - a[0])  # a quadratic Bezier's midpoint: half way to the control point
        top = max(top, height)
        ax.text(
            (a[0] + b[0]) / 2,
            height,
            op,
            fontsize=8,
            ha="center",
            va="center",
            color="darkred",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
        )
    bottom = 0.0
    for node in concat:
        a, b = pos[_node_name(node)], pos["c_{k}"]
        ax.annotate("", xy=b, xytext=a, arrowprops={**arrow, "color": "0.6", "connectionstyle": "arc3,rad=0.3"})
        bottom = max(bottom, 0.15 * (b[0] - a[0]))
    for name, (x, y) in pos.items():
        colour = "lightblue" if name in INPUT_NAMES else "khaki" if name == "c_{k}" else "lightgreen"
        ax.text(
            x,
            y,
            f"${name}$" if "_" in name else name,
            ha="center",
            va="center",
            fontsize=11,
            bbox={"boxstyle": "round,pad=0.4", "fc": colour, "ec": "0.2"},
        )
    ax.set_xlim(-1.0, max(x for x, _ in pos.values()) + 1.0)
    ax.set_ylim(-bottom - 0.8, top + 0.8)
    ax.set_aspect("equal")  # arc3 bends in display space: equal scales put the labels on the arcs
    ax.set_title(title)
    ax.axis("off")


def plot_genotype(genotype: Genotype, path: str | Path, title: str | None = None) -> Path:
    """Write the normal and reduction cells of `genotype` side by side to the PNG `path`; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(16, 4.5))
    for ax, kind, name in zip(axes, ("normal", "reduce"), ("normal cell", "reduction cell"), strict=True):
        draw_cell(ax, *genotype.cell(kind), name)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def genotype_of(arch: str) -> Genotype:
    """A genotype string, or the best arch of a selection.json."""
    if arch.endswith(".json") and Path(arch).is_file():
        arch = json.loads(Path(arch).read_text())["best"]["arch"]
    return parse_genotype(arch)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch", help="a DARTS genotype string or a selection.json whose best is one")
    parser.add_argument("out", help="the PNG to write")
    args = parser.parse_args(argv)
    print(plot_genotype(genotype_of(args.arch), args.out))


if __name__ == "__main__":
    main()
