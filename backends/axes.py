"""Axis reductions and per-row / per-column shapes, for any array library (torch, jax).

A parameter is viewed as a matrix of ``rows`` (its first dimension) by ``cols`` (the product of
the others): a 0-d parameter is 1 x 1, a 1-d one of n entries n x 1 (docs/language.md,
"Reductions"). A per-row value is kept as an array of shape ``(rows, 1, ..., 1)`` and a
per-column one as ``(1, *theta.shape[1:])``: both have θ's number of dimensions, so they
broadcast against θ (and a per-row value times a per-column one is θ-shaped) with no reshapes.
Shapes depend on the parameter's shape only (static under jit). A reduction over no dimension
(the columns of a 0-d or 1-d parameter) returns ``x`` itself: ``torch.mean(x, dim=())`` would
reduce over every dimension instead.

Each backend's ``axes`` module binds these to its library's reductions and keyword spellings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def rows_shape(x: Any) -> tuple[int, ...]:
    """The shape of a per-row value of a parameter like ``x``: ``(rows, 1, ..., 1)``."""
    return tuple(x.shape[:1]) + (1,) * max(x.ndim - 1, 0)


def cols_shape(x: Any) -> tuple[int, ...]:
    """The shape of a per-column value of a parameter like ``x``: ``(1, *x.shape[1:])``."""
    return (1, *x.shape[1:]) if x.ndim else ()


def matrix_shape(x: Any) -> tuple[int, int]:
    """``(rows, cols)`` of ``x``'s matrix view: the first dimension by the product of the others
    (a 0-d value is 1 x 1, a 1-d one of n entries n x 1)."""
    rows = int(x.shape[0]) if x.ndim else 1
    cols = 1
    for n in x.shape[1:]:
        cols *= int(n)
    return rows, cols


def per_row(reduce: Callable[..., Any], axis: str, keep: str, what: str) -> Callable[[Any], Any]:
    """``reduce`` over the columns of each row (``axis``/``keep``: the library's keywords)."""

    def row(x: Any) -> Any:
        dims = tuple(range(1, x.ndim))
        return reduce(x, **{axis: dims, keep: True}) if dims else x

    row.__doc__ = f"The {what} of each row (over its columns), one number per row."
    return row


def per_column(reduce: Callable[..., Any], axis: str, keep: str, what: str) -> Callable[[Any], Any]:
    """``reduce`` over the rows of each column."""

    def column(x: Any) -> Any:
        return reduce(x, **{axis: 0, keep: True}) if x.ndim else x

    column.__doc__ = f"The {what} of each column (over the rows), one number per column."
    return column


def layout_shape(like: Any, kind: str) -> tuple[int, ...]:
    """The shape of a value of ``kind`` ("tensor", "rows", "cols", "scalar") in the layout of a
    parameter like ``like``: where a 2-d matrix result of θ's dimensions is put back."""
    if kind == "tensor":
        return tuple(like.shape)
    if kind == "rows":
        return rows_shape(like)
    if kind == "cols":
        return cols_shape(like)
    return ()


def resolve_dims(like: Any, *dims: Any) -> tuple[Any, ...]:
    """Symbolic dimensions as sizes: "rows" and "cols" of ``like``'s matrix view; anything
    else (an int hyper's value) as given."""
    rows, cols = matrix_shape(like)
    return tuple(rows if d == "rows" else cols if d == "cols" else d for d in dims)


def as_matrix(x: Any) -> Any:
    """A value in θ's layout as its 2-d matrix view (a 2-d array stays as it is)."""
    return x.reshape(matrix_shape(x))


def as_param(x: Any, like: Any, kind: str) -> Any:
    """A 2-d result of θ's dimensions put in θ's layout (``kind``: tensor, rows, cols, scalar)."""
    return x.reshape(layout_shape(like, kind))


def transpose(x: Any) -> Any:
    """A 2-d value's transpose."""
    return x.T
