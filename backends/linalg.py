"""The matrix functions of the spec language, written once for every backend.

Each function takes ``xp``, a small namespace of array primitives (``optc.backends.torch.linalg``,
``optc.backends.jax.linalg`` and the reference interpreter each give one), so torch, jax and the
NumPy float64 reference run the same steps and the same deterministic rules
(docs/language.md, "Matrix values"):

- **Symmetric input.** ``eigvecs``, ``eigvals`` and ``inv_root`` decompose ``(A + Aᵀ) / 2``
  (LAPACK reads one triangle, jax averages by default: symmetrizing first makes them agree).
- **Order.** Eigenvalues and singular values descending; vectors in the same order.
- **Signs.** Each eigenvector, left singular vector and Q column has its largest-magnitude
  entry positive (the first such entry on ties); a right singular vector v_i takes the sign
  of its u_i (so U S Vᵀ is kept), the columns of V beyond min(rows, cols) their own rule;
  ``qr`` makes diag(R) ≥ 0 (Q's column times the sign of R's diagonal entry, +1 for 0).
- **Null spaces.** ``eigvecs`` replaces the eigenvectors of numerically-zero eigenvalues by a
  basis fixed by the null space alone (``_null_space_basis``): rank-deficient Gram matrices get
  the same basis in every backend.
- **Precision.** float32 at least (bf16 and fp16 are upcast, float64 stays), cast back.
- **Non-finite input.** A NaN or ±inf entry makes the whole result NaN; the decomposition runs
  on zeros instead (no host sync in torch, no data-dependent branch in jax). ``sort_perm`` is
  no decomposition: it orders NaN above +inf and always returns a permutation.
- **Empty input** (a 0 x n matrix): zeros of the result's shape, no decomposition.

Results are 2-d arrays: vectors are columns ([n, 1]); the compiler reshapes them into θ's
layout where their dimensions are θ's (``as_param``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

Array = Any


def _guarded(xp, x: Array) -> tuple[Array, Array]:
    """x in the compute dtype with non-finite inputs replaced by zeros, and the finite flag."""
    m = xp.compute(x)
    finite = xp.all_finite(m)
    return xp.where(finite, m, 0.0), finite


def _poison(xp, y: Array, finite: Array, x: Array) -> Array:
    """NaN everywhere unless the input was finite; back in the input's dtype."""
    return xp.back(xp.where(finite, y, float("nan")), x)


def _signs(xp, v: Array) -> Array:
    """+1 or -1 per column: the sign of its largest-magnitude entry (first on ties; 0 → +1)."""
    s = xp.sign(xp.pivots(v))
    return xp.where(s == 0, 1.0, s)


def _pad_cols(xp, v: Array, k: int) -> Array:
    """The first k columns of v, zero columns appended where v has fewer."""
    have = v.shape[1]
    if k <= have:
        return v[:, :k]
    return xp.cat_cols(v, xp.zeros((v.shape[0], k - have), v))


def _eigh(xp, a: Array) -> tuple[Array, Array, Array]:
    """Eigenvalues (descending) and eigenvectors (signed) of (A + Aᵀ) / 2, and the finite flag."""
    m, finite = _guarded(xp, a)
    w, v = xp.eigh((m + m.T) / 2)
    w, v = xp.flip_last(w), xp.flip_last(v)
    return w, v * _signs(xp, v), finite


# An eigenvalue is numerically zero when |λ| <= NULL_TOLERANCE · n · ε(dtype) · max |λ|.
NULL_TOLERANCE = 32


