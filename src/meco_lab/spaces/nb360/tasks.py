"""The three NAS-Bench-360-style tasks NAS-Bench-Suite-Zero scored its NB201 / NB301 / TNB-micro cells on.

Shapes are (C, H, W) of one input as NASLib fed it (automl/NASLib @ 8c45f19 `naslib/utils/utils.py`
`get_train_val_loaders`), classes and input channels as `naslib/search_spaces/__init__.py`
(`dataset_n_classes`, `dataset_to_channels`) sets them:
- `svhn`: torchvision SVHN, 3 x 32 x 32, 10 classes. SVHN is not one of NAS-Bench-360's ten tasks; the
  suite added it beside two that are.
- `ninapro`: NinaPro DB5 sEMG windows, 1 x 16 x 52 (16 electrodes x 52 time steps), 18 gestures.
  NAS-Bench-360 (rtu715/NAS-Bench-360 @ 587bb09 `backbone/data_utils/load_data.py` `load_ninapro`:
  arrays transposed (0, 2, 1) and given a channel axis; `backbone/model_point.py`: `'ninapro': (18, 1)`
  classes and input channels; `densenas/point/configs/ninapro_search_cfg_resnet.yaml`:
  `input_size: (1, 16, 52)`). NASLib's loader is the same code.
- `scifar100`: Spherical CIFAR-100 (`s2_cifar100.gz`, images used as stored, NCHW), 3 x 60 x 60, 100 classes
  (NAS-Bench-360 `load_scifar100_data`; `model_point.py`: `'scifar100': (100, 3)`;
  `densenas/point/configs/spherical_search_cfg_resnet.yaml`: `input_size: (3,60,60)`).

The tensorwatch FLOPs of the suite's `*_9x_naslib_sizes.csv` are reproduced exactly at these shapes
(FLOPs pin down the resolution but not the orientation: 16 x 52 and 52 x 16 count the same; NinaPro's
orientation is the loaders' transpose). No network here has a parameter that depends on H or W (global
pooling before every classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

from meco_lab.core.errors import ConfigError


@dataclass(frozen=True)
class Task:
    name: str
    input_shape: tuple[int, int, int]
    """(C, H, W) of one input."""
    num_classes: int
    description: str

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]


TASKS: dict[str, Task] = {
    "svhn": Task("svhn", (3, 32, 32), 10, "SVHN digits (torchvision), not a NAS-Bench-360 task"),
    "ninapro": Task("ninapro", (1, 16, 52), 18, "NinaPro DB5 sEMG hand gestures (NAS-Bench-360)"),
    "scifar100": Task("scifar100", (3, 60, 60), 100, "Spherical CIFAR-100 (NAS-Bench-360)"),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError("task", name, TASKS)
    return TASKS[name]
