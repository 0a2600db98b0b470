"""Axis reductions for the generated jax code: optc.backends.axes bound to jnp's
reductions (the shapes and the rule are there)."""

from __future__ import annotations

import functools

import jax.numpy as jnp

from optc.backends.axes import cols_shape, per_column, per_row, rows_shape

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

row_mean = per_row(jnp.mean, "axis", "keepdims", "mean")
row_sum = per_row(jnp.sum, "axis", "keepdims", "sum")
# initial=-inf: the largest entry of an empty row or column is -inf (jnp.max would raise).
_max = functools.partial(jnp.max, initial=-jnp.inf)
row_max = per_row(_max, "axis", "keepdims", "largest entry (NaN if one is NaN)")
col_mean = per_column(jnp.mean, "axis", "keepdims", "mean")
col_sum = per_column(jnp.sum, "axis", "keepdims", "sum")
col_max = per_column(_max, "axis", "keepdims", "largest entry (NaN if one is NaN)")
