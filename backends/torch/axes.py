"""Reductions for the generated torch code that need more than one torch call: the axis
reductions of optc.backends.axes bound to torch's (the shapes and the rule are there), the
maxima and minima of possibly empty tensors, and the matrix functions of θ's matrix view
(``polar``: the spectral norm's dualize map, ``newton_schulz``).

``torch.amax`` and ``torch.linalg.vector_norm(x, inf)`` raise on an empty tensor (or an empty
reduced dimension); the language gives them their identities instead, as NumPy and jax do with
``initial=``: the largest entry of nothing is -inf, the smallest +inf, the ℓ∞ norm 0.
"""

from __future__ import annotations

import math

import torch

from optc.backends.axes import (
    as_matrix,
    as_param,
    cols_shape,
    matrix_shape,
    per_column,
    per_row,
    rows_shape,
    transpose,
)
from optc.backends.torch.linalg import *  # noqa: F403 (the matrix functions, one namespace)
from optc.backends.torch.linalg import __all__ as _linalg_all

__all__ = [
    "as_matrix",
    "as_param",
    "transpose",
    "col_max",
    "col_mean",
    "col_sum",
    "cols_shape",
    "maxof",
    "minof",
    "newton_schulz",
    "norminf",
    "polar",
    "row_max",
    "row_mean",
    "row_sum",
    "rows_shape",
    *_linalg_all,
]


def _amax(x: torch.Tensor, dim: int | tuple[int, ...], keepdim: bool) -> torch.Tensor:
    dims = (dim,) if isinstance(dim, int) else dim
    if x.numel() == 0 and any(x.shape[d] == 0 for d in dims):
        shape = [1 if d in dims else n for d, n in enumerate(x.shape)]
        return x.new_full(shape, -math.inf)
    return torch.amax(x, dim=dim, keepdim=keepdim)


def maxof(x: torch.Tensor) -> torch.Tensor:
    """The largest entry (NaN if one is NaN; -inf for an empty tensor)."""
    return torch.amax(x) if x.numel() else x.new_full((), -math.inf)


def minof(x: torch.Tensor) -> torch.Tensor:
    """The smallest entry (NaN if one is NaN; +inf for an empty tensor)."""
    return torch.amin(x) if x.numel() else x.new_full((), math.inf)


def norminf(x: torch.Tensor) -> torch.Tensor:
    """The largest magnitude (0 for an empty tensor)."""
    return torch.linalg.vector_norm(x, math.inf) if x.numel() else x.new_zeros(())


row_mean = per_row(torch.mean, "dim", "keepdim", "mean")
row_sum = per_row(torch.sum, "dim", "keepdim", "sum")
row_max = per_row(_amax, "dim", "keepdim", "largest entry (NaN if one is NaN)")
col_mean = per_column(torch.mean, "dim", "keepdim", "mean")
col_sum = per_column(torch.sum, "dim", "keepdim", "sum")
col_max = per_column(_amax, "dim", "keepdim", "largest entry (NaN if one is NaN)")


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """Matrix work in float32 at least: bf16 and fp16 values are upcast (and cast back)."""
    return torch.float32 if x.dtype in (torch.bfloat16, torch.float16) else x.dtype


def polar(x: torch.Tensor) -> torch.Tensor:
    """``dualize(x, spectral)``: U Vᵀ of the reduced SVD of x's matrix view, over the singular
    values above max(S) * max(rows, cols) * eps of the dtype (0 for x = 0); NaN everywhere
    if an entry is not finite. No host sync: a non-finite x is replaced by 0 before the SVD."""
    rows, cols = matrix_shape(x)
    if x.numel() == 0:
        return x.clone()
    m = x.reshape(rows, cols).to(_compute_dtype(x))
    finite = torch.isfinite(m).all()
    m = torch.where(finite, m, 0.0)
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    tol = s.amax() * max(rows, cols) * torch.finfo(m.dtype).eps
    o = (u * (s > tol).to(m.dtype)) @ vh
    o = torch.where(finite, o, torch.nan)
    return o.reshape(x.shape).to(x.dtype)


def newton_schulz(x: torch.Tensor, steps, a, b, c) -> torch.Tensor:
    """``steps`` quintic Newton-Schulz iterations on x's matrix view X (transposed while it has
    more rows than columns): A = X Xᵀ, B = b A + c A A, X = a X + B X. No normalisation: the
    spec scales x first (docs/language.md, "Matrix functions")."""
    rows, cols = matrix_shape(x)
    m = x.reshape(rows, cols).to(_compute_dtype(x))
    if rows > cols:
        m = m.T
    for _ in range(int(steps)):
        gram = m @ m.T
        m = a * m + (b * gram + c * (gram @ gram)) @ m
    if rows > cols:
        m = m.T
    return m.reshape(x.shape).to(x.dtype)
