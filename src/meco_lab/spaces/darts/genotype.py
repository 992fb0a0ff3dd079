"""The DARTS-CNN genotype: a frozen `Genotype` with the DARTS string form, parsed strictly.

A cell has two inputs (0: c_{k-2}, 1: c_{k-1}) and `steps` intermediate nodes (2, 3, ...). Each node
sums two edges `(op, input)`; `normal` and `reduce` list them node by node, and `*_concat` names the
nodes concatenated into the cell output. `format_genotype` writes the repr of DARTS' namedtuple, so
strings from quark0/darts `genotypes.py` (and `range(2, 6)` concats) parse and print back unchanged.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from meco_lab.core.errors import ConfigError

OPS = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The 8 DARTS operations, in the order of DARTS' PRIMITIVES."""
FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")
GENOTYPE_HELP = (
    "a DARTS genotype Genotype(normal=[(op, input), ...], normal_concat=[...], reduce=[...], "
    f"reduce_concat=[...]), two edges per node, op in {', '.join(OPS[1:])}"
)

Edge = tuple[str, int]


@dataclass(frozen=True)
class Genotype:
    """A DARTS-CNN cell pair; `normal[2 * i]` and `normal[2 * i + 1]` are the two inputs of node `i + 2`."""

    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]

    def cell(self, kind: str) -> tuple[tuple[Edge, ...], tuple[int, ...]]:
        """(edges, concat) of the `normal` or `reduce` cell."""
        return (self.normal, self.normal_concat) if kind == "normal" else (self.reduce, self.reduce_concat)

    def canonical(self) -> Genotype:
        """The same network with each node's two edges sorted by (input, op): equal cells compare equal."""

        def sort(edges: tuple[Edge, ...]) -> tuple[Edge, ...]:
            pairs = (sorted(edges[k : k + 2], key=lambda e: (e[1], e[0])) for k in range(0, len(edges), 2))
            return tuple(e for pair in pairs for e in pair)

        return Genotype(sort(self.normal), self.normal_concat, sort(self.reduce), self.reduce_concat)

    def __str__(self) -> str:
        return format_genotype(self)


def format_genotype(genotype: Genotype) -> str:
    """The DARTS string form: `Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], ...)`."""

    def edges(items: tuple[Edge, ...]) -> str:
        return "[" + ", ".join(f"({op!r}, {i})" for op, i in items) + "]"

    def concat(items: tuple[int, ...]) -> str:
        return "[" + ", ".join(str(i) for i in items) + "]"

    g = genotype
    return (
        f"Genotype(normal={edges(g.normal)}, normal_concat={concat(g.normal_concat)}, "
        f"reduce={edges(g.reduce)}, reduce_concat={concat(g.reduce_concat)})"
    )


def _fail(text: str, key: str, reason: str) -> ConfigError:
    return ConfigError(key, text, f"{GENOTYPE_HELP} ({reason})")


def _int(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _edges(node: ast.expr, name: str, text: str, key: str) -> tuple[Edge, ...]:
    if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
        raise _fail(text, key, f"{name} must be a non-empty list of (op, input) pairs")
    if len(node.elts) % 2:
        raise _fail(text, key, f"{name} has {len(node.elts)} edges, expected two per node")
    out = []
    for k, item in enumerate(node.elts):
        ok = isinstance(item, ast.Tuple) and len(item.elts) == 2 and isinstance(item.elts[0], ast.Constant)
        op, source = (item.elts[0].value, _int(item.elts[1])) if ok else (None, None)
        if not isinstance(op, str) or source is None:
            raise _fail(text, key, f"{name} edge {k} must be a pair ('op', input)")
        if op not in OPS[1:]:
            raise _fail(text, key, f"{name} edge {k} has op {op!r}")
        node_id = k // 2 + 2
        if not 0 <= source < node_id:
            raise _fail(text, key, f"{name} edge {k} into node {node_id} has input {source}, expected 0..{node_id - 1}")
        out.append((op, source))
    return tuple(out)


def _concat(node: ast.expr, name: str, steps: int, text: str, key: str) -> tuple[int, ...]:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
        and 1 <= len(node.args) <= 2
        and all(_int(a) is not None for a in node.args)
    ):
        bounds = [_int(a) for a in node.args]
        values = tuple(range(*bounds))  # type: ignore[arg-type]
    elif isinstance(node, (ast.List, ast.Tuple)) and all(_int(e) is not None for e in node.elts):
        values = tuple(_int(e) for e in node.elts)  # type: ignore[misc]
    else:
        raise _fail(text, key, f"{name} must be a list of node numbers or range(a, b)")
    if not values or len(set(values)) != len(values) or not all(0 <= v < steps + 2 for v in values):
        raise _fail(text, key, f"{name}={list(values)} must name distinct nodes in 0..{steps + 1}")
    return values


def parse_genotype(text: str, key: str = "arch") -> Genotype:
    """A `Genotype` from its DARTS string form; a one-line `ConfigError(key, text, ...)` naming the problem."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval").body
    except SyntaxError:
        raise _fail(text, key, "not a Python expression") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"):
        raise _fail(text, key, "must be Genotype(...)")
    if tree.args and tree.keywords:
        raise _fail(text, key, "give all four fields by name or all by position")
    if tree.args:
        if len(tree.args) != 4:
            raise _fail(text, key, f"{len(tree.args)} fields, expected 4")
        given = dict(zip(FIELDS, tree.args, strict=True))
    else:
        names = [k.arg for k in tree.keywords]
        if sorted(n or "**" for n in names) != sorted(FIELDS):
            raise _fail(text, key, f"fields {names}, expected {list(FIELDS)}")
        given = {k.arg: k.value for k in tree.keywords}
    normal = _edges(given["normal"], "normal", text, key)
    reduce = _edges(given["reduce"], "reduce", text, key)
    return Genotype(
        normal,
        _concat(given["normal_concat"], "normal_concat", len(normal) // 2, text, key),
        reduce,
        _concat(given["reduce_concat"], "reduce_concat", len(reduce) // 2, text, key),
    )


DARTS_V2 = parse_genotype(
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
    "reduce_concat=[2, 3, 4, 5])"
)
"""The published second-order DARTS cell (quark0/darts `genotypes.DARTS_V2`; 3.3M params at C=36, L=20)."""
