"""Unit tests of the baseline zero-cost proxies (docs/baselines.md): values derived by hand on tiny networks,
invariants, and agreement with straightforward re-implementations of the reference code on NB201 networks."""

from __future__ import annotations

import importlib
import math
import types
from collections.abc import Callable
from pathlib import Path

import nats_bench
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from meco_lab.benchmarks.truth import load_params
from meco_lab.core.errors import ConfigError
from meco_lab.inputs import make_batch
from meco_lab.proxies import PROXIES
from meco_lab.proxies.baselines_common import per_sample_grads, sample_statistics, weight_names
from meco_lab.proxies.gradient_kernels import ntk_matrix
from meco_lab.proxies.jacov import K as JACOV_K
from meco_lab.proxies.naswot import naswot_kernel
from meco_lab.proxies.zico import zico_from_gradients
from meco_lab.scoring.scorer import Scorer, ScoringJob
from meco_lab.spaces import SPACES, Candidate

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: one torch thread

REPO = Path(__file__).resolve().parents[1]
FIXTURE_TORCH_HOME = REPO / "tests" / "fixtures" / "fake_torch_dir"
SPACE = SPACES.get("nats_tss")()
BASELINES = ["fisher", "flops", "grad_norm", "gradsign", "grasp", "jacov", "knas", "l2_norm", "nasi", "ntk", "nwot",
             "params", "snip", "synflow", "zen", "zico"]
MULTI_SAMPLE = {"nwot": 2, "jacov": 2, "ntk": 2, "knas": 2, "gradsign": 2, "zico": 2}


class Stub:
    """A candidate whose network is built by `make` (fresh each call), for hand-checked tiny models."""

    def __init__(self, make: Callable[[], nn.Module], weight_seed: int = 7):
        self.make, self.weight_seed, self.index, self.seed, self.num_classes = make, weight_seed, 0, 0, 10

    def network(self) -> nn.Module:
        return self.make()

    def loss(self, output: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The loss of a classification space (`SearchSpace.loss`), as the gradient proxies take it."""
        return F.cross_entropy(output, target, reduction=reduction)


def nb201_double(index: int, classes: int = 10) -> Stub:
    """NB201 network `index` (seed 0) in float64, so reference re-implementations agree to rounding."""
    return Stub(lambda: SPACE.network(index, classes, 0).double())


def linear_model(weight: torch.Tensor, bias: torch.Tensor | None = None) -> Stub:
    def make() -> nn.Module:
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None).double()
        with torch.no_grad():
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)
        return layer

    return Stub(make)


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = make_batch("cifar10", samples=8, seed=3)
    return x.double(), y


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 3-class softmax regression: W (3 x 5), b, inputs (6 x 5), labels."""
    gen = torch.Generator().manual_seed(11)
    w = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(3, generator=gen, dtype=torch.float64)
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0, 2])
    return w, b, x, y


def softmax_regression_grad(w, b, x, y) -> torch.Tensor:
    """dL/dW of the mean cross-entropy of softmax(x W^T + b), derived by hand: (p - onehot)^T x / N."""
    p = torch.softmax(x @ w.T + b, dim=1)
    return (p - F.one_hot(y, w.shape[0]).double()).T @ x / x.shape[0]


# ---------------------------------------------------------------- registry, configs and the needs check


def test_every_baseline_is_registered_with_a_config():
    """conf/proxy/<name>.yaml builds the proxy; its module docstring names the reference implementation followed."""
    for name in BASELINES:
        cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "proxy" / f"{name}.yaml"))
        assert cfg["name"] == name
        proxy = PROXIES.get(name)(**{k: v for k, v in cfg.items() if k != "name"})
        assert proxy.name == name
        assert "Reference" in importlib.import_module(type(proxy).__module__).__doc__


@pytest.mark.parametrize("name", sorted(MULTI_SAMPLE))
def test_needs_check_refuses_one_sample_in_one_line(name):
    proxy = PROXIES.get(name)()
    with pytest.raises(ConfigError) as error:
        proxy.check({"name": "cifar10", "samples": 1, "reduce": "first"})
    message = str(error.value)
    assert "\n" not in message and message.startswith("data.samples=1 ") and name in message and ">= 2" in message
    with pytest.raises(ConfigError, match=rf"data\.reduce='mean'.*'first' for proxy {name}"):
        proxy.check({"name": "cifar10", "samples": 8, "reduce": "mean"})
    proxy.check({"name": "cifar10", "samples": 8, "reduce": "first"})


