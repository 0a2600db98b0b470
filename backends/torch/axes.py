"""Reductions for the generated torch code that need more than one torch call: the axis
reductions of optc.backends.axes bound to torch's (the shapes and the rule are there), and the
maxima and minima of possibly empty tensors.

``torch.amax`` and ``torch.linalg.vector_norm(x, inf)`` raise on an empty tensor (or an empty
reduced dimension); the language gives them their identities instead, as NumPy and jax do with
``initial=``: the largest entry of nothing is -inf, the smallest +inf, the ℓ∞ norm 0.
"""

from __future__ import annotations

import math

import torch

from optc.backends.axes import cols_shape, per_column, per_row, rows_shape

__all__ = [
    "col_max",
    "col_mean",
    "col_sum",
    "cols_shape",
    "maxof",
    "minof",
    "norminf",
    "row_max",
    "row_mean",
    "row_sum",
    "rows_shape",
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
