"""The operator table: every IR op, its arity and how its result type is inferred.

Adding a primitive is one row here plus one spelling per backend (each backend checks at import
time that it spells every op, so a missing one fails loudly, not at run time).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Prec(enum.IntEnum):
    """How tightly an expression binds, loosest first (as in Python's grammar)."""

    SELECT = 1  # a if c else b; a LaTeX cases block
    OR = 2
    AND = 3
    NOT = 4
    COMPARE = 5
    ADD = 6
    MUL = 7
    UNARY = 8
    POWER = 9
    ATOM = 10  # names, numbers, calls


@dataclass(frozen=True)
class OpInfo:
    arity: int
    # "arith" | "compare" | "logic" | "select" | "branch" | "reduce" | "axis" | "global"
    # | "matrix"
    category: str
    signature: str  # how users call it, for arity errors
    precedence: Prec = Prec.ATOM  # as an infix or prefix operator; calls are atoms
    assoc: str = "left"  # "left" | "right" | "none" (comparisons do not chain)


OPS: dict[str, OpInfo] = {
    "add": OpInfo(2, "arith", "a + b", Prec.ADD),
    "sub": OpInfo(2, "arith", "a - b", Prec.ADD),
    "mul": OpInfo(2, "arith", "a * b", Prec.MUL),
    "div": OpInfo(2, "arith", "a / b", Prec.MUL),
    "pow": OpInfo(2, "arith", "a ^ b", Prec.POWER, "right"),
    "neg": OpInfo(1, "arith", "-a", Prec.UNARY),
    "sqrt": OpInfo(1, "arith", "sqrt(x)"),
    "abs": OpInfo(1, "arith", "abs(x)"),
    "sign": OpInfo(1, "arith", "sign(x)"),
    "exp": OpInfo(1, "arith", "exp(x)"),
    "log": OpInfo(1, "arith", "log(x)"),
    "cos": OpInfo(1, "arith", "cos(x)"),
    "sin": OpInfo(1, "arith", "sin(x)"),
    "floor": OpInfo(1, "arith", "floor(x)"),
    "mod": OpInfo(2, "arith", "mod(a, b)"),  # a - b * floor(a / b): the sign of b, as Python's %
    "min": OpInfo(2, "arith", "min(a, b)"),
    "max": OpInfo(2, "arith", "max(a, b)"),
    "clip": OpInfo(3, "arith", "clip(x, lo, hi)"),
    "lt": OpInfo(2, "compare", "a < b", Prec.COMPARE, "none"),
    "le": OpInfo(2, "compare", "a <= b", Prec.COMPARE, "none"),
    "gt": OpInfo(2, "compare", "a > b", Prec.COMPARE, "none"),
    "ge": OpInfo(2, "compare", "a >= b", Prec.COMPARE, "none"),
    "eq": OpInfo(2, "compare", "a == b", Prec.COMPARE, "none"),
    "ne": OpInfo(2, "compare", "a != b", Prec.COMPARE, "none"),
    "and": OpInfo(2, "logic", "a and b", Prec.AND),
    "or": OpInfo(2, "logic", "a or b", Prec.OR),
    "not": OpInfo(1, "logic", "not a", Prec.NOT),
    "where": OpInfo(3, "select", "where(cond, a, b)"),
    # per-tensor reductions: a θ-shaped value to one number per parameter
    "norm2": OpInfo(1, "reduce", "norm(x) or norm(x, 2)"),
    "norm1": OpInfo(1, "reduce", "norm(x, 1)"),
    "norminf": OpInfo(1, "reduce", "norm(x, inf)"),
    "rms": OpInfo(1, "reduce", "rms(x)"),
    "mean": OpInfo(1, "reduce", "mean(x)"),
    "sum": OpInfo(1, "reduce", "sum(x)"),
    "maxof": OpInfo(1, "reduce", "max(x)"),
    "minof": OpInfo(1, "reduce", "min(x)"),
    "dot": OpInfo(2, "reduce", "dot(a, b)"),
    "count": OpInfo(1, "reduce", "count(mask)"),
    # axis reductions of θ's matrix view: one number per row (over its columns) or per column
    "row_mean": OpInfo(1, "axis", "row_mean(x)"),
    "row_sum": OpInfo(1, "axis", "row_sum(x)"),
    "row_max": OpInfo(1, "axis", "row_max(x)"),
    "col_mean": OpInfo(1, "axis", "col_mean(x)"),
    "col_sum": OpInfo(1, "axis", "col_sum(x)"),
    "col_max": OpInfo(1, "axis", "col_max(x)"),
    # matrix functions of θ's matrix view (rows x cols): a θ-shaped value to a θ-shaped value
    # that mixes entries (docs/language.md, "Matrix functions")
    "polar": OpInfo(1, "matrix", "dualize(x, spectral)"),  # U Vᵀ of the SVD, exactly
    "newton_schulz": OpInfo(5, "matrix", "newton_schulz(x, steps, a, b, c)"),
    # matrix values (docs/language.md, "Matrix values"): 2-d arrays of symbolic dimensions
    "matmul": OpInfo(2, "matrix", "a @ b", Prec.MUL),
    "transpose": OpInfo(1, "matrix", "transpose(x)"),
    "eye": OpInfo(1, "matrix", "eye(n) with n one of rows, cols or an int hyper"),
    "diag": OpInfo(1, "matrix", "diag(x)"),
    "trace": OpInfo(1, "matrix", "trace(A)"),
    "eigvecs": OpInfo(1, "matrix", "eigvecs(A)"),
    "eigvals": OpInfo(1, "matrix", "eigvals(A)"),
    "qr": OpInfo(1, "matrix", "qr(A)"),
    "sort_perm": OpInfo(1, "matrix", "sort_perm(d)"),
    "svd_u": OpInfo(1, "matrix", "svd_u(x) or svd_u(x, k)"),
    "svd_v": OpInfo(1, "matrix", "svd_v(x) or svd_v(x, k)"),
    "svd_u_k": OpInfo(2, "matrix", "svd_u(x, k)"),
    "svd_v_k": OpInfo(2, "matrix", "svd_v(x, k)"),
    "svd_s_k": OpInfo(2, "matrix", "svd_s(x, k)"),
    "inv_root": OpInfo(3, "matrix", "inv_root(A, p, eps)"),
    **{
        f"ns_{name}": OpInfo(2, "matrix", f"newton_schulz(x, steps, {name})")
        for name in ("cubic", "quintic", "polar_express")
    },
    # layout changes the compiler inserts where a value in θ's layout meets a 2-d one (never
    # written in a spec): θ's layout → the 2-d matrix view, and back
    "as_matrix": OpInfo(1, "layout", "(the matrix view of a value in θ's layout)"),
    "as_param": OpInfo(1, "layout", "(a matrix value put in θ's layout)"),
    "ifelse": OpInfo(3, "branch", "if cond then a else b", Prec.SELECT),
    # the sum over every parameter of the group (of all entries, for a θ-shaped value)
    "total": OpInfo(1, "global", "total(x)"),
}

# Functions a spec may call by name (the rest are operators).
FUNCTIONS = (
    "sqrt",
    "abs",
    "sign",
    "exp",
    "log",
    "cos",
    "sin",
    "floor",
    "mod",
    "min",
    "max",
    "clip",
    "where",
    "norm",
    "rms",
    "mean",
    "sum",
    "dot",
    "count",
    "total",
    "row_mean",
    "row_sum",
    "row_max",
    "col_mean",
    "col_sum",
    "col_max",
    "newton_schulz",
    "transpose",
    "eye",
    "diag",
    "trace",
    "eigvecs",
    "eigvals",
    "qr",
    "sort_perm",
    "svd_u",
    "svd_v",
    "svd_s",
    "inv_root",
)

# `newton_schulz(x, steps, NAME)`: per-step coefficient schedules (a, b, c) of the quintic
# step X = a X + (b A + c A A) X, A = X Xᵀ; step k uses entry k, the last entry repeats.
# polar_express: Amsel, Persson, Musco & Gower, "The Polar Express: Optimal Matrix Sign Methods
# and Their Application to the Muon Algorithm", arXiv:2505.16932 (2025), Algorithm 1 (degree 5),
# with its safety factor: every entry but the last divided by (1.01, 1.01^3, 1.01^5).
_POLAR_EXPRESS_RAW = (
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
)
NS_SCHEDULES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "cubic": ((1.5, -0.5, 0.0),),  # the convergent cubic: X (3 - Xᵀ X) / 2
    "quintic": ((3.4445, -4.7750, 2.0315),),  # Keller Jordan's Muon triple (NS5)
    "polar_express": tuple(
        (a / 1.01, b / 1.01**3, c / 1.01**5) for a, b, c in _POLAR_EXPRESS_RAW[:-1]
    )
    + _POLAR_EXPRESS_RAW[-1:],
}