@pytest.mark.parametrize("name", ["params", "flops", "synflow", "snip", "grad_norm", "fisher", "grasp", "l2_norm",
                                  "zen", "nasi"])
def test_single_sample_proxies_accept_one_sample(name):
    PROXIES.get(name)().check({"name": "random", "samples": 1, "reduce": "mean"})


def test_label_and_backward_needs_are_declared():
    labels = {n for n in BASELINES if PROXIES.get(n).needs_labels}
    backward = {n for n in BASELINES if PROXIES.get(n).needs_backward}
    assert labels == {"snip", "grad_norm", "fisher", "grasp", "zico", "gradsign", "knas", "nasi"}
    assert backward == labels | {"synflow", "jacov", "ntk"}


def test_every_baseline_scores_through_the_scorer():
    """The real Scorer (no no_grad wrapper) gives a finite score for every baseline on two NB201 archs."""
    x, y = make_batch("cifar10", samples=4, seed=0)
    data = {"name": "cifar10", "size": 32, "samples": 4, "reduce": "first", "root": None, "split": "train"}
    for name in BASELINES:
        job = ScoringJob(space={"name": "nats_tss"}, proxy={"name": name}, x=x, y=y, seed=0, num_classes=10,
                         data=data)
        rows = Scorer(job).score_many([0, 5000])
        assert all(r["error"] is None and math.isfinite(r["score"]) for r in rows), (name, rows)


def test_gradient_proxies_manage_grad_themselves():
    """Called inside torch.no_grad (as an older scorer did), gradient proxies give the same value."""
    x, y = make_batch("cifar10", samples=4, seed=1)
    candidate = Candidate(SPACE, 284, 0)
    for name in BASELINES:
        if PROXIES.get(name).needs_backward:
            free = PROXIES.get(name)().score(candidate, x, y)
            with torch.no_grad():
                assert PROXIES.get(name)().score(candidate, x, y) == free, name


# ---------------------------------------------------------------- params and flops


def test_params_exact():
    stub = Stub(lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2)))
    # conv 4*3*3*3 + 4 bias = 112, BN 4 + 4, linear 4*2 + 2
    assert PROXIES.get("params")().score(stub, torch.zeros(1, 3, 3, 3)) == 130 / 1e6
    expected = load_params("cifar100")
    for i in (0, 11, 284, 9999):
        got = PROXIES.get("params")().score(Candidate(SPACE, i, 0, 100), torch.zeros(1, 3, 32, 32))
        assert got == expected[i] / 1e6


def test_flops_hand_count():
    stub = Stub(lambda: nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=True), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten(), nn.Linear(4, 5)))
    # conv: 3*3*3*4 MACs at 4x4 positions + 4 bias adds per position; linear 4*5 + 5
    expected = (3 * 3 * 3 * 4 * 16 + 4 * 16) + (4 * 5 + 5)
    assert PROXIES.get("flops")().score(stub, torch.zeros(2, 3, 8, 8)) == expected / 1e6


@pytest.mark.parametrize(("dataset", "classes", "size"), [("cifar10", 10, 32), ("cifar100", 100, 32),
                                                          ("ImageNet16-120", 120, 16)])
def test_flops_equal_nats_bench_fixture(monkeypatch, dataset, classes, size):
    """MFLOPs equal the NATS-Bench archive's `get_cost_info(i, dataset)['flops']` exactly for archs 0/11/284."""
    monkeypatch.setenv("TORCH_HOME", str(FIXTURE_TORCH_HOME))
    api = nats_bench.create(None, "tss", fast_mode=True, verbose=False)
    for i in (0, 11, 284):
        assert api.arch(i) == SPACE.arch(i)
        ours = PROXIES.get("flops")().score(Candidate(SPACE, i, 0, classes), torch.zeros(1, 3, size, size))
        assert ours == api.get_cost_info(i, dataset)["flops"], (dataset, i)


# ---------------------------------------------------------------- synflow


