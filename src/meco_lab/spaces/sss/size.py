"""Exact #params and FLOPs of DynamicShapeTinyNet networks in closed form, vectorised over channel lists.

The counts follow the modules of `sss_network` one by one: every conv and BN (2 parameters per
channel) and the classifier. FLOPs follow xautodl's `get_model_infos` (as NATS-Bench does):
multiply-accumulates per sample of convs and the linear layer only. Tests check both against the
built networks and against the NATS-Bench archive.
"""

from __future__ import annotations

import numpy as np

from meco_lab.spaces.nb201.cell import Genotype

KERNELS = {"nor_conv_3x3": 3, "nor_conv_1x1": 1}


class _Counter:
    """Running totals of parameters and MACs, one entry per network."""

    def __init__(self, rows: int):
        self.params = np.zeros(rows, dtype=np.int64)
        self.macs = np.zeros(rows, dtype=np.int64)

    def conv(
        self,
        c_in: np.ndarray,
        c_out: np.ndarray,
        k: int,
        positions: int,
        bn: bool = True,
        where: np.ndarray | bool = True,
    ) -> None:
        weights = np.where(where, k * k * c_in * c_out, 0)
        self.params += weights + (np.where(where, 2 * c_out, 0) if bn else 0)
        self.macs += weights * positions


def _cell(count: _Counter, genotype: Genotype, c_in: np.ndarray, c_out: np.ndarray, positions: int) -> None:
    for node in genotype:
        for op, src in node:
            ci = c_in if src == 0 else c_out
            if op in KERNELS:
                count.conv(ci, c_out, KERNELS[op], positions)
            elif op in ("skip_connect", "avg_pool_3x3"):  # a 1x1 conv + BN only where the width changes
                count.conv(ci, c_out, 1, positions, where=ci != c_out)


def shape_net_size(
    channels: np.ndarray, genotype: Genotype, num_classes: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(#params, MACs per sample) of each row of `channels` (K x (3N + 2)) on `size` x `size` inputs."""
    channels = np.asarray(channels, dtype=np.int64)
    n = channels.shape[1] // 3
    count = _Counter(len(channels))
    c_prev, side = channels[:, 0], size
    count.conv(np.full_like(c_prev, 3), c_prev, 3, side * side)  # stem
    for layer in range(channels.shape[1]):
        c = channels[:, layer]
        if layer in (n, 2 * n + 1):  # residual reduction block at stride 2
            side //= 2
            count.conv(c_prev, c, 3, side * side)
            count.conv(c, c, 3, side * side)
            count.conv(c_prev, c, 1, side * side, bn=False)  # downsample: 2x2 average pool, then 1x1 conv
        else:
            _cell(count, genotype, c_prev, c, side * side)
        c_prev = c
    count.params += 2 * c_prev + c_prev * num_classes + num_classes  # lastact BN and the classifier
    count.macs += c_prev * num_classes + num_classes
    return count.params, count.macs