def ns_coefficients(schedule: str, step: int) -> tuple[float, float, float]:
    """The (a, b, c) of Newton-Schulz step ``step`` (0-based) of a named schedule."""
    table = NS_SCHEDULES[schedule]
    return table[min(step, len(table) - 1)]


# Axis reductions: the op → whether it keeps one number per row ("rows") or per column ("cols").
AXIS_REDUCTIONS = {
    op: op.split("_")[0] + "s" for op, info in OPS.items() if info.category == "axis"
}

# Matrix functions (mixing entries): of θ's matrix view, and of matrix values.
MATRIX_FUNCTIONS = tuple(op for op, info in OPS.items() if info.category == "matrix")
# The ops that put a value between θ's layout and a 2-d array.
LAYOUT_OPS = tuple(op for op, info in OPS.items() if info.category == "layout")

# Reductions whose value is never negative (for the domain checks); with them the matrix
# functions whose entries are never negative (a permutation matrix, the identity).
NONNEGATIVE_REDUCTIONS = ("norm2", "norm1", "norminf", "rms", "count", "sort_perm", "eye")
# Matrix functions whose entries are sums of products of their arguments' entries (or those
# entries): non-negative where every argument is, so a permuted second moment (SOAP's
# `transpose(P) @ v @ P`) stays non-negative to the domain checks.
NONNEGATIVE_PRESERVING = ("matmul", "transpose", "diag", "trace")

