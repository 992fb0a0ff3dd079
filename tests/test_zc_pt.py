"""Zero-Cost-PT: the pruning rule on hand-computable supernets, the NB201 supernet, `search method=zc_pt`."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from meco_lab.benchmarks.truth import NATS_DATASETS, load_params, load_table_truth
from meco_lab.core.errors import ConfigError
from meco_lab.proxies import PROXIES
from meco_lab.search_methods.supernets import nats_tss_supernet
from meco_lab.search_methods.zc_pt import choose_ops, steps_per_candidate, zero_cost_pt
from meco_lab.search_methods.zc_pt_run import check_zc_pt
from meco_lab.spaces.base import Candidate
from meco_lab.spaces.nb201.cell import OPS, parse_arch
from meco_lab.spaces.nb201.network import InferCell, TinyNetwork
from meco_lab.spaces.nb201.space import NatsTss, nats_tss_archs
from meco_lab.spaces.nb201.supernet import EDGES, arch_to_mask, build_supernet, mask_to_arch
from meco_lab.spaces.supernet import Mask, PruningProblem

pytestmark = pytest.mark.usefixtures("one_thread")  # as the CLI runs (threads=1): exact sums, no oversubscription


class ToySupernet(nn.Module):
    """Edge e with operations left S outputs x * sum(value[e][o] for o in S); the mask only switches terms off."""

    def __init__(self, problem: PruningProblem, values: dict[str, dict[str, float]]):
        super().__init__()
        self.problem = problem
        self.value = nn.ParameterDict(
            {
                e: nn.Parameter(torch.tensor([float(values[e][o]) for o in problem.ops]), requires_grad=False)
                for e in problem.edges
            }
        )
        self.mask = problem.full_mask()

    def set_mask(self, mask: Mask) -> None:
        self.mask = dict(mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(x * self.value[e][self.problem.ops.index(o)] for e in self.problem.edges for o in self.mask[e])


class OutputSum:
    """A proxy whose score is the network's output summed: here the sum of the values the mask leaves on."""

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return float(candidate.network()(x).sum())


VALUES = {
    "a": {"p": 1.0, "q": 3.0, "r": 2.0},
    "b": {"p": 5.0, "q": 5.0, "r": -1.0},
    "c": {"p": 0.0, "q": 0.5, "r": 4.0},
}


def test_each_edge_keeps_the_op_whose_removal_lowers_the_score_most():
    net = ToySupernet(PruningProblem(("a", "b", "c"), ("p", "q", "r")), VALUES)
    result = zero_cost_pt(net, proxy=OutputSum(), x=torch.ones(1), candidates=3, seed=0)
    # additive: removing o lowers the score by value[e][o], so the largest value stays; b's tie goes to the first op
    expected = {"a": ("q",), "b": ("p",), "c": ("r",)}
    assert all(c.mask == expected for c in result.candidates)
    assert result.best_mask == expected and result.best_score == 3.0 + 5.0 + 4.0
    # 9 removal tests + the final mask per candidate; repeated masks are scored once
    assert steps_per_candidate(net.problem) == 10
    assert result.evaluations + result.cache_hits == 3 * 10 and result.evaluations < 30


def interaction_score(mask: Mask) -> float:
    """vA + vB of the ops left, plus 10 when A is down to q while B still holds p."""
    value = {"A": {"p": 1.0, "q": 2.0}, "B": {"p": 1.0, "q": 2.0}}
    bonus = 10.0 if mask["A"] == ("q",) and "p" in mask["B"] else 0.0
    return sum(value[e][o] for e in mask for o in mask[e]) + bonus


