"""NASWOT, proxy `nwot` (Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without Training",
ICML 2021, the v2 score).

Definition: every ReLU unit of the network gives each sample a binary code c (1 where the unit's
input is > 0). Over all ReLU units of the forward of a batch of N samples,
K = c @ c.T + (1 - c) @ (1 - c).T (N x N: the number of units on which two samples agree), and
the score is log|det K|, computed with `slogdet`. Needs >= 2 samples; labels are ignored.

Reference followed: BayesWatch/nas-without-training `score_networks.py` (hooks on every `nn.ReLU`,
code = input > 0, K accumulated over the hooks, `np.linalg.slogdet`), as re-implemented by FreeREA
(NiccoloCavagnero/FreeREA `metrics/naswot.py`, code = output > 0, the same since ReLU keeps the sign).
The reference counts only ReLUs that a backward pass reaches; in NB201 networks every ReLU is
reached (zero ops multiply by 0, which keeps the graph), so no backward is run here. The network
is in train mode (batch statistics), as in both references.

Speed: with G = c @ c.T and s = diag(G), K = 2 G - s_i - s_j + D where D is the number of units, so
each ReLU costs one N x N float32 GEMM of 0/1 entries (exact: integer sums below 2^24), accumulated
in float64 (float64 GEMMs above 2^24 units); the code of a ReLU output is its sign. The forward runs
channels-last, about 2x faster on CPU; the order of the units does not change K.
"""

from __future__ import annotations

import torch
from torch import nn

from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import BaselineProxy
from meco_lab.proxies.shared import SharedPass, alone
from meco_lab.spaces.base import Candidate


class ReluCodes:
    """The NASWOT kernel accumulated over the ReLU calls of one forward of N samples (`hook` on every nn.ReLU)."""

    def __init__(self, n: int, device: torch.device | str = "cpu"):
        self.n = n
        self.gram = torch.zeros((n, n), dtype=torch.float64, device=device)
        self.units = 0

    def hook(self, _module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if output.dim() == 4 and not output.is_contiguous() and output.is_contiguous(memory_format=torch.channels_last):
            output = output.permute(0, 2, 3, 1)  # a view: the order of the units does not change K
        codes = torch.sign(output.reshape(self.n, -1))  # a ReLU output is >= 0: its sign is the binary code
        if codes.shape[1] >= 2**24:  # float32 sums of 0/1 are exact only below 2^24
            codes = codes.double()
        self.gram += (codes @ codes.T).double()
        self.units += codes.shape[1]

    def kernel(self) -> torch.Tensor:
        agree = self.gram.diagonal()  # c_i . c_i: the units where sample i is active
        return 2 * self.gram - agree[:, None] - agree[None, :] + self.units


def naswot_kernel(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The NASWOT kernel K (N x N, float64) of one forward of `x` through `net`."""
    codes = ReluCodes(x.shape[0], x.device)
    handles = [m.register_forward_hook(codes.hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return codes.kernel()


@PROXIES.register("nwot")
class NASWOT(BaselineProxy):
    """NASWOT (v2): log|det K| of the binary ReLU-code kernel over the batch."""

    name = "nwot"
    min_samples = 2
    samples_reason = "the NASWOT kernel is N x N over the batch, so N = 1 carries no information"

    def prepare(self, ctx: SharedPass) -> None:
        ctx.forward_hook("nwot", nn.ReLU, lambda x: ReluCodes(x.shape[0], x.device))  # on the shared forward

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x)
        return float(torch.linalg.slogdet(ctx.forward().hooks["nwot"].kernel()).logabsdet)

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)
