"""Retraining selected architectures with Lightning (`python -m meco_lab.retrain`).

- `data`: `ImageDataModule` (CIFAR-10/100, ImageNet16-120 from the original files; the CIFAR-10 JPEG
  archive with a decoded .npy cache) and the on-device crop / flip / normalisation;
- `module`: `NB201Classifier` (the LightningModule) and `LastCheckpoint` (atomic resume checkpoints);
- `archs`: `arch=best` / arch-string resolution and checks;
- `report`: final_accuracy.md / .csv and W&B logging.

This package imports nothing on its own, so that config errors are reported before Lightning loads.
"""
