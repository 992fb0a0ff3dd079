"""NAS-Bench-101 cells: an upper-triangular DAG of at most 7 vertices with an op per interior vertex.

A cell is an adjacency matrix (vertex 0 = input, last vertex = output) and one op label per vertex.
`parse_cell` reads the forms of the suite-zero tables (row-major 0/1 string, `|`-joined ops);
`prune` drops vertices not on an input-to-output path (NB101's `ModelSpec._prune`), which is the cell
NB101 trains and NASLib builds; `module_hash` is NB101's isomorphism-invariant MD5 (`graph_util.hash_module`)
with labels -1 (input), -2 (output) and the op's index in `OPS`. `compute_vertex_channels` splits a
module's output channels over the vertices feeding the output, as NB101's `model_builder.py` does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from meco_lab.core.errors import ConfigError

INPUT, OUTPUT = "input", "output"
CONV3X3, CONV1X1, MAXPOOL3X3 = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
OPS = (CONV3X3, CONV1X1, MAXPOOL3X3)
"""Interior ops in NB101's canonical order (config `available_ops`): the hash labels them 0, 1, 2."""
NASLIB_OPS = (INPUT, OUTPUT, MAXPOOL3X3, CONV1X1, CONV3X3)
"""Op of each index in NASLib's 56-int NB101 tuple (49 adjacency bits, then 7 op indices)."""
MAX_VERTICES = 7
MAX_EDGES = 9

Matrix = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Nb101Cell:
    """An NB101 cell: `matrix[i][j] == 1` for an edge i -> j (i < j); `ops[0] == 'input'`, `ops[-1] == 'output'`."""

    matrix: Matrix
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    def adjacency_string(self) -> str:
        """The row-major 0/1 string of the suite-zero tables."""
        return "".join(str(v) for row in self.matrix for v in row)

    def ops_string(self) -> str:
        return "|".join(self.ops)

    def is_pruned(self) -> bool:
        return prune(self.matrix, self.ops) == self

    def module_hash(self) -> str:
        """NB101's module hash (the key of the NB101 tables) of this cell as given (prune it first)."""
        return module_hash(self.matrix, self.ops)


HELP = (
    "an NB101 cell: a row-major 0/1 upper-triangular adjacency of n x n (2 <= n <= 7) and n ops "
    f"'input', ({' | '.join(OPS)}) ..., 'output'"
)


def _fail(key: str, value: object, reason: str) -> ConfigError:
    return ConfigError(key, value, f"{HELP} ({reason})")


def make_cell(matrix: Sequence[Sequence[int]], ops: Sequence[str], key: str = "arch") -> Nb101Cell:
    """A validated `Nb101Cell` (not necessarily pruned); a one-line `ConfigError` naming the problem."""
    n = len(ops)
    value = (tuple(map(tuple, matrix)), tuple(ops))
    if not 2 <= n <= MAX_VERTICES:
        raise _fail(key, value, f"{n} vertices")
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise _fail(key, value, f"adjacency is not {n} x {n}")
    m = tuple(tuple(int(v) for v in row) for row in matrix)
    for i, row in enumerate(m):
        for j, v in enumerate(row):
            if v not in (0, 1):
                raise _fail(key, value, f"entry ({i}, {j}) is {v}")
            if v and j <= i:
                raise _fail(key, value, f"edge {i} -> {j} is not upper-triangular")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise _fail(key, value, "the first op must be 'input' and the last 'output'")
    bad = [op for op in ops[1:-1] if op not in OPS]
    if bad:
        raise _fail(key, value, f"unknown op {bad[0]!r}")
    return Nb101Cell(m, tuple(ops))


def parse_cell(adjacency: str, ops: str, key: str = "arch") -> Nb101Cell:
    """A cell from the tables' strings: `adjacency` row-major 0/1 (n * n characters), `ops` joined by '|'."""
    names = ops.split("|")
    n = len(names)
    if len(adjacency) != n * n or set(adjacency) - {"0", "1"}:
        raise _fail(key, (adjacency, ops), f"adjacency must be {n * n} characters 0/1 for {n} ops")
    matrix = [[int(adjacency[i * n + j]) for j in range(n)] for i in range(n)]
    return make_cell(matrix, names, key)


def prune(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> Nb101Cell:
    """The cell without the vertices that are not on a path from the input to the output.

    Raises ValueError when the input does not reach the output (NB101 calls such a spec invalid).
    """
    n = len(ops)
    forward, frontier = {0}, [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, n):
            if matrix[top][v] and v not in forward:
                forward.add(v)
                frontier.append(v)
    backward, frontier = {n - 1}, [n - 1]
    while frontier:
        top = frontier.pop()
        for v in range(top):
            if matrix[v][top] and v not in backward:
                backward.add(v)
                frontier.append(v)
    keep = sorted(forward & backward)
    if len(keep) < 2 or keep[0] != 0 or keep[-1] != n - 1:
        raise ValueError("NB101 cell: the input does not reach the output")
    return Nb101Cell(tuple(tuple(int(matrix[i][j]) for j in keep) for i in keep), tuple(ops[i] for i in keep))


def from_naslib_tuple(arch: Sequence[int], key: str = "arch") -> Nb101Cell:
    """The pruned cell of NASLib's 56-int NB101 tuple (7 x 7 adjacency row-major, then 7 op indices)."""
    if len(arch) != MAX_VERTICES * MAX_VERTICES + MAX_VERTICES:
        raise _fail(key, arch, f"a NASLib tuple has 56 ints, got {len(arch)}")
    n = MAX_VERTICES
    matrix = [list(arch[i * n : (i + 1) * n]) for i in range(n)]
    ops = [NASLIB_OPS[k] for k in arch[n * n :]]
    make_cell(matrix, ops, key)
    return prune(matrix, ops)


def module_hash(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """NB101's graph-invariant MD5 of (matrix, ops): Weisfeiler-Lehman-style rounds over in/out neighbours."""
    n = len(ops)
    labels = [-1] + [OPS.index(op) for op in ops[1:-1]] + [-2]
    in_deg = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    out_deg = [sum(matrix[i]) for i in range(n)]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf-8")).hexdigest()

    hashes = [md5(str((out_deg[v], in_deg[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [
            md5(
                "".join(sorted(hashes[w] for w in range(n) if matrix[w][v]))
                + "|"
                + "".join(sorted(hashes[w] for w in range(n) if matrix[v][w]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return md5(str(sorted(hashes)))


def compute_vertex_channels(in_channels: int, out_channels: int, matrix: Sequence[Sequence[int]]) -> list[int]:
    """Channels of every vertex of a (pruned) cell, as NB101's `compute_vertex_channels`.

    The output's channels are split evenly over the interior vertices feeding it (the first
    `out_channels % fan_in` of them get one extra); every other interior vertex takes the maximum
    of the vertices it feeds. The input keeps `in_channels`, the output `out_channels`.
    """
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[n - 1] = in_channels, out_channels
    if n == 2:
        return channels
    fan_in = sum(matrix[v][n - 1] for v in range(1, n))
    interior, correction = divmod(out_channels, fan_in)
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            channels[v] = interior
            if correction:
                channels[v] += 1
                correction -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v][dst]:
                    channels[v] = max(channels[v], channels[dst])
    if any(c <= 0 for c in channels[1:-1]):
        raise ValueError(f"NB101 cell: a vertex got no channels ({channels}); prune the cell first")
    return channels
