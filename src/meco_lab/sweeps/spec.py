"""Sweep definitions: one YAML per named sweep in sweeps/ (base overrides, swept parameters, sampler, seeds),
and the record of a run sweep (`sweep.json`): the spec, the command's overrides, the storage and the tasks.

A `SweepSpec` is read from YAML and written to and read back from `sweep.json` in one form, so the runner,
the report and the paper comparison read the same object.
"""

from __future__ import annotations

import itertools
import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meco_lab.core.checks import check_choice
from meco_lab.core.errors import ConfigError
from meco_lab.core.io import write_json
from meco_lab.core.resources import sweeps_dir
from meco_lab.evaluation.summary import METRICS

SAMPLERS = ("grid", "tpe")
RECORD = "sweep.json"


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

    def to_dict(self) -> Any:
        return list(self.values) if self.values is not None else {"low": self.low, "high": self.high, "log": self.log}


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
        """The Optuna study's name, and the default sweep dir's: `<name>` or `<name>-<profile>`."""
        return self.name if self.profile is None else f"{self.name}-{self.profile}"

    @property
    def objective(self) -> tuple[str, str]:
        """(metric, task) of the objective `<metric>.<task>`."""
        head, _, task = self.metric.partition(".")
        return head, task

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
            "params": {p.name: p.to_dict() for p in self.params}, "metric": self.metric, "direction": self.direction,
            "seeds": list(self.seeds), "trials": self.budget, "split": self.split, "paper": self.paper,
            "profile": self.profile, "profile_overrides": list(self.profile_overrides),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SweepSpec:
        """The spec `to_dict` wrote."""
        return cls(name=raw["name"], description=raw["description"], base=tuple(raw["base"]),
                   params=tuple(_param(k, v, raw["sampler"]) for k, v in raw["params"].items()),
                   sampler=raw["sampler"], metric=raw["metric"], direction=raw["direction"],
                   seeds=tuple(raw["seeds"]), trials=raw.get("trials"), split=raw.get("split"),
                   paper=raw.get("paper") or {}, profile=raw.get("profile"),
                   profile_overrides=tuple(raw.get("profile_overrides", ())))


def default_storage(sweep_dir: Path) -> str:
    """The study storage of a sweep dir without `sweep.storage`: SQLite in the dir."""
    return f"sqlite:///{(Path(sweep_dir) / 'optuna.db').resolve()}"


@dataclass(frozen=True)
class SweepRecord:
    """What `sweep.json` holds: the spec, the extra overrides of the command, the storage URL, the tasks the
    trials are ranked on (name -> description) and the command line that ran the sweep."""

    spec: SweepSpec
    overrides: tuple[str, ...]
    storage: str
    tasks: dict[str, dict[str, Any]]
    command: str

    def write(self, sweep_dir: Path) -> None:
        write_json(Path(sweep_dir) / RECORD, {**self.spec.to_dict(), "overrides": list(self.overrides),
                                              "storage": self.storage, "tasks": self.tasks, "command": self.command})

    @classmethod
    def load(cls, sweep_dir: Path) -> SweepRecord:
        """The record of a sweep dir; sweeps run before tasks were recorded ranked on NATS-Bench's three."""
        raw = json.loads((Path(sweep_dir) / RECORD).read_text())
        nats = {d: {"metric": "test accuracy", "unit": "%", "higher_is_better": True}
                for d in ("cifar10", "cifar100", "ImageNet16-120")}
        return cls(spec=SweepSpec.from_dict(raw), overrides=tuple(raw.get("overrides", ())),
                   storage=raw.get("storage") or default_storage(sweep_dir), tasks=raw.get("tasks") or nats,
                   command=raw.get("command") or sweep_command(SweepSpec.from_dict(raw), raw.get("overrides", ())))


def sweep_command(spec: SweepSpec, overrides: tuple[str, ...] | list[str] = ()) -> str:
    """A command that runs `spec` (for records written before the command line was kept)."""
    parts = ["just sweep", spec.name, *([f"profile={spec.profile}"] if spec.profile else []), *overrides]
    return " ".join(parts)


def command_line(argv: list[str] | None = None) -> str:
    """This process's command line as a user would type it: `python -m meco_lab.sweep ...`."""
    return " ".join(["python -m meco_lab.sweep", *(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))])


def available_sweeps() -> list[str]:
    return sorted(p.stem for p in sweeps_dir().glob("*.yaml"))


def _param(name: str, spec: Any, sampler: str) -> Param:
    if isinstance(spec, list) and spec:
        return Param(name, tuple(spec))
    if isinstance(spec, dict) and {"low", "high"} <= set(spec) and sampler == "tpe":
        return Param(name, low=spec["low"], high=spec["high"], log=bool(spec.get("log", False)))
    allowed = "a non-empty list of values" + (", or {low, high[, log]}" if sampler == "tpe" else "")
    raise ConfigError(f"params.{name}", spec, allowed)


def load_sweep(name: str, profile: str | None = None) -> SweepSpec:
    """The sweep `sweeps/<name>.yaml` (or a sweep YAML file given by path), with `profile` applied.

    The objective's task (`<metric>.<task>`) is checked against the scored benchmark when the sweep runs.
    """
    path = Path(name) if name.endswith((".yaml", ".yml")) else sweeps_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError("sweep", name, [*available_sweeps(), "or a path to a sweep .yaml"])
    name = path.stem
    raw = yaml.safe_load(path.read_text())
    sampler = check_choice("sampler", raw.get("sampler", "grid"), SAMPLERS)
    profiles = raw.get("profiles", {})
    chosen: dict[str, Any] = {}
    if profile is not None:
        chosen = profiles[check_choice("profile", profile, sorted(profiles))]
    objective = chosen.get("objective", raw.get("objective", {}))  # a profile may set its own objective
    metric, direction = objective.get("metric", "spearman.cifar10"), objective.get("direction", "maximize")
    head, _, task = metric.partition(".")
    if head not in METRICS or not task:
        raise ConfigError("objective.metric", metric, f"<{'|'.join(METRICS)}>.<task of the benchmark>")
    swept = raw.get("params", {})
    narrowed = chosen.get("params") or {}  # a profile may narrow a swept parameter's values
    for key in narrowed:
        if key not in swept:
            raise ConfigError(f"profiles.{profile}.params", key, f"a swept parameter: {', '.join(swept)}")
    params = tuple(_param(k, narrowed.get(k, v), sampler) for k, v in swept.items())
    if sampler == "grid" and any(p.is_range for p in params):
        raise ConfigError("sampler", sampler, "tpe for swept ranges")
    return SweepSpec(
        name=name, description=raw.get("description", ""), base=tuple(raw.get("base", [])), params=params,
        sampler=sampler, metric=metric, direction=direction,
        seeds=tuple(chosen.get("seeds", raw.get("seeds", [0]))), trials=chosen.get("trials", raw.get("trials")),
        split=raw.get("split"), paper={str(k): v for k, v in (raw.get("paper") or {}).items()}, profile=profile,
        profile_overrides=tuple(chosen.get("overrides", [])),
    )
