"""Proxies built on gradients of single samples or of the batch: `ntk`, `knas`, `nasi`, `gradsign`.

`ntk` (TE-NAS; Chen, Gong, Wang, "Neural Architecture Search on ImageNet in Four GPU Hours",
ICLR 2021): the empirical NTK Theta = J J^T, where row i of J is the gradient of the sum of the
logits of sample i w.r.t. every parameter whose name contains "weight" (conv, batch-norm and linear
weights). TE-NAS ranks by the condition number kappa = lambda_max / lambda_min (lower is better).
Reference followed: `get_ntk_n` of TE-NAS as ported in idstcv/ZenNAS
`ZeroShotProxy/compute_te_nas_score.py` ("modified from VITA-Group/TENAS": `train_mode=True`, one
`backward` per sample, score -kappa) and in HamsterMimi/MeCo `zero-cost-nas/.../measures/ntk.py`
(`network.eval()`, returns lambda_min / lambda_max). Our score is lambda_min / lambda_max, as MeCo's
code returns and its paper ranks: the same order as -kappa whenever Theta is positive definite, and
still ordered (<= 0, worst) when rounding makes lambda_min <= 0, where -kappa would jump to +inf.
`proxy.mode`: `train` (default) is TE-NAS (the batch goes through once with batch statistics and
each row of J costs one backward, N in all); `eval` is MeCo's code (at initialisation batch-norm
then uses its running statistics 0 / 1, the samples are independent, and all N rows come from one
vectorised pass). `proxy.layout` (train mode only): `channels_last` (default) runs the N backward
passes in channels-last memory layout, about 1.9x faster on a CPU; `contiguous` keeps NCHW. The two
differ only by float32 rounding: on 12 seeded NB201 archs at 16 images the relative error of the score
against float64 had median 1.4e-4 (max 7.4e-3) in channels-last, against 4.8e-7 (max 9.3e-3) in NCHW
(`benchmarks/ntk_layout.py`).
Needs >= 2 samples; labels are ignored.

`knas` (Xu et al., "KNAS: Green Neural Architecture Search", ICML 2021): the mean of the gradient
Gram matrix, MGM = mean_{i,j} g_i . g_j over the samples of the batch, g_i the gradient of sample
i's cross-entropy w.r.t. all parameters. Since mean_{i,j} g_i . g_j = ||mean_i g_i||^2 it needs only the
sum of the per-sample gradients. We follow the paper's definition with per-sample gradients, each
sample alone in its forward pass (as GradSign's reference computes per-sample gradients); with
batch-norm normalising each sample by its own statistics (`sample_statistics`) that sum is the gradient
of the summed loss of one batched pass: one backward.
The official code (Jingjing-NLP/KNAS `exps/NAS-Bench-201/functions.py`) instead takes 50
mini-batch gradients, keeps the first 100 entries of the first ~11 parameter tensors and sums
centred dot products between the first and second 25 batches; we do not reproduce that estimator.
Reference followed: the paper's definition (the official code is not reproduced, see above).
Needs >= 2 samples; uses labels (random with `data=random`).

`nasi` (Shu, Cai, Dai, Ooi, Low, "NASI: Label- and Data-agnostic Neural Architecture Search at
Initialization", ICLR 2022): the trace norm of the NTK approximated by the squared norm of the
gradient of the mini-batch loss, M = ||dL_batch/dtheta||^2 over all parameters (one backward, train
mode). NASI's search objective adds a penalty -mu * max(0, M - nu) for a trace constraint nu;
`proxy.nu` (default null: no penalty) and `proxy.mu` set it. NASI's label- and data-agnostic
variants are what `data=random` gives (Gaussian inputs, random labels). Reference followed: the
paper's approximation (no public reference code was available to us).

`gradsign` (Zhang, Jia, "GradSign: Model Performance Inference with Theoretical Insights",
ICLR 2022): per-sample gradients g_i of the cross-entropy w.r.t. the Conv2d and Linear weights,
each sample alone in its forward pass (train mode: its own batch statistics), and
GradSign = sum over weights of |sum_i sign(g_i)|. Reference followed: cmu-catalyst/GradSign
`zero-cost-nas-code/gradsign.py` (also in HamsterMimi/MeCo `.../measures/gradsign.py`), which loops
over the samples; we vectorise the N single-sample passes with `torch.func.vmap`. Needs >= 2
samples; uses labels (random with `data=random`).
"""

from __future__ import annotations

import torch

from meco_lab.core.errors import ConfigError
from meco_lab.proxies.base import PROXIES
from meco_lab.proxies.baselines_common import BaselineProxy, per_sample_grads
from meco_lab.proxies.shared import SharedPass, alone, logit_ntk, param_gram
from meco_lab.spaces.base import Candidate

NTK_MODES = ("train", "eval")
NTK_LAYOUTS = ("channels_last", "contiguous")


def _logit_sum(logits: torch.Tensor, _y: torch.Tensor | None) -> torch.Tensor:
    return logits.sum()


