"""Axis reductions for the generated jax code: optc.backends.axes bound to jnp's
reductions (the shapes and the rule are there); the matrix functions of θ's matrix view
(``polar``: the spectral norm's dualize map, ``newton_schulz``), as optc.backends.torch.axes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

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
from optc.backends.jax.linalg import *  # noqa: F403 (the matrix functions, one namespace)
from optc.backends.jax.linalg import __all__ as _linalg_all

__all__ = [
    "as_matrix",
    "as_param",
    "transpose",
    "col_max",
    "col_mean",
    "col_sum",
    "cols_shape",
    "newton_schulz",
    "polar",
    "row_max",
    "row_mean",
    "row_sum",
    "rows_shape",
    *_linalg_all,
]

row_mean = per_row(jnp.mean, "axis", "keepdims", "mean")
row_sum = per_row(jnp.sum, "axis", "keepdims", "sum")
# initial=-inf: the largest entry of an empty row or column is -inf (jnp.max would raise).
_max = functools.partial(jnp.max, initial=-jnp.inf)
row_max = per_row(_max, "axis", "keepdims", "largest entry (NaN if one is NaN)")
col_mean = per_column(jnp.mean, "axis", "keepdims", "mean")
col_sum = per_column(jnp.sum, "axis", "keepdims", "sum")
col_max = per_column(_max, "axis", "keepdims", "largest entry (NaN if one is NaN)")


def _compute_dtype(x: jax.Array) -> jnp.dtype:
    """Matrix work in float32 at least: bf16 and fp16 values are upcast (and cast back)."""
    return jnp.float32 if x.dtype in (jnp.bfloat16, jnp.float16) else x.dtype


def polar(x: jax.Array) -> jax.Array:
    """``dualize(x, spectral)``: U Vᵀ of the reduced SVD of x's matrix view, over the singular
    values above max(S) * max(rows, cols) * eps of the dtype (0 for x = 0); NaN everywhere if
    an entry is not finite."""
    rows, cols = matrix_shape(x)
    if x.size == 0:
        return x
    m = x.reshape(rows, cols).astype(_compute_dtype(x))
    finite = jnp.all(jnp.isfinite(m))
    m = jnp.where(finite, m, 0.0)
    u, s, vh = jnp.linalg.svd(m, full_matrices=False)
    tol = jnp.max(s) * max(rows, cols) * jnp.finfo(m.dtype).eps
    o = (u * (s > tol).astype(m.dtype)) @ vh
    o = jnp.where(finite, o, jnp.nan)
    return o.reshape(x.shape).astype(x.dtype)


def newton_schulz(x: jax.Array, steps, a, b, c) -> jax.Array:
    """``steps`` quintic Newton-Schulz iterations on x's matrix view X (transposed while it has
    more rows than columns): A = X Xᵀ, B = b A + c A A, X = a X + B X. ``steps`` may be traced
    (a ``jax.lax.fori_loop``)."""
    rows, cols = matrix_shape(x)
    m = x.reshape(rows, cols).astype(_compute_dtype(x))
    if rows > cols:
        m = m.T

    def body(_, m):
        gram = m @ m.T
        return (a * m + (b * gram + c * (gram @ gram)) @ m).astype(m.dtype)

    if not isinstance(steps, int):  # a hyper's array (float under inject_hyperparams)
        steps = jnp.asarray(steps).astype(jnp.int32)
    m = jax.lax.fori_loop(0, steps, body, m)
    if rows > cols:
        m = m.T
    return m.reshape(x.shape).astype(x.dtype)
