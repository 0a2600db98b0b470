"""The norms a spec can dualize under, and the proof that each dualize map is right.

For a norm N, ``dualize(x, N)`` is the steepest-descent direction argmax over ‖v‖_N ≤ 1 of
<x, v>. It is right when <x, dualize(x)> equals the dual norm ‖x‖_* and ‖dualize(x)‖_N = 1
(for x ≠ 0). :func:`prove_dualize` checks both symbolically on the IR the compiler emits — the
same expression the backends run — evaluated on a vector of three symbolic entries, for every
built-in norm and for a norm scaled by a symbolic c > 0 (whose map the compiler derives as
(1/c) times the unscaled one, and whose dual is ‖x‖_* / c).

The spectral norm's map (U Vᵀ of θ's matrix view) mixes entries, so it has no one-vector
symbolic form: :func:`check_spectral` checks the two identities numerically on random tall,
wide, square and N-d values with the reference interpreter's exact SVD (the dual norm is the
nuclear norm), and measures how far Newton-Schulz iterations are from that truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy

from optc.check.symbolic import apply_op
from optc.ir.build import dualize_expr
from optc.ir.nodes import REAL_SCALAR, REAL_TENSOR, Const, Expr, Role, Var
from optc.ir.ops import MATRIX_NORM_NAMES, OPS, VECTOR_NORM_NAMES, shape_values

Vector = list[sympy.Basic]

_N = 3  # entries of the symbolic test vector


def _l2(x: Vector) -> sympy.Basic:
    return sympy.sqrt(sum(v**2 for v in x))


_NORMS: dict[str, tuple[Callable[[Vector], sympy.Basic], Callable[[Vector], sympy.Basic]]] = {
    # name: (the norm, its dual norm)
    "l2": (_l2, _l2),
    "l1": (lambda x: sum(abs(v) for v in x), lambda x: sympy.Max(*(abs(v) for v in x))),
    "linf": (lambda x: sympy.Max(*(abs(v) for v in x)), lambda x: sum(abs(v) for v in x)),
    "rms": (lambda x: _l2(x) / sympy.sqrt(len(x)), lambda x: sympy.sqrt(len(x)) * _l2(x)),
}
assert set(_NORMS) == set(VECTOR_NORM_NAMES)


@dataclass(frozen=True)
class NormProof:
    norm: str  # "l2", or "c * l2" for the scaled form
    pairing: bool  # <x, dualize(x)> = ‖x‖_*
    unit: bool  # ‖dualize(x)‖ = 1

    @property
    def proved(self) -> bool:
        return self.pairing and self.unit


def prove_dualize(norm: str, scaled: bool = False) -> NormProof:
    """Prove the two identities for ``dualize(x, norm)`` (or ``c * norm``) symbolically."""
    value, dual = _NORMS[norm]
    x = _test_vector(norm)
    g = Var("g", Role.INPUT, REAL_TENSOR)
    c = sympy.Symbol("c", positive=True)
    scale = Var("c", Role.HYPER, REAL_SCALAR) if scaled else None
    expr = dualize_expr(norm, g, None, scale)
    d = _evaluate(expr, {"g": x, "c": c})
    pairing = sum(a * b for a, b in zip(x, d, strict=True)) - (dual(x) / c if scaled else dual(x))
    unit = (c * value(d) if scaled else value(d)) - 1
    name = f"c * {norm}" if scaled else norm
    return NormProof(name, _is_zero(pairing), _is_zero(unit))


def _test_vector(norm: str) -> Vector:
    """Nonzero real entries; for ℓ1 (whose map picks the largest entry) one entry provably
    largest in magnitude: (a + b + e, -b, e) with a, b, e > 0."""
    if norm == "l1":
        a, b, e = sympy.symbols("a b e", positive=True)
        return [a + b + e, -b, e]
    return list(sympy.symbols(f"x1:{_N + 1}", real=True, nonzero=True))


def _evaluate(expr: Expr, env: dict[str, object]) -> Vector:
    """An IR expression on symbolic vectors: elementwise ops entry by entry, reductions over
    the entries (scalars broadcast)."""
    if isinstance(expr, Const):
        return [sympy.sympify(expr.value)] * _N
    if isinstance(expr, Var):
        value = env[expr.name]
        return value if isinstance(value, list) else [value] * _N
    args = [_evaluate(arg, env) for arg in expr.args]
    if OPS[expr.op].category == "reduce":
        return [_reduce(expr.op, args)] * _N
    return [apply_op(expr.op, list(entry)) for entry in zip(*args, strict=True)]


def _reduce(op: str, args: list[Vector]) -> sympy.Basic:
    x = args[0]
    match op:
        case "norm2":
            return _l2(x)
        case "norm1":
            return sum(abs(v) for v in x)
        case "norminf":
            return sympy.Max(*(abs(v) for v in x))
        case "rms":
            return _l2(x) / sympy.sqrt(len(x))
        case "count":
            return sum(sympy.Piecewise((1, cond), (0, True)) for cond in x)
    raise ValueError(f"no vector meaning for {op}")


def _is_zero(expr: sympy.Basic) -> bool:
    return sympy.simplify(expr) == 0


def norm_report() -> list[NormProof]:
    """Every built-in vector norm, plain and scaled (the spectral norm: :func:`check_spectral`)."""
    return [prove_dualize(n, scaled) for n in VECTOR_NORM_NAMES for scaled in (False, True)]


def _matrix_norms() -> dict[str, tuple[Callable[[Any], float], Callable[[Any], float]]]:
    """Each matrix norm of an R x C matrix M and its dual, written with NumPy (the SVD for the
    spectral ones): the truth the compiled maps are checked against."""
    import numpy as np

    def rms_ratio(m: Any) -> float:  # sqrt(cols / rows): ‖·‖_RMS→RMS = sqrt(C / R) ‖·‖_2
        return float(np.sqrt(m.shape[1] / m.shape[0]))

    def svals(m: Any) -> Any:
        return np.linalg.svd(m, compute_uv=False)

    return {
        "spectral": (lambda m: svals(m).max(), lambda m: svals(m).sum()),
        "rms_to_rms": (
            lambda m: rms_ratio(m) * svals(m).max(),
            lambda m: svals(m).sum() / rms_ratio(m),
        ),
        "row_l2": (
            lambda m: np.linalg.norm(m, axis=1).max(),
            lambda m: np.linalg.norm(m, axis=1).sum(),
        ),
        "col_l2": (
            lambda m: np.linalg.norm(m, axis=0).max(),
            lambda m: np.linalg.norm(m, axis=0).sum(),
        ),
        # ‖M‖_ℓ1→ℓ∞ = max over ‖z‖_1 = 1 of ‖Mz‖_∞, reached at a basis vector: max |entry|
        "l1_to_linf": (lambda m: np.abs(m).max(), lambda m: np.abs(m).sum()),
    }


@dataclass(frozen=True)
class MatrixNormCheck:
    norm: str  # "row_l2", or "c * row_l2" for the scaled form (c = 3)
    shape: tuple[int, ...]
    pairing: float  # |<x, dualize(x)> - ‖x‖_*| / ‖x‖_*
    unit: float  # |‖dualize(x)‖ - 1|

    def holds(self, tol: float = 1e-12) -> bool:
        return self.pairing <= tol and self.unit <= tol


MATRIX_SHAPES = ((6, 4), (4, 6), (5, 5), (3, 2, 2, 2))  # tall, wide, square, 4-d
_SCALE = 3.0


def _samples(shapes: tuple[tuple[int, ...], ...], seed: int) -> list[Any]:
    """One standard-normal value of each shape (the same ones for every check of a seed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def check_matrix_norm(
    norm: str, shapes: tuple[tuple[int, ...], ...] = MATRIX_SHAPES, seed: int = 0
) -> list[MatrixNormCheck]:
    """``dualize(x, norm)`` and ``dualize(x, 3 * norm)`` as the reference backend runs them
    (the IR the compiler emits), on a random value of each shape: <x, dualize(x)> equals the
    dual norm of x's matrix view (divided by 3 when scaled) and dualize(x) has norm 1 (3 times
    its norm is 1 when scaled), the norms computed independently with NumPy."""
    import numpy as np

    from optc.backends.reference.interpreter import evaluate

    value, dual = _matrix_norms()[norm]
    g = Var("g", Role.INPUT, REAL_TENSOR)
    out = []
    for shape, x in zip(shapes, _samples(shapes, seed), strict=True):
        rows = shape[0] if shape else 1
        env = {"g": x, **shape_values(tuple(shape))}
        for scale in (None, _SCALE):
            d = evaluate(dualize_expr(norm, g, None, None if scale is None else Const(scale)), env)
            c = 1.0 if scale is None else scale
            want = dual(x.reshape(rows, -1)) / c
            pairing = abs(float(np.sum(x * d)) - want) / want
            unit = abs(c * value(d.reshape(rows, -1)) - 1.0)
            name = norm if scale is None else f"{scale:g} * {norm}"
            out.append(MatrixNormCheck(name, tuple(shape), pairing, unit))
    return out


def matrix_norm_report(seed: int = 0) -> list[MatrixNormCheck]:
    """Every matrix norm, plain and scaled, on tall, wide, square and 4-d values."""
    return [check for norm in MATRIX_NORM_NAMES for check in check_matrix_norm(norm, seed=seed)]


@dataclass(frozen=True)
class SpectralCheck:
    shape: tuple[int, ...]
    pairing: float  # |<x, dualize(x)> - ‖x‖_*| / ‖x‖_*
    unit: float  # |‖dualize(x)‖_2 - 1| (spectral norm of the matrix view)
    newton_schulz: float  # max |NS_k(x / ‖x‖_F) - U Vᵀ| (the chosen coefficients and steps)

    def holds(self, tol: float = 1e-12) -> bool:
        return self.pairing <= tol and self.unit <= tol


# Muon's quintic coefficients (Keller Jordan; torch.optim.Muon and optax.contrib.muon defaults).
MUON_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def check_spectral(
    shapes: tuple[tuple[int, ...], ...] = MATRIX_SHAPES,
    steps: int = 5,
    coefficients: tuple[float, float, float] = MUON_COEFFICIENTS,
    seed: int = 0,
) -> list[SpectralCheck]:
    """``dualize(x, spectral)`` checked by :func:`check_matrix_norm` (<x, UVᵀ> equals the
    nuclear norm of x's matrix view, UVᵀ has spectral norm 1), with the Newton-Schulz residual
    of ``newton_schulz(x / norm(x), steps, a, b, c)`` against UVᵀ on the same values."""
    import numpy as np

    from optc.backends.reference.interpreter import evaluate
    from optc.ir.build import _make_op

    g = Var("g", Role.INPUT, REAL_TENSOR)
    direction = dualize_expr("spectral", g, None)
    unit_scaled = _make_op("div", [g, _make_op("norm2", [g], None)], None)
    ns = _make_op(
        "newton_schulz", [unit_scaled, Const(float(steps)), *map(Const, coefficients)], None
    )
    plain = [c for c in check_matrix_norm("spectral", shapes, seed) if c.norm == "spectral"]
    out = []
    for x, check in zip(_samples(shapes, seed), plain, strict=True):
        residual = float(np.max(np.abs(evaluate(ns, {"g": x}) - evaluate(direction, {"g": x}))))
        out.append(SpectralCheck(check.shape, check.pairing, check.unit, residual))
    return out
