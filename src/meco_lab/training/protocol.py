"""The training protocol and run settings of `retrain`, checked before Lightning loads: one line per bad value."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from meco_lab.core.checks import check_choice, is_int
from meco_lab.core.errors import ConfigError
from meco_lab.inputs import DATASET_CLASSES
from meco_lab.training.archs import ArchChoice
from meco_lab.training.datasets import SIDE, check_root

RESERVED_TRAINER_KEYS = ("logger", "callbacks", "enable_checkpointing", "default_root_dir")
SPACES = ("nb201", "darts")


def check_protocol(protocol: dict[str, Any]) -> dict[str, Any]:
    """The protocol with `crop_padding` resolved per dataset later; ConfigError on a bad value."""
    for key in ("epochs", "batch_size", "eval_batch_size"):
        if not is_int(protocol.get(key)) or protocol[key] < 1:
            raise ConfigError(f"protocol.{key}", protocol.get(key), "an integer >= 1")
    for key in ("train_images", "test_images"):
        value = protocol.get(key)
        if value is not None and (not is_int(value) or value < 1):
            raise ConfigError(f"protocol.{key}", value, "an integer >= 1, or null for the whole split")
    for key, low, high in (("lr", 0.0, None), ("lr_min", 0.0, None), ("momentum", 0.0, 1.0),
                           ("weight_decay", 0.0, None)):
        value = protocol.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low
        ok = ok and (high is None or value < high) and (key != "lr" or value > 0)
        if not ok:
            bound = "> 0" if key == "lr" else f">= {low}" + (f" and < {high}" if high is not None else "")
            raise ConfigError(f"protocol.{key}", value, f"a number {bound}")
    if protocol["lr_min"] > protocol["lr"]:
        raise ConfigError("protocol.lr_min", protocol["lr_min"], f"a number <= protocol.lr ({protocol['lr']})")
    for key in ("nesterov", "flip"):
        if not isinstance(protocol.get(key), bool):
            raise ConfigError(f"protocol.{key}", protocol.get(key), "true or false")
    padding = protocol.get("crop_padding")
    if padding != "auto" and (not is_int(padding) or padding < 0):
        raise ConfigError("protocol.crop_padding", padding, "auto or an integer >= 0")
    if not is_int(protocol.get("subset_seed")):
        raise ConfigError("protocol.subset_seed", protocol.get("subset_seed"), "an integer")
    space = protocol.get("space", "nb201")
    if space not in SPACES:
        raise ConfigError("protocol.space", space, SPACES)
    if space == "darts":
        check_darts_protocol(protocol)
    return protocol


def check_darts_protocol(protocol: dict[str, Any]) -> None:
    """The DARTS keys: network size, auxiliary head, drop path, cutout and gradient clipping."""
    channels = protocol.get("channels")
    if channels != "auto" and (not is_int(channels) or channels < 2 or channels % 2):
        raise ConfigError("protocol.channels", channels, "auto (36 on CIFAR-10, 16 on CIFAR-100) or an even "
                                                        "integer >= 2")
    if not is_int(protocol.get("layers")) or protocol["layers"] < 3:
        raise ConfigError("protocol.layers", protocol.get("layers"), "an integer >= 3")
    for key, high in (("auxiliary_weight", None), ("drop_path", 1.0)):
        value = protocol.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or \
                (high is not None and value >= high):
            raise ConfigError(f"protocol.{key}", value, "a number >= 0" + (f" and < {high}" if high else ""))
    if not is_int(protocol.get("cutout")) or protocol["cutout"] < 0:
        raise ConfigError("protocol.cutout", protocol.get("cutout"), "an integer >= 0 (0: no cutout)")
    clip = protocol.get("grad_clip")
    if clip is not None and (not isinstance(clip, (int, float)) or isinstance(clip, bool) or clip <= 0):
        raise ConfigError("protocol.grad_clip", clip, "a number > 0, or null for no clipping")


def darts_channels(protocol: dict[str, Any], dataset: str) -> int:
    """`protocol.channels`, with auto = 36 on CIFAR-10 and 16 on CIFAR-100."""
    channels = protocol["channels"]
    return (36 if dataset == "cifar10" else 16) if channels == "auto" else channels


def check_space(choices: list[ArchChoice], protocol: dict[str, Any], dataset: str) -> None:
    """Every architecture suits the protocol's space, and DARTS trains on 32x32 images only."""
    space = protocol.get("space", "nb201")
    for choice in choices:
        if choice.space != space:
            expected = {"nb201": "an NB201 arch string (a DARTS genotype trains with profile=darts or darts_smoke)",
                        "darts": "a DARTS genotype (an NB201 arch string trains with profile=nb201 or smoke)"}
            raise ConfigError("arch", choice.arch, f"{expected[space]} with profile {protocol['name']}")
    if space == "darts" and SIDE[dataset] != 32:
        raise ConfigError("data", dataset, f"cifar10 or cifar100 with profile {protocol['name']} "
                                           "(NetworkCIFAR's auxiliary head needs 32x32 images)")