# Norms a spec can name as the second argument of `dualize` (optionally scaled: `2 * l2`).
NORM_NAMES = ("l1", "l2", "linf", "rms", "spectral", "rms_to_rms", "row_l2", "col_l2", "l1_to_linf")
# The norms of θ's matrix view (operator norms and norms over its rows or columns; checked
# numerically on matrices, not symbolically on one vector).
MATRIX_NORM_NAMES = ("spectral", "rms_to_rms", "row_l2", "col_l2", "l1_to_linf")
VECTOR_NORM_NAMES = tuple(n for n in NORM_NAMES if n not in MATRIX_NORM_NAMES)

# The parameter's dimensions, usable in expressions (an N-d parameter is viewed as a matrix of
# rows = its first dimension and cols = the product of the others; a 0-d one as 1 x 1).
SHAPE_NAMES = ("numel", "ndim", "rows", "cols")


def shape_values(shape: tuple[int, ...]) -> dict[str, int]:
    """``numel``, ``ndim``, ``rows`` and ``cols`` of a parameter of this shape (the stated rule:
    rows = the first dimension, cols = the product of the others; a 0-d parameter is 1 x 1)."""
    numel = math.prod(shape)
    rows = shape[0] if shape else 1
    return {"numel": numel, "ndim": len(shape), "rows": rows, "cols": math.prod(shape[1:])}


COMPARE_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
