"""Axis reductions and per-row / per-column shapes for the generated torch code.

A parameter is viewed as a matrix of ``rows`` (its first dimension) by ``cols`` (the product of
the others): a 0-d parameter is 1 x 1, a 1-d one of n entries n x 1 (docs/language.md,
"Reductions"). A per-row value is kept as a tensor of shape ``(rows, 1, ..., 1)`` and a
per-column one as ``(1, *theta.shape[1:])``: both have θ's number of dimensions, so they
broadcast against θ (and a per-row value times a per-column one is θ-shaped) with no reshapes.

``torch.mean(x, dim=())`` reduces over *every* dimension, so the reductions over no dimension
(the columns of a 0-d or 1-d parameter) return ``x`` itself instead.
"""

from __future__ import annotations

import torch

__all__ = [
    "col_max",
    "col_mean",
    "col_sum",
    "cols_shape",
    "row_max",
    "row_mean",
    "row_sum",
    "rows_shape",
]


def rows_shape(x: torch.Tensor) -> tuple[int, ...]:
    """The shape of a per-row value of a parameter like ``x``: ``(rows, 1, ..., 1)``."""
    return tuple(x.shape[:1]) + (1,) * max(x.ndim - 1, 0)


def cols_shape(x: torch.Tensor) -> tuple[int, ...]:
    """The shape of a per-column value of a parameter like ``x``: ``(1, *x.shape[1:])``."""
    return (1, *x.shape[1:]) if x.ndim else ()


def _row_dims(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(1, x.ndim))


def row_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of each row (over its columns), one number per row."""
    dims = _row_dims(x)
    return torch.mean(x, dim=dims, keepdim=True) if dims else x


def row_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of each row, one number per row."""
    dims = _row_dims(x)
    return torch.sum(x, dim=dims, keepdim=True) if dims else x


def row_max(x: torch.Tensor) -> torch.Tensor:
    """The largest entry of each row (NaN if the row holds one), one number per row."""
    dims = _row_dims(x)
    return torch.amax(x, dim=dims, keepdim=True) if dims else x


def col_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of each column (over the rows), one number per column."""
    return torch.mean(x, dim=0, keepdim=True) if x.ndim else x


def col_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of each column, one number per column."""
    return torch.sum(x, dim=0, keepdim=True) if x.ndim else x


def col_max(x: torch.Tensor) -> torch.Tensor:
    """The largest entry of each column (NaN if the column holds one), one number per column."""
    return torch.amax(x, dim=0, keepdim=True) if x.ndim else x