def test_synflow_linear_chain_equals_analytic_value():
    """For a bias-free linear chain, R = 1^T |W3||W2||W1| 1 and each layer's sum of |w dR/dw| is R, so SynFlow = 3 R."""
    gen = torch.Generator().manual_seed(0)
    ws = [torch.randn(6, 4, generator=gen), torch.randn(5, 6, generator=gen), torch.randn(3, 5, generator=gen)]

    def make() -> nn.Module:
        net = nn.Sequential(*(nn.Linear(w.shape[1], w.shape[0], bias=False) for w in ws))
        with torch.no_grad():
            for layer, w in zip(net, ws, strict=True):
                layer.weight.copy_(w)
        return net

    r = float(torch.ones(3, dtype=torch.float64) @ ws[2].double().abs() @ ws[1].double().abs()
              @ ws[0].double().abs() @ torch.ones(4, dtype=torch.float64))
    got = PROXIES.get("synflow")().score(Stub(make), torch.randn(5, 4))
    assert got == pytest.approx(3 * r, rel=1e-12)

    def make_bn() -> nn.Module:  # batch-norm is bypassed (foresight bn=False), so inserting one changes nothing
        net = make()
        return nn.Sequential(net[0], nn.BatchNorm1d(6), net[1], net[2])

    assert PROXIES.get("synflow")().score(Stub(make_bn), torch.randn(5, 4)) == pytest.approx(3 * r, rel=1e-12)


def test_synflow_ignores_data_and_is_reproducible():
    proxy, c = PROXIES.get("synflow")(), Candidate(SPACE, 11, 0)
    a = proxy.score(c, torch.randn(1, 3, 32, 32))
    assert a == proxy.score(c, torch.randn(7, 3, 32, 32)) and a > 0


# ---------------------------------------------------------------- nwot


def test_naswot_kernel_matches_definition(batch):
    x, _ = batch
    net = SPACE.network(7, 10, 0).double()
    k = naswot_kernel(net, x)
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    codes = []
    handles = [m.register_forward_hook(lambda _m, inp, _o: codes.append((inp[0] > 0).flatten(1).double()))
               for m in relus]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    c = torch.cat(codes, 1)  # the BayesWatch definition on ReLU inputs (in-place ReLU: input is output)
    assert torch.equal(k, c @ c.T + (1 - c) @ (1 - c).T)
    assert torch.equal(k, k.T)
    assert torch.all(k.diagonal() == c.shape[1])  # every sample agrees with itself on every ReLU unit
    assert torch.equal(k, k.round())
    score = PROXIES.get("nwot")().score(Stub(lambda: SPACE.network(7, 10, 0).double()), x)
    assert score == pytest.approx(float(torch.linalg.slogdet(k).logabsdet), rel=1e-12)


def test_naswot_two_identical_samples_give_singular_kernel():
    x = torch.randn(1, 3, 32, 32).repeat(2, 1, 1, 1)
    k = naswot_kernel(SPACE.network(3, 10, 0), x)
    assert torch.all(k == k[0, 0])  # identical codes: K is all-D, rank 1


# ---------------------------------------------------------------- jacov


def test_jacov_linear_model_hand_value():
    """f(x) = W x: every input Jacobian is W^T 1, so corrcoef = all ones, eigenvalues N, 0, ..., 0."""
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    n, k = 5, JACOV_K
    expected = -((math.log(n + k) + 1 / (n + k)) + (n - 1) * (math.log(k) + 1 / k))
    got = PROXIES.get("jacov")().score(linear_model(w), torch.randn(n, 6, dtype=torch.float64))
    assert got == pytest.approx(expected, rel=1e-6)


def test_jacov_matches_numpy_reference(batch):
    x, _ = batch
    net = SPACE.network(11, 10, 0).double()
    xr = x.clone().requires_grad_(True)
    net(xr).backward(torch.ones(len(x), 10, dtype=torch.float64))
    v = np.linalg.eig(np.corrcoef(xr.grad.reshape(len(x), -1).numpy()))[0].real
    expected = -np.sum(np.log(v + 1e-5) + 1.0 / (v + 1e-5))
    got = PROXIES.get("jacov")().score(nb201_double(11), x)
    assert got == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------- snip, grad_norm, fisher, grasp, l2_norm


