"""A retraining run: every (architecture, seed) trained with Lightning into its own resumable folder, then tested;
the run dir gets final_accuracy.md / .csv and, with `tracking=wandb`, one W&B run."""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from meco_lab.benchmarks.truth import load_table_truth
from meco_lab.core.checks import check_int
from meco_lab.core.errors import ConfigError
from meco_lab.core.io import write_json, write_text
from meco_lab.inputs import DATASET_CLASSES
from meco_lab.tracking import check_tracking
from meco_lab.training.archs import ArchChoice, resolve_archs
from meco_lab.training.datasets import TRUTH_DATASET
from meco_lab.training.protocol import (
    check_protocol,
    check_seeds,
    check_space,
    crop_padding,
    darts_channels,
    data_root,
    trainer_settings,
)


def run_fingerprint(config: dict[str, Any]) -> dict[str, Any]:
    """What every training run in one run dir shares: the dataset and the protocol (not archs, seeds, trainer)."""
    return {"data": config["data"]["name"], "protocol": config["protocol"]}


def check_run_dir(run_dir: Path, fingerprint: dict[str, Any]) -> None:
    path = run_dir / "retrain_fingerprint.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != fingerprint:
            diff = sorted(k for k in set(old["protocol"]) | set(fingerprint["protocol"])
                          if old["protocol"].get(k) != fingerprint["protocol"].get(k))
            what = f"data={old['data']}" if old["data"] != fingerprint["data"] else "protocol." + ",".join(diff)
            raise ConfigError("hydra.run.dir", str(run_dir),
                              f"a fresh run dir, or one trained with the same data and protocol (it differs in {what})")


def write_genotype(arch_dir: Path, arch: str) -> None:
    """`genotype.txt` and the cell picture `genotype.png` of a DARTS architecture, once per arch dir."""
    from meco_lab.spaces.darts.genotype import parse_genotype
    from meco_lab.spaces.darts.plot import plot_genotype

    arch_dir.mkdir(parents=True, exist_ok=True)
    if not (arch_dir / "genotype.png").is_file():
        (arch_dir / "genotype.txt").write_text(arch + "\n")
        plot_genotype(parse_genotype(arch), arch_dir / "genotype.png")


def benchmark_accuracy(choices: list[ArchChoice], dataset: str) -> dict[str, float | None]:
    """Built-in NATS-Bench TSS 200-epoch test accuracy of each architecture on `dataset` (None if not in NATS)."""
    truth = load_table_truth("test")
    column = truth.values[TRUTH_DATASET[dataset]]
    return {c.arch: (float(column[c.index]) if c.index is not None else None) for c in choices}


def device_name(trainer) -> str:
    import torch

    device = trainer.strategy.root_device
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads)"


def build_model(choice: ArchChoice, config: dict[str, Any]):
    """The LightningModule of the protocol's space: `NB201Classifier` or `DartsClassifier`."""
    protocol, dataset = config["protocol"], config["data"]["name"]
    common = {"lr": float(protocol["lr"]), "momentum": float(protocol["momentum"]),
              "nesterov": protocol["nesterov"], "weight_decay": float(protocol["weight_decay"]),
              "lr_min": float(protocol["lr_min"]), "crop_padding": crop_padding(protocol, dataset),
              "flip": protocol["flip"]}
    if choice.space == "darts":
        from meco_lab.training.darts_module import DartsClassifier

        return DartsClassifier(choice.arch, DATASET_CLASSES[dataset], dataset, protocol["epochs"], **common,
                               channels=darts_channels(protocol, dataset), layers=protocol["layers"],
                               auxiliary_weight=float(protocol["auxiliary_weight"]),
                               drop_path=float(protocol["drop_path"]), cutout=protocol["cutout"],
                               grad_clip=None if protocol["grad_clip"] is None else float(protocol["grad_clip"]))
    from meco_lab.training.module import NB201Classifier

    return NB201Classifier(choice.arch, DATASET_CLASSES[dataset], dataset, protocol["epochs"], **common)


def count_params(choice: ArchChoice, net) -> int:
    """Parameters of the network trained; DARTS counts leave the auxiliary head out, as DARTS reports."""
    if choice.space == "darts":
        from meco_lab.spaces.darts.network import count_params as darts_params

        return darts_params(net)
    return sum(p.numel() for p in net.parameters())


