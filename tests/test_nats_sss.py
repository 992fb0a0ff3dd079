"""The NATS-Bench size space: order, network, exact sizes, MeCo hooks, the no-accuracy run and the width effect."""

from __future__ import annotations

import io
import json

import nats_bench
import numpy as np
import polars as pl
import pytest
import torch
from conftest import REPO, load_ground_truth, run_cli
from omegaconf import OmegaConf
from rich.console import Console
from scipy.stats import spearmanr

from meco_lab.benchmarks.nats import NATS_INPUTS
from meco_lab.benchmarks.truth import NATS_DATASETS
from meco_lab.core.config import compose_config
from meco_lab.core.errors import ConfigError
from meco_lab.evaluation.width import WIDTHS, min_eig_terms
from meco_lab.inputs import make_input
from meco_lab.proxies import PROXIES
from meco_lab.proxies.cost import count_flops, count_params
from meco_lab.proxies.reference import reference_meco
from meco_lab.scoring.plan import known_values, plan_run
from meco_lab.scoring.run import score_run
from meco_lab.spaces import SPACES, Candidate
from meco_lab.spaces.nb201.cell import parse_arch
from meco_lab.spaces.probes import collect_probes
from meco_lab.spaces.sss.network import DynamicShapeTinyNet

FIXTURE_HOME = REPO / "tests" / "fixtures" / "fake_torch_dir"
FAKE_SSS = str(FIXTURE_HOME / "NATS-sss-v1_0-50262-simple")
SPACE = SPACES.get("nats_sss")()
pytestmark = pytest.mark.usefixtures("one_thread")  # small convs run faster without thread spinning
ARCHIVE_ARCHS = (0, 11, 284)  # the fixture archive's architectures: 8:8:8:8:8, 8:8:8:16:32, 8:8:40:32:40


@pytest.fixture(scope="module")
def api():
    return nats_bench.create(FAKE_SSS, "sss", fast_mode=True, verbose=False)


def test_order_is_nats_order(api):
    assert len(SPACE) == 32_768
    assert [SPACE.arch(i) for i in range(len(SPACE))] == list(api.meta_archs)
    assert (SPACE.arch(0), SPACE.arch(11), SPACE.arch(284), SPACE.arch(32_767)) == (
        "8:8:8:8:8",
        "8:8:8:16:32",
        "8:8:40:32:40",
        "64:64:64:64:64",
    )


@pytest.mark.parametrize("dataset", NATS_DATASETS)
def test_params_and_flops_equal_the_archive(api, dataset):
    """Network, closed form and the `flops` proxy all give NATS-Bench's numbers, exactly."""
    classes, resolution = NATS_INPUTS[dataset]
    size = SPACE.size(list(ARCHIVE_ARCHS), classes, resolution)
    x = torch.zeros(1, 3, resolution, resolution)
    flops = PROXIES.get("flops")()
    for k, i in enumerate(ARCHIVE_ARCHS):
        cost = api.get_cost_info(i, dataset)
        assert count_params(SPACE.network(i, classes, seed=0)) == round(cost["params"] * 1e6)
        assert size["params"][k] == pytest.approx(cost["params"], abs=1e-12)
        assert flops.score(Candidate(SPACE, i, 0, classes), x) == pytest.approx(cost["flops"], abs=1e-9)
        assert size["flops"][k] == pytest.approx(cost["flops"], abs=1e-9)


def test_closed_form_sizes_equal_the_networks():
    sample = np.random.default_rng(5).choice(len(SPACE), 12, replace=False).tolist()
    size = SPACE.size(sample, 100, 32)
    for k, i in enumerate(sample):
        net = SPACE.network(i, 100, seed=0).eval()
        assert count_params(net) == round(size["params"][k] * 1e6), SPACE.arch(i)
        assert count_flops(net, torch.zeros(1, 3, 32, 32)) == round(size["flops"][k] * 1e6), SPACE.arch(i)


def test_every_op_changes_width():
    """A cell with all NB201 ops between different widths runs and ends at the last width."""
    genotype = parse_arch("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|")
    net = DynamicShapeTinyNet((8, 16, 24, 32, 40), genotype, num_classes=7)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 7)
    assert [c.layers[0].c_out for c in (net.cells[2], net.cells[4])] == [24, 40]


@pytest.mark.parametrize("index", [11, 4235])  # 8:8:8:16:32 and 16:8:24:16:32: widening cells
def test_meco_hooks_every_module_as_the_reference(index):
    """Sites are exactly the modules whose hooks fire; meco and meco_opt equal the reference scorer."""
    x = make_input("random", seed=1)
    candidate = Candidate(SPACE, index, seed=1)
    net = candidate.network()
    fired: list[str] = []
    for name, module in net.named_modules():
        module.register_forward_hook(lambda *_, name=name: fired.append(name))
    with torch.no_grad():
        net(x)
    assert sorted(s.name for p in collect_probes(candidate.network(), x) for s in p.sites) == sorted(fired)
    if index == 11:  # the last cell widens 16 -> 32: its skip is a FactorizedReduce whose ReLU never runs
        assert "cells.4.layers.3.relu" in dict(net.named_modules()) and "cells.4.layers.3.relu" not in fired
    meco = PROXIES.get("meco")().score(candidate, x)
    assert meco == pytest.approx(reference_meco(candidate.network(), x, dtype=torch.float64), rel=1e-4)
    opt = PROXIES.get("meco_opt")(n=8).score(candidate, x)
    ref = reference_meco(candidate.network(), x, n=8, key=f"1:{index}", dtype=torch.float64)
    assert opt == pytest.approx(ref, rel=1e-4)


