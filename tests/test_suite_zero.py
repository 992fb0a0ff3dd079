"""NAS-Bench-Suite-Zero networks: NB101, NB301 and the NB360-task skeletons against the suite's exact sizes.

Every size row shipped in `meco_lab/resources` (built from the shared data by
scripts/build_suite_zero_data.py) is checked: parameters of every row through each builder's
closed-form / memoised count, and the built networks themselves (parameters, and tensorwatch FLOPs at the
task's input shape) on a sample of rows per table.
"""

from __future__ import annotations

import ast
import io
from functools import cache
from importlib.resources import files

import polars as pl
import pytest
import torch

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.darts import NetworkCIFAR, count_params, format_genotype, nb301, parse_genotype
from meco_lab.spaces.model_stats import model_stats
from meco_lab.spaces.nb101 import (
    Nb101Network,
    build_nb101,
    compute_vertex_channels,
    from_naslib_tuple,
    parse_cell,
)
from meco_lab.spaces.nb101 import param_count as nb101_params
from meco_lab.spaces.nb201.cell import format_arch, parse_arch
from meco_lab.spaces.nb360 import (
    SKELETONS,
    TASKS,
    build_network,
    get_task,
    nb201_from_naslib,
    param_count,
    tnb_micro_from_naslib,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@cache
def table(name: str) -> pl.DataFrame:
    """A shipped resource table (read through importlib.resources, as an installed package would)."""
    return pl.read_parquet(io.BytesIO(files("meco_lab").joinpath("resources", name).read_bytes()))


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def sample(df: pl.DataFrame, every: int) -> pl.DataFrame:
    return df.gather_every(every)


# ---------------------------------------------------------------- resources


def test_resources_have_the_expected_rows():
    nb101, cells = table("nb101.parquet"), table("nb101_cells.parquet")
    assert nb101.height == 321 and nb101["nb101_hash"].n_unique() == 321
    assert nb101["n_rows"].sum() == 500 and nb101.filter(pl.col("n_rows") > 0).height == 292
    assert nb101["asset_val_accuracy_mean"].drop_nulls().len() == 30
    assert cells.height == 331 and cells.filter(pl.col("source") == "nb101_naslib_sizes.csv").height == 301
    assert cells.select("nb101_hash", "adjacency", "ops").n_unique() == 331
    assert set(cells["nb101_hash"]) == set(nb101["nb101_hash"])
    assert table("nb301.parquet").height == 1218 and table("nb301.parquet")["genotype"].n_unique() == 1218
    nb360 = table("nb360.parquet")
    assert nb360.group_by("skeleton").len().sort("skeleton").rows() == [
        ("nb201", 199), ("nb301", 199), ("tnb101_micro", 192)
    ]
    for col in ("test_svhn", "test_ninapro", "test_scifar100", "params_ninapro", "flops_scifar100"):
        assert nb360[col].null_count() == 0
    text = files("meco_lab").joinpath("resources", "SUITE_ZERO_PROVENANCE.md").read_text()
    assert "8c45f19dc259956c3bd253071135c798ad3df8ce" in text and "nb101_truth.csv" in text


# ---------------------------------------------------------------- NB101


def test_nb101_cells_prune_and_hash_as_nb101():
    for r in table("nb101_cells.parquet").iter_rows(named=True):
        cell = parse_cell(r["adjacency"], r["ops"])
        assert cell.is_pruned() and cell.module_hash() == r["nb101_hash"]
        assert cell.adjacency_string() == r["adjacency"] and cell.ops_string() == r["ops"]
        for arch in r["naslib_archs"]:  # NASLib's unpruned samples of this cell
            assert from_naslib_tuple(ast.literal_eval(arch)) == cell


def test_nb101_params_equal_the_suite_and_nb101_for_every_cell():
    cells = table("nb101_cells.parquet")
    sizes = cells.filter(pl.col("params").is_not_null())
    asset = cells.filter(pl.col("trainable_parameters").is_not_null())
    assert (sizes.height, asset.height) == (301, 30)
    got = [nb101_params(parse_cell(a, o)) for a, o in sizes.select("adjacency", "ops").iter_rows()]
    assert got == sizes["params"].to_list()  # NASLib's sizes (tensorwatch)
    got = [nb101_params(parse_cell(a, o)) for a, o in asset.select("adjacency", "ops").iter_rows()]
    assert got == asset["trainable_parameters"].to_list()  # NB101's own TensorFlow count


def test_nb101_network_matches_the_count_and_the_suite_flops():
    cells = table("nb101_cells.parquet")
    for r in sample(cells, 11).iter_rows(named=True):
        cell = parse_cell(r["adjacency"], r["ops"])
        with torch.device("meta"):
            net = Nb101Network(cell)
        assert n_params(net) == nb101_params(cell)
    for r in sample(cells.filter(pl.col("flops").is_not_null()), 60).iter_rows(named=True):
        stats = model_stats(Nb101Network(parse_cell(r["adjacency"], r["ops"])), (1, 3, 32, 32))
        assert (stats.params, stats.flops) == (r["params"], r["flops"])


def test_nb101_isomorphic_cells_can_differ_in_size():
    sizes = table("nb101_cells.parquet").filter(pl.col("params").is_not_null())
    per_hash = sizes.group_by("nb101_hash").agg(pl.len(), pl.col("params").n_unique().alias("sizes"))
    assert per_hash.filter(pl.col("len") == 2).height == 9 and per_hash["len"].max() == 2
    assert per_hash.filter(pl.col("sizes") == 2).height == 3


def test_nb101_vertex_channels_split_the_output():
    # input -> 1 -> 3 -> output, input -> 2 -> output; vertices 1 and 2 feed nothing else but their successors
    matrix = [[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    assert compute_vertex_channels(128, 257, matrix) == [128, 128, 129, 128, 257]
    assert compute_vertex_channels(64, 128, [[0, 1], [0, 0]]) == [64, 128]


@pytest.mark.parametrize(
    ("adjacency", "ops", "reason"),
    [
        ("0100", "input|output|x", "9 characters 0/1 for 3 ops"),
        ("0110", "input|output", "not upper-triangular"),
        ("0100", "input|conv3x3-bn-relu", "first op must be 'input' and the last 'output'"),
        ("010001000", "input|conv5x5|output", "unknown op 'conv5x5'"),
    ],
)
def test_nb101_bad_cells_fail_in_one_line(adjacency, ops, reason):
    with pytest.raises(ConfigError, match=reason):
        parse_cell(adjacency, ops)


def test_nb101_naslib_init_and_forward():
    r = table("nb101.parquet").row(0, named=True)
    net = build_nb101(parse_cell(r["adjacency"], r["ops"]))
    stem = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))  # N(0, 2 / (3 * 3 * 128))
    assert stem.weight.std().item() == pytest.approx((2 / (9 * 128)) ** 0.5, rel=0.1)
    assert (net.classifier.bias == 0).all()
    assert net.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)


