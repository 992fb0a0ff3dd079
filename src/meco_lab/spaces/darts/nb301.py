"""NAS-Bench-301 as NAS-Bench-Suite-Zero scored it: NASLib's DARTS graph as a `NetworkCIFAR` setting.

NASLib's `NasBench301SearchSpace` (automl/NASLib @ 8c45f19 `naslib/search_spaces/nasbench301/graph.py`) is
DARTS' evaluation network at C=32 with 8 cells (normal x2, reduce, normal x2, reduce, normal x2; stem 96
channels), classifier 512 -> classes, and:
- every cell op built with `affine=False` (no batch-norm parameters inside cells; the preprocessing
  ReLU-conv-BN / factorized reduce between cells and the stem are affine);
- pooling ops followed by a non-affine batch norm (`MaxPool`/`AvgPool` primitives, `use_bn=True`);
- no auxiliary head: for CIFAR-10 the graph has an auxiliary output node, but its edge holds an identity
  unless `prepare_evaluation()` is called, which the zero-cost runner does not do;
- the stem takes the dataset's channels (1 for NinaPro) and the classifier its classes.
`NetworkCIFAR(32, classes, 8, auxiliary=False, cell_affine=False, pool_bn=True, in_channels=...)` has
exactly the parameters of the suite's `nb301_naslib_sizes.csv` (all 1,218 genotypes) and
`nb301_9x_naslib_sizes.csv` (all 597 genotype-task rows), and the same tensorwatch FLOPs.

NASLib's compact form is `((normal pairs), (reduce pairs))`, 8 pairs `(input, op index)` per cell, pairs
2k and 2k + 1 feeding node k + 2, ops indexed as `COMPACT_OPS`, concat [2, 3, 4, 5].
"""

from __future__ import annotations

import ast

from torch import nn

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.darts.genotype import OPS, Genotype, parse_genotype
from meco_lab.spaces.darts.ops import FactorizedReduce, ReLUConvBN, make_op
from meco_lab.spaces.darts.space import DartsLogits
from meco_lab.spaces.model_stats import module_params

CHANNELS = 32
LAYERS = 8
STEM_MULTIPLIER = 3
COMPACT_OPS = OPS[1:]
"""Op of each index in NASLib's NB301 compact form."""
CONCAT = (2, 3, 4, 5)


def parse_compact(text: str, key: str = "arch") -> Genotype:
    """The genotype of NASLib's compact string `(((0, 3), (1, 5), ...), ((1, 0), ...))`."""
    try:
        cells = ast.literal_eval(str(text).strip())
    except (ValueError, SyntaxError):
        raise ConfigError(key, text, "NASLib's NB301 compact form ((8 (input, op) pairs), (8 pairs))") from None
    ok = isinstance(cells, (tuple, list)) and len(cells) == 2
    ok = ok and all(isinstance(c, (tuple, list)) and len(c) == 8 for c in cells)
    ok = ok and all(isinstance(p, (tuple, list)) and len(p) == 2 for c in cells for p in c)
    ok = ok and all(type(v) is int for c in cells for p in c for v in p)
    if not ok:
        raise ConfigError(key, text, "NASLib's NB301 compact form ((8 (input, op) pairs), (8 pairs))")
    edges = []
    for name, cell in zip(("normal", "reduce"), cells, strict=True):
        out = []
        for k, (source, op) in enumerate(cell):
            if not 0 <= op < len(COMPACT_OPS) or not 0 <= source < k // 2 + 2:
                raise ConfigError(key, text, f"{name} pair {k} = ({source}, {op}): op 0..6, input 0..{k // 2 + 1}")
            out.append((COMPACT_OPS[op], source))
        edges.append(tuple(out))
    return Genotype(edges[0], CONCAT, edges[1], CONCAT)


def format_compact(genotype: Genotype) -> str:
    """NASLib's compact string of a genotype with 4 nodes of 2 edges and concat [2, 3, 4, 5]."""
    check_naslib(genotype)
    cells = [tuple((source, COMPACT_OPS.index(op)) for op, source in g) for g in (genotype.normal, genotype.reduce)]
    return str(tuple(cells))


def check_naslib(genotype: Genotype, key: str = "arch") -> Genotype:
    """Raise unless NASLib's NB301 graph can hold the genotype: 4 nodes of 2 edges each from distinct inputs
    (the graph has one edge per input-node pair), ops other than `none`, concat [2, 3, 4, 5]."""
    for name in ("normal", "reduce"):
        edges, concat = genotype.cell(name)
        if len(edges) != 8 or concat != CONCAT:
            raise ConfigError(key, str(genotype), f"{name}: 4 nodes of 2 edges and concat [2, 3, 4, 5]")
        for k in range(0, 8, 2):
            (op_a, a), (op_b, b) = edges[k : k + 2]
            if a == b:
                raise ConfigError(key, str(genotype), f"{name} node {k // 2 + 2} takes input {a} twice")
            if "none" in (op_a, op_b):
                raise ConfigError(key, str(genotype), f"{name} node {k // 2 + 2} has a 'none' edge")
    return genotype


def build_nb301(genotype: Genotype | str, num_classes: int = 10, in_channels: int = 3) -> DartsLogits:
    """NAS-Bench-301's network as NASLib built it (forward returns the logits; PyTorch's default init)."""
    if isinstance(genotype, str):
        genotype = parse_genotype(genotype)
    check_naslib(genotype)
    return DartsLogits(
        CHANNELS,
        num_classes,
        LAYERS,
        False,
        genotype,
        stem_multiplier=STEM_MULTIPLIER,
        in_channels=in_channels,
        cell_affine=False,
        pool_bn=True,
    )


def _stem(in_channels: int, channels: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))


def param_count(genotype: Genotype, num_classes: int = 10, in_channels: int = 3) -> int:
    """`build_nb301(...)`'s parameter count without building it: `NetworkCIFAR`'s layout walked cell by cell,
    each distinct module built once on the meta device."""
    c_curr = STEM_MULTIPLIER * CHANNELS
    total = module_params(_stem, in_channels, c_curr)
    c_prev_prev, c_prev, c_curr = c_curr, c_curr, CHANNELS
    reduction_prev = False
    for i in range(LAYERS):
        reduction = i in (LAYERS // 3, 2 * LAYERS // 3)
        if reduction:
            c_curr *= 2
        if reduction_prev:
            total += module_params(FactorizedReduce, c_prev_prev, c_curr)
        else:
            total += module_params(ReLUConvBN, c_prev_prev, c_curr, 1, 1, 0)
        total += module_params(ReLUConvBN, c_prev, c_curr, 1, 1, 0)
        edges, concat = genotype.cell("reduce" if reduction else "normal")
        for op, source in edges:
            total += module_params(make_op, op, c_curr, 2 if reduction and source < 2 else 1, False, True)
        reduction_prev = reduction
        c_prev_prev, c_prev = c_prev, len(concat) * c_curr
    return total + c_prev * num_classes + num_classes
