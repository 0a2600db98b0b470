"""The matrix functions for the generated torch code: optc.backends.linalg (the rules, written
once) bound to torch's primitives, and the layout changes between θ's layout and 2-d arrays."""

from __future__ import annotations

from typing import Any

import torch

from optc.backends import linalg
from optc.backends.axes import matrix_shape, resolve_dims
from optc.ir.ops import ns_coefficients

__all__ = list(linalg.EXPORTED)


def eye(n: Any, like: torch.Tensor) -> torch.Tensor:
    """The n x n identity in ``like``'s dtype and device."""
    return torch.eye(int(n), dtype=like.dtype, device=like.device)


class _Primitives:
    """The array primitives optc.backends.linalg is written against, in torch."""

    @staticmethod
    def compute(x: torch.Tensor) -> torch.Tensor:
        """float32 at least: bf16 and fp16 are upcast (float64 stays)."""
        return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x

    @staticmethod
    def back(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return y.to(x.dtype)

    all_finite = staticmethod(lambda x: torch.isfinite(x).all())
    epsilon = staticmethod(lambda x: torch.finfo(x.dtype).eps)
    where = staticmethod(torch.where)
    isnan = staticmethod(torch.isnan)
    sign = staticmethod(torch.sign)
    maximum = staticmethod(lambda x, lo: torch.clamp(x, min=lo))
    eigh = staticmethod(torch.linalg.eigh)
    svd = staticmethod(lambda m, full: torch.linalg.svd(m, full_matrices=full))
    qr = staticmethod(torch.linalg.qr)
    epsilon = staticmethod(lambda x: torch.finfo(x.dtype).eps)
    ramp = staticmethod(
        lambda n, like: torch.arange(1, n + 1, dtype=like.dtype, device=like.device)
    )
    flip_last = staticmethod(lambda x: torch.flip(x, dims=(-1,)))
    diagonal = staticmethod(torch.diagonal)
    diag_embed = staticmethod(torch.diag)
    cat_cols = staticmethod(lambda a, b: torch.cat([a, b], dim=1))
    cat_last = staticmethod(lambda a, b: torch.cat([a, b], dim=-1))

    @staticmethod
    def pivots(v: torch.Tensor) -> torch.Tensor:
        """Each column's largest-magnitude entry (torch.argmax returns the first on ties)."""
        if v.shape[0] == 0:
            return v.new_ones(v.shape[1])
        index = torch.argmax(torch.abs(v), dim=0, keepdim=True)
        return torch.take_along_dim(v, index, dim=0)[0]

    @staticmethod
    def zeros(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(shape)

    eye = staticmethod(eye)  # the module function below


(eigvecs, eigvals, inv_root, qr, svd_u, svd_v, svd_s_k, diag, trace, sort_perm) = linalg.bind(
    _Primitives()
)
svd_u_k, svd_v_k = svd_u, svd_v  # the rank-k forms: the same functions with k given


def matrix_full(like: torch.Tensor, rows: Any, cols: Any, value: Any = 0) -> torch.Tensor:
    """A matrix state's initial value: rows x cols filled with ``value`` (a dimension "rows" or
    "cols" is that of ``like``'s matrix view, an int hyper its value)."""
    shape = tuple(int(d) for d in resolve_dims(like, rows, cols))
    return like.new_full(shape, value)


def _schedule(name: str):
    def run(x: torch.Tensor, steps: Any) -> torch.Tensor:
        rows, cols = matrix_shape(x)
        m = _Primitives.compute(x.reshape(rows, cols))
        if rows > cols:
            m = m.T
        for step in range(int(steps)):
            m = linalg.ns_step(m, *ns_coefficients(name, step))
        return (m.T if rows > cols else m).reshape(x.shape).to(x.dtype)

    run.__name__ = f"ns_{name}"
    run.__doc__ = (
        f"``newton_schulz(x, steps, {name})``: quintic Newton-Schulz steps on x's matrix view "
        "(transposed while it has more rows than columns), step k with the schedule's k-th "
        "(a, b, c), the last one repeating; no normalisation."
    )
    return run


ns_cubic = _schedule("cubic")
ns_quintic = _schedule("quintic")
ns_polar_express = _schedule("polar_express")
