"""NB201 training throughput (images/s) under the nb201 protocol, on this CPU and on a GPU when one is present.

Runs the real training path of `python -m meco_lab.retrain`: a Lightning `Trainer` fitting
`NB201Classifier` on uint8 CIFAR-10-shaped batches (random pixels) from `ImageDataModule`'s loader,
with the on-device crop (padding 4) + flip + normalisation, cross-entropy, SGD Nesterov 0.9, weight
decay 5e-4 and the per-step cosine schedule, batch 256. The first `--warmup` steps are not timed.

    python benchmarks/bench_train.py [--arch ARCH ...] [--steps-cpu 10] [--steps-gpu 200] [--batch 256]
                                     [--device all|cpu|cuda] [--threads N] [--precision 32-true|bf16-mixed|16-mixed]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import lightning as L
import torch
from torch.utils.data import DataLoader

from meco_lab.spaces.nb201.cell import format_arch, parse_arch
from meco_lab.training.archs import nats_index
from meco_lab.training.data import ImageTensors, as_batch
from meco_lab.training.module import NB201Classifier

# NATS-TSS #9930, the best CIFAR-10 cell of the benchmark (94.36%), and #14108, a light one.
DEFAULT_ARCHS = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|none~1|none~2|",
)


class StepTimer(L.Callback):
    """Wall time from the start of step `warmup` to the end of the last step (CUDA synchronised)."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.steps = warmup, 0.0, 0.0, 0

    def _sync(self, module: L.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.warmup:
            self._sync(pl_module)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx >= self.warmup:
            self._sync(pl_module)
            self.end = time.perf_counter()
            self.steps = batch_idx - self.warmup + 1


def measure(arch: str, device: str, steps: int, warmup: int, batch: int, precision: str) -> tuple[float, int]:
    """Images per second over `steps` timed steps, and the parameter count."""
    n = (steps + warmup) * batch
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (n,), generator=gen)
    loader = DataLoader(ImageTensors(images, labels), batch_size=batch, shuffle=True, collate_fn=as_batch)
    L.seed_everything(0, verbose=False)
    model = NB201Classifier(arch, 10, "cifar10", epochs=200, crop_padding=4, flip=True)
    timer = StepTimer(warmup)
    trainer = L.Trainer(accelerator=device, devices=1, precision=precision, max_epochs=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[timer])
    trainer.fit(model, loader)
    return timer.steps * batch / (timer.end - timer.start), sum(p.numel() for p in model.net.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=list(DEFAULT_ARCHS))
    parser.add_argument("--steps-cpu", type=int, default=10)
    parser.add_argument("--steps-gpu", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--precision", default="32-true")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        import logging

        logging.getLogger(name).setLevel(logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] if args.device == "cpu" else (["cuda"] if args.device == "cuda" else ["cpu"])
    if args.device == "all" and torch.cuda.is_available():
        devices.append("cuda")
    if "cuda" in devices and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda: no CUDA device is visible")
    print(f"NB201 training throughput, nb201 protocol (SGD Nesterov 0.9, wd 5e-4, lr 0.1 cosine per step, "
          f"batch {args.batch}, crop pad 4 + flip on the device), 32x32 uint8 input, precision {args.precision}")
    for device in devices:
        if device == "cuda":
            name = f"cuda ({torch.cuda.get_device_name(0)})"
        else:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            name = f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads, load avg {load:.1f})"
        steps = args.steps_gpu if device == "cuda" else args.steps_cpu
        print(f"device: {name}, {steps} timed steps after {args.warmup} warm-up steps")
        for arch in args.arch:
            canonical = format_arch(parse_arch(arch))
            rate, params = measure(canonical, device, steps, args.warmup, args.batch, args.precision)
            index = nats_index(canonical)
            label = f"#{index}" if index is not None else "(not in NATS-TSS)"
            epoch = 50_000 / rate
            print(f"  {label:>7} {canonical}  {params:>9,} params: {rate:8.1f} img/s "
                  f"(50k-image epoch {epoch / 60:.1f} min, 200 epochs {200 * epoch / 3600:.1f} h)")


if __name__ == "__main__":
    main()
