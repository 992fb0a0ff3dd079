"""Zero-cost proxies: each module registers its proxies in PROXIES."""

from meco_lab.proxies import meco  # noqa: F401  (registers meco, meco_opt)
from meco_lab.proxies.base import PROXIES, Proxy

__all__ = ["PROXIES", "Proxy"]
