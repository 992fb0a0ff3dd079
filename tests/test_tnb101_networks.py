"""TransNAS-Bench-101 networks: exact parameter and FLOP counts against NASLib's for every (arch, task) it scored,
built networks against the closed form, arch strings, jigsaw handling, forward shapes."""

from __future__ import annotations

import io
from importlib import resources

import polars as pl
import pytest
import torch
from torch import nn

from meco_lab.spaces.tnb101 import (
    N_MACRO,
    N_MICRO,
    TASK_SPECS,
    TASKS,
    TaskNetwork,
    analytic_sizes,
    benchmark_num_upsample,
    build_decoder,
    build_encoder,
    build_network,
    count_params,
    from_naslib,
    iter_macro,
    iter_micro,
    jigsaw_tiles,
    num_upsample,
    parse_arch,
    task_spec,
    tensorwatch_counts,
)

N_SIZE_ROWS = {"micro": 4977, "macro": 4949}  # (arch, task) rows of the shared sizes files


def _table(space: str) -> pl.DataFrame:
    ref = resources.files("meco_lab") / "resources" / f"tnb101_{space}.parquet"
    return pl.read_parquet(io.BytesIO(ref.read_bytes()))


@pytest.fixture(scope="module", params=["micro", "macro"])
def space_table(request) -> tuple[str, pl.DataFrame]:
    return request.param, _table(request.param)


def _size_rows(df: pl.DataFrame):
    """(arch, task, params, flops) for every non-null NASLib size."""
    for t in TASKS:
        sub = df.filter(pl.col(f"params_{t}").is_not_null())
        for arch, p, f in sub.select("arch", f"params_{t}", f"flops_{t}").iter_rows():
            yield arch, t, p, f


def _same_flops(ours: int, stored_mflops: float) -> bool:
    """The sizes files keep MFLOPs to 10 significant digits: compare at that precision."""
    return float(f"{ours / 1e6:.10g}") == stored_mflops


# --------------------------------------------------------------------------------------------------- resources


def test_tables_cover_the_whole_space(space_table):
    space, df = space_table
    n = N_MICRO if space == "micro" else N_MACRO
    assert df.height == n
    assert df["naslib_idx"].to_list() == list(range(n))
    every = {a.arch_str for a in (iter_micro() if space == "micro" else iter_macro())}
    assert len(every) == n
    assert set(df["arch"]) == every
    for t in TASKS:
        assert df[t].null_count() == 0
    assert sum(df[f"params_{t}"].is_not_null().sum() for t in TASKS) == N_SIZE_ROWS[space]
    for t in TASKS:
        assert (df[f"params_{t}"].is_null() == df[f"flops_{t}"].is_null()).all()


def test_naslib_tuples_round_trip(space_table):
    space, df = space_table
    for tup, arch in df.select("naslib_arch", "arch").iter_rows():
        ops = tuple(int(x) for x in tup.strip("()").split(","))
        a = from_naslib(ops, space)
        assert a.arch_str == arch
        assert a == parse_arch(arch)
        assert from_naslib(a.to_naslib(), space) == a


# ------------------------------------------------------------------------------------------ params and FLOPs


def test_params_and_flops_equal_naslib_for_every_row(space_table):
    space, df = space_table
    n = bad_p = bad_f = 0
    mismatches = []
    for arch, task, params, mflops in _size_rows(df):
        p, f = analytic_sizes(arch, task)
        n += 1
        if p != params:
            bad_p += 1
            mismatches.append((arch, task, "params", p, params))
        if not _same_flops(f, mflops):
            bad_f += 1
            mismatches.append((arch, task, "flops", f / 1e6, mflops))
    assert n == N_SIZE_ROWS[space]
    assert (bad_p, bad_f) == (0, 0), mismatches[:10]


def _sample_archs(space: str, df: pl.DataFrame) -> list[str]:
    """A few archs with NASLib sizes for every task, spread over the space, plus edge cases."""
    full = df.filter(pl.all_horizontal(pl.col(f"params_{t}").is_not_null() for t in TASKS))
    picked = full["arch"].gather([0, full.height - 1]).to_list()
    if space == "micro":
        extra = ["64-41414-0_00_000", "64-41414-1_11_111"]
    else:  # 1 and 4 stride stages, 6 stages with 3 doublings
        extra = ["64-1114-basic", "64-3434-basic", "64-224111-basic"]
    return picked + extra