# ---------------------------------------------------------------- NB301


def test_nb301_params_equal_the_suite_for_every_genotype():
    df = table("nb301.parquet")
    genotypes = [parse_genotype(g) for g in df["genotype"]]
    for g, text, compact in zip(genotypes, df["genotype"], df["compact"], strict=True):
        assert format_genotype(g) == text and nb301.parse_compact(compact) == g and nb301.format_compact(g) == compact
    assert [nb301.param_count(g) for g in genotypes] == df["params"].to_list()


def test_nb301_network_is_the_naslib_setting_of_network_cifar():
    df = table("nb301.parquet")
    for r in sample(df, 101).iter_rows(named=True):
        with torch.device("meta"):
            net = nb301.build_nb301(r["genotype"])
        assert count_params(net) == n_params(net) == r["params"]  # no auxiliary head
    r = df.row(0, named=True)
    stats = model_stats(nb301.build_nb301(r["genotype"]), (1, 3, 32, 32))
    assert (stats.params, stats.flops) == (r["params"], r["flops"])
    with torch.device("meta"):  # DARTS' affine cell ops would count more
        plain = NetworkCIFAR(32, 10, 8, False, parse_genotype(r["genotype"]))
    assert count_params(plain) > r["params"]


def test_nb301_rejects_genotypes_naslib_cannot_hold():
    g = nb301.parse_compact(table("nb301.parquet")["compact"][0])
    twice = (*g.normal[:1], (g.normal[1][0], g.normal[0][1]), *g.normal[2:])
    with pytest.raises(ConfigError, match="takes input"):
        nb301.check_naslib(type(g)(twice, g.normal_concat, g.reduce, g.reduce_concat))
    with pytest.raises(ConfigError, match="compact form"):
        nb301.parse_compact("((0, 1),)")


