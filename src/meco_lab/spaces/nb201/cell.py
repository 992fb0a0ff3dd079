"""NAS-Bench-201 cell genotypes: parse and format arch strings like `|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|`."""

from __future__ import annotations

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4  # input node 0 and intermediate nodes 1..3; node 3 is the cell output

Genotype = tuple[tuple[tuple[str, int], ...], ...]
"""Per intermediate node j = 1..3, its incoming edges (op, source node) for sources 0..j-1."""


def parse_arch(arch: str) -> Genotype:
    """Parse an NB201 arch string; raises ValueError naming what is wrong."""
    nodes = arch.split("+")
    if len(nodes) != NUM_NODES - 1:
        raise ValueError(f"arch {arch!r}: expected {NUM_NODES - 1} '+'-separated nodes, got {len(nodes)}")
    genotype = []
    for j, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise ValueError(f"arch {arch!r}: node {node!r} must start and end with '|'")
        edges = []
        for edge in node[1:-1].split("|"):
            op, sep, source = edge.partition("~")
            if not sep or op not in OPS or not source.isdigit():
                raise ValueError(f"arch {arch!r}: bad edge {edge!r}; expected op~source with op in {OPS}")
            edges.append((op, int(source)))
        if [s for _, s in edges] != list(range(j)):
            raise ValueError(f"arch {arch!r}: node {j} must have inputs 0..{j - 1} in order")
        genotype.append(tuple(edges))
    return tuple(genotype)


def format_arch(genotype: Genotype) -> str:
    """The arch string of a genotype (inverse of `parse_arch`)."""
    return "+".join("|" + "|".join(f"{op}~{src}" for op, src in node) + "|" for node in genotype)
