"""Retraining selected architectures with Lightning (`python -m meco_lab.retrain`).

- `data`: `ImageDataModule` (CIFAR-10/100, ImageNet16-120 from the original files; the CIFAR-10 JPEG
  archive with a decoded .npy cache) and the on-device crop / flip / normalisation / cutout;
- `module`: `ImageClassifier` (the shared LightningModule), `NB201Classifier` and `LastCheckpoint` (atomic
  resume checkpoints);
- `darts_module`: `DartsClassifier` (DARTS genotypes: auxiliary head, drop path, cutout, gradient clipping);
- `archs`: `arch=best` / arch-string and DARTS-genotype resolution and checks;
- `report`: final_accuracy.md / .csv and W&B logging.

This package imports nothing on its own, so that config errors are reported before Lightning loads.
"""
