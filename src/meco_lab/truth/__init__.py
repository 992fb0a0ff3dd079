"""Ground-truth accuracies for benchmark architectures: the built-in table or a NATS-Bench archive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meco_lab.errors import ConfigError
from meco_lab.truth.base import ARCHIVE_SIZES, DATASETS, METRICS, GroundTruth, check_metric, no_truth
from meco_lab.truth.nats_archive import load_nats_bench_truth
from meco_lab.truth.table import load_params, load_table_truth

__all__ = [
    "DATASETS",
    "METRICS",
    "NAMES",
    "GroundTruth",
    "load_ground_truth",
    "load_nats_bench_truth",
    "load_params",
    "load_table_truth",
    "load_truth_config",
]

NAMES = ("table", "nats_bench")


def load_ground_truth(
    name: str,
    metric: str = "test",
    path: str | None = None,
    hp: str = "200",
    indices: Sequence[int] | None = None,
    space: str = "tss",
) -> GroundTruth:
    """Ground truth from `name` "table" (built-in, NATS TSS, 200 epochs) or "nats_bench" (an archive).

    `space` is the NATS-Bench archive ("tss" or "sss") of the scored space. `indices` limits the
    archive queries of "nats_bench" (others stay NaN); the table knows all TSS architectures and
    ignores it. "table" only has hp "200" and no path, and no accuracy for SSS (all NaN).
    """
    if name not in NAMES:
        raise ConfigError("truth.name", name, NAMES)
    check_metric(metric)
    if name == "nats_bench":
        return load_nats_bench_truth(path, space=space, metric=metric, hp=hp, indices=indices)
    if path is not None:
        raise ConfigError("truth.path", path, "None for truth.name='table' (the table is built in)")
    if str(hp) != "200":
        raise ConfigError("truth.hp", hp, "'200' for truth.name='table'")
    if space not in ARCHIVE_SIZES:
        raise ConfigError("truth.space", space, tuple(ARCHIVE_SIZES))
    if space != "tss":
        return no_truth(ARCHIVE_SIZES[space], f"built-in table (NATS-Bench TSS only): no {space.upper()} accuracy")
    return load_table_truth(metric)


def load_truth_config(truth: Mapping[str, Any], indices: Sequence[int] | None = None,
                      space: str = "tss") -> GroundTruth:
    """`load_ground_truth` for a `truth` config group (`name`, `metric`, `path`, `hp`)."""
    return load_ground_truth(truth["name"], truth.get("metric", "test"), truth.get("path"),
                             str(truth.get("hp", "200")), indices, space=space)
