"""TransNAS-Bench-101 networks (micro cell space and macro skeleton space, 7 Taskonomy tasks).

Self-contained: imports only torch and the standard library. The networks equal the benchmark's
(``yawen-d/TransNASBench`` ``lib/models``) and NASLib's vendored copy, checked by exact parameter and FLOP
counts against every (arch, task) NASLib scored (tests/test_tnb101_networks.py); see docs/transnas.md.
"""

from .arch import N_MACRO, N_MICRO, TnbArch, from_naslib, iter_macro, iter_micro, parse_arch
from .decoders import FFDecoder, GenerativeDecoder, SegmentationDecoder, SiameseDecoder, benchmark_num_upsample
from .encoder import MicroCell, ResNetBasicBlock, TnbEncoder
from .network import (
    TaskNetwork,
    build_decoder,
    build_encoder,
    build_network,
    jigsaw_concat,
    jigsaw_tiles,
    num_upsample,
)
from .size import analytic_sizes, count_params, decoder_sizes, encoder_sizes, naslib_sizes, tensorwatch_counts
from .tasks import TASK_SPECS, TASKS, TaskSpec, task_spec

__all__ = [
    "N_MACRO",
    "N_MICRO",
    "TASKS",
    "TASK_SPECS",
    "FFDecoder",
    "GenerativeDecoder",
    "MicroCell",
    "ResNetBasicBlock",
    "SegmentationDecoder",
    "SiameseDecoder",
    "TaskNetwork",
    "TaskSpec",
    "TnbArch",
    "TnbEncoder",
    "analytic_sizes",
    "benchmark_num_upsample",
    "build_decoder",
    "build_encoder",
    "build_network",
    "count_params",
    "decoder_sizes",
    "encoder_sizes",
    "from_naslib",
    "iter_macro",
    "iter_micro",
    "jigsaw_concat",
    "jigsaw_tiles",
    "naslib_sizes",
    "num_upsample",
    "parse_arch",
    "task_spec",
    "tensorwatch_counts",
]
