"""The DARTS-CNN space: genotypes, the 8 ops, the search supernet (Zero-Cost-PT) and the retrained network."""

from meco_lab.spaces.darts.genotype import DARTS_V2, OPS, Genotype, format_genotype, parse_genotype
from meco_lab.spaces.darts.network import NetworkCIFAR, count_params
from meco_lab.spaces.darts.supernet import (
    DartsSupernet,
    build_darts_supernet,
    darts_problem,
    genotype_from_mask,
    mask_from_genotype,
)

__all__ = [
    "DARTS_V2",
    "OPS",
    "DartsSupernet",
    "Genotype",
    "NetworkCIFAR",
    "build_darts_supernet",
    "count_params",
    "darts_problem",
    "format_genotype",
    "genotype_from_mask",
    "mask_from_genotype",
    "parse_genotype",
]