def train_one(choice: ArchChoice, seed: int, seed_dir: Path, config: dict[str, Any], datamodule, trainer_kwargs,
              max_epochs: int, console: Console) -> dict[str, Any] | None:
    """Train (or resume) one architecture with one seed, test it, and write `result.json`; None if interrupted."""
    import lightning as L
    import torch
    from lightning.pytorch.utilities import rank_zero_only

    from meco_lab.training.module import LastCheckpoint

    protocol = config["protocol"]
    result_path = seed_dir / "result.json"
    if result_path.is_file():
        result = json.loads(result_path.read_text())
        if result.get("max_epochs") == max_epochs:
            console.print(f"{choice.key} seed {seed}: done already ({result['test_acc']:.2f}%), skipped")
            return result
    seed_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(seed, workers=True, verbose=False)
    model = build_model(choice, config)
    ckpt = seed_dir / "last.ckpt"
    resume = None
    if ckpt.is_file():
        done = len(torch.load(ckpt, map_location="cpu", weights_only=False).get("meco_lab_history", []))
        console.print(f"{choice.key} seed {seed}: resuming from {ckpt} after epoch {done} of {max_epochs}")
        resume = str(ckpt)

    def report(record: dict[str, float]) -> None:
        console.print(f"{choice.key} seed {seed} epoch {int(record['epoch']) + 1}/{max_epochs}: "
                      f"loss {record['train_loss']:.4f}, train acc {record['train_acc']:.2f}%, "
                      f"lr {record['lr']:.5f}, {record['seconds']:.1f} s")

    trainer = L.Trainer(**trainer_kwargs, max_epochs=max_epochs, logger=False, enable_checkpointing=True,
                        callbacks=[LastCheckpoint(ckpt, report)], default_root_dir=str(seed_dir),
                        enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume, weights_only=False)  # our own checkpoint
    if trainer.interrupted:
        console.print(f"{choice.key} seed {seed}: interrupted; repeat the command to resume from {ckpt}")
        return None
    start = time.perf_counter()
    trainer.test(model, datamodule=datamodule, verbose=False)
    result = {
        "arch": choice.arch,
        "nats_index": choice.index,
        "origin": choice.origin,
        "seed": seed,
        "test_acc": model.test_accuracy,
        "test_images": len(datamodule.test_set),
        "train_images": len(datamodule.train_set),
        "params": count_params(choice, model.net),
        "train_seconds": float(sum(r["seconds"] for r in model.history)),
        "test_seconds": time.perf_counter() - start,
        "epochs_trained": len(model.history),
        "epochs_protocol": protocol["epochs"],
        "max_epochs": max_epochs,
        "final_train_loss": model.history[-1]["train_loss"] if model.history else None,
        "device": device_name(trainer),
        "precision": str(trainer.precision),
    }
    if rank_zero_only.rank == 0:
        write_json(result_path, result)
    console.print(f"{choice.key} seed {seed}: test accuracy {result['test_acc']:.2f}% on {result['test_images']} "
                  f"images after {result['epochs_trained']} epochs ({result['train_seconds']:.1f} s of training)")
    return result


@dataclass
class RetrainPlan:
    """A checked retraining: the architectures, data location, seeds, protocol and Lightning settings."""

    choices: list[ArchChoice]
    root: Path
    seeds: list[int]
    protocol: dict[str, Any]
    threads: int | None
    trainer_kwargs: dict[str, Any]
    max_epochs: int


def plan_retrain(config: dict[str, Any]) -> RetrainPlan:
    """Every setting of a retraining, checked before any work (Lightning is loaded only to check `trainer.*`)."""
    choices = resolve_archs(config["arch"], config.get("selection"))
    root = data_root(config["data"], config.get("cifar10_jpeg"))
    seeds = check_seeds(config["seeds"])
    protocol = check_protocol(config["protocol"])
    check_space(choices, protocol, config["data"]["name"])
    threads = check_int("threads", config.get("threads"), 1, none_ok=True)
    check_tracking(config["tracking"])
    trainer_kwargs, max_epochs = trainer_settings(config["trainer"], protocol["epochs"])
    return RetrainPlan(choices, root, seeds, protocol, threads, trainer_kwargs, max_epochs)