def test_grad_norm_one_layer_equals_hand_norm(tiny):
    w, b, x, y = tiny
    expected = float(torch.linalg.norm(softmax_regression_grad(w, b, x, y)))
    assert PROXIES.get("grad_norm")().score(linear_model(w, b), x, y) == pytest.approx(expected, rel=1e-12)


def test_snip_one_layer_equals_hand_saliency(tiny):
    w, b, x, y = tiny
    expected = float((w * softmax_regression_grad(w, b, x, y)).abs().sum())
    assert PROXIES.get("snip")().score(linear_model(w, b), x, y) == pytest.approx(expected, rel=1e-12)


def test_snip_matches_foresight_mask_gradient(batch):
    """foresight: gradient w.r.t. a mask of ones multiplying each weight."""
    x, y = batch
    net = SPACE.network(11, 10, 0).double()
    masks = []
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight_mask = torch.ones_like(m.weight, requires_grad=True)
            masks.append(m.weight_mask)
            if isinstance(m, nn.Conv2d):
                m.forward = types.MethodType(lambda s, t: F.conv2d(t, s.weight * s.weight_mask, s.bias, s.stride,
                                                                    s.padding, s.dilation, s.groups), m)
            else:
                m.forward = types.MethodType(lambda s, t: F.linear(t, s.weight * s.weight_mask, s.bias), m)
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), masks)
    expected = sum(float(g.abs().sum()) for g in grads)
    assert PROXIES.get("snip")().score(nb201_double(11), x, y) == pytest.approx(expected, rel=1e-9)


def test_fisher_one_layer_equals_hand_value(tiny):
    """Linear: z = x W^T + b, dL/dz = (p - onehot)/N; per unit 0.5 mean_n (z g)^2, broadcast over its 5 weights."""
    w, b, x, y = tiny
    z = x @ w.T + b
    g = (torch.softmax(z, 1) - F.one_hot(y, 3).double()) / len(x)
    expected = float((0.5 * (z * g).pow(2).mean(0)).sum() * w.shape[1])
    assert PROXIES.get("fisher")().score(linear_model(w, b), x, y) == pytest.approx(expected, rel=1e-12)


def test_fisher_matches_foresight_backward_hooks(batch):
    """foresight: an identity after each conv/linear, whose full backward hook sees dL/dz."""
    x, y = batch
    net = SPACE.network(5000, 10, 0).double()
    values = []
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.dummy, m.act = nn.Identity(), None
            base = m.forward

            def forward(t, m=m, base=base):
                m.act = m.dummy(base(t))
                return m.act

            m.forward = forward

            def hook(_mod, _gin, gout, m=m):
                act, grad = m.act.detach(), gout[0].detach()
                g_nk = (act * grad).sum(list(range(2, act.dim()))) if act.dim() > 2 else act * grad
                values.append(g_nk.pow(2).mean(0).mul(0.5).abs().sum() * m.weight[0].numel())

            m.dummy.register_full_backward_hook(hook)
    F.cross_entropy(net(x), y).backward()
    expected = float(sum(values))
    assert PROXIES.get("fisher")().score(nb201_double(5000), x, y) == pytest.approx(expected, rel=1e-9)


def test_grasp_one_layer_equals_hessian_gradient_product(tiny):
    w, b, x, y = tiny

    def loss(weight: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x @ weight.T + b, y)

    hessian = torch.autograd.functional.hessian(loss, w).reshape(w.numel(), w.numel())
    g = softmax_regression_grad(w, b, x, y).reshape(-1)
    expected = float(-(w.reshape(-1) * (hessian @ g)).sum())
    assert PROXIES.get("grasp")().score(linear_model(w, b), x, y) == pytest.approx(expected, rel=1e-10)


def test_grasp_matches_foresight_two_passes(batch):
    x, y = batch
    net = SPACE.network(11, 10, 0).double()
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    grad_w = torch.autograd.grad(F.cross_entropy(net(x), y), weights)
    grad_f = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True)
    sum((a.detach() * b).sum() for a, b in zip(grad_w, grad_f, strict=True)).backward()
    expected = float(sum((-w.detach() * w.grad).sum() for w in weights))
    assert PROXIES.get("grasp")().score(nb201_double(11), x, y) == pytest.approx(expected, rel=1e-8)