def test_built_networks_match_closed_form_and_naslib(space_table):
    """Build every task network of sample archs on the meta device: count parameters and run tensorwatch's
    FLOP rules with hooks through TaskNetwork.forward (jigsaw: 9 tiles, as NASLib measured)."""
    space, df = space_table
    rows = {(a, t): (p, f) for a, t, p, f in _size_rows(df)}
    for arch in _sample_archs(space, df):
        a = parse_arch(arch)
        with torch.device("meta"):
            enc = build_encoder(a)
        for task in TASKS:
            with torch.device("meta"):
                net = TaskNetwork(enc, build_decoder(task, a), task)
            x = torch.empty((1, *task_spec(task).input_shape), device="meta")
            p_hook, f_hook = tensorwatch_counts(net, x)
            p, f = analytic_sizes(a, task)
            assert count_params(net) == p_hook == p, (arch, task)
            assert f_hook == f, (arch, task)
            if (arch, task) in rows:
                assert rows[arch, task][0] == p
                assert _same_flops(f, rows[arch, task][1])


def test_every_arch_builds_with_the_closed_form_param_count():
    """Encoders of one arch per (space, skeleton) class and every micro cell: built count == closed form."""
    archs = [f"64-41414-{o[0]}_{o[1]}{o[2]}_{o[3]}{o[4]}{o[5]}" for o in ((0,) * 6, (3,) * 6, (1, 2, 3, 0, 1, 2))]
    archs += ["64-1234-basic", "64-41414-basic", "64-444111-basic", "64-333141-basic", "64-2231-basic"]
    for arch in archs:
        with torch.device("meta"):
            enc = build_encoder(arch)
        p_enc = count_params(enc)
        for task in TASKS:
            with torch.device("meta"):
                dec = build_decoder(task, arch)
            assert p_enc + count_params(dec) == analytic_sizes(arch, task)[0], (arch, task)


def test_decoder_upsampling_matches_benchmark_formula():
    """The benchmark sizes dense decoders from a 224-pixel guess of the encoder output; same u for every arch."""
    for a in [*iter_micro(), *iter_macro()]:
        assert benchmark_num_upsample(a) == num_upsample(a) == 2 + a.n_stride_stages


# ---------------------------------------------------------------------------------------------- arch strings


@pytest.mark.parametrize(
    "bad",
    [
        "", "64-41414-3_33_33", "64-41414-4_33_333", "64-41414-3-33-333", "32-41414-3_33_333",
        "64-41413-3_33_333", "64-111-basic", "64-1111111-basic", "64-1111-basic", "64-3333-basic",
        "64-4444-basic", "64-12345-basic", "64-1234-resnet", "64-1234", 41414,
    ],
)
def test_bad_arch_strings_raise(bad):
    with pytest.raises(ValueError):
        parse_arch(bad)


def test_arch_fields():
    m = parse_arch("64-41414-3_12_023")
    assert m.space == "micro" and m.cell_ops == (3, 1, 2, 0, 2, 3) and m.node_codes == ("", "3", "12", "023")
    assert (m.out_channels, m.downsample) == (512, 32)
    b = parse_arch("64-132231-basic")
    assert b.space == "macro" and b.macro_code == (1, 3, 2, 2, 3, 1) and b.cell_ops is None
    assert (b.out_channels, b.downsample, b.to_naslib()) == (256, 16, (1, 3, 2, 2, 3, 1))
    assert from_naslib((4, 2, 4, 1, 1, 0), "macro").arch_str == "64-42411-basic"
    with pytest.raises(ValueError):
        from_naslib((4, 0, 4, 1, 1, 0), "macro")
    with pytest.raises(ValueError):
        from_naslib((4, 2, 4, 1, 1), "micro")
    with pytest.raises(ValueError):
        task_spec("depth")


# ---------------------------------------------------------------------------------------- structure, jigsaw


def test_task_network_children_and_hook_names():
    net = build_network("64-41414-1_02_123", "segmentsemantic")
    assert [n for n, _ in net.named_children()] == ["encoder", "decoder"]
    names = [n for n, _ in net.named_modules() if n]
    assert all(n.split(".")[0] in ("encoder", "decoder") for n in names)
    assert "encoder.stem.2.ops.1" in names and "encoder.layer4.1.edges.5" in names
    assert "decoder.model.0.conv" in names
    gen = build_network("64-1234-basic", "autoencoder")
    assert "decoder.conv14.conv" in dict(gen.named_modules())
    assert "encoder.layer1.0.downsample.0" in dict(gen.named_modules())


def test_class_count_override():
    a = parse_arch("64-41414-3_33_333")
    assert build_decoder("class_object", a).fc.out_features == 100
    assert build_decoder("class_object", a, TASK_SPECS["class_object"].benchmark_num_classes).fc.out_features == 75
    assert build_decoder("class_scene", a, TASK_SPECS["class_scene"].benchmark_num_classes).fc.out_features == 47
    with pytest.raises(ValueError):
        build_decoder("room_layout", a, 5)