def test_the_edge_order_decides_and_the_best_candidate_wins():
    problem = PruningProblem(("A", "B"), ("p", "q"))
    full = problem.full_mask()
    # A first: removing p scores 2+3+10, removing q 1+3, so A keeps q; then B: removing p 2+2, q 2+1+10: B keeps p
    assert choose_ops(problem, full, ["A", "B"], interaction_score) == {"A": ("q",), "B": ("p",)}
    # B first (no bonus while A holds both): B keeps q; then A keeps q
    assert choose_ops(problem, full, ["B", "A"], interaction_score) == {"A": ("q",), "B": ("q",)}
    net = ToySupernet(problem, {"A": {"p": 0, "q": 0}, "B": {"p": 0, "q": 0}})
    result = zero_cost_pt(net, interaction_score, candidates=8, seed=3)
    orders = [c.edge_order for c in result.candidates]
    assert ["A", "B"] in orders and ["B", "A"] in orders
    for c in result.candidates:
        assert c.mask == ({"A": ("q",), "B": ("p",)} if c.edge_order == ["A", "B"] else {"A": ("q",), "B": ("q",)})
        assert c.score == c.supernet_score == interaction_score(c.mask)
    assert result.best == orders.index(["A", "B"]) and result.best_score == 13.0
    # a final score other than the supernet's picks by that score
    prefer_bq = zero_cost_pt(net, interaction_score, candidates=8, seed=3, final_score=lambda m: -interaction_score(m))
    assert prefer_bq.best_mask == {"A": ("q",), "B": ("q",)} and prefer_bq.final_evaluations == 2


def test_node_step_keeps_the_inputs_whose_removal_lowers_the_score_most():
    # DARTS-like: node 2 has two inputs (kept whole), node 3 three, node 4 four; each keeps 2
    node_inputs = {"2": ("2<-0", "2<-1"), "3": ("3<-0", "3<-1", "3<-2"), "4": ("4<-0", "4<-1", "4<-2", "4<-3")}
    edges = tuple(e for inputs in node_inputs.values() for e in inputs)
    problem = PruningProblem(edges, ("p", "q"), node_inputs, keep_inputs=2)
    values = {e: {"p": float(k), "q": float(10 - k)} for k, e in enumerate(edges)}  # k = 0..8
    net = ToySupernet(problem, values)
    result = zero_cost_pt(net, proxy=OutputSum(), x=torch.ones(1), candidates=2, seed=0)
    # ops: max(k, 10 - k) -> q for k < 5, p for k > 5, k = 5 a tie -> p; inputs: the two largest of those values
    # ops: max(k, 10 - k), so q for k < 5 and p from k = 5 (a tie there goes to p); the edges' values are then
    # 10, 9 | 8, 7, 6 | 5, 6, 7, 8 and each node keeps its two largest
    expected = {
        "2<-0": ("q",),
        "2<-1": ("q",),
        "3<-0": ("q",),
        "3<-1": ("q",),
        "3<-2": (),
        "4<-0": (),
        "4<-1": (),
        "4<-2": ("p",),
        "4<-3": ("p",),
    }
    for c in result.candidates:
        assert c.mask == expected and sorted(c.node_order) == ["2", "3", "4"]
    assert result.best_score == 10 + 9 + 8 + 7 + 7 + 8
    # per candidate: 9 edges x 2 ops, then 3 + 4 removal tests (node 2 is not tested), then the final mask
    assert steps_per_candidate(problem) == 18 + 7 + 1


def test_nan_never_wins_and_ties_go_to_the_first_op():
    problem = PruningProblem(("e",), ("p", "q", "r"))
    nan_for_q_removed = lambda m: math.nan if m["e"] == ("p", "r") else -len(m["e"])  # noqa: E731
    assert choose_ops(problem, problem.full_mask(), ["e"], nan_for_q_removed) == {"e": ("p",)}
    assert choose_ops(problem, problem.full_mask(), ["e"], lambda m: 0.0) == {"e": ("p",)}


