"""Ground truth read from any NATS-Bench archive through the `nats_bench` package (fast mode)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import nats_bench
import numpy as np

from meco_lab.benchmarks.truth.base import GroundTruth, check_metric
from meco_lab.benchmarks.truth.nats_table import NATS_DATASETS
from meco_lab.core.errors import ConfigError

SPACES = {"tss": "tss", "topology": "tss", "sss": "sss", "size": "sss"}
HPS = {"tss": ("12", "200"), "sss": ("01", "12", "90")}
ARCHIVE_SIZES = {"tss": 15_625, "sss": 32_768}
# nats_bench's reload() asserts this when the archive has no file for an architecture.
_MISSING_RECORD = "invalid data path"


def _check_args(path: str | None, space: str, hp: str) -> str:
    """Validate the settings; return the canonical space name ("tss" or "sss")."""
    if space not in SPACES:
        raise ConfigError("truth.space", space, SPACES)
    if path is not None and not os.path.isdir(path):
        raise ConfigError("truth.path", path, "an existing NATS-Bench archive directory (*-simple)")
    if str(hp) not in HPS[SPACES[space]]:
        raise ConfigError("truth.hp", hp, HPS[SPACES[space]])
    return SPACES[space]


def _create(path: str | None, space: str):
    """nats_bench API in fast mode; a missing archive or meta file becomes ConfigError(truth.path)."""
    try:
        return nats_bench.create(path, space, fast_mode=True, verbose=False)
    except FileNotFoundError:
        where = path if path is not None else "$TORCH_HOME"
        example = {"tss": "NATS-tss-v1_0-3ffb9-simple", "sss": "NATS-sss-v1_0-50262-simple"}[space]
        raise ConfigError("truth.path", path, f"a NATS-Bench {space} archive directory such as {example} (no "
                                              f"meta.pickle.pbz2 in {where})") from None


def _query(api, index: int, dataset: str, hp: str, key: str) -> float | None:
    """One value of get_more_info, or None when the archive has no record for `index`."""
    try:
        info = api.get_more_info(index, dataset, hp=hp, is_random=False)
    except AssertionError as exc:
        if str(exc).startswith(_MISSING_RECORD):
            return None
        raise
    except FileNotFoundError:  # same case under `python -O`, where nats_bench's assert is skipped
        return None
    return float(info[key])


def _arch_values(api, index: int, metric: str, hp: str) -> dict[str, float]:
    """Accuracy per dataset for one architecture (NaN if missing); frees its record afterwards."""
    out = {}
    for d in NATS_DATASETS:
        query_set = "cifar10-valid" if (metric == "valid" and d == "cifar10") else d
        value = _query(api, index, query_set, hp, f"{metric}-accuracy")
        out[d] = math.nan if value is None else value
        if value is None:
            break
    # A loaded record holds every epoch of every seed (~4 MB): drop it to keep a full sweep small.
    api.arch2infos_dict.pop(index, None)
    api.evaluated_indexes.discard(index)
    return out


def load_nats_bench_truth(
    path: str | None,
    space: str = "tss",
    metric: str = "test",
    hp: str = "200",
    indices: Sequence[int] | None = None,
) -> GroundTruth:
    """Seed-mean `metric` accuracy after `hp` epochs for `indices` (default all); NaN elsewhere.

    `path` is a fast-mode archive directory (e.g. NATS-tss-v1_0-3ffb9-simple); None uses the
    nats_bench default under TORCH_HOME. Architectures the archive lacks get NaN.
    """
    check_metric(metric)
    space = _check_args(path, space, hp)
    api = _create(path, space)
    n = len(api)
    if n != ARCHIVE_SIZES[space] and n in ARCHIVE_SIZES.values():  # the other space's archive
        raise ConfigError("truth.path", path, f"a NATS-Bench {space} archive (this one holds {n} architectures)")
    todo = range(n) if indices is None else [int(i) for i in indices]
    bad = [i for i in todo if not 0 <= i < n]
    if bad:
        raise ConfigError("truth.indices", bad[:5], f"architecture indices in 0..{n - 1}")
    acc = {d: np.full(n, np.nan) for d in NATS_DATASETS}
    for i in todo:
        for d, value in _arch_values(api, i, metric, str(hp)).items():
            acc[d][i] = value
    where = path if path is not None else "default (TORCH_HOME)"
    source = f"NATS-Bench {space} archive {where}, {metric} accuracy at hp={hp} (seed mean)"
    return GroundTruth(values=acc, arch=list(api.meta_archs), source=source)