def _null_space_basis(xp, w: Array, v: Array) -> Array:
    """v with its numerically-zero eigenvalues' columns replaced by a basis fixed by the null
    space alone: the eigenvectors of D = diag(1, 2, ..., n) compressed to that space.

    Any orthonormal basis of a repeated eigenvalue's eigenspace is an answer, and LAPACK,
    cuSOLVER and jax's eigh pick different ones; for a rank-deficient Gram matrix (G Gᵀ of a
    tall G, SOAP's first statistics) that choice reaches the optimizer step. K = V diag(k) Vᵀ
    + P D P with P the projector on the null space, k = n + 1 on the positive and -1 on the
    negative eigenvalues, has the compression's eigenvalues (in [1, n]) in exactly the null
    block's positions of the descending order; they are distinct for a generic null space, so
    its eigenvectors there are unique up to the sign rule.
    """
    n = v.shape[0]
    tol = NULL_TOLERANCE * n * xp.epsilon(v) * abs(w).max()
    null = abs(w) <= tol
    k = xp.where(w > tol, n + 1.0, xp.where(null, 0.0, -1.0))
    p = (v * xp.where(null, 1.0, 0.0)) @ v.T
    d = xp.diag_embed(xp.ramp(n, v))
    kmat = (v * k) @ v.T + p @ d @ p
    _, u = xp.eigh((kmat + kmat.T) / 2)
    u = xp.flip_last(u)
    return xp.where(null, u * _signs(xp, u), v)


def eigvecs(xp, a: Array) -> Array:
    """The eigenvectors of symmetric A as columns, by descending eigenvalue, signed; those of
    a numerically-zero eigenvalue as fixed by ``_null_space_basis``."""
    if a.shape[0] == 0:
        return xp.zeros(a.shape, a)
    w, v, finite = _eigh(xp, a)
    return _poison(xp, _null_space_basis(xp, w, v), finite, a)


def eigvals(xp, a: Array) -> Array:
    """The eigenvalues of symmetric A, descending, as a column [n, 1]."""
    if a.shape[0] == 0:
        return xp.zeros((0, 1), a)
    w, _, finite = _eigh(xp, a)
    return _poison(xp, w[:, None], finite, a)


def inv_root(xp, a: Array, p: Any, eps: Any) -> Array:
    """A^(-1/p) by eigh: V diag((λ' + eps)^(-1/p)) Vᵀ of (A + Aᵀ) / 2, where λ' is λ above
    max(λ) · n · ε of the compute dtype and 0 at or below it (NumPy's rank rule, as
    ``dualize(x, spectral)``; negative eigenvalues count as 0 too): the eigenvalues rounding
    leaves in the null space of a singular PSD matrix count as 0, so the damped root there is
    exactly eps^(-1/p) times the projector onto that space, the same in every backend and dtype
    whichever basis eigh returns."""
    if a.shape[0] == 0:
        return xp.zeros(a.shape, a)
    w, v, finite = _eigh(xp, a)
    tol = w[0] * a.shape[0] * xp.epsilon(w)  # w is descending: w[0] is the largest
    scale = (xp.where(w > tol, w, 0.0) + eps) ** (-1.0 / p)
    return _poison(xp, (v * scale) @ v.T, finite, a)


def _svd(xp, x: Array, full: bool) -> tuple[Array, Array, Array, Array]:
    """U, S (descending), V (not Vᵀ) with the sign rule, and the finite flag."""
    m, finite = _guarded(xp, x)
    u, s, vh = xp.svd(m, full)
    v = vh.T
    r = min(m.shape)
    su, sv = _signs(xp, u), _signs(xp, v)
    sv = xp.cat_last(su[:r], sv[r:])
    return u * su, s, v * sv, finite


def _singular_vectors(xp, x: Array, k: int | None, side: int) -> Array:
    """Left (side 0) or right (side 1) singular vectors as columns: all of them or the first k
    (zero columns beyond min(rows, cols): the reduced SVD, whose columns are unique where the
    full one's null-space columns are not)."""
    n = x.shape[side]
    want = n if k is None else int(k)
    if 0 in x.shape:
        return xp.zeros((n, want), x) if k is not None else xp.eye(n, x)
    u, _, v, finite = _svd(xp, x, full=k is None)
    return _poison(xp, _pad_cols(xp, (u, v)[side], want), finite, x)


def svd_u(xp, x: Array, k: int | None = None) -> Array:
    """Left singular vectors: all of them ([rows, rows]) or the first k ([rows, k])."""
    return _singular_vectors(xp, x, k, 0)


def svd_v(xp, x: Array, k: int | None = None) -> Array:
    """Right singular vectors (columns of V): all ([cols, cols]) or the first k ([cols, k])."""
    return _singular_vectors(xp, x, k, 1)