def test_a_seed_fixes_the_search():
    problem = PruningProblem(tuple("abcdef"), ("p", "q", "r"))
    net = ToySupernet(problem, {e: {"p": 0, "q": 0, "r": 0} for e in problem.edges})
    score = lambda m: sum(ord(m[e][0]) * (1 + k) for k, e in enumerate(problem.edges)) / len(str(m))  # noqa: E731
    runs = [zero_cost_pt(net, score, candidates=4, seed=seed) for seed in (7, 7, 8)]
    assert [c.edge_order for c in runs[0].candidates] == [c.edge_order for c in runs[1].candidates]
    assert [c.mask for c in runs[0].candidates] == [c.mask for c in runs[1].candidates]
    assert runs[0].best == runs[1].best and runs[0].best_score == runs[1].best_score
    assert [c.edge_order for c in runs[0].candidates] != [c.edge_order for c in runs[2].candidates]
    assert len({tuple(c.edge_order) for c in runs[0].candidates}) > 1


def test_bad_candidates_and_settings_are_refused():
    net = ToySupernet(PruningProblem(("a",), ("p", "q")), {"a": {"p": 0, "q": 1}})
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match=r"zc_pt\.candidates"):
            zero_cost_pt(net, lambda m: 0.0, candidates=bad)
    with pytest.raises(TypeError, match="MaskableSupernet"):
        zero_cost_pt(nn.Linear(1, 1), lambda m: 0.0)
    base = {
        "space": {"name": "nats_tss"},
        "truth": {"name": "table", "metric": "test"},
        "zc_pt": {"candidates": 2, "final": "discrete", "weighting": "reference"},
    }
    assert check_zc_pt(base)["candidates"] == 2
    bad = {
        "zc_pt.candidates": {**base, "zc_pt": {**base["zc_pt"], "candidates": 0}},
        "zc_pt.final": {**base, "zc_pt": {**base["zc_pt"], "final": "mean"}},
        "space": {**base, "space": {"name": "nats_sss"}},
        "truth.metric": {**base, "truth": {"name": "table", "metric": "train"}},
    }
    for key, config in bad.items():
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            check_zc_pt(config)
    with pytest.raises(ConfigError, match=r"zc_pt\.weighting"):
        nats_tss_supernet(NatsTss(), {}, 0, 10, {"weighting": "mean"})


ARCHS = (
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|avg_pool_3x3~2|",
)


@pytest.mark.parametrize("arch", ARCHS)
def test_a_single_op_mask_is_the_discrete_network(arch):
    net = build_supernet(5, num_classes=10)
    mask = arch_to_mask(arch)
    assert mask_to_arch(mask) == arch and set(mask) == set(EDGES)
    net.set_mask(mask)
    genotype = parse_arch(arch)
    discrete = TinyNetwork(genotype)
    edges = [(f"{j}<-{i}", op) for j, node in enumerate(genotype, start=1) for op, i in node]  # InferCell's order
    state = {name: tensor for name, tensor in net.state_dict().items() if ".edges." not in name}
    active = []
    for c, cell in enumerate(discrete.cells):
        if isinstance(cell, InferCell):
            for k, (edge, op) in enumerate(edges):
                module = net.cells[c].edges[edge][OPS.index(op)]
                active.append(module)
                state.update({f"cells.{c}.layers.{k}.{n}": t for n, t in module.state_dict().items()})
    # parameter-wise: the discrete network's tensors are exactly the supernet's shared parts plus its active ops
    discrete.load_state_dict(state, strict=True)
    shared = sum(p.numel() for n, p in net.named_parameters() if ".edges." not in n)
    n_active = shared + sum(p.numel() for m in active for p in m.parameters())
    index = nats_tss_archs().index(arch)
    assert n_active == load_params("cifar10")[index] == sum(p.numel() for p in discrete.parameters())
    # forward-wise: the same logits, in train mode (batch statistics), bit for bit
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(net(x), discrete(x))