def retrain_run(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> list[dict[str, Any]]:
    """Train every (architecture, seed) of the config into `run_dir`, resuming what is there; write the report."""
    console = console or Console()
    config = OmegaConf.to_container(cfg, resolve=True)
    plan = plan_retrain(config)
    choices, root, seeds, protocol, threads = plan.choices, plan.root, plan.seeds, plan.protocol, plan.threads
    trainer_kwargs, max_epochs = plan.trainer_kwargs, plan.max_epochs
    fingerprint = run_fingerprint(config)
    check_run_dir(run_dir, fingerprint)

    import polars as pl
    import torch
    from lightning.pytorch.utilities import rank_zero_only

    from meco_lab.training.data import ImageDataModule
    from meco_lab.training.report import log_wandb, rich_table, summarise, write_report

    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Consider setting `persistent_workers=True`.*")
    warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")  # intended: augment there
    if threads is not None:
        torch.set_num_threads(threads)
    datamodule = ImageDataModule(config["data"]["name"], root, batch_size=protocol["batch_size"],
                                 eval_batch_size=protocol["eval_batch_size"], train_images=protocol["train_images"],
                                 test_images=protocol["test_images"], subset_seed=protocol["subset_seed"],
                                 cache_dir=config.get("cache_dir"))
    datamodule.prepare_data()
    datamodule.setup("fit")  # bad dataset files fail here, before anything is written
    is_zero = rank_zero_only.rank == 0
    if is_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "retrain_fingerprint.json", fingerprint)
        write_text(run_dir / "config.yaml", OmegaConf.to_yaml(config))
    console.print(f"retraining {len(choices)} architecture(s) x {len(seeds)} seed(s) on {config['data']['name']} "
                  f"({len(datamodule.train_set)} train / {len(datamodule.test_set)} test images from {root}), "
                  f"protocol {protocol['name']}, {max_epochs} of {protocol['epochs']} epochs; outputs in {run_dir}")

    results: list[dict[str, Any]] = []
    for choice in choices:
        if choice.space == "darts" and is_zero:
            write_genotype(run_dir / choice.key, choice.arch)
        for seed in seeds:
            result = train_one(choice, seed, run_dir / choice.key / f"seed_{seed}", config, datamodule,
                               trainer_kwargs, max_epochs, console)
            if result is None:
                raise SystemExit(130)
            results.append(result)
    if not is_zero:
        return results

    dataset = config["data"]["name"]
    table = summarise(results, benchmark_accuracy(choices, dataset), dataset, protocol["name"])
    title = f"Retraining on {dataset} ({protocol['name']} protocol)"
    try:
        command = " ".join(["python -m meco_lab.retrain", *HydraConfig.get().overrides.task])
    except ValueError:  # called outside a Hydra app
        command = "python -m meco_lab.retrain"
    notes = [
        f"command: `{command}`",
        f"data: {len(datamodule.train_set)} train / {len(datamodule.test_set)} test images from `{root}`",
        f"protocol {protocol['name']}: SGD lr {protocol['lr']} (cosine per step to {protocol['lr_min']} over "
        f"{protocol['epochs']} epochs), momentum {protocol['momentum']} nesterov={protocol['nesterov']}, weight decay "
        f"{protocol['weight_decay']}, batch {protocol['batch_size']}, crop padding {crop_padding(protocol, dataset)}, "
        f"flip={protocol['flip']}",
        *([f"DARTS NetworkCIFAR: {darts_channels(protocol, dataset)} initial channels, {protocol['layers']} layers, "
           f"auxiliary weight {protocol['auxiliary_weight']}, drop path {protocol['drop_path']} (linear from 0), "
           f"cutout {protocol['cutout']}, gradient clip {protocol['grad_clip']}; params without the auxiliary head"]
          if protocol.get("space") == "darts" else []),
        f"device: {results[0]['device']}, precision {results[0]['precision']}",
        "std is the population std over seeds (0 for one seed); train time is the sum of epoch times, "
        "across resumes, without data loading or testing",
        f"benchmark acc.: built-in NATS-Bench TSS table, {TRUTH_DATASET[dataset]} test accuracy after 200 epochs "
        "(seed mean); n/a for architectures outside NATS-TSS",
    ]
    write_report(run_dir, table, title, notes)
    console.print(rich_table(table, title))
    console.print(f"report: {run_dir / 'final_accuracy.md'} and final_accuracy.csv")
    histories = {}
    for choice in choices:
        for seed in seeds:
            path = run_dir / choice.key / f"seed_{seed}" / "history.csv"
            if path.is_file():
                histories[f"{choice.key}/seed_{seed}"] = pl.read_csv(path)
    log_wandb(config["tracking"], run_dir, config, table, histories)
    return results
