"""Search spaces: each family's `space` module registers its spaces in SPACES."""

from meco_lab.spaces.base import Candidate, FeatureProbe, SearchSpace, Site
from meco_lab.spaces.darts import nb301_space as _nb301  # noqa: F401  (registers nb301)
from meco_lab.spaces.darts import space as _darts  # noqa: F401  (registers darts)
from meco_lab.spaces.nb101 import space as _nb101  # noqa: F401  (registers nb101)
from meco_lab.spaces.nb201 import space as _nb201  # noqa: F401  (registers nats_tss)
from meco_lab.spaces.nb360 import space as _nb360  # noqa: F401  (registers nb201_360, nb301_360, tnb101_micro_360)
from meco_lab.spaces.registry import SPACES
from meco_lab.spaces.sss import space as _sss  # noqa: F401  (registers nats_sss)
from meco_lab.spaces.tnb101 import space as _tnb101  # noqa: F401  (registers tnb101_micro, tnb101_macro)

__all__ = ["SPACES", "Candidate", "FeatureProbe", "SearchSpace", "Site"]