def test_l2_norm_hand_value():
    stub = Stub(lambda: nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)))
    net = stub.network()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
        net[1].weight.copy_(torch.tensor([[1.0, 0.0]]))
    assert PROXIES.get("l2_norm")().score(Stub(lambda: net), torch.zeros(1, 2)) == pytest.approx(6.0)


# ---------------------------------------------------------------- ntk, knas, nasi, gradsign


def test_ntk_linear_model_is_input_gram_conditioning():
    """f(x) = W x (3 outputs): the gradient of sum_k f_k(x_i) w.r.t. W is 1 x_i^T, so Theta = 3 X X^T."""
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    x = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    ev = torch.linalg.eigvalsh(x @ x.T)
    for mode in ("train", "eval"):
        got = PROXIES.get("ntk")(mode=mode).score(linear_model(w), x)
        assert got == pytest.approx(float(ev[0] / ev[-1]), rel=1e-9)
    assert torch.allclose(ntk_matrix(linear_model(w).network(), x), 3 * x @ x.T, rtol=1e-12)


def test_ntk_eval_mode_matches_per_sample_backward_loop(batch):
    """MeCo's reference: eval mode, one backward per sample of logit_i.sum() over the 'weight' parameters."""
    x, _ = batch
    net = SPACE.network(5000, 10, 0).double().eval()
    names = [n for n, _ in net.named_parameters() if "weight" in n]
    params = dict(net.named_parameters())
    logits = net(x)
    rows = [torch.cat([g.flatten() for g in torch.autograd.grad(logits[i].sum(), [params[n] for n in names],
                                                                 retain_graph=True)]) for i in range(len(x))]
    jac = torch.stack(rows)
    assert torch.allclose(ntk_matrix(SPACE.network(5000, 10, 0).double(), x, "eval"), jac @ jac.T, rtol=1e-9)
    ev = torch.linalg.eigvalsh(jac @ jac.T)
    assert PROXIES.get("ntk")(mode="eval").score(nb201_double(5000), x) == pytest.approx(float(ev[0] / ev[-1]),
                                                                                        rel=1e-6)
    with pytest.raises(ConfigError, match=r"proxy\.mode"):
        PROXIES.get("ntk")(mode="test")


def test_ntk_train_mode_layouts_match_per_sample_backward_loop(batch):
    """TE-NAS's train mode (batch statistics): both memory layouts give the NTK of a backward-per-sample loop."""
    x, _ = batch
    net = SPACE.network(5000, 10, 0).double().train()
    weights = [p for n, p in net.named_parameters() if "weight" in n]
    logits = net(x)
    rows = [torch.autograd.grad(logits[i].sum(), weights, retain_graph=True) for i in range(len(x))]
    jac = torch.stack([torch.cat([g.flatten() for g in row]) for row in rows])
    ev = torch.linalg.eigvalsh(jac @ jac.T)
    for layout in ("channels_last", "contiguous"):
        got = PROXIES.get("ntk")(layout=layout).score(nb201_double(5000), x)
        assert got == pytest.approx(float(ev[0] / ev[-1]), rel=1e-9)
    with pytest.raises(ConfigError, match=r"proxy\.layout.*contiguous"):
        PROXIES.get("ntk")(layout="nhwc")


def per_sample_loop(net: nn.Module, names: list[str], x, y) -> torch.Tensor:
    """Per-sample loss gradients, one batch-of-1 forward and backward each (GradSign's reference loop)."""
    params = dict(net.named_parameters())
    rows = []
    for i in range(len(x)):
        grads = torch.autograd.grad(F.cross_entropy(net(x[i:i + 1]), y[i:i + 1]), [params[n] for n in names])
        rows.append(torch.cat([g.flatten() for g in grads]))
    return torch.stack(rows)


def test_per_sample_grads_equal_the_reference_loop(batch):
    x, y = batch
    net = SPACE.network(11, 10, 0).double()
    names = weight_names(net)
    expected = per_sample_loop(net, names, x, y)
    chunks = per_sample_grads(SPACE.network(11, 10, 0).double(), names, x, y, chunk=3)
    got = torch.cat([torch.cat([g[n].flatten(1) for n in names], 1) for g in chunks])
    assert torch.allclose(got, expected, rtol=1e-9, atol=1e-14)


