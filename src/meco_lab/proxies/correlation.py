"""Pearson correlation matrices of feature maps, batched."""

from __future__ import annotations

import torch


def correlation(features: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of the rows of each (..., C, L) matrix, as float64.

    As `torch.corrcoef` followed by MeCo's clean-up: rows with zero variance give NaN there, which
    MeCo sets to 0, so their row and column (diagonal included) are 0 here; values are clamped to [-1, 1].
    Rows are centred and multiplied in the input precision (float32: one GEMM per batch, like the
    reference); the normalisation of the small C x C Gram matrix is done in float64.
    """
    x = features - features.mean(dim=-1, keepdim=True)
    gram = (x @ x.mT).to(torch.float64)
    var = gram.diagonal(dim1=-2, dim2=-1)
    inv_std = torch.where(var > 0, var.rsqrt(), torch.zeros_like(var))
    return (gram * inv_std.unsqueeze(-1) * inv_std.unsqueeze(-2)).clamp_(-1.0, 1.0)
