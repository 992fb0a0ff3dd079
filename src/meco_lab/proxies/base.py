"""The proxy interface and registry: a proxy is one file that registers a class under its config name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from meco_lab.core.registry import Registry
from meco_lab.spaces.base import Candidate, SearchSpace

if TYPE_CHECKING:
    from meco_lab.proxies.shared import SharedPass

TaskBatch = tuple[torch.Tensor, torch.Tensor | None, int]
"""One task's inputs, targets (or None) and classes."""


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

    #: the kinds of task whose networks the proxy applies to (None: any); a benchmark task of another kind is
    #: refused in one line before any work
    task_kinds: ClassVar[frozenset[str] | None] = None

    def check(self, data: dict[str, Any]) -> None:
        """Raise ConfigError when the input settings (`data.*`) cannot meet this proxy's needs."""
        return None

    def score_tasks(self, space: SearchSpace, index: int, seed: int,
                    inputs: Mapping[str, TaskBatch]) -> dict[str, float | Exception]:
        """Scores of architecture `index` on every task of a space with one network per task; `inputs`: task ->
        (x, y, classes). Each is `score` of that task's network, or the error it raised (the other tasks are still
        scored); proxies may share work between the tasks."""
        out: dict[str, float | Exception] = {}
        for t, (x, y, classes) in inputs.items():
            try:
                out[t] = self.score(Candidate(space.for_task(t), index, seed, classes), x, y)
            except Exception as error:
                out[t] = error
        return out

    @abstractmethod
    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        """Score `candidate` on input batch `x` (N x 3 x H x W) with labels `y` (N,)."""

    def prepare(self, ctx: SharedPass) -> None:
        """Say what `from_shared` will read from a pass that scores several proxies of one architecture at once
        (`proxies.shared.SharedPass`): e.g. `ctx.want("loss_grads", "weights")`. Nothing by default."""
        return None

    def from_shared(self, ctx: SharedPass) -> float:
        """The score from a shared pass; by default `score` on the pass's candidate and batch (nothing shared).
        A proxy that shares work reads the pass's results here and scores alone through `shared.alone`, so that its
        score is one computation whether it runs alone or with others."""
        return self.score(ctx.candidate, ctx.x, ctx.y)


PROXIES: Registry[type[Proxy]] = Registry("proxy.name")
