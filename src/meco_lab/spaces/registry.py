"""The search-space registry."""

from meco_lab.core.registry import Registry
from meco_lab.spaces.base import SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry("space.name")
