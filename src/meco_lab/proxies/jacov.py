"""Jacobian covariance, proxy `jacov` (Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without
Training", arXiv v1 2020; as a zero-cost proxy in Abdelfattah et al., ICLR 2021).

Definition: J is the N x (C*H*W) matrix of the gradients of the summed network output w.r.t. each
input sample (one backward of `sum(output)`, train mode, so batch-norm couples the samples as in the
reference); Sigma = corrcoef(J) (N x N); with its eigenvalues v and k = 1e-5,
jacov = -sum(log(v + k) + 1 / (v + k)). Needs >= 2 samples; labels are ignored.

Reference followed: SamsungLabs/zero-cost-nas `pruners/measures/jacob_cov.py` (itself from
BayesWatch/nas-without-training v1). The reference calls `np.linalg.eig` on the (symmetric)
correlation matrix; we use the symmetric solver `eigvalsh` in float64, which gives the same real
eigenvalues without spurious imaginary parts. A NaN correlation (a constant Jacobian row) makes the
reference's `eig` fail and the score NaN; here it raises, which the scorer records as a NaN score.
"""

from __future__ import annotations

import torch

from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import BaselineProxy
from meco_lab.proxies.shared import SharedPass, alone
from meco_lab.spaces.base import Candidate

K = 1e-5


def jacov_from_jacobian(jacobian: torch.Tensor) -> float:
    """-sum(log(v + k) + 1/(v + k)) over the eigenvalues v of corrcoef(jacobian rows)."""
    corr = torch.corrcoef(jacobian.reshape(jacobian.shape[0], -1).double())
    if not torch.isfinite(corr).all():
        raise ValueError("jacov: the Jacobian correlation has NaN entries (a constant Jacobian row)")
    v = torch.linalg.eigvalsh(corr)
    return float(-(torch.log(v + K) + 1.0 / (v + K)).sum())


@PROXIES.register("jacov")
class JacobianCovariance(BaselineProxy):
    """jacov: -sum(log(v+k) + 1/(v+k)) over the eigenvalues of the correlation of the input Jacobians."""

    name = "jacov"
    needs_backward = True
    min_samples = 2
    samples_reason = "it correlates the input Jacobians of the samples of the batch"

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("forward", "graph", "input")  # the shared forward's input requires grad
        ctx.want("input_grad")

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x)
        return jacov_from_jacobian(ctx.input_grad().contiguous())

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)
