"""Search spaces: each module registers one space in SPACES."""

from meco_lab.spaces import nats_sss, nats_tss  # noqa: F401  (register nats_sss, nats_tss)
from meco_lab.spaces.base import Candidate, FeatureProbe, SearchSpace, Site
from meco_lab.spaces.registry import SPACES

__all__ = ["SPACES", "Candidate", "FeatureProbe", "SearchSpace", "Site"]
