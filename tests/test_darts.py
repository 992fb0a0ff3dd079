"""The DARTS-CNN space: genotype strings, the retrained network's size, the masked supernet, pictures, augmentation."""

from __future__ import annotations

import json

import pytest
import torch

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.darts import (
    DARTS_V2,
    OPS,
    NetworkCIFAR,
    build_darts_supernet,
    count_params,
    format_genotype,
    genotype_from_mask,
    mask_from_genotype,
    parse_genotype,
)
from meco_lab.spaces.supernet import MaskableSupernet, supernet_candidate

V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)  # quark0/darts cnn/genotypes.py, verbatim


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads on this shared CPU run 20x slower


# ---------------------------------------------------------------- genotypes


def test_published_genotype_round_trips():
    g = parse_genotype(V2)
    assert g == DARTS_V2 and format_genotype(g) == V2 and str(g) == V2
    assert g.normal[7] == ("dil_conv_3x3", 2) and g.reduce_concat == (2, 3, 4, 5)
    spaced = V2.replace(", ", ",  ").replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 6)")
    assert parse_genotype(spaced) == g  # whitespace and DARTS' range(2, 6) concat
    positional = (
        "Genotype([('skip_connect', 1), ('avg_pool_3x3', 0)], [2], [('sep_conv_5x5', 0), ('dil_conv_5x5', 1)], (2,))"
    )
    p = parse_genotype(positional)
    assert p.normal == (("skip_connect", 1), ("avg_pool_3x3", 0)) and p.reduce_concat == (2,)
    assert p.canonical().normal == (("avg_pool_3x3", 0), ("skip_connect", 1))


