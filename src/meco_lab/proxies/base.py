"""The proxy interface and registry: a proxy is one file that registers a class under its config name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch

from meco_lab.core.registry import Registry
from meco_lab.spaces.base import Candidate


class Proxy(ABC):
    """A zero-cost proxy: one score per architecture, higher meaning better."""

    name: ClassVar[str]
    #: what the proxy needs from the engine; MeCo needs neither labels nor a backward pass
    needs_labels: ClassVar[bool] = False
    needs_backward: ClassVar[bool] = False
    #: whether `score` may change the network it gets (weights, layout, mode); False lets a shared network (a
    #: supernet) be scored without a copy. A train-mode forward's batch-norm running statistics do not count:
    #: train mode never reads them.
    modifies_network: ClassVar[bool] = True

    def check(self, data: dict[str, Any]) -> None:
        """Raise ConfigError when the input settings (`data.*`) cannot meet this proxy's needs."""
        return None

    @abstractmethod
    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        """Score `candidate` on input batch `x` (N x 3 x H x W) with labels `y` (N,)."""


PROXIES: Registry[type[Proxy]] = Registry("proxy.name")
