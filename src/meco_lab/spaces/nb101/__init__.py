"""NAS-Bench-101: cells (parse, prune, hash, channel split) and the network NB101 and NASLib build."""

from meco_lab.spaces.nb101.cell import (
    NASLIB_OPS,
    OPS,
    Nb101Cell,
    compute_vertex_channels,
    from_naslib_tuple,
    make_cell,
    module_hash,
    parse_cell,
    prune,
)
from meco_lab.spaces.nb101.network import Nb101Module, Nb101Network, build_nb101, naslib_init_, param_count

__all__ = [
    "NASLIB_OPS",
    "OPS",
    "Nb101Cell",
    "Nb101Module",
    "Nb101Network",
    "build_nb101",
    "compute_vertex_channels",
    "from_naslib_tuple",
    "make_cell",
    "module_hash",
    "naslib_init_",
    "param_count",
    "parse_cell",
    "prune",
]
