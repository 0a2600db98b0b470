"""The matrix functions for the generated jax code: optc.backends.linalg (the rules, written
once) bound to jnp's primitives, and the layout changes between θ's layout and 2-d arrays.
Shapes are static under jit; a dimension given by an int hyper must be a Python int there."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optc.backends import linalg
from optc.backends.axes import matrix_shape, resolve_dims
from optc.ir.ops import NS_SCHEDULES

__all__ = list(linalg.EXPORTED)


def eye(n: Any, like: jax.Array) -> jax.Array:
    """The n x n identity in ``like``'s dtype (n static: a dimension or an int hyper)."""
    return jnp.eye(int(n), dtype=like.dtype)


class _Primitives:
    """The array primitives optc.backends.linalg is written against, in jnp."""

    @staticmethod
    def compute(x: jax.Array) -> jax.Array:
        """float32 at least: bf16 and fp16 are upcast (float64 stays)."""
        return x.astype(jnp.float32) if x.dtype in (jnp.bfloat16, jnp.float16) else x

    @staticmethod
    def back(y: jax.Array, x: jax.Array) -> jax.Array:
        return y.astype(x.dtype)

    all_finite = staticmethod(lambda x: jnp.all(jnp.isfinite(x)))
    epsilon = staticmethod(lambda x: jnp.finfo(x.dtype).eps)
    where = staticmethod(jnp.where)
    isnan = staticmethod(jnp.isnan)
    sign = staticmethod(jnp.sign)
    maximum = staticmethod(jnp.maximum)
    eigh = staticmethod(lambda m: jnp.linalg.eigh(m, symmetrize_input=False))
    svd = staticmethod(lambda m, full: jnp.linalg.svd(m, full_matrices=full))
    qr = staticmethod(jnp.linalg.qr)
    epsilon = staticmethod(lambda x: jnp.finfo(x.dtype).eps)
    ramp = staticmethod(lambda n, like: jnp.arange(1, n + 1, dtype=like.dtype))
    flip_last = staticmethod(lambda x: jnp.flip(x, axis=-1))
    diagonal = staticmethod(jnp.diagonal)
    diag_embed = staticmethod(jnp.diag)
    cat_cols = staticmethod(lambda a, b: jnp.concatenate([a, b], axis=1))
    cat_last = staticmethod(lambda a, b: jnp.concatenate([a, b], axis=-1))

    @staticmethod
    def pivots(v: jax.Array) -> jax.Array:
        """Each column's largest-magnitude entry (jnp.argmax returns the first on ties)."""
        if v.shape[0] == 0:
            return jnp.ones(v.shape[1], v.dtype)
        index = jnp.argmax(jnp.abs(v), axis=0)[None, :]
        return jnp.take_along_axis(v, index, axis=0)[0]

    @staticmethod
    def zeros(shape: tuple[int, ...], like: jax.Array) -> jax.Array:
        return jnp.zeros(shape, like.dtype)

    eye = staticmethod(eye)  # the module function below


(eigvecs, eigvals, inv_root, qr, svd_u, svd_v, svd_s_k, diag, trace, sort_perm) = linalg.bind(
    _Primitives()
)
svd_u_k, svd_v_k = svd_u, svd_v  # the rank-k forms: the same functions with k given


def matrix_full(like: jax.Array, rows: Any, cols: Any, value: Any = 0) -> jax.Array:
    """A matrix state's initial value: rows x cols filled with ``value`` (a dimension "rows" or
    "cols" is that of ``like``'s matrix view, an int hyper its value)."""
    shape = tuple(int(d) for d in resolve_dims(like, rows, cols))
    return jnp.full(shape, value, like.dtype)


def _schedule(name: str):
    def run(x: jax.Array, steps: Any) -> jax.Array:
        rows, cols = matrix_shape(x)
        m = _Primitives.compute(x.reshape(rows, cols))
        if rows > cols:
            m = m.T
        table = jnp.asarray(NS_SCHEDULES[name], dtype=m.dtype)

        def body(step, m):
            a, b, c = table[jnp.minimum(step, len(table) - 1)]
            return linalg.ns_step(m, a, b, c).astype(m.dtype)

        if not isinstance(steps, int):  # a hyper's array (float under inject_hyperparams)
            steps = jnp.asarray(steps).astype(jnp.int32)
        m = jax.lax.fori_loop(0, steps, body, m)
        return (m.T if rows > cols else m).reshape(x.shape).astype(x.dtype)

    run.__name__ = f"ns_{name}"
    run.__doc__ = (
        f"``newton_schulz(x, steps, {name})``: as optc.backends.torch.linalg; ``steps`` may be "
        "traced (a ``jax.lax.fori_loop`` reading the schedule's table)."
    )
    return run


ns_cubic = _schedule("cubic")
ns_quintic = _schedule("quintic")
ns_polar_express = _schedule("polar_express")
