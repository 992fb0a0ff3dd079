"""The LightningModules that train one network (shared base, NB201), and the atomic last-checkpoint callback."""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Checkpoint

from meco_lab.core.io import atomic_path
from meco_lab.inputs.transforms import norm_stats
from meco_lab.spaces.nb201.cell import parse_arch
from meco_lab.spaces.nb201.network import TinyNetwork
from meco_lab.training.data import normalize_on_device, random_crop_flip

HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "lr", "seconds")


def cosine_factor(step: int, total: int, floor: float) -> float:
    """Learning-rate multiplier after `step` optimizer steps: cosine from 1 to `floor` over `total` steps."""
    progress = min(step, total) / max(total, 1)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class ImageClassifier(L.LightningModule):
    """What every retraining protocol shares; a subclass builds `self.net` and saves its hyperparameters.

    SGD with momentum (`nesterov` as set), weight decay on every parameter, cross-entropy, and a learning
    rate annealed from `lr` to `lr_min` by a per-step cosine over `epochs` epochs (the schedule length is
    `epochs` even when the trainer stops earlier, so a stopped run continues on the same curve).
    Batches arrive as uint8 and are cropped, flipped and normalised on the device.

    `history` holds one record per finished epoch (HISTORY_COLUMNS); it is stored in checkpoints, so a
    resumed run keeps the whole curve and the total training time.
    """

    net: torch.nn.Module

    def __init__(self, dataset: str):
        super().__init__()
        mean, std = norm_stats(dataset)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.history: list[dict[str, float]] = []
        self._epoch_start = 0.0
        self._test_correct = self._test_total = 0
        self.test_accuracy: float | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, y = batch
        if self.trainer.training and (self.hparams.crop_padding or self.hparams.flip):
            x = random_crop_flip(x, self.hparams.crop_padding, self.hparams.flip)
        return normalize_on_device(x, self.mean, self.std), y

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, loss) of one training batch."""
        logits = self(x)
        return logits, F.cross_entropy(logits, y)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits, loss = self.training_loss(x, y)
        acc = (logits.argmax(1) == y).float().mean() * 100
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        self.log("train_acc", acc, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        metrics = self.trainer.callback_metrics
        self.history.append({
            "epoch": self.current_epoch,
            "train_loss": float(metrics.get("train_loss", float("nan"))),
            "train_acc": float(metrics.get("train_acc", float("nan"))),
            "lr": float(self.trainer.optimizers[0].param_groups[0]["lr"]),
            "seconds": time.perf_counter() - self._epoch_start,
        })

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["meco_lab_history"] = list(self.history)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("meco_lab_history", []))

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        optimizer = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum, nesterov=hp.nesterov,
                                    weight_decay=hp.weight_decay)
        _ = self.trainer.estimated_stepping_batches  # sets up the train data, so its length is known
        per_epoch = math.ceil(self.trainer.num_training_batches / self.trainer.accumulate_grad_batches)
        total, floor = per_epoch * hp.epochs, hp.lr_min / hp.lr
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_factor(step, total, floor))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_test_epoch_start(self) -> None:
        self._test_correct = torch.zeros((), dtype=torch.int64, device=self.device)
        self._test_total = torch.zeros((), dtype=torch.int64, device=self.device)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self._test_correct += (logits.argmax(1) == y).sum()
        self._test_total += y.numel()
        self.log("test_loss", F.cross_entropy(logits.float(), y), on_epoch=True, batch_size=len(y), sync_dist=True)

    def on_test_epoch_end(self) -> None:
        correct = self.all_gather(self._test_correct).sum()
        total = self.all_gather(self._test_total).sum()
        self.test_accuracy = float(correct) / max(int(total), 1) * 100
        self.log("test_acc", self.test_accuracy, sync_dist=False)


class NB201Classifier(ImageClassifier):
    """An NB201 / NATS-TSS network (`TinyNetwork`) trained with the NAS-Bench-201 recipe (SGD Nesterov)."""

    def __init__(self, arch: str, num_classes: int, dataset: str, epochs: int, lr: float = 0.1,
                 momentum: float = 0.9, nesterov: bool = True, weight_decay: float = 5e-4, lr_min: float = 0.0,
                 crop_padding: int = 4, flip: bool = True, channels: int = 16, cells_per_stage: int = 5):
        super().__init__(dataset)
        self.save_hyperparameters()
        self.net = TinyNetwork(parse_arch(arch), channels, cells_per_stage, num_classes)


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    """The per-epoch records as CSV, replaced atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


class LastCheckpoint(Checkpoint):
    """Save `last.ckpt` at the end of every training epoch, atomically (write, then rename).

    A kill at any moment leaves either the previous or the new checkpoint, never a torn file. Being a
    `Checkpoint`, Lightning calls it after `LightningModule.on_train_epoch_end`, so the saved history
    includes the epoch just finished. `history.csv` next to it is rewritten just before each checkpoint is
    put in place, so a kill never leaves a checkpoint newer than the history beside it.
    `on_epoch(record)` is called on rank zero with the epoch's history record.
    """

    def __init__(self, path: Path, on_epoch: Callable[[dict[str, float]], None] | None = None):
        self.path = Path(path)
        self.on_epoch = on_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            history = getattr(pl_module, "history", [])
            with atomic_path(self.path) as tmp:
                trainer.save_checkpoint(tmp, weights_only=False)  # full state: optimizer, scheduler, loops
                write_history(self.path.with_name("history.csv"), history)  # first: a checkpoint implies its history
            if self.on_epoch is not None and history:
                self.on_epoch(history[-1])
        else:
            trainer.save_checkpoint(self.path, weights_only=False)  # a collective call; only rank zero writes
        trainer.strategy.barrier("meco_lab.last_checkpoint")