BAD_GENOTYPES = {
    "not python": ("Genotype(normal=[", "not a Python expression"),
    "not a call": ("[('sep_conv_3x3', 0)]", "must be Genotype(...)"),
    "missing field": (V2.replace(", reduce_concat=[2, 3, 4, 5]", ""), "expected ['normal'"),
    "unknown op": (V2.replace("dil_conv_3x3", "conv_7x1_1x7"), "normal edge 7 has op 'conv_7x1_1x7'"),
    "none op": (V2.replace("('skip_connect', 0), ('dil", "('none', 0), ('dil"), "normal edge 6 has op 'none'"),
    "input out of range": (V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "into node 5 has input 5"),
    "odd edge count": (V2.replace("('skip_connect', 0), ('dil_conv_3x3', 2)]", "('skip_connect', 0)]"), "7 edges"),
    "bad pair": (V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', '2')"), "edge 7 must be a pair"),
    "bad concat": (V2.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 2, 9]"), "reduce_concat=[2, 2, 9]"),
}


@pytest.mark.parametrize("case", BAD_GENOTYPES, ids=list(BAD_GENOTYPES))
def test_bad_genotype_strings_fail_in_one_line(case):
    text, reason = BAD_GENOTYPES[case]
    with pytest.raises(ConfigError) as info:
        parse_genotype(text, key="arch")
    message = str(info.value)
    assert message.startswith("arch=") and "\n" not in message and reason in message, message


# ---------------------------------------------------------------- the retrained network


def test_darts_v2_has_the_published_parameter_count():
    torch.manual_seed(0)
    net = NetworkCIFAR(36, 10, 20, True, DARTS_V2)
    # quark0/darts train.py logs "param size = 3.349342MB" (count_parameters_in_MB leaves 'auxiliary' out)
    assert count_params(net) == 3_349_342
    aux = sum(p.numel() for p in net.auxiliary_head.parameters())
    assert sum(p.numel() for p in net.parameters()) == 3_349_342 + aux
    small = NetworkCIFAR(8, 10, 5, True, DARTS_V2).train()
    logits, aux_logits = small(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux_logits.shape == (2, 10)
    assert small.eval()(torch.randn(2, 3, 32, 32))[1] is None  # no auxiliary output in eval mode


def test_drop_path_drops_whole_samples_and_follows_the_linear_schedule():
    from meco_lab.spaces.darts.network import drop_path
    from meco_lab.training.darts_module import drop_path_at

    torch.manual_seed(0)
    x = torch.rand(400, 2, 3, 3) + 1.0
    out = drop_path(x, 0.25)
    dropped = (out == 0).flatten(1).all(1)
    kept = torch.isclose(out, x / 0.75).flatten(1).all(1)
    assert bool((dropped | kept).all()) and 60 < int(dropped.sum()) < 140  # ~100 of 400
    assert drop_path(x, 0.0) is x
    assert [drop_path_at(e, 600, 0.2) for e in (0, 300, 599)] == [0.0, 0.1, pytest.approx(0.2 * 599 / 600)]
    net = NetworkCIFAR(8, 10, 5, False, DARTS_V2).train()
    net.drop_path_prob = 0.999  # skip_connect (Identity) edges are never dropped, all others almost always
    torch.manual_seed(1)
    cell = net.cells[0]
    s = torch.randn(4, 24, 8, 8)
    states = [cell.preprocess0(s), cell.preprocess1(s)]
    out = cell(s, s, 0.999)
    node4 = out[:, 16:24]  # node 4 = skip_connect(c_{k-2}) + sep_conv_3x3(c_{k-1}), the latter dropped
    assert torch.equal(node4, states[0]) or torch.allclose(node4, states[0], atol=1e-6)


def test_cutout_zeroes_one_clipped_square_per_image():
    from meco_lab.training.data import cutout

    torch.manual_seed(0)
    x = torch.rand(64, 3, 32, 32) + 1.0  # no zeros before
    out = cutout(x, 16)
    assert torch.equal(cutout(x, 0), x)
    border = 0
    for i in range(len(x)):
        hole = out[i] == 0
        assert torch.equal(hole[0], hole[1]) and torch.equal(hole[0], hole[2])  # every channel alike
        assert torch.equal(out[i][~hole], x[i][~hole])
        rows, cols = hole[0].any(1).nonzero().flatten(), hole[0].any(0).nonzero().flatten()
        assert len(rows) and len(cols) and len(rows) <= 16 and len(cols) <= 16
        assert int(hole[0].sum()) == len(rows) * len(cols)  # one rectangle
        assert len(rows) == int(rows[-1] - rows[0] + 1) and len(cols) == int(cols[-1] - cols[0] + 1)
        border += len(rows) < 16 or len(cols) < 16
    assert 20 < border < 64  # centres near the border are clipped: (1 - (16/32)^2) = 75% of images


# ---------------------------------------------------------------- the supernet


@pytest.fixture(scope="module")
def supernet():
    return build_darts_supernet(10, seed=0, channels=8, layers=5)


def test_supernet_problem_and_protocol(supernet):
    p = supernet.problem
    assert isinstance(supernet, MaskableSupernet) and p.ops == OPS and len(p.edges) == 28 and p.keep_inputs == 2
    assert p.edges[:3] == ("normal:2<-0", "normal:2<-1", "normal:3<-0") and p.edges[-1] == "reduce:5<-4"
    assert p.node_inputs["reduce:4"] == ("reduce:4<-0", "reduce:4<-1", "reduce:4<-2", "reduce:4<-3")
    assert len(p.node_inputs) == 8
    full = build_darts_supernet(10, seed=0)  # the search setting: C=16, 8 layers
    assert len(full.cells) == 8 and [c.kind for c in full.cells].count("reduce") == 2
    assert full.cells[2].kind == full.cells[5].kind == "reduce" and full.stem[0].out_channels == 48
    same = build_darts_supernet(10, seed=0, channels=8, layers=5)
    other = build_darts_supernet(10, seed=1, channels=8, layers=5)
    a, b, c = (dict(n.named_parameters()) for n in (supernet, same, other))
    assert all(torch.equal(a[k], b[k]) for k in a) and not all(torch.equal(a[k], c[k]) for k in a)


def test_mask_switches_ops_and_edges(supernet):
    supernet.train()
    x = torch.randn(1, 3, 32, 32)
    full = supernet.problem.full_mask()

    def run(mask):
        """The last cell's output: the logits barely move at init (every node ends in a batch norm whose spatial
        mean is 0 per channel at batch 1, so global pooling sees about 0)."""
        supernet.set_mask(mask)
        seen = {}
        handle = supernet.cells[-1].register_forward_hook(lambda m, i, o: seen.update(out=o))
        try:
            with torch.no_grad():
                supernet(x)
        finally:
            handle.remove()
        return seen["out"]

    base = run(full)
    assert torch.equal(run(full), base)  # deterministic in train mode at batch 1
    no_sep = {**full, "normal:3<-1": tuple(o for o in OPS if o != "sep_conv_3x3")}
    assert not torch.allclose(run(no_sep), base)
    no_none = {**full, "normal:3<-1": tuple(o for o in OPS if o != "none")}
    assert torch.equal(run(no_none), base)  # `none` adds zeros
    empty_edge = {**full, "reduce:2<-0": ()}
    assert not torch.allclose(run(empty_edge), base)

    # a node without inputs outputs zeros: hook its cell's output and read that node's channel block
    cell = supernet.cells[0]
    seen = {}
    handle = cell.register_forward_hook(lambda m, i, o: seen.update(out=o))
    try:
        cut = {**full, **{e: () for e in supernet.problem.node_inputs["normal:3"]}}
        run(cut)
    finally:
        handle.remove()
    c = cell.channels
    assert seen["out"].shape[1] == 4 * c
    assert torch.count_nonzero(seen["out"][:, c : 2 * c]) == 0 and torch.count_nonzero(seen["out"][:, :c]) > 0

    with pytest.raises(ValueError, match="missing"):
        supernet.set_mask({k: v for k, v in full.items() if k != "normal:2<-0"})
    with pytest.raises(ValueError, match="conv_7x7"):
        supernet.set_mask({**full, "normal:2<-0": ("conv_7x7",)})
    supernet.set_mask(full)


def test_genotype_from_mask(supernet):
    mask = mask_from_genotype(DARTS_V2)
    assert sum(len(ops) for ops in mask.values()) == 16
    assert genotype_from_mask(mask) == DARTS_V2.canonical()
    supernet.set_mask(mask)
    assert supernet(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    three = {**mask, "normal:4<-3": ("sep_conv_5x5",)}
    with pytest.raises(ValueError, match=r"node normal:4 keeps 3 input edges"):
        genotype_from_mask(three)
    two_ops = {**mask, "reduce:2<-0": ("max_pool_3x3", "avg_pool_3x3")}
    with pytest.raises(ValueError, match=r"edge reduce:2<-0 keeps \('max_pool_3x3', 'avg_pool_3x3'\)"):
        genotype_from_mask(two_ops)
    with pytest.raises(ValueError, match="expected one op other than none"):
        genotype_from_mask({**mask, "reduce:2<-0": ("none",)})


def test_a_proxy_scores_the_masked_supernet(supernet):
    from meco_lab.proxies.meco import MeCo

    x = torch.randn(1, 3, 32, 32)
    full, mask = supernet.problem.full_mask(), mask_from_genotype(DARTS_V2)
    scores = [MeCo().score(supernet_candidate(supernet, m), x, torch.zeros(1, dtype=torch.long)) for m in (full, mask)]
    assert all(torch.isfinite(torch.tensor(s)) for s in scores) and scores[0] != scores[1]


def test_plot_genotype_writes_a_png(tmp_path):
    from meco_lab.spaces.darts.plot import main, plot_genotype

    path = plot_genotype(DARTS_V2, tmp_path / "cells.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    selection = tmp_path / "selection.json"
    selection.write_text(json.dumps({"space": "darts", "best": {"arch": V2}}))
    main([str(selection), str(tmp_path / "best.png")])
    assert (tmp_path / "best.png").stat().st_size > 10_000
