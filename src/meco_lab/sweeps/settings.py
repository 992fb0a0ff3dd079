"""A sweep's `sweep.*` settings: where it lives, its storage, parallelism, executor, cache and tracking."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from meco_lab.sweeps.spec import default_storage


@dataclass(frozen=True)
class SweepSettings:
    """`sweep.*` settings: where the sweep lives, its storage, parallelism, executor, cache and tracking.

    `workers` trials run at once: in spawned processes (`executor="local"`) or as Ray tasks on the cluster at
    `address` (`executor="ray"`, each task asking for `num_cpus` CPUs and `num_gpus` GPUs).
    """

    dir: Path
    storage: str | None = None
    workers: int = 1
    cache_dir: Path = Path("outputs/cache/scores")
    tracking: str = "wandb"
    overrides: tuple[str, ...] = ()  # extra config overrides for every trial
    executor: str = "local"
    address: str = "auto"
    num_cpus: float = 1
    num_gpus: float = 0
    one_pass: bool = True  # grid points that differ only in the proxy are scored together first (sweeps.onepass)

    @property
    def storage_url(self) -> str:
        return self.storage or default_storage(self.dir)

    @property
    def local(self) -> bool:
        return self.storage is None or self.storage.startswith("sqlite")
