"""Zero-cost proxies: each module registers its proxies in PROXIES."""

from meco_lab.proxies import (
    cost,  # noqa: F401  (registers params, flops)
    gradient_kernels,  # noqa: F401  (registers ntk, knas, nasi, gradsign)
    jacov,  # noqa: F401  (registers jacov)
    meco,  # noqa: F401  (registers meco, meco_opt)
    naswot,  # noqa: F401  (registers nwot)
    pruning,  # noqa: F401  (registers snip, grad_norm, fisher, grasp, l2_norm)
    synflow,  # noqa: F401  (registers synflow)
    zen,  # noqa: F401  (registers zen)
    zico,  # noqa: F401  (registers zico)
)
from meco_lab.proxies.base import PROXIES, Proxy

__all__ = ["PROXIES", "Proxy"]
