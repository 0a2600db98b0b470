"""Axis reductions and per-row / per-column shapes for the generated jax code.

A parameter is viewed as a matrix of ``rows`` (its first dimension) by ``cols`` (the product of
the others): a 0-d parameter is 1 x 1, a 1-d one of n entries n x 1 (docs/language.md,
"Reductions"). A per-row value is kept as a tensor of shape ``(rows, 1, ..., 1)`` and a
per-column one as ``(1, *theta.shape[1:])``: both have θ's number of dimensions, so they
broadcast against θ (and a per-row value times a per-column one is θ-shaped) with no reshapes.

The shapes are static under ``jit`` (they depend on the leaf's shape only). A reduction over no
dimension (the columns of a 0-d or 1-d parameter) returns ``x`` itself, as in the torch backend.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

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


def rows_shape(x: jax.Array) -> tuple[int, ...]:
    """The shape of a per-row value of a parameter like ``x``: ``(rows, 1, ..., 1)``."""
    return tuple(x.shape[:1]) + (1,) * max(x.ndim - 1, 0)


def cols_shape(x: jax.Array) -> tuple[int, ...]:
    """The shape of a per-column value of a parameter like ``x``: ``(1, *x.shape[1:])``."""
    return (1, *x.shape[1:]) if x.ndim else ()


def _row_dims(x: jax.Array) -> tuple[int, ...]:
    return tuple(range(1, x.ndim))


def row_mean(x: jax.Array) -> jax.Array:
    """The mean of each row (over its columns), one number per row."""
    dims = _row_dims(x)
    return jnp.mean(x, axis=dims, keepdims=True) if dims else x


def row_sum(x: jax.Array) -> jax.Array:
    """The sum of each row, one number per row."""
    dims = _row_dims(x)
    return jnp.sum(x, axis=dims, keepdims=True) if dims else x


def row_max(x: jax.Array) -> jax.Array:
    """The largest entry of each row (NaN if the row holds one), one number per row."""
    dims = _row_dims(x)
    return jnp.max(x, axis=dims, keepdims=True) if dims else x


def col_mean(x: jax.Array) -> jax.Array:
    """The mean of each column (over the rows), one number per column."""
    return jnp.mean(x, axis=0, keepdims=True) if x.ndim else x


def col_sum(x: jax.Array) -> jax.Array:
    """The sum of each column, one number per column."""
    return jnp.sum(x, axis=0, keepdims=True) if x.ndim else x


def col_max(x: jax.Array) -> jax.Array:
    """The largest entry of each column (NaN if the column holds one), one number per column."""
    return jnp.max(x, axis=0, keepdims=True) if x.ndim else x
