"""`python -m meco_lab.retrain [overrides]`: train selected architectures from scratch with Lightning.

`arch=best` trains the best architecture of the latest `meco_lab.search` selection; an NB201 arch string
or a DARTS genotype (or a list) trains those. NB201 cells train with `profile=nb201` (or `smoke`), DARTS
genotypes with `profile=darts` (or `darts_smoke`). Each (architecture, seed) trains in
`<run dir>/<arch key>/seed_<seed>/` with an atomic `last.ckpt` written after every epoch, so repeating a
killed command with the same `hydra.run.dir` resumes. The run dir gets `final_accuracy.md` and `.csv`:
test accuracy mean ± std over seeds, parameter count, training time and the built-in NATS-Bench accuracy.
See docs/retrain.md (and docs/darts.md for the DARTS space).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from meco_lab.cli import CONF_DIR, main_with_checks, one_line_errors
from meco_lab.errors import ConfigError
from meco_lab.training.archs import ArchChoice, resolve_archs
from meco_lab.training.datasets import NUM_CLASSES, SIDE, TRUTH_DATASET, check_root

log = logging.getLogger(__name__)
REPO_ROOT = CONF_DIR.parent
RESERVED_TRAINER_KEYS = ("logger", "callbacks", "enable_checkpointing", "default_root_dir")
SPACES = ("nb201", "darts")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_protocol(protocol: dict[str, Any]) -> dict[str, Any]:
    """The protocol with `crop_padding` resolved per dataset later; ConfigError on a bad value."""
    for key in ("epochs", "batch_size", "eval_batch_size"):
        if not _is_int(protocol.get(key)) or protocol[key] < 1:
            raise ConfigError(f"protocol.{key}", protocol.get(key), "an integer >= 1")
    for key in ("train_images", "test_images"):
        value = protocol.get(key)
        if value is not None and (not _is_int(value) or value < 1):
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
    if padding != "auto" and (not _is_int(padding) or padding < 0):
        raise ConfigError("protocol.crop_padding", padding, "auto or an integer >= 0")
    if not _is_int(protocol.get("subset_seed")):
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
    if channels != "auto" and (not _is_int(channels) or channels < 2 or channels % 2):
        raise ConfigError("protocol.channels", channels, "auto (36 on CIFAR-10, 16 on CIFAR-100) or an even "
                                                        "integer >= 2")
    if not _is_int(protocol.get("layers")) or protocol["layers"] < 3:
        raise ConfigError("protocol.layers", protocol.get("layers"), "an integer >= 3")
    for key, high in (("auxiliary_weight", None), ("drop_path", 1.0)):
        value = protocol.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or \
                (high is not None and value >= high):
            raise ConfigError(f"protocol.{key}", value, "a number >= 0" + (f" and < {high}" if high else ""))
    if not _is_int(protocol.get("cutout")) or protocol["cutout"] < 0:
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
    if not values or not all(_is_int(s) and s >= 0 for s in values) or len(set(values)) != len(values):
        raise ConfigError("seeds", seeds, "a list of distinct integers >= 0, e.g. [0,1,2]")
    return values


def data_root(data: dict[str, Any], cifar10_jpeg: str | None) -> Path:
    """`data.root`, or for cifar10 with root null the JPEG archive (`cifar10_jpeg`, relative to the repo root)."""
    name = data.get("name")
    if name not in NUM_CLASSES:
        raise ConfigError("data", name, list(NUM_CLASSES))
    root = data.get("root")
    if root is None and name == "cifar10" and cifar10_jpeg:
        default = Path(cifar10_jpeg).expanduser()
        root = default if default.is_absolute() else (REPO_ROOT / default).resolve()
    return check_root(name, root)


def trainer_settings(trainer: dict[str, Any], epochs: int) -> tuple[dict[str, Any], int]:
    """Keyword arguments for lightning.Trainer (checked against its signature) and the epoch to stop at."""
    import inspect

    import lightning as L

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
    if not _is_int(max_epochs) or max_epochs < 1:
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


def write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


def benchmark_accuracy(choices: list[ArchChoice], dataset: str) -> dict[str, float | None]:
    """Built-in NATS-Bench TSS 200-epoch test accuracy of each architecture on `dataset` (None if not in NATS)."""
    from meco_lab.truth import load_table_truth

    truth = load_table_truth("test")
    column = truth.accuracy[TRUTH_DATASET[dataset]]
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

        return DartsClassifier(choice.arch, NUM_CLASSES[dataset], dataset, protocol["epochs"], **common,
                               channels=darts_channels(protocol, dataset), layers=protocol["layers"],
                               auxiliary_weight=float(protocol["auxiliary_weight"]),
                               drop_path=float(protocol["drop_path"]), cutout=protocol["cutout"],
                               grad_clip=None if protocol["grad_clip"] is None else float(protocol["grad_clip"]))
    from meco_lab.training.module import NB201Classifier

    return NB201Classifier(choice.arch, NUM_CLASSES[dataset], dataset, protocol["epochs"], **common)


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


def retrain_run(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> list[dict[str, Any]]:
    """Train every (architecture, seed) of the config into `run_dir`, resuming what is there; write the report."""
    console = console or Console()
    config = OmegaConf.to_container(cfg, resolve=True)
    choices = resolve_archs(config["arch"], config.get("selection"))
    root = data_root(config["data"], config.get("cifar10_jpeg"))
    seeds = check_seeds(config["seeds"])
    protocol = check_protocol(config["protocol"])
    check_space(choices, protocol, config["data"]["name"])
    threads = config.get("threads")
    if threads is not None and (not _is_int(threads) or threads < 1):
        raise ConfigError("threads", threads, "an integer >= 1, or null")
    trainer_kwargs, max_epochs = trainer_settings(config["trainer"], protocol["epochs"])
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
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
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


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="retrain")
@one_line_errors
def main(cfg: DictConfig) -> None:
    retrain_run(cfg, Path(HydraConfig.get().runtime.output_dir))


def split_top_level(text: str) -> list[str]:
    """Split at the commas outside brackets and quotes: `best,Genotype(normal=[...], ...)` -> two items."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    return [item.strip() for item in [*items, text[start:]] if item.strip()]


def _quoted(value: str) -> str:
    if value[0] in "'\"":
        return value
    return f'"{value}"' if "'" in value else f"'{value}'"


def quote_arch_overrides(argv: list[str]) -> list[str]:
    """Quote the arch strings of `arch=` overrides: Hydra's grammar rejects `~` and DARTS genotypes unquoted."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if key == "arch" and sep and value:
            if value.startswith("[") and value.endswith("]"):
                value = "[" + ",".join(_quoted(v) for v in split_top_level(value[1:-1])) + "]"
            elif value[0] not in "'\"" and ("'" not in value or value.startswith("Genotype")):
                value = _quoted(value)
            arg = f"{key}={value}"
        out.append(arg)
    return out


if __name__ == "__main__":
    sys.argv[1:] = quote_arch_overrides(sys.argv[1:])
    main_with_checks(main)