def test_gradsign_matches_reference_loop(batch):
    x, y = batch
    net = SPACE.network(11, 10, 0).double()
    g = per_sample_loop(net, weight_names(net), x, y).numpy()
    expected = np.nansum(np.abs(np.sign(g).sum(axis=0)))
    assert PROXIES.get("gradsign")().score(nb201_double(11), x, y) == expected


def test_gradsign_hand_value(tiny):
    w, b, x, y = tiny
    rows = [softmax_regression_grad(w, b, x[i:i + 1], y[i:i + 1]).reshape(-1) for i in range(len(x))]
    expected = float(torch.sign(torch.stack(rows)).sum(0).abs().sum())
    assert PROXIES.get("gradsign")().score(linear_model(w, b), x, y) == expected


def test_sample_statistics_equal_batch_of_one_passes(batch):
    """With each sample's own batch-norm statistics, one batched forward equals N batch-of-1 train-mode forwards."""
    x, _ = batch
    alone = torch.cat([SPACE.network(284, 10, 0).double().train()(x[i:i + 1]) for i in range(len(x))])
    together = sample_statistics(SPACE.network(284, 10, 0).double().train())(x)
    assert torch.allclose(together, alone, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(SPACE.network(284, 10, 0).double().train()(x), alone, atol=1e-3)  # batch statistics


def test_knas_is_mean_of_per_sample_gradient_gram(batch, tiny):
    w, b, x, y = tiny  # no batch-norm: per-sample gradients are those of the batch, their mean the batch gradient
    gram_rows = []
    for i in range(len(x)):
        gw = softmax_regression_grad(w, b, x[i:i + 1], y[i:i + 1]).reshape(-1)
        gb = torch.softmax(x[i] @ w.T + b, 0) - F.one_hot(y[i], 3).double()
        gram_rows.append(torch.cat([gw, gb]))
    g = torch.stack(gram_rows)
    expected = float((g @ g.T).mean())
    assert PROXIES.get("knas")().score(linear_model(w, b), x, y) == pytest.approx(expected, rel=1e-12)
    xb, yb = batch  # NB201: the mean of the Gram matrix of batch-of-1 gradients over all parameters
    net = SPACE.network(284, 10, 0).double()
    g = per_sample_loop(net, [n for n, _ in net.named_parameters()], xb, yb)
    assert PROXIES.get("knas")().score(nb201_double(284), xb, yb) == pytest.approx(float((g @ g.T).mean()),
                                                                                   rel=1e-9)


def test_nasi_is_squared_batch_gradient_norm(tiny):
    w, b, x, y = tiny
    gb = (torch.softmax(x @ w.T + b, 1) - F.one_hot(y, 3).double()).mean(0)
    expected = float(softmax_regression_grad(w, b, x, y).pow(2).sum() + gb.pow(2).sum())
    assert PROXIES.get("nasi")().score(linear_model(w, b), x, y) == pytest.approx(expected, rel=1e-12)
    penalised = PROXIES.get("nasi")(nu=expected / 2, mu=0.5).score(linear_model(w, b), x, y)
    assert penalised == pytest.approx(expected - 0.5 * (expected / 2), rel=1e-12)
    with pytest.raises(ConfigError, match=r"proxy\.mu"):
        PROXIES.get("nasi")(mu=-1)


# ---------------------------------------------------------------- zen


def test_zen_linear_network_hand_value():
    """No batch-norm and a linear feature map f(x) = conv(x): f(x) - f(x + g e) = -g conv(e)."""
    seed = 5

    def make() -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(4, 2))

    x = torch.randn(3, 3, 8, 8)
    gen = torch.Generator().manual_seed(seed)  # the draws in Zen's order: conv weight, linear weight, then eps
    conv_w = torch.randn(4, 3, 3, 3, generator=gen)
    torch.randn(2, 4, generator=gen)
    eps = torch.randn(x.shape, generator=gen)
    expected = math.log(float((1e-2 * F.conv2d(eps, conv_w, padding=1)).abs().flatten(1).sum(1).mean()))
    got = PROXIES.get("zen")().score(Stub(make, weight_seed=seed), x)
    assert got == pytest.approx(expected, rel=1e-4)


