"""The three skeletons NAS-Bench-Suite-Zero scored on SVHN / NinaPro / Spherical CIFAR-100, at a task's shape.

What NASLib changes per dataset (automl/NASLib @ 8c45f19 `naslib/search_spaces/__init__.py`
`get_search_space`): the stem's input channels (`dataset_to_channels`: 1 for NinaPro) and the
classifier's classes (`dataset_n_classes`: 10 / 18 / 100); nothing else in the network. NB301 gets
`auxiliary=False` (only CIFAR-10 asks for the auxiliary output, and it holds no head anyway). The input
resolution changes the feature-map sizes only: no parameter depends on it.

- `nb201`: NASLib's NB201 graph is xautodl's TinyNetwork (C=16, 5 cells per stage). Its search-space
  ops are non-affine, but setting an architecture (`convert_op_indices_to_naslib` -> `update_batchnorms`)
  rebuilds the chosen op with affine, tracked batch norm, so the network is `TinyNetwork` exactly.
- `nb301`: `meco_lab.spaces.darts.nb301.build_nb301` (C=32, 8 cells, non-affine cell ops, BN after pooling).
- `tnb101_micro`: NASLib's own TNB-micro graph (`meco_lab.spaces.nb360.tnb_micro`).
Every row of the suite's `nb201_9x` / `nb301_9x` / `tnb101_micro_9x` size tables has exactly these
parameter counts, and tensorwatch FLOPs at the tasks' shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.darts import nb301
from meco_lab.spaces.darts.genotype import parse_genotype
from meco_lab.spaces.model_stats import module_params
from meco_lab.spaces.nb201.cell import Genotype, parse_arch
from meco_lab.spaces.nb201.network import ResNetBasicblock, TinyNetwork, make_op, stage_layout
from meco_lab.spaces.nb360 import tnb_micro
from meco_lab.spaces.nb360.tasks import Task, get_task

SKELETONS = ("nb201", "nb301", "tnb101_micro")
NB201_NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
"""Op of each index in NASLib's NB201 tuple (edges 0->1, 0->2, 0->3, 1->2, 1->3, 2->3)."""


def nb201_from_naslib(arch: Sequence[int]) -> Genotype:
    """The NB201 genotype of NASLib's 6-int tuple."""
    if len(arch) != 6 or not all(0 <= k < len(NB201_NASLIB_OPS) for k in arch):
        raise ValueError(f"an NB201 NASLib tuple has 6 ints in 0..4, got {arch!r}")
    op = [NB201_NASLIB_OPS[k] for k in arch]
    return (((op[0], 0),), ((op[1], 0), (op[3], 1)), ((op[2], 0), (op[4], 1), (op[5], 2)))


def _task(task: str | Task) -> Task:
    return task if isinstance(task, Task) else get_task(task)


def parse_skeleton_arch(skeleton: str, arch: str):
    """The genotype of `arch` in a skeleton: an NB201 string (nb201; tnb101_micro without avg_pool_3x3),
    or a DARTS genotype string / NASLib compact form (nb301)."""
    if skeleton == "nb201":
        return parse_arch(arch)
    if skeleton == "tnb101_micro":
        genotype = parse_arch(arch)
        if any(op == "avg_pool_3x3" for node in genotype for op, _ in node):
            raise ConfigError("arch", arch, "a TNB-micro cell: ops none, skip_connect, nor_conv_1x1, nor_conv_3x3")
        return genotype
    if skeleton == "nb301":
        text = arch.strip()
        return nb301.parse_compact(text) if text.startswith("(") else nb301.check_naslib(parse_genotype(text))
    raise ConfigError("skeleton", skeleton, SKELETONS)


def build_network(skeleton: str, arch: str, task: str | Task) -> nn.Module:
    """The network NASLib scored for `arch` on `task` (PyTorch default init); `forward` returns the logits."""
    t = _task(task)
    genotype = parse_skeleton_arch(skeleton, arch)
    if skeleton == "nb201":
        return TinyNetwork(genotype, num_classes=t.num_classes, in_channels=t.in_channels)
    if skeleton == "nb301":
        return nb301.build_nb301(genotype, t.num_classes, t.in_channels)
    return tnb_micro.TnbMicroNetwork(genotype, t.num_classes, t.in_channels)


def _nb201_stem(in_channels: int, channels: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))


def _nb201_param_count(genotype: Genotype, num_classes: int, in_channels: int, channels: int = 16) -> int:
    total = module_params(_nb201_stem, in_channels, channels)
    c_prev = channels
    for c, reduction in stage_layout(channels, 5):
        if reduction:
            total += module_params(ResNetBasicblock, c_prev, c)
        else:
            total += sum(module_params(make_op, op, c) for node in genotype for op, _ in node)
        c_prev = c
    return total + 2 * c_prev + c_prev * num_classes + num_classes  # lastact BN, classifier


def param_count(skeleton: str, arch: str, task: str | Task) -> int:
    """`build_network(...)`'s parameter count without building it (each distinct op built once on meta)."""
    t = _task(task)
    genotype = parse_skeleton_arch(skeleton, arch)
    if skeleton == "nb201":
        return _nb201_param_count(genotype, t.num_classes, t.in_channels)
    if skeleton == "nb301":
        return nb301.param_count(genotype, t.num_classes, t.in_channels)
    return tnb_micro.param_count(genotype, t.num_classes, t.in_channels)
