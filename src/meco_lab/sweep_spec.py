"""Sweep definitions: one YAML per named sweep in sweeps/ (base overrides, swept parameters, sampler, seeds)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meco_lab.errors import ConfigError

SWEEPS_DIR = Path(__file__).resolve().parents[2] / "sweeps"
SAMPLERS = ("grid", "tpe")
METRICS = ("spearman", "kendall", "top10_mean_accuracy")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


@dataclass(frozen=True)
class Param:
    """A swept config key (or config group): a list of values, or an int/float range for TPE."""

    name: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def is_range(self) -> bool:
        return self.values is None


@dataclass(frozen=True)
class SweepSpec:
    name: str
    description: str
    base: tuple[str, ...]
    params: tuple[Param, ...]
    sampler: str
    metric: str
    direction: str
    seeds: tuple[int, ...]
    trials: int | None = None
    split: dict[str, Any] | None = None
    paper: dict[str, str] = field(default_factory=dict)
    profile: str | None = None
    profile_overrides: tuple[str, ...] = ()

    @property
    def study_name(self) -> str:
        return self.name if self.profile is None else f"{self.name}-{self.profile}"

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the swept values (grid sampler)."""
        names = [p.name for p in self.params]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(p.values for p in self.params))]

    @property
    def budget(self) -> int:
        return len(self.grid()) if self.sampler == "grid" else int(self.trials or 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "base": list(self.base), "sampler": self.sampler,
            "params": {p.name: list(p.values) if p.values is not None else {"low": p.low, "high": p.high,
                                                                             "log": p.log} for p in self.params},
            "metric": self.metric, "direction": self.direction, "seeds": list(self.seeds), "trials": self.budget,
            "split": self.split, "paper": self.paper, "profile": self.profile,
            "profile_overrides": list(self.profile_overrides),
        }


def available_sweeps() -> list[str]:
    return sorted(p.stem for p in SWEEPS_DIR.glob("*.yaml"))


def _param(name: str, spec: Any, sampler: str) -> Param:
    if isinstance(spec, list) and spec:
        return Param(name, tuple(spec))
    if isinstance(spec, dict) and {"low", "high"} <= set(spec) and sampler == "tpe":
        return Param(name, low=spec["low"], high=spec["high"], log=bool(spec.get("log", False)))
    allowed = "a non-empty list of values" + (", or {low, high[, log]}" if sampler == "tpe" else "")
    raise ConfigError(f"params.{name}", spec, allowed)


def load_sweep(name: str, profile: str | None = None) -> SweepSpec:
    """The sweep `sweeps/<name>.yaml` (or a sweep YAML file given by path), with `profile` applied."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else SWEEPS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError("sweep", name, [*available_sweeps(), "or a path to a sweep .yaml"])
    name = path.stem
    raw = yaml.safe_load(path.read_text())
    sampler = raw.get("sampler", "grid")
    if sampler not in SAMPLERS:
        raise ConfigError("sampler", sampler, SAMPLERS)
    objective = raw.get("objective", {})
    metric, direction = objective.get("metric", "spearman.cifar10"), objective.get("direction", "maximize")
    head, _, dataset = metric.partition(".")
    if head not in METRICS or dataset not in DATASETS:
        raise ConfigError("objective.metric", metric, f"<{'|'.join(METRICS)}>.<{'|'.join(DATASETS)}>")
    profiles = raw.get("profiles", {})
    chosen: dict[str, Any] = {}
    if profile is not None:
        if profile not in profiles:
            raise ConfigError("profile", profile, sorted(profiles))
        chosen = profiles[profile]
    params = tuple(_param(k, v, sampler) for k, v in raw.get("params", {}).items())
    if sampler == "grid" and any(p.is_range for p in params):
        raise ConfigError("sampler", sampler, "tpe for swept ranges")
    return SweepSpec(
        name=name, description=raw.get("description", ""), base=tuple(raw.get("base", [])), params=params,
        sampler=sampler, metric=metric, direction=direction,
        seeds=tuple(chosen.get("seeds", raw.get("seeds", [0]))), trials=chosen.get("trials", raw.get("trials")),
        split=raw.get("split"), paper={str(k): v for k, v in (raw.get("paper") or {}).items()}, profile=profile,
        profile_overrides=tuple(chosen.get("overrides", [])),
    )