def ntk_matrix(net: torch.nn.Module, x: torch.Tensor, mode: str = "train") -> torch.Tensor:
    """The empirical NTK (N x N, float64) of the logit sums over the "weight" parameters (TE-NAS)."""
    names = [n for n, _ in net.named_parameters() if "weight" in n]
    if mode == "eval":
        net.eval()
        chunks = list(per_sample_grads(net, names, x, objective=_logit_sum, batch_stats=False))
        return param_gram([[c[n] for c in chunks] for n in names], x.shape[0], x.device)
    params = dict(net.named_parameters())
    with torch.enable_grad():
        return logit_ntk(net(x), [params[n] for n in names])


@PROXIES.register("ntk")
class NTKCondition(BaselineProxy):
    """TE-NAS NTK conditioning: lambda_min / lambda_max of the empirical NTK (the order of -condition number)."""

    name = "ntk"
    task_kinds = frozenset({"classification"})  # per-sample cross-entropy gradients of class logits
    needs_backward = True
    min_samples = 2
    samples_reason = "the NTK is N x N over the batch, and its condition number needs N >= 2"

    def __init__(self, mode: str = "train", layout: str = "channels_last", **_: object):
        if mode not in NTK_MODES:
            raise ConfigError("proxy.mode", mode, NTK_MODES)
        if layout not in NTK_LAYOUTS:
            raise ConfigError("proxy.layout", layout, NTK_LAYOUTS)
        self.mode, self.layout = mode, layout

    def prepare(self, ctx: SharedPass) -> None:
        if self.mode == "train":  # the N backward passes run over the shared forward
            ctx.want("forward", "graph")
            ctx.want("ntk")

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x)
        # train: N backward passes over the shared forward; eval reads the initial running statistics, so it
        # takes a network of its own
        kernel = ctx.ntk_matrix(self.layout) if self.mode == "train" else ntk_matrix(ctx.fresh_network(), ctx.x, "eval")
        eigenvalues = torch.linalg.eigvalsh(kernel)
        return float(eigenvalues[0] / eigenvalues[-1])

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)


@PROXIES.register("knas")
class KNAS(BaselineProxy):
    """KNAS MGM: mean of the Gram matrix of per-sample loss gradients (all parameters) = ||mean_i g_i||^2."""

    name = "knas"
    task_kinds = frozenset({"classification"})  # per-sample cross-entropy gradients of class logits
    needs_labels = True
    needs_backward = True
    min_samples = 2
    samples_reason = "the gradient Gram matrix is N x N over the samples of the batch"

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("sample")  # the per-sample pass

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x, ctx.y)
        total = ctx.sample_pass().params  # the sum over samples of each sample's own loss gradient
        mean = torch.cat([g.double().flatten() for g in total.values() if g is not None]) / ctx.x.shape[0]
        return float(mean @ mean)

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)


@PROXIES.register("nasi")
class NASI(BaselineProxy):
    """NASI: ||dL_batch/dtheta||^2 (NTK trace approximation), optionally minus mu * max(0, M - nu)."""

    name = "nasi"
    needs_labels = True
    needs_backward = True

    def __init__(self, nu: float | None = None, mu: float = 0.0, **_: object):
        if nu is not None and (not isinstance(nu, (int, float)) or isinstance(nu, bool) or nu < 0):
            raise ConfigError("proxy.nu", nu, "null or a number >= 0 (the NTK trace constraint)")
        if not isinstance(mu, (int, float)) or isinstance(mu, bool) or mu < 0:
            raise ConfigError("proxy.mu", mu, "a number >= 0 (the penalty weight)")
        self.nu, self.mu = nu, float(mu)

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("forward", "graph")
        ctx.want("loss_grads", "params")

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x, ctx.y)
        grads = [g for g in ctx.loss_grads().params.values() if g is not None]
        trace = float(torch.stack([g.double().pow(2).sum() for g in grads]).sum())
        if self.nu is None:
            return trace
        return trace - self.mu * max(0.0, trace - self.nu)

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)


@PROXIES.register("gradsign")
class GradSign(BaselineProxy):
    """GradSign: sum over Conv2d/Linear weights of |sum_i sign(g_i)|, g_i per-sample loss gradients."""

    name = "gradsign"
    task_kinds = frozenset({"classification"})  # per-sample cross-entropy gradients of class logits
    needs_labels = True
    needs_backward = True
    min_samples = 2
    samples_reason = "it measures how the gradient signs of the samples agree"

    def prepare(self, ctx: SharedPass) -> None:
        ctx.want("sample")  # the per-sample pass

    def from_shared(self, ctx: SharedPass) -> float:
        self.require(ctx.x, ctx.y)
        per_sample = [g for g in ctx.sample_pass().weights if g is not None]
        return float(sum(torch.sign(g).sum(0).abs().sum(dtype=torch.float64) for g in per_sample))

    def score(self, candidate: Candidate, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
        return alone(self, candidate, x, y)