# ---------------------------------------------------------------- NB360 tasks


def test_tasks_are_as_nas_bench_360_and_naslib_define_them():
    assert {t: (TASKS[t].input_shape, TASKS[t].num_classes) for t in TASKS} == {
        "svhn": ((3, 32, 32), 10),
        "ninapro": ((1, 16, 52), 18),
        "scifar100": ((3, 60, 60), 100),
    }
    with pytest.raises(ConfigError):
        get_task("cifar10")


def test_naslib_tuples_convert_to_the_arch_strings():
    df = table("nb360.parquet")
    for skeleton, convert in (("nb201", nb201_from_naslib), ("tnb101_micro", tnb_micro_from_naslib)):
        for tup, arch in df.filter(pl.col("skeleton") == skeleton).select("naslib_arch", "arch").iter_rows():
            assert format_arch(convert(ast.literal_eval(tup))) == arch and parse_arch(arch) == convert(
                ast.literal_eval(tup)
            )
    for tup, arch in df.filter(pl.col("skeleton") == "nb301").select("naslib_arch", "arch").iter_rows():
        assert format_genotype(nb301.parse_compact(tup)) == arch


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_nb360_params_equal_the_suite_for_every_arch_and_task(skeleton):
    df = table("nb360.parquet").filter(pl.col("skeleton") == skeleton)
    for task in TASKS:
        assert [param_count(skeleton, a, task) for a in df["arch"]] == df[f"params_{task}"].to_list(), task


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_nb360_networks_match_the_count_and_the_suite_flops_at_the_task_shape(skeleton):
    df = table("nb360.parquet").filter(pl.col("skeleton") == skeleton)
    for r in sample(df, 40).iter_rows(named=True):
        for task in TASKS:
            with torch.device("meta"):
                net = build_network(skeleton, r["arch"], task)
            assert n_params(net) == r[f"params_{task}"]
    r = df.row(1, named=True)
    for task, spec in TASKS.items():
        stats = model_stats(build_network(skeleton, r["arch"], task), (1, *spec.input_shape))
        assert (stats.params, stats.flops) == (r[f"params_{task}"], r[f"flops_{task}"]), task


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_nb360_params_do_not_depend_on_the_input_resolution(skeleton):
    arch = table("nb360.parquet").filter(pl.col("skeleton") == skeleton)["arch"][2]
    net = build_network(skeleton, arch, "ninapro")
    small, large = model_stats(net, (1, 1, 16, 52)), model_stats(net, (1, 1, 64, 64))
    assert small.params == large.params == n_params(net) and small.flops < large.flops


# ---------------------------------------------------------------- forward smoke tests


@pytest.mark.parametrize("skeleton", SKELETONS)
@pytest.mark.parametrize("task", list(TASKS))
def test_forward_at_the_task_shape(skeleton, task):
    spec = TASKS[task]
    arch = table("nb360.parquet").filter(pl.col("skeleton") == skeleton)["arch"][0]
    net = build_network(skeleton, arch, task).eval()
    with torch.no_grad():
        assert net(torch.randn(1, *spec.input_shape)).shape == (1, spec.num_classes)


def test_nb301_cifar10_forward():
    net = nb301.build_nb301(table("nb301.parquet")["genotype"][0]).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)