def test_flops_prune_the_nb201_supernet_to_3x3_convs():
    """FLOPs count only the convolutions that run, so each edge keeps its 3x3 conv; the mask's FLOPs are NATS's."""
    net = build_supernet(0, channels=8, cells_per_stage=1)
    flops = PROXIES.get("flops")()
    x = torch.randn(1, 3, 32, 32)
    result = zero_cost_pt(net, proxy=flops, x=x, candidates=1, seed=0)
    arch = mask_to_arch(result.best_mask)
    assert arch == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    index = nats_tss_archs().index(arch)
    assert result.best_score == flops.score(Candidate(NatsTss(channels=8, cells_per_stage=1), index, 0), x)
    assert result.evaluations == steps_per_candidate(net.problem) == 31


def test_search_zc_pt_writes_a_selection(cli, tmp_path):
    done = cli(
        "method=zc_pt",
        "zc_pt.candidates=2",
        "space.channels=8",
        "space.cells_per_stage=1",
        "data.size=16",
        "seed=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        f"latest={tmp_path / 'latest.json'}",
        module="meco_lab.search",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    best = selection["best"]
    assert selection["method"] == "zc_pt" and selection["n_candidates"] == 2 and len(selection["candidates"]) == 2
    assert best["arch"] == nats_tss_archs()[best["index"]] and best["rank"] == 1
    assert best["candidates"] and selection["ranked"][0] == best
    truth = load_table_truth("test")
    assert best["accuracy"] == {d: float(truth.values[d][best["index"]]) for d in NATS_DATASETS}
    # final=discrete: the found arch's score is the proxy's score of its own network, as `meco_lab.score` gives it
    from meco_lab.inputs import make_batch

    x, _ = make_batch("random", size=16, samples=1, seed=1)
    expected = PROXIES.get("meco")().score(Candidate(NatsTss(channels=8, cells_per_stage=1), best["index"], 1), x)
    assert best["score"] == expected
    for c in selection["candidates"]:
        assert mask_to_arch({e: tuple(ops) for e, ops in c["mask"].items()}) == c["arch"]
        assert sorted(c["edge_order"]) == sorted(EDGES)
    ev = selection["evaluations"]
    assert ev["supernet"] + ev["cached"] == 2 * 31 and ev["final"] == selection["n_distinct"]
    assert selection["seconds"] > 0 and selection["config"]["zc_pt"]["candidates"] == 2
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert {k: v for k, v in latest.items() if k != "selection_path"} == selection
    from meco_lab.training.archs import resolve_archs  # what `retrain arch=best` reads

    assert resolve_archs("best", str(tmp_path / "latest.json"))[0].arch == best["arch"]
    assert "found" in done.stdout and f"{best['accuracy']['cifar10']:.2f}" in done.stdout


def test_search_zc_pt_bad_input_is_one_line(cli, tmp_path):
    done = cli(
        "method=zc_pt",
        "zc_pt.candidates=0",
        f"hydra.run.dir={tmp_path / 'run'}",
        f"latest={tmp_path / 'latest.json'}",
        module="meco_lab.search",
        cwd=tmp_path,
    )
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, done.stderr
    assert "zc_pt.candidates=0" in err and ">= 1" in err
    assert not (tmp_path / "latest.json").exists()


def test_removing_an_op_changes_the_meco_score_of_the_nb201_supernet():
    """The removal test sees something: MeCo of the supernet moves when any one op leaves any one edge."""
    from meco_lab.inputs import make_input
    from meco_lab.search_methods.zc_pt import proxy_score_fn

    net = build_supernet(seed=0, channels=8, cells_per_stage=1)
    score = proxy_score_fn(PROXIES.get("meco")(), net, make_input("random", size=16, seed=0))
    full = net.problem.full_mask()
    base = score(full)
    assert math.isfinite(base) and score(full) == base  # deterministic
    for edge in EDGES:
        for op in ("nor_conv_3x3", "skip_connect"):
            assert score({**full, edge: tuple(o for o in full[edge] if o != op)}) != base, (edge, op)
