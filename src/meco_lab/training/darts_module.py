"""The LightningModule that retrains a DARTS genotype with the DARTS protocol (quark0/darts `train.py`).

`NetworkCIFAR` with an auxiliary head (loss weight `auxiliary_weight`), drop path raised linearly from 0
by `drop_path * epoch / epochs` at the start of every epoch, cutout after normalisation, SGD with
momentum (no Nesterov), gradient-norm clipping at `grad_clip`, and the shared per-step cosine.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.optim import Optimizer

from meco_lab.spaces.darts.genotype import parse_genotype
from meco_lab.spaces.darts.network import NetworkCIFAR
from meco_lab.training.data import cutout as cutout_images
from meco_lab.training.module import ImageClassifier


def drop_path_at(epoch: int, epochs: int, drop_path: float) -> float:
    """DARTS' schedule: drop path probability `drop_path * epoch / epochs` during epoch `epoch` (0-based)."""
    return drop_path * epoch / epochs


class DartsClassifier(ImageClassifier):
    """A DARTS genotype as `NetworkCIFAR(channels, layers)`, trained with the DARTS recipe."""

    def __init__(
        self,
        arch: str,
        num_classes: int,
        dataset: str,
        epochs: int,
        lr: float = 0.025,
        momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 3e-4,
        lr_min: float = 0.0,
        crop_padding: int = 4,
        flip: bool = True,
        channels: int = 36,
        layers: int = 20,
        auxiliary_weight: float = 0.4,
        drop_path: float = 0.2,
        cutout: int = 16,
        grad_clip: float | None = 5.0,
    ):
        super().__init__(dataset)
        self.save_hyperparameters()
        self.net = NetworkCIFAR(channels, num_classes, layers, auxiliary_weight > 0, parse_genotype(arch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, y = super().on_after_batch_transfer(batch, dataloader_idx)
        if self.trainer.training and self.hparams.cutout:
            x = cutout_images(x, self.hparams.cutout)
        return x, y

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self.net.drop_path_prob = drop_path_at(self.current_epoch, self.hparams.epochs, self.hparams.drop_path)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, aux = self.net(x)
        loss = F.cross_entropy(logits, y)
        if aux is not None:
            loss = loss + self.hparams.auxiliary_weight * F.cross_entropy(aux, y)
        return logits, loss

    def configure_gradient_clipping(
        self, optimizer: Optimizer, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        clip = self.hparams.grad_clip if gradient_clip_val is None else gradient_clip_val
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")
