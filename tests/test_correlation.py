import numpy as np
import torch

from meco_lab.proxies.correlation import correlation
from meco_lab.proxies.meco import meco_sum
from meco_lab.spaces.base import FeatureProbe, Site


def numpy_reference(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(x.astype(np.float64))
    corr[~np.isfinite(corr)] = 0
    return corr


def test_correlation_matches_numpy_float64():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 16, 200, generator=g) * torch.rand(5, 16, 1, generator=g) * 3 + 2
    ours = correlation(x)
    for k in range(5):
        np.testing.assert_allclose(ours[k].numpy(), numpy_reference(x[k].numpy()), atol=2e-6)


def test_constant_rows_become_zero_rows_and_columns():
    x = torch.randn(6, 50, dtype=torch.float32)
    x[2] = 0.0
    x[4] = 3.5
    corr = correlation(x)
    expected = numpy_reference(x.numpy())
    assert corr[2].abs().sum() == 0 and corr[:, 4].abs().sum() == 0
    np.testing.assert_allclose(corr.numpy(), expected, atol=2e-6)


def test_min_eigenvalue_matches_numpy():
    x = torch.randn(8, 32, 300)
    corr = correlation(x)
    ours = torch.linalg.eigvalsh(corr)[:, 0]
    expected = [np.linalg.eigvalsh(numpy_reference(x[k].numpy())).min() for k in range(8)]
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-6)
    assert (ours > 0).all()


def test_rank_deficient_minimum_is_exactly_zero():
    """With L observations the correlation rank is <= L-1, so L-1 < C forces a zero eigenvalue."""
    x = torch.randn(64, 64, dtype=torch.float64)
    numpy_min = np.linalg.eigvalsh(numpy_reference(x.numpy())).min()
    assert abs(numpy_min) < 1e-10
    assert torch.linalg.eigvalsh(correlation(x))[0].item() < 1e-10
    probe = FeatureProbe(x.float().reshape(1, 64, 8, 8), [Site("a", "Conv2d", True)])
    assert meco_sum([probe], lambda site: True) == 0.0  # skipped, not solved: the exact value
