import numpy as np
import pytest
import torch

from meco_lab.benchmarks.truth import load_params
from meco_lab.spaces import SPACES
from meco_lab.spaces.base import arch_seed, draw_weights
from meco_lab.spaces.nb201.network import weight_specs

SPACE = SPACES.get("nats_tss")()
SAMPLE = [*np.random.default_rng(7).choice(len(SPACE), 300, replace=False).tolist(), 0, 11, 284]
CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}


@pytest.mark.parametrize("dataset", CLASSES)
def test_parameter_counts_equal_nats_bench(dataset):
    """Params of our networks equal NATS-Bench's (FreeREA/NASLib table; archs 0/11/284 also match the archive)."""
    expected = load_params(dataset)
    for i in SAMPLE:
        net = SPACE.network(i, CLASSES[dataset], seed=0)
        assert sum(p.numel() for p in net.parameters()) == expected[i], (i, SPACE.arch(i))


def test_weight_specs_follow_module_order():
    for i in (0, 11, 284, 5000):
        genotype = SPACE.genotype(i)
        net = SPACE.network(i, 10, seed=3)
        params = [p for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
                  for p in (m.weight, m.bias) if p is not None]
        specs = weight_specs(genotype, 16, 5, 10)
        assert [tuple(p.shape) for p in params] == [s for s, _ in specs]
        for p, w in zip(params, draw_weights(specs, arch_seed(3, i)), strict=True):
            assert torch.equal(p, w)


def test_default_init_bounds():
    w = draw_weights([((64, 32, 3, 3), 288)], seed=1)[0]
    bound = 1 / np.sqrt(288)
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    assert abs(float(w.mean())) < 0.01 * bound


def test_networks_are_seeded_per_architecture():
    a = SPACE.network(42, 10, seed=0).state_dict()
    b = SPACE.network(42, 10, seed=0).state_dict()
    c = SPACE.network(42, 10, seed=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["stem.0.weight"], c["stem.0.weight"])


def test_forward_gives_logits():
    net = SPACE.network(11, 100, seed=0)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)