def test_truth_for_sss():
    table = load_ground_truth("table", space="sss")
    assert len(table) == 32_768 and all(np.isnan(a).all() for a in table.values.values())
    assert "no SSS accuracy" in table.source
    archive = load_ground_truth("nats_bench", path=FAKE_SSS, hp="90", indices=[0, 1, 11], space="sss")
    assert archive.values["cifar10"][0] == pytest.approx(79.79)
    assert np.isnan(archive.values["cifar10"][1]) and np.isfinite(archive.values["ImageNet16-120"][11])
    with pytest.raises(ConfigError, match=r"truth\.hp='200'"):
        load_ground_truth("nats_bench", path=FAKE_SSS, hp="200", space="sss")
    with pytest.raises(ConfigError, match="a NATS-Bench tss archive"):
        load_ground_truth("nats_bench", path=FAKE_SSS, indices=[0])


def test_partial_archive_falls_back_to_size():
    """One accuracy among five archs is no ranking: the plan carries exact sizes instead."""
    config = compose_config(
        ["space=nats_sss", "space.limit=5", "truth=nats_bench", "truth.hp=90", f"truth.path={FAKE_SSS}"]
    )
    plan = plan_run(config)
    assert known_values(plan.truth, plan.indices, plan.tasks) == 1
    assert plan.size["params"].values["cifar10"][4] == pytest.approx(0.058898)  # 8:8:8:8:40, by hand


def test_cli_without_accuracy_reports_size_rho(cli, tmp_path):
    done = cli("space=nats_sss", "space.limit=6", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("no ground truth")]
    assert notes == [
        "no ground truth to rank against: 0 of 6 nats_sss archs have a value in built-in table (NATS-Bench TSS "
        "only): no SSS accuracy; reporting Spearman rho against exact #params and FLOPs instead"
    ]
    summary = json.loads((tmp_path / "summary.json").read_text())  # valid JSON: null where there is no rho
    assert all(summary["spearman"][d] is None for d in NATS_DATASETS)
    scores = pl.read_parquet(tmp_path / "scores.parquet")
    assert scores["arch"].to_list() == [f"8:8:8:8:{c}" for c in WIDTHS[:6]]
    for d in NATS_DATASETS:
        sizes = SPACE.size(scores["index"].to_list(), *NATS_INPUTS[d])
        for key in ("params", "flops"):
            rho = spearmanr(scores["score"].to_numpy(), sizes[key]).statistic
            assert summary["size_correlation"][key]["spearman"][d] == pytest.approx(rho, abs=1e-12)
    assert summary["size_correlation"]["params"]["spearman"]["cifar10"] == pytest.approx(-33 / 35)  # golden, seed 0


def test_runner_with_archive_accuracy(tmp_path):
    """With accuracy for the selection, rho is against it: no size fallback, no note."""
    indices = tmp_path / "idx.txt"
    indices.write_text("0\n11\n284\n")
    overrides = [
        "space=nats_sss",
        "truth=nats_bench",
        "truth.hp=90",
        f"truth.path={FAKE_SSS}",
        f"space.indices={indices}",
    ]
    out = io.StringIO()
    summary = score_run(OmegaConf.create(compose_config(overrides)), tmp_path / "run", Console(file=out, width=200))
    assert "no accuracy" not in out.getvalue()
    assert "size_correlation" not in summary and "sss archive" in summary["truth"]
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet").sort("index")
    acc = load_ground_truth("nats_bench", path=FAKE_SSS, hp="90", indices=[0, 11, 284], space="sss")
    for d in NATS_DATASETS:
        rho = spearmanr(scores["score"].to_numpy(), acc.values[d][[0, 11, 284]]).statistic
        assert summary["spearman"][d] == pytest.approx(rho)


def test_min_eigenvalue_falls_with_width_and_meco_opt_repairs_it():
    for positions in (64, 256):
        terms = [min_eig_terms(c, positions, draws=4, n=8, seed=c) for c in WIDTHS]
        meco = np.array([t[0].mean() for t in terms])
        opt = np.array([t[1].mean() for t in terms])
        assert (np.diff(meco) < 0).all(), meco
        assert (np.diff(opt) > 0).all(), opt
        assert meco[0] == pytest.approx(opt[0])  # C = n: the same term
    assert min_eig_terms(64, 64, draws=2, n=8, seed=0)[0] == pytest.approx(0.0, abs=1e-6)  # rank L - 1 < C


def test_topk_on_sss_without_accuracy_says_so_and_ranks_by_score(tmp_path):
    """The built-in table has no SSS accuracy: topk ranks by score and reports no made-up accuracy."""
    done = run_cli("method=topk", "space=nats_sss", "proxy=params", "space.sample=20", "k=3",
                   f"hydra.run.dir={tmp_path / 'run'}", f"latest={tmp_path / 'latest.json'}", module="meco_lab.search")
    assert done.returncode == 0, done.stderr
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert selection["space"] == "nats_sss" and selection["best"]["arch"].count(":") == 4
    scores = [e["score"] for e in selection["ranked"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    assert all(v is None for e in selection["ranked"] for v in e["accuracy"].values())  # null, not a made-up value
    assert "no benchmark accuracy" in done.stdout + done.stderr