def crop_padding(protocol: dict[str, Any], dataset: str) -> int:
    """`protocol.crop_padding`, with auto = 4 for 32x32 images and 2 for ImageNet16's 16x16 (as NAS-Bench-201)."""
    padding = protocol["crop_padding"]
    return (4 if SIDE[dataset] == 32 else 2) if padding == "auto" else padding


def check_seeds(seeds: Any) -> list[int]:
    values = list(seeds) if isinstance(seeds, (list, tuple)) else [seeds]
    if not values or not all(is_int(s) and s >= 0 for s in values) or len(set(values)) != len(values):
        raise ConfigError("seeds", seeds, "a list of distinct integers >= 0, e.g. [0,1,2]")
    return values


def data_root(data: dict[str, Any], cifar10_jpeg: str | None) -> Path:
    """`data.root`, or for cifar10 with root null the JPEG archive (`cifar10_jpeg`, relative to the working folder)."""
    name = data.get("name")
    check_choice("data", name, list(DATASET_CLASSES))
    root = data.get("root")
    if root is None and name == "cifar10" and cifar10_jpeg:
        root = Path(cifar10_jpeg).expanduser().resolve()  # a relative path is relative to the working folder
    return check_root(name, root)


def quiet_lightning() -> None:
    """Lightning's start-up INFO lines (devices, a product tip, each Trainer's) and a deprecation warning raised by
    its own code are noise in every retrain; its warnings and errors still show."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")


def trainer_settings(trainer: dict[str, Any], epochs: int) -> tuple[dict[str, Any], int]:
    """Keyword arguments for lightning.Trainer (checked against its signature) and the epoch to stop at."""
    import inspect

    import lightning as L

    quiet_lightning()
    settings = dict(trainer)
    allowed = set(inspect.signature(L.Trainer.__init__).parameters) - {"self"}
    for key in settings:
        if key in RESERVED_TRAINER_KEYS:
            raise ConfigError(f"trainer.{key}", settings[key], "unset: retrain sets it (checkpoints, logs)")
        if key not in allowed:
            raise ConfigError(f"trainer.{key}", settings[key], "an argument of lightning.Trainer")
    max_epochs = settings.pop("max_epochs", None)
    if max_epochs is None:
        max_epochs = epochs
    if not is_int(max_epochs) or max_epochs < 1:
        raise ConfigError("trainer.max_epochs", max_epochs, "an integer >= 1, or null for protocol.epochs")
    if settings.get("enable_progress_bar") is None:
        settings["enable_progress_bar"] = sys.stderr.isatty()
    try:  # a value Lightning refuses (accelerator=gpu without one, precision=7, ...) fails here, in one line
        L.Trainer(**settings, max_epochs=max_epochs, logger=False, enable_checkpointing=False)
    except Exception as error:  # Lightning raises MisconfigurationException, ValueError, TypeError, ...
        shown = ", ".join(f"{k}={v}" for k, v in trainer.items())
        reason = " ".join(str(error).split())[:300]
        raise ConfigError("trainer", shown, f"settings that lightning.Trainer accepts ({reason})") from None
    return settings, max_epochs
