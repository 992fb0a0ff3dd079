"""NAS-Bench-Suite-Zero's NAS-Bench-360-style tasks (SVHN, NinaPro, Spherical CIFAR-100) and its three skeletons."""

from meco_lab.spaces.nb360.networks import (
    SKELETONS,
    build_network,
    nb201_from_naslib,
    param_count,
    parse_skeleton_arch,
)
from meco_lab.spaces.nb360.tasks import TASKS, Task, get_task
from meco_lab.spaces.nb360.tnb_micro import TnbMicroNetwork
from meco_lab.spaces.nb360.tnb_micro import genotype_from_naslib as tnb_micro_from_naslib

__all__ = [
    "SKELETONS",
    "TASKS",
    "Task",
    "TnbMicroNetwork",
    "build_network",
    "get_task",
    "nb201_from_naslib",
    "param_count",
    "parse_skeleton_arch",
    "tnb_micro_from_naslib",
]
