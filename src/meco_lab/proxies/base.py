"""The proxy interface and registry: a proxy is one file that registers a class under its config name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch

from meco_lab.registry import Registry
from meco_lab.spaces.base import Candidate


class Proxy(ABC):
    """A zero-cost proxy: one score per architecture, higher meaning better."""

    name: ClassVar[str]
    #: what the proxy needs from the engine; MeCo needs neither labels nor a backward pass
    needs_labels: ClassVar[bool] = False
    needs_backward: ClassVar[bool] = False

    @abstractmethod
    def score(self, candidate: Candidate, x: torch.Tensor) -> float:
        """Score `candidate` on input batch `x` (N x 3 x H x W)."""


PROXIES: Registry[type[Proxy]] = Registry("proxy.name")
