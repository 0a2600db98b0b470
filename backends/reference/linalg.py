"""The matrix functions for the reference interpreter: optc.backends.linalg (the rules, written
once) bound to NumPy in float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from optc.backends import linalg
from optc.ir.ops import ns_coefficients


class _Primitives:
    """The array primitives optc.backends.linalg is written against, in NumPy float64."""

    compute = staticmethod(lambda x: np.asarray(x, dtype=np.float64))
    back = staticmethod(lambda y, x: y)
    all_finite = staticmethod(lambda x: np.all(np.isfinite(x)))
    epsilon = staticmethod(lambda x: np.finfo(np.float64).eps)
    where = staticmethod(np.where)
    isnan = staticmethod(np.isnan)
    sign = staticmethod(np.sign)
    maximum = staticmethod(np.maximum)
    eigh = staticmethod(np.linalg.eigh)
    svd = staticmethod(lambda m, full: np.linalg.svd(m, full_matrices=full))
    qr = staticmethod(np.linalg.qr)
    epsilon = staticmethod(lambda x: np.finfo(np.float64).eps)
    ramp = staticmethod(lambda n, like: np.arange(1.0, n + 1.0))
    flip_last = staticmethod(lambda x: np.flip(x, axis=-1))
    diagonal = staticmethod(np.diagonal)
    diag_embed = staticmethod(np.diag)
    cat_cols = staticmethod(lambda a, b: np.concatenate([a, b], axis=1))
    cat_last = staticmethod(lambda a, b: np.concatenate([a, b], axis=-1))
    zeros = staticmethod(lambda shape, like: np.zeros(shape))
    eye = staticmethod(lambda n, like: np.eye(n))

    @staticmethod
    def pivots(v: np.ndarray) -> np.ndarray:
        """Each column's largest-magnitude entry (np.argmax returns the first on ties)."""
        if v.shape[0] == 0:
            return np.ones(v.shape[1])
        index = np.argmax(np.abs(v), axis=0)[None, :]
        return np.take_along_axis(v, index, axis=0)[0]


_bound = dict(zip(linalg.BOUND, linalg.bind(_Primitives()), strict=True))
MATRIX_OPS: dict[str, Any] = {
    **{
        name: _bound[name] for name in ("eigvecs", "eigvals", "inv_root", "qr", "diag", "sort_perm")
    },
    **{name: _bound[name] for name in ("svd_u", "svd_v")},
    **{f"{name}_k": _bound[name] for name in ("svd_u", "svd_v", "svd_s")},
    "trace": lambda a: np.float64(_bound["trace"](a)),
    "matmul": np.matmul,
    "transpose": lambda x: np.asarray(x).T,
    "eye": lambda n: np.eye(int(n)),
}


def newton_schulz_schedule(name: str, x: np.ndarray, steps: Any, matrix) -> np.ndarray:
    """``newton_schulz(x, steps, name)`` on x's matrix view (``matrix``: the view function)."""
    m = matrix(x)
    tall = m.shape[0] > m.shape[1]
    if tall:
        m = m.T
    for step in range(int(steps)):
        m = linalg.ns_step(m, *ns_coefficients(name, step))
    return (m.T if tall else m).reshape(np.shape(x))
