"""Zero-Cost-PT on the DARTS-CNN space: weighting, `none`, the copy-free supernet path, cells, the real CLI."""

from __future__ import annotations

import json

import pytest
import torch

from meco_lab.inputs import make_batch
from meco_lab.proxies import PROXIES
from meco_lab.proxies.hook_sets import hook_filter
from meco_lab.search_methods.supernets import darts_supernet
from meco_lab.search_methods.zc_pt import choose_ops, proxy_score_fn, steps_per_candidate, zero_cost_pt
from meco_lab.spaces.base import Candidate
from meco_lab.spaces.darts import OPS, build_darts_supernet, genotype_from_mask, mask_from_genotype, parse_genotype
from meco_lab.spaces.darts.space import DartsGenotypes
from meco_lab.spaces.darts.supernet import MixedOp
from meco_lab.spaces.nb201.supernet import build_supernet
from meco_lab.spaces.probes import collect_probes
from meco_lab.spaces.supernet import PruningProblem, supernet_candidate

pytestmark = pytest.mark.usefixtures("one_thread")

# a one-cell supernet (a reduction cell only) keeps the CLI test quick; the normal cell's edges then tie
TINY = ["space=darts", "space.channels=4", "space.layers=1", "data.size=8", "zc_pt.candidates=1", "seed=0"]


def test_reference_weighting_is_one_eighth_per_op_on_undecided_edges():
    torch.manual_seed(0)
    edge = MixedOp(4, 1)
    x = torch.randn(2, 4, 8, 8)
    two = ("skip_connect", "avg_pool_3x3")
    parts = [edge.ops[op](x) for op in two]
    assert torch.allclose(edge(x, two, 1 / 8), (parts[0] + parts[1]) / 8)
    reference = build_darts_supernet(10, seed=3, channels=4, layers=3)
    plain = build_darts_supernet(10, seed=3, channels=4, layers=3, weighting="sum")
    assert reference.weighting == "reference" and plain.weighting == "sum"
    x = torch.randn(1, 3, 8, 8)

    def logits(net, mask):
        net.set_mask(mask)
        with torch.no_grad():
            return net(x)

    genotype = mask_from_genotype(parse_genotype(TINY_GENOTYPE))
    # decided edges (one op) weigh 1 either way; undecided ones weigh 1/8 per op only under `reference`
    assert torch.equal(logits(reference, genotype), logits(plain, genotype))
    full = reference.problem.full_mask()
    assert not torch.allclose(logits(reference, full), logits(plain, full))
    with pytest.raises(ValueError, match="weighting"):
        build_darts_supernet(10, seed=0, channels=4, layers=3, weighting="softmax")


TINY_GENOTYPE = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_3x3', 0), ('sep_conv_5x5', 2), "
    "('max_pool_3x3', 1), ('avg_pool_3x3', 3), ('dil_conv_5x5', 2), ('sep_conv_3x3', 4)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
    "('skip_connect', 2), ('avg_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 3)], reduce_concat=[2, 3, 4, 5])"
)


def test_none_is_never_kept_nor_tested():
    problem = PruningProblem(("e",), ("none", "p", "q"), never_keep=("none",))
    asked = []

    def score(mask):  # removing `none` would lower the score most, but `none` may not stay
        asked.append(mask["e"])
        return {("p", "q"): -10.0, ("none", "q"): -1.0, ("none", "p"): -2.0}[mask["e"]]

    assert choose_ops(problem, problem.full_mask(), ["e"], score) == {"e": ("q",)}  # removing q: -2 < -1
    assert asked == [("none", "q"), ("none", "p")]
    darts = build_darts_supernet(10, seed=0, channels=4, layers=3).problem
    # 28 edges x 7 keepable ops, then nodes 3, 4, 5 of both cells test 3 + 4 + 5 inputs each, then the final mask
    assert steps_per_candidate(darts) == 28 * 7 + 2 * (3 + 4 + 5) + 1 == 221


def test_meco_scores_the_supernet_itself_and_synflow_a_copy():
    net = build_darts_supernet(10, seed=1, channels=4, layers=3)
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    full = net.problem.full_mask()
    masks = [full, {**full, "normal:3<-1": OPS[2:]}, mask_from_genotype(parse_genotype(TINY_GENOTYPE)), full]
    before = {k: v.clone() for k, v in net.named_parameters()}
    assert supernet_candidate(net, full, copy=False).network() is net
    assert supernet_candidate(net, full).network() is not net
    for name, some in (("meco", masks), ("meco_opt", masks[2:])):
        proxy = PROXIES.get(name)()
        assert proxy.modifies_network is False
        copied = [proxy.score(supernet_candidate(net, m, copy=True), x) for m in some]
        shared = [proxy.score(supernet_candidate(net, m, copy=False), x) for m in some]
        assert shared == copied and copied[0] != copied[1]
    assert copied[-1] == PROXIES.get("meco_opt")().score(supernet_candidate(net, full, copy=False), x)
    assert all(torch.equal(before[k], v) for k, v in net.named_parameters())
    synflow = PROXIES.get("synflow")()
    assert synflow.modifies_network is True
    value = proxy_score_fn(synflow, net, x)(full)  # zc_pt's score function: synflow gets a copy
    assert value > 0 and all(torch.equal(before[k], v) for k, v in net.named_parameters())
    assert any(bool((v < 0).any()) for v in net.parameters())  # synflow's abs() would have left none negative


