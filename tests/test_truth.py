"""Tests of meco_lab.benchmarks.truth: built-in table, NATS-Bench archive backend and config errors."""

from __future__ import annotations

from pathlib import Path

import nats_bench
import numpy as np
import pytest
from conftest import load_ground_truth
from scipy.stats import spearmanr

from meco_lab.benchmarks.truth import (
    NATS_DATASETS,
    GroundTruth,
    load_nats_bench_truth,
    load_params,
    load_table_truth,
    nats_archive,
)
from meco_lab.core.errors import ConfigError

FAKE_TSS = str(Path(__file__).parent / "fixtures" / "fake_torch_dir" / "NATS-tss-v1_0-3ffb9-simple")
FAKE_ARCHS = (0, 11, 284)
ARCH_STRINGS = {
    0: "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    11: "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    284: "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|",
}


@pytest.fixture(scope="module")
def api():
    return nats_bench.create(FAKE_TSS, "tss", fast_mode=True, verbose=False)


@pytest.fixture(scope="module")
def table() -> GroundTruth:
    return load_table_truth("test")


@pytest.fixture(scope="module")
def archive_truth() -> GroundTruth:
    return load_ground_truth("nats_bench", path=FAKE_TSS)


def test_table_shape_and_known_values(table: GroundTruth) -> None:
    assert set(table.values) == set(NATS_DATASETS)
    assert len(table) == 15_625 and len(table.arch) == 15_625
    for acc in table.values.values():
        assert acc.dtype == np.float64 and acc.shape == (15_625,)
        assert np.isfinite(acc).all()
    assert table.values["cifar10"][0] == 85.86333333333334
    assert table.values["cifar100"][0] == 52.913333294677734
    assert table.values["ImageNet16-120"][0] == 26.6333332739936
    assert table.values["cifar10"].max() == pytest.approx(94.37333333333333)
    for i, arch in ARCH_STRINGS.items():
        assert table.arch[i] == arch
    assert "test accuracy at 200 epochs" in table.source


def test_table_arrays_are_fresh(table: GroundTruth) -> None:
    again = load_table_truth("test")
    again.values["cifar10"][0] = -1.0
    assert load_table_truth("test").values["cifar10"][0] == 85.86333333333334
    assert table.values["cifar10"][0] == 85.86333333333334


def test_valid_differs_from_test_but_ranks_agree(table: GroundTruth) -> None:
    valid = load_table_truth("valid")
    assert valid.values["cifar10"][0] == pytest.approx(81.982667, abs=1e-9)  # cifar10-valid setting
    assert valid.values["cifar100"][0] == pytest.approx(52.7, abs=1e-9)
    for d in NATS_DATASETS:
        assert not np.array_equal(valid.values[d], table.values[d])
        rho = spearmanr(valid.values[d], table.values[d]).statistic
        assert rho > 0.98, (d, rho)
    assert valid.arch == table.arch


@pytest.mark.parametrize("dataset", NATS_DATASETS)
def test_params_match_archive(api, dataset: str) -> None:
    params = load_params(dataset)
    assert params.dtype == np.int64 and params.shape == (15_625,)
    for i in FAKE_ARCHS:
        assert params[i] == round(api.get_cost_info(i, dataset)["params"] * 1e6)
    expected_arch0 = {"cifar10": 129_306, "cifar100": 135_156, "ImageNet16-120": 136_456}
    assert params[0] == expected_arch0[dataset]


def test_archive_matches_table_on_fake_archs(archive_truth: GroundTruth, table: GroundTruth) -> None:
    for d in NATS_DATASETS:
        acc = archive_truth.values[d]
        assert acc.shape == (15_625,)
        for i in FAKE_ARCHS:
            assert acc[i] == table.values[d][i]
        others = np.ones(15_625, dtype=bool)
        others[list(FAKE_ARCHS)] = False
        assert np.isnan(acc[others]).all()
    assert archive_truth.arch == table.arch
    assert "hp=200" in archive_truth.source


def test_archive_matches_get_more_info(archive_truth: GroundTruth, api) -> None:
    for d in NATS_DATASETS:
        for i in FAKE_ARCHS:
            expected = api.get_more_info(i, d, hp="200", is_random=False)["test-accuracy"]
            assert archive_truth.values[d][i] == expected


def test_archive_valid_metric(api) -> None:
    truth = load_nats_bench_truth(FAKE_TSS, metric="valid", indices=FAKE_ARCHS)
    table_valid = load_table_truth("valid")
    for i in FAKE_ARCHS:
        c10 = api.get_more_info(i, "cifar10-valid", hp="200", is_random=False)["valid-accuracy"]
        assert truth.values["cifar10"][i] == c10
        c100 = api.get_more_info(i, "cifar100", hp="200", is_random=False)["valid-accuracy"]
        assert truth.values["cifar100"][i] == c100
        for d in NATS_DATASETS:  # the table stores 6 decimals
            assert truth.values[d][i] == pytest.approx(table_valid.values[d][i], abs=1e-6)


def test_archive_indices_and_hp(api) -> None:
    truth = load_nats_bench_truth(FAKE_TSS, hp="12", indices=[11, 5])
    assert np.isfinite(truth.values["cifar10"]).sum() == 1
    expected = api.get_more_info(11, "cifar10", hp="12", is_random=False)["test-accuracy"]
    assert truth.values["cifar10"][11] == expected
    assert expected != load_table_truth().values["cifar10"][11]


def test_archive_other_assertion_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        meta_archs = ("a",)

        def __len__(self) -> int:
            return 1

        def get_more_info(self, *args, **kwargs):
            raise AssertionError("invalid format of data in x")

    monkeypatch.setattr(nats_archive.nats_bench, "create", lambda *a, **k: Broken())
    with pytest.raises(AssertionError, match="invalid format"):
        load_nats_bench_truth(FAKE_TSS)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"name": "nasbench"}, "truth.name"),
        ({"name": "table", "metric": "train"}, "truth.metric"),
        ({"name": "nats_bench", "metric": "loss", "path": FAKE_TSS}, "truth.metric"),
        ({"name": "nats_bench", "path": "/no/such/NATS-tss-v1_0-3ffb9-simple"}, "truth.path"),
        ({"name": "nats_bench", "path": FAKE_TSS, "hp": "90"}, "truth.hp"),
        ({"name": "nats_bench", "path": FAKE_TSS, "indices": [15_625]}, "truth.indices"),
        ({"name": "table", "path": FAKE_TSS}, "truth.path"),
    ],
)
def test_config_errors(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_ground_truth(**kwargs)
    assert info.value.key == key
    assert key in str(info.value)
    assert repr(info.value.value) in str(info.value)


def test_empty_archive_dir_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"truth\.path"):
        load_nats_bench_truth(str(tmp_path))


def test_load_params_rejects_unknown_dataset() -> None:
    with pytest.raises(ConfigError, match="dataset"):
        load_params("cifar10-valid")
