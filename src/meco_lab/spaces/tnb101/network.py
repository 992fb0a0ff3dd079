"""Encoder + task decoder = the network TransNAS-Bench-101 trained (and NASLib scored) for one (arch, task).

The encoder does not depend on the task, so one encoder output can feed every head whose input is the same
256 x 256 image batch (class_scene, class_object, room_layout, segmentsemantic, normal, autoencoder). Jigsaw is
different: its sample is 9 tiles of 64 x 64 that go through the encoder one at a time (the benchmark's
``SiameseNet``); the 9 encodings are concatenated along channels and the head sees (N, 9 C, 2, 2) (micro archs).
"""

from __future__ import annotations

import torch
from torch import nn

from .arch import TnbArch, parse_arch
from .decoders import FFDecoder, GenerativeDecoder, SegmentationDecoder, SiameseDecoder
from .encoder import TnbEncoder
from .tasks import JIGSAW_PIECES, JIGSAW_TILE, task_spec


def _arch(arch: TnbArch | str) -> TnbArch:
    return parse_arch(arch) if isinstance(arch, str) else arch


def build_encoder(arch: TnbArch | str) -> TnbEncoder:
    """The benchmark's backbone for ``arch`` (micro or macro)."""
    return TnbEncoder(_arch(arch))


def num_upsample(arch: TnbArch | str) -> int:
    """x2 upsamplings the dense decoders need to reach 256 x 256 from the encoder output."""
    return 2 + _arch(arch).n_stride_stages


def build_decoder(task: str, arch: TnbArch | str, num_classes: int | None = None) -> nn.Module:
    """The head of ``task`` for ``arch``'s encoder (its input channels and, for dense tasks, the upsampling depend
    on the macro skeleton). ``num_classes`` overrides the classification outputs (default: NASLib's, see tasks.py;
    pass ``task_spec(task).benchmark_num_classes`` for the training config's)."""
    spec = task_spec(task)
    a = _arch(arch)
    c = a.out_channels
    if num_classes is not None and spec.num_classes is None:
        raise ValueError(f"task {task!r} has no classes to override")
    n = num_classes if num_classes is not None else spec.num_classes
    if task in ("class_scene", "class_object"):
        return FFDecoder(c, n)
    if task == "room_layout":
        return FFDecoder(c, spec.output_shape[0])
    if task == "jigsaw":
        return SiameseDecoder(c, n, num_pieces=JIGSAW_PIECES)
    if task == "segmentsemantic":
        return SegmentationDecoder(c, num_upsample(a), num_classes=n)
    return GenerativeDecoder(c, num_upsample(a), out_channels=spec.output_shape[0])  # normal, autoencoder


def jigsaw_concat(tile_features: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The jigsaw head's input from the 9 tiles' encoder outputs (tile order kept), concatenated on channels."""
    if len(tile_features) != JIGSAW_PIECES:
        raise ValueError(f"jigsaw needs {JIGSAW_PIECES} tile encodings, got {len(tile_features)}")
    return torch.cat(list(tile_features), dim=1)


class TaskNetwork(nn.Module):
    """``decoder(encoder(x))`` for one task; children are named ``encoder`` and ``decoder``.

    Jigsaw: ``x`` is (N, 9, 3, 64, 64); the encoder runs once per tile, on ``x[:, i]`` (so forward hooks on
    encoder modules fire 9 times per forward, as in the benchmark) and the decoder gets the channel-concatenation.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, task: str):
        super().__init__()
        self.task = task_spec(task).name
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's input: encoder(x), or for jigsaw the concatenated tile encodings."""
        if self.task != "jigsaw":
            return self.encoder(x)
        if x.dim() != 5 or x.shape[1] != JIGSAW_PIECES:
            raise ValueError(f"jigsaw input must be (N, {JIGSAW_PIECES}, 3, H, W) tiles, got {tuple(x.shape)}")
        return jigsaw_concat([self.encoder(x[:, i]) for i in range(JIGSAW_PIECES)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x))

    def extra_repr(self) -> str:
        return f"task={self.task!r}"


def build_network(arch: TnbArch | str, task: str, num_classes: int | None = None) -> TaskNetwork:
    """A fresh encoder + ``task`` head for ``arch``."""
    a = _arch(arch)
    return TaskNetwork(build_encoder(a), build_decoder(task, a, num_classes), task)


def jigsaw_tiles(images: torch.Tensor, tile: int = JIGSAW_TILE, generator: torch.Generator | None = None,
                 permutation: list[int] | None = None) -> torch.Tensor:
    """Jigsaw tiles from (N, 3, S, S) images as the benchmark's MakeJigsawPuzzle cuts them (minus colour
    augmentation): 3 x 3 grid of S // 3 cells (S = 255 in the benchmark, after a 0.9 centre crop resized back),
    a random ``tile`` x ``tile`` crop per cell, tiles ordered by ``permutation`` (default: identity).
    Returns (N, 9, 3, tile, tile); no normalisation (the benchmark feeds jigsaw tiles in 0..1)."""
    n, c, h, w = images.shape
    uh, uw = h // 3, w // 3
    if uh < tile or uw < tile:
        raise ValueError(f"images of {h} x {w} are too small for {tile} x {tile} tiles")
    perm = list(range(JIGSAW_PIECES)) if permutation is None else list(permutation)
    if sorted(perm) != list(range(JIGSAW_PIECES)):
        raise ValueError(f"permutation must order 0..8, got {perm}")
    out = images.new_empty((n, JIGSAW_PIECES, c, tile, tile))
    for k, pos in enumerate(perm):
        top = (pos // 3) * uh + int(torch.randint(0, uh - tile + 1, (1,), generator=generator))
        left = (pos % 3) * uw + int(torch.randint(0, uw - tile + 1, (1,), generator=generator))
        out[:, k] = images[:, :, top:top + tile, left:left + tile]
    return out
