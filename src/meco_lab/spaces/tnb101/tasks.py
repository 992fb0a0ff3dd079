"""The 7 TransNAS-Bench-101 tasks: input/output shapes, classes, metric, input preprocessing.

Sources (see docs/transnas.md): TransNAS-Bench-101 ``configs/train_from_scratch/<task>/config.py`` (input size,
normalisation, jigsaw tiling) and NASLib ``zerocost`` ``naslib/search_spaces/transbench101/tnb101/model_builder.py``
(the heads NASLib built and scored; our parameter counts equal NASLib's).

Class counts: NASLib builds class_object with 100 and class_scene with 63 outputs (``model_builder.py``,
"ORIG CODE 100" / "ORIG CODE 63"), while the benchmark's training configs use 75 and 47 (the selected
classes it trained on). ``num_classes`` is NASLib's (the networks that produced the suite's numbers);
``benchmark_num_classes`` is the training config's. Only the last Linear layer differs.
"""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("class_scene", "class_object", "room_layout", "jigsaw", "segmentsemantic", "normal", "autoencoder")

#: Input normalisation of the benchmark's configs (after ToTensor, pixels in 0..1).
TASKONOMY_NORM = ((0.5224, 0.5222, 0.5221), (0.2234, 0.2235, 0.2236))
HALF_NORM = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

JIGSAW_PIECES = 9
JIGSAW_TILE = 64


@dataclass(frozen=True)
class TaskSpec:
    """One task.

    ``input_shape``: one sample as fed to the network, (C, H, W); jigsaw: (9, 3, 64, 64), 9 tiles that go through
    the encoder one by one. ``output_shape``: one sample's network output. ``metric``: the TransNAS API key NASLib
    queried (mode 'final'), ``unit`` and ``higher_is_better`` describe it. ``normalize``: (mean, std) per channel
    applied after ToTensor, or None (jigsaw tiles are left in 0..1).
    """

    name: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    num_classes: int | None
    benchmark_num_classes: int | None
    metric: str
    unit: str
    higher_is_better: bool
    normalize: tuple[tuple[float, float, float], tuple[float, float, float]] | None
    loss: str


_IMG = (3, 256, 256)

TASK_SPECS: dict[str, TaskSpec] = {
    "class_scene": TaskSpec("class_scene", "classification", _IMG, (63,), 63, 47, "valid_top1", "top-1 %", True,
                            TASKONOMY_NORM, "soft-label cross entropy"),
    "class_object": TaskSpec("class_object", "classification", _IMG, (100,), 100, 75, "valid_top1", "top-1 %", True,
                             TASKONOMY_NORM, "soft-label cross entropy"),
    "room_layout": TaskSpec("room_layout", "regression", _IMG, (9,), None, None, "valid_neg_loss",
                            "negative MSE loss", True, TASKONOMY_NORM, "MSE"),
    "jigsaw": TaskSpec("jigsaw", "classification", (JIGSAW_PIECES, 3, JIGSAW_TILE, JIGSAW_TILE), (1000,), 1000, 1000,
                       "valid_top1", "top-1 %", True, None, "cross entropy over 1000 permutations"),
    "segmentsemantic": TaskSpec("segmentsemantic", "pixel classification", _IMG, (17, 256, 256), 17, 17, "valid_acc",
                                "pixel accuracy %", True, HALF_NORM, "cross entropy per pixel"),
    "normal": TaskSpec("normal", "pixel regression", _IMG, (3, 256, 256), None, None, "valid_ssim", "SSIM (0-1)",
                       True, HALF_NORM, "L1 (+ GAN loss in the benchmark)"),
    "autoencoder": TaskSpec("autoencoder", "pixel regression", _IMG, (3, 256, 256), None, None, "valid_ssim",
                            "SSIM (0-1)", True, HALF_NORM, "L1 (+ GAN loss in the benchmark)"),
}


def task_spec(task: str) -> TaskSpec:
    """The spec of one task; ValueError for an unknown name."""
    try:
        return TASK_SPECS[task]
    except KeyError:
        raise ValueError(f"unknown TransNAS-Bench-101 task {task!r}; expected one of {', '.join(TASKS)}") from None