def svd_s(xp, x: Array, k: int) -> Array:
    """The k largest singular values, descending, as a column [k, 1] (0 beyond the rank)."""
    want = int(k)
    if 0 in x.shape:
        return xp.zeros((want, 1), x)
    _, s, _, finite = _svd(xp, x, full=False)
    return _poison(xp, _pad_cols(xp, s[None, :], want).T, finite, x)


def qr(xp, a: Array) -> Array:
    """Q of the reduced QR decomposition with diag(R) ≥ 0, A's shape (for a wide A the columns
    beyond its rows are 0)."""
    cols = a.shape[1]
    if 0 in a.shape:
        return xp.zeros(a.shape, a)
    m, finite = _guarded(xp, a)
    q, r = xp.qr(m)
    d = xp.sign(xp.diagonal(r))
    q = q * xp.where(d == 0, 1.0, d)
    return _poison(xp, _pad_cols(xp, q, cols), finite, a)


def diag(xp, x: Array) -> Array:
    """A square matrix's diagonal as a column [n, 1]; a vector ([n, 1] or [1, n]) as the
    diagonal matrix [n, n]. A 1 x 1 value is both (the same number)."""
    if x.shape[0] == x.shape[1]:
        return xp.diagonal(x)[:, None]
    return xp.diag_embed(x.reshape(-1))


def trace(xp, a: Array) -> Array:
    """The sum of the diagonal (0 for a 0 x 0 matrix)."""
    return xp.diagonal(a).sum()


def sort_perm(xp, d: Array) -> Array:
    """The permutation matrix P ([n, n], d's dtype) of a column d ([n, 1]) with Pᵀ d = d sorted
    descending: P[i, k] = 1 where entry i of d takes place k. Stable (equal entries keep their
    order) and total: NaN sorts above +inf, NaNs among themselves in their order.

    Place k of entry i is the number of entries that go before it: the greater ones and the
    equal ones above it. Written with comparisons alone (no argsort), so every backend orders
    the same way (torch's, jax's and NumPy's argsort treat NaN and ties each their own way);
    the [n, n] comparison costs what P's n² entries do."""
    x = xp.compute(d)[:, 0]  # float32 at least: places up to 2^24 are exact
    nan = xp.isnan(x)
    ahead = (x[:, None] > x[None, :]) | (nan[:, None] & ~nan[None, :])
    tied = (x[:, None] == x[None, :]) | (nan[:, None] & nan[None, :])
    position = xp.ramp(x.shape[0], x)
    earlier = position[:, None] < position[None, :]
    place = xp.where(ahead | (tied & earlier), 1.0, 0.0).sum(0)  # entry i's place, as a number
    return xp.back(xp.where(place[:, None] == position[None, :] - 1.0, 1.0, 0.0), d)


# What each backend's linalg module exports to the generated code (through its ``axes``).
EXPORTED = (
    "diag",
    "eigvals",
    "eigvecs",
    "eye",
    "inv_root",
    "matrix_full",
    "ns_cubic",
    "ns_polar_express",
    "ns_quintic",
    "qr",
    "sort_perm",
    "svd_s_k",
    "svd_u",
    "svd_u_k",
    "svd_v",
    "svd_v_k",
    "trace",
)

# The functions a backend binds to its primitives (``bind``), in this order.
BOUND = (
    "eigvecs",
    "eigvals",
    "inv_root",
    "qr",
    "svd_u",
    "svd_v",
    "svd_s",
    "diag",
    "trace",
    "sort_perm",
)


def bind(xp) -> tuple[Callable[..., Array], ...]:
    """The functions named in ``BOUND`` with ``xp`` bound, in that order."""
    return tuple(functools.partial(globals()[name], xp) for name in BOUND)


def ns_step(m: Array, a: Any, b: Any, c: Any) -> Array:
    """One quintic Newton-Schulz step on a wide (or square) X: X = a X + (b A + c A A) X."""
    gram = m @ m.T
    return a * m + (b * gram + c * (gram @ gram)) @ m