def test_cells_hook_set_finds_the_supernet_cells():
    cells = hook_filter("cells")

    def kept(net, x):
        return sorted({site.name for probe in collect_probes(net, x) for site in probe.sites if cells(site)})

    x = torch.randn(1, 3, 8, 8)
    assert kept(build_darts_supernet(10, seed=0, channels=4, layers=3), x) == ["cells.0", "cells.1", "cells.2", "stem"]
    nb201 = build_supernet(0, channels=4, cells_per_stage=1)
    assert kept(nb201, x) == ["cells.0", "cells.1", "cells.2", "cells.3", "cells.4", "stem"]
    discrete = DartsGenotypes((TINY_GENOTYPE,), channels=4, layers=3).network(0, 10, 0)
    assert kept(discrete, x) == ["cells.0", "cells.1", "cells.2", "stem"]


def test_score_refuses_darts_in_one_line(cli, tmp_path):
    done = cli("space=darts", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, done.stderr
    assert "space='darts'" in err and "nats_tss" in err and "method=zc_pt" in err


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """`search method=zc_pt space=darts` through the real CLI on the tiny supernet: (run folder, stdout)."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("zc_pt_darts")
    done = run_cli("method=zc_pt", *TINY, f"hydra.run.dir={root / 'run'}", f"latest={root / 'latest.json'}",
                   module="meco_lab.search", cwd=root)
    assert done.returncode == 0, done.stderr
    return root, done.stdout


def test_search_zc_pt_darts_writes_a_genotype_and_its_picture(searched):
    root, stdout = searched
    selection = json.loads((root / "run" / "selection.json").read_text())
    best = selection["best"]
    assert selection["space"] == "darts" and selection["method"] == "zc_pt" and selection["final"] == "discrete"
    assert best["index"] is None and best["accuracy"] == {}  # no benchmark: no task, no value
    assert selection["candidates_accuracy"] is None and selection["truth"] is None
    genotype = parse_genotype(best["arch"])
    for kind in ("normal", "reduce"):
        edges, concat = genotype.cell(kind)
        assert len(edges) == 8 and concat == (2, 3, 4, 5) and all(op in OPS[1:] for op, _ in edges)
        for node in range(4):  # two distinct inputs per node, each an earlier node
            a, b = edges[2 * node][1], edges[2 * node + 1][1]
            assert a != b and max(a, b) < node + 2
    # no normal cell runs, so every test on its edges ties: the first keepable op and the first two inputs stay
    assert genotype.normal == (("max_pool_3x3", 0), ("max_pool_3x3", 1)) * 4
    (candidate,) = selection["candidates"]
    mask = {edge: tuple(ops) for edge, ops in candidate["mask"].items()}
    assert str(genotype_from_mask(mask)) == candidate["arch"] == best["arch"]
    assert sum(len(ops) for ops in mask.values()) == 16  # one op per kept edge, two edges per node
    assert selection["evaluations"]["supernet"] + selection["evaluations"]["cached"] == 221
    assert selection["evaluations"]["final"] == 1 and selection["seconds"] > 0
    picture = root / "run" / "genotype.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and selection["picture"] == str(picture)
    assert "no benchmark for darts" in stdout
    from meco_lab.training.archs import resolve_archs  # what `retrain arch=best` reads

    (choice,) = resolve_archs("best", str(root / "latest.json"))
    assert choice.space == "darts" and choice.arch == best["arch"] and choice.index is None


def test_darts_search_is_deterministic(searched):
    """The same seed in this process finds the CLI's genotype, with the same supernet and final scores."""
    root, _ = searched
    best = json.loads((root / "run" / "selection.json").read_text())["best"]
    x, _ = make_batch("random", size=8, samples=1, seed=0)
    meco = PROXIES.get("meco")()
    setup = darts_supernet(DartsGenotypes(), {"channels": 4, "layers": 1}, 0, 10, {})
    result = zero_cost_pt(setup.net, proxy=meco, x=x, candidates=1, seed=0,
                          final_score=lambda mask: meco.score(setup.discrete(mask), x))
    assert setup.arch(result.best_mask) == best["arch"]
    assert result.candidates[0].supernet_score == best["supernet_score"] and result.best_score == best["score"]
    # the final score is MeCo of the genotype's own network (NetworkCIFAR at space.channels, space.layers)
    own = Candidate(DartsGenotypes((best["arch"],), channels=4, layers=1), 0, 0)
    assert best["score"] == meco.score(own, x)