def test_zen_batchnorm_term_uses_running_variance_after_two_forwards():
    """One BN after the conv: the extra term is log sqrt(mean running_var), running_var = 0.81 + 0.09 v1 + 0.1 v2."""
    seed = 9

    def make() -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1))

    x = torch.randn(3, 3, 8, 8)
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(4, 3, 3, 3, generator=gen)
    eps = torch.randn(x.shape, generator=gen)
    z1, z2 = F.conv2d(x, w, padding=1), F.conv2d(x + 1e-2 * eps, w, padding=1)
    v1, v2 = z1.var((0, 2, 3), unbiased=True), z2.var((0, 2, 3), unbiased=True)
    running = 0.9 * (0.9 * 1 + 0.1 * v1) + 0.1 * v2
    f1 = F.batch_norm(z1, None, None, training=True)
    f2 = F.batch_norm(z2, None, None, training=True)
    expected = math.log(float((f1 - f2).abs().flatten(1).sum(1).mean())) + 0.5 * math.log(float(running.mean()))
    assert PROXIES.get("zen")().score(Stub(make, weight_seed=seed), x) == pytest.approx(expected, rel=1e-4)


def test_zen_is_reproducible_and_repeat_averages():
    c, x = Candidate(SPACE, 11, 0), torch.randn(4, 3, 32, 32)
    one = PROXIES.get("zen")().score(c, x)
    assert one == PROXIES.get("zen")().score(c, x)
    assert math.isfinite(PROXIES.get("zen")(repeat=2).score(c, x))
    with pytest.raises(ConfigError, match=r"proxy\.repeat"):
        PROXIES.get("zen")(repeat=0)


# ---------------------------------------------------------------- zico


def reference_zico(grad_rows: list[np.ndarray]) -> float:
    """SLDGroup/ZiCo `caculate_zico` on per-layer lists of gradients."""
    total = 0.0
    for layer in grad_rows:
        std = np.std(layer, axis=0)
        nz = np.nonzero(std)[0]
        tmpsum = np.sum(np.mean(np.abs(layer), axis=0)[nz] / std[nz])
        if tmpsum != 0:
            total += np.log(tmpsum)
    return float(total)


def test_zico_refuses_a_single_batch():
    proxy = PROXIES.get("zico")()
    with pytest.raises(ConfigError) as error:
        proxy.check({"name": "cifar10", "samples": 1, "reduce": "first"})
    assert str(error.value).startswith("data.samples=1 is not allowed: expected an integer >= 2 for proxy zico")
    with pytest.raises(ConfigError, match=r"data\.samples=3 .*>= 4 for proxy zico"):
        PROXIES.get("zico")(batches=4).check({"samples": 3})
    with pytest.raises(ConfigError, match=r"proxy\.batches=1 is not allowed: expected an integer >= 2 for proxy zico"):
        PROXIES.get("zico")(batches=1)


def test_zico_matches_reference_on_two_batches(batch):
    x, y = batch
    net = SPACE.network(11, 10, 0).double()
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    per_batch = []
    for sl in (slice(0, 4), slice(4, 8)):
        grads = torch.autograd.grad(F.cross_entropy(net(x[sl]), y[sl]), [m.weight for m in layers])
        per_batch.append([g.flatten().numpy() for g in grads])
    independent = [np.array([per_batch[0][j], per_batch[1][j]]) for j in range(len(layers))]
    running = [np.array([per_batch[0][j], per_batch[0][j] + per_batch[1][j]]) for j in range(len(layers))]
    assert PROXIES.get("zico")().score(nb201_double(11), x, y) == pytest.approx(reference_zico(independent), rel=1e-9)
    got = PROXIES.get("zico")(accumulate=True).score(nb201_double(11), x, y)
    assert got == pytest.approx(reference_zico(running), rel=1e-9)


def test_zico_hand_value():
    """Two gradients per weight: mean|g| / std = (|a|+|b|) / |a-b|; a layer whose weights never vary adds nothing."""
    grads = torch.tensor([[1.0, 2.0, 0.0, 5.0], [3.0, 2.0, 1.0, 5.0]])
    # layer 0: weight 0 -> (1+3)/2 / 1 = 2, weight 1 has std 0 (left out); layer 1: weight 2 -> (0+1)/2 / 0.5 = 1,
    # weight 3 left out
    assert zico_from_gradients(grads, [2, 2]) == pytest.approx(math.log(2.0) + math.log(1.0))