def test_jigsaw_runs_the_encoder_per_tile():
    torch.manual_seed(0)
    net = build_network("64-41414-1_02_130", "jigsaw").eval()
    x = torch.randn(1, 9, 3, 64, 64)
    calls = []
    h = net.encoder.stem[0].register_forward_hook(lambda m, i, o: calls.append(tuple(o.shape)))
    with torch.no_grad():
        out = net(x)
        feats = [net.encoder(x[:, i]) for i in range(9)]
    h.remove()
    assert out.shape == (1, 1000)
    assert calls == [(1, 32, 32, 32)] * 18
    assert net.encode(x).shape == (1, 9 * 512, 2, 2)
    with torch.no_grad():
        assert torch.equal(out, net.decoder(torch.cat(feats, dim=1)))
    with pytest.raises(ValueError):
        net(torch.randn(1, 3, 256, 256))


def test_jigsaw_tiles_cut_the_grid():
    img = torch.arange(255 * 255, dtype=torch.float32).reshape(1, 1, 255, 255).expand(2, 3, 255, 255)
    tiles = jigsaw_tiles(img, generator=torch.Generator().manual_seed(0))
    assert tiles.shape == (2, 9, 3, 64, 64)
    for k in range(9):
        top, left = int(tiles[0, k, 0, 0, 0]) // 255, int(tiles[0, k, 0, 0, 0]) % 255
        assert (k // 3) * 85 <= top <= (k // 3) * 85 + 21 and (k % 3) * 85 <= left <= (k % 3) * 85 + 21
    perm = [8, 7, 6, 5, 4, 3, 2, 1, 0]
    t2 = jigsaw_tiles(img, permutation=perm, generator=torch.Generator().manual_seed(0))
    assert int(t2[0, 0, 0, 0, 0]) // 255 >= 170
    with pytest.raises(ValueError):
        jigsaw_tiles(img, permutation=[0] * 9)


# ---------------------------------------------------------------------------------------------- forward smoke


@pytest.mark.parametrize("arch", ["64-41414-1_02_130", "64-3434-basic"])
def test_forward_shapes_every_task(arch):
    """Real forward, batch 1, one encoder pass shared by the six 256 x 256 heads; jigsaw on its 9 tiles."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    a = parse_arch(arch)
    enc = build_encoder(a).eval()
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        feat = enc(x)
        assert tuple(feat.shape[1:]) == enc.output_shape(256, 256) == (a.out_channels, 256 // a.downsample,
                                                                        256 // a.downsample)
        for task in TASKS:
            spec = task_spec(task)
            net = TaskNetwork(enc, build_decoder(task, a), task).eval()
            if task == "jigsaw":
                out = net(torch.rand(1, *spec.input_shape))
            else:
                out = net.decoder(feat)
                assert torch.equal(out, net(x))
            assert tuple(out.shape) == (1, *spec.output_shape), task
            assert torch.isfinite(out).all()
            if task in ("normal", "autoencoder"):
                assert out.abs().max() <= 1


def test_macro_shortcut_bn_keeps_the_benchmarks_eps_and_momentum():
    """The benchmark's BatchNorm2d(planes, affine, track_running_stats) sets eps = momentum = True (1.0)."""
    enc = build_encoder("64-3234-basic")
    shortcut_bn = enc.layer0[0].downsample[1]
    assert (shortcut_bn.eps, shortcut_bn.momentum) == (1.0, 1.0)
    other = [m for n, m in enc.named_modules() if isinstance(m, nn.BatchNorm2d) and "downsample" not in n]
    assert other and all((m.eps, m.momentum) == (1e-5, 0.1) for m in other)


def test_micro_cell_matches_edge_sums():
    """Node j = sum of its incoming edge ops (checked by hand on a cell with convs and skips)."""
    from meco_lab.spaces.tnb101.encoder import MicroCell

    torch.manual_seed(0)
    cell = MicroCell((3, 1, 2, 0, 1, 3), 8, 16, 2).eval()
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        e = cell.edges
        n1 = e[0](x)
        n2 = e[1](x) + e[2](n1)
        n3 = e[3](x) + e[4](n1) + e[5](n2)
        assert torch.allclose(cell(x), n3, atol=1e-6)
    assert isinstance(e[1], nn.Module) and type(e[1]).__name__ == "FactorizedReduce"
    assert type(e[4]).__name__ == "Identity" and type(e[3]).__name__ == "Zero"
