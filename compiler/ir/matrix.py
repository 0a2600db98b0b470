"""Typing rules of matrix values: symbolic dimensions, `@`, the matrix functions, and the layout
changes between θ's layout and plain 2-d arrays (docs/language.md, "Matrix values").

Every value has a matrix view with two symbolic dimensions, each ``rows``, ``cols``, ``1`` or
an int hyper (``rank``): θ-shaped values are [rows, cols], per-row [rows, 1], per-column
[1, cols], scalars [1, 1]; a MATRIX value (``Type.dims``) anything else: [rows, rows],
[cols, rank]. Values of the first four kinds are stored in θ's layout, MATRIX values as 2-d
arrays. Where the two meet, the compiler inserts ``as_matrix`` (θ's layout → its 2-d view) and
``as_param`` (a 2-d result of θ-layout dimensions → θ's layout), so the backends never guess.

Every rule a spec can break here is a located :class:`SpecError` with a hint.
"""

from __future__ import annotations

from optc.diagnostics import Span, SpecError
from optc.ir.nodes import (
    REAL_SCALAR,
    Dims,
    DType,
    Expr,
    Op,
    Role,
    Shape,
    Type,
    Var,
    matrix_type,
    show_dims,
)
from optc.ir.ops import NS_SCHEDULES, OPS


def raw(dims: Dims) -> Type:
    """The type of a 2-d array of these dimensions, before it is put in θ's layout."""
    return Type(Shape.MATRIX, DType.REAL, dims)


def finish(op: str, args: tuple[Expr, ...], dims: Dims, span: Span | None) -> Expr:
    """A matrix op computing a 2-d array of ``dims``; wrapped in ``as_param`` when those are
    θ-layout dimensions ([rows, cols], [rows, 1], [1, cols], [1, 1])."""
    node = Op(op, args, raw(dims), span)
    final = matrix_type(dims)
    return node if final.is_matrix else Op("as_param", (node,), final, span)


def as_matrix(x: Expr) -> Expr:
    """``x`` as a 2-d array: θ-layout values get an ``as_matrix`` view, MATRIX ones are kept."""
    if x.type.is_matrix:
        return x
    if isinstance(x, Op) and x.op == "as_param":  # a matrix result viewed again: the result
        return x.args[0]
    dims = x.type.matrix_dims
    return Op("as_matrix", (x,), Type(Shape.MATRIX, x.type.dtype, dims), getattr(x, "span", None))


def _where(x: Expr, fallback: Span) -> Span:
    return getattr(x, "span", None) or fallback


def _real_operand(x: Expr, op: str, span: Span, what: str = "a matrix") -> None:
    if x.type.dtype is not DType.REAL:
        raise SpecError(
            f"`{OPS[op].signature}` needs numbers here, not a condition",
            _where(x, span),
            hint="turn a mask into numbers with where(c, 1, 0)",
        )
    if not x.type.is_tensor:
        raise SpecError(
            f"`{OPS[op].signature}` takes {what}; this argument is a scalar",
            _where(x, span),
            hint="pass a θ-shaped value or a matrix state such as `L`",
        )


def elementwise(op: str, args: list[Expr], span: Span) -> tuple[list[Expr], Dims | None]:
    """Broadcast operands that include a MATRIX value: each dimension must agree or be 1.
    Returns the operands (θ-layout ones viewed as 2-d arrays) and the result's dimensions,
    or None when no operand is a MATRIX value (the θ-layout rules apply)."""
    if not any(a.type.is_matrix for a in args):
        return args, None
    result: list[str] = ["1", "1"]
    for arg in args:
        for axis, dim in enumerate(arg.type.matrix_dims):
            if dim == "1" or dim == result[axis]:
                continue
            if result[axis] != "1":
                shapes = " and ".join(
                    show_dims(a.type.matrix_dims) for a in args if a.type.is_tensor
                )
                raise SpecError(
                    f"`{OPS[op].signature}` combines values entry by entry, but {shapes} differ "
                    f"in their {'first' if axis == 0 else 'second'} dimension "
                    f"({result[axis]} and {dim})",
                    span,
                    hint="elementwise operands have equal dimensions (or 1, which broadcasts); "
                    "`A @ B` multiplies matrices, `diag(r) @ A` scales the rows of A, "
                    "`transpose(x)` swaps the dimensions",
                )
            result[axis] = dim
    viewed = [as_matrix(a) if a.type.is_tensor else a for a in args]
    return viewed, (result[0], result[1])


def matmul(a: Expr, b: Expr, span: Span) -> Expr:
    """``a @ b``: the inner dimensions must be the same symbol."""
    for x in (a, b):
        _real_operand(x, "matmul", span)
    (m, k1), (k2, n) = a.type.matrix_dims, b.type.matrix_dims
    if k1 != k2:
        raise SpecError(
            f"`@` of {show_dims(a.type.matrix_dims)} by {show_dims(b.type.matrix_dims)}: "
            f"inner dimensions {k1} and {k2} differ",
            span,
            hint="the left operand's columns must be the right operand's rows: "
            "transpose(...) one side, e.g. `transpose(G) @ G` or `G @ transpose(G)`",
        )
    return finish("matmul", (as_matrix(a), as_matrix(b)), (m, n), span)


def _square(x: Expr, op: str, span: Span) -> str:
    _real_operand(x, op, span, "a square matrix")
    d0, d1 = x.type.matrix_dims
    if d0 != d1:
        raise SpecError(
            f"`{OPS[op].signature}` takes a square matrix; this argument is "
            f"{show_dims(x.type.matrix_dims)}",
            _where(x, span),
            hint="square it first, e.g. `G @ transpose(G)` ([rows, rows]) or "
            "`transpose(G) @ G` ([cols, cols])",
        )
    return d0


def _column(x: Expr, op: str, span: Span) -> str:
    """The n of an argument that must be a column [n, 1] (``sort_perm``'s keys)."""
    _real_operand(x, op, span, "a column [n, 1]")
    d0, d1 = x.type.matrix_dims
    if d1 != "1" or d0 == "1":
        raise SpecError(
            f"`{OPS[op].signature}` takes a column [n, 1]; this argument is "
            f"{show_dims(x.type.matrix_dims)}",
            _where(x, span),
            hint="e.g. `diag(transpose(Q) @ L @ Q)` ([rows, 1]) or a per-row value; "
            "`transpose(x)` turns a row [1, n] into a column",
        )
    return d0


def dimension(x: Expr, op: str, span: Span) -> str:
    """The symbolic dimension an argument names: ``rows``, ``cols`` or an int hyper."""
    if isinstance(x, Var) and (
        (x.role is Role.INPUT and x.name in ("rows", "cols"))
        or (x.role is Role.HYPER and x.type.dtype is DType.INT)
    ):
        return x.name
    raise SpecError(
        f"`{OPS[op].signature}`: a dimension is `rows`, `cols` or an int hyper",
        _where(x, span),
        hint="declare it, e.g. `hyper rank = 4 in int [1, inf)`, and pass its name",
    )


def call(name: str, args: list[Expr], span: Span, schedule: str | None = None) -> Expr:
    """A matrix function called by its spec name (``svd_u(x, k)``, ``trace(A)``...)."""
    if name == "newton_schulz" and schedule is not None:
        x, steps = args
        _real_operand(x, f"ns_{schedule}", span)
        whole_steps(steps, span)
        return Op(f"ns_{schedule}", (x, steps), x.type, span)
    if name in ("svd_u", "svd_v", "svd_s") and len(args) == 2:
        x, k = args
        _real_operand(x, f"{name}_k", span)
        rank = dimension(k, f"{name}_k", span)
        d0, d1 = x.type.matrix_dims
        dims = {"svd_u": (d0, rank), "svd_v": (d1, rank), "svd_s": (rank, "1")}[name]
        return finish(f"{name}_k", (as_matrix(x), k), dims, span)
    arity = _ARITY[name]
    if len(args) not in arity:
        raise SpecError(
            f"`{name}` takes {' or '.join(map(str, arity))} argument"
            f"{'s' * (arity != (1,))}, got {len(args)}",
            span,
            hint=f"call it as {_SIGNATURES.get(name, OPS[name].signature if name in OPS else '')}",
        )
    if name == "eye":
        n = dimension(args[0], "eye", span)
        return finish("eye", (args[0],), (n, n), span)
    x = args[0]
    if name == "transpose":
        _real_operand(x, name, span)
        d0, d1 = x.type.matrix_dims
        return finish(name, (as_matrix(x),), (d1, d0), span)
    if name == "diag":
        _real_operand(x, name, span, "a square matrix or a vector")
        d0, d1 = x.type.matrix_dims
        if "1" in (d0, d1) and (d0, d1) != ("1", "1"):  # a vector → the square diagonal matrix
            n = d0 if d1 == "1" else d1
            return finish(name, (as_matrix(x),), (n, n), span)
        n = _square(x, name, span)
        return finish(name, (as_matrix(x),), (n, "1"), span)
    if name == "trace":
        _square(x, name, span)
        return Op(name, (as_matrix(x),), REAL_SCALAR, span)
    if name in ("eigvecs", "eigvals"):
        n = _square(x, name, span)
        return finish(name, (as_matrix(x),), (n, n) if name == "eigvecs" else (n, "1"), span)
    if name == "sort_perm":
        n = _column(x, name, span)
        return finish(name, (as_matrix(x),), (n, n), span)
    if name in ("qr", "svd_u", "svd_v"):
        _real_operand(x, name, span)
        d0, d1 = x.type.matrix_dims
        dims = {"qr": (d0, d1), "svd_u": (d0, d0), "svd_v": (d1, d1)}[name]
        return finish(name, (as_matrix(x),), dims, span)
    if name == "inv_root":
        n = _square(x, name, span)
        example = "e.g. inv_root(L, 4, eps): L^(-1/4) with eigenvalues damped by eps"
        numbers(name, args[1:], span, example)
        return finish(name, (as_matrix(x), *args[1:]), (n, n), span)
    raise AssertionError(f"no typing rule for {name}")


def numbers(op: str, args: list[Expr], span: Span, example: str) -> None:
    """Arguments 2, 3, ... of a matrix function: numbers, the same for every entry."""
    for index, arg in enumerate(args, start=2):
        if arg.type.is_tensor or arg.type.dtype is DType.BOOL:
            raise SpecError(
                f"argument {index} of `{OPS[op].signature}` must be a number, the same for "
                "every entry",
                _where(arg, span),
                hint=example,
            )


def whole_steps(steps: Expr, span: Span) -> None:
    """A number of iterations: a whole-number literal or an integer hyper."""
    integral = steps.type.dtype is DType.INT or (
        getattr(steps, "value", None) is not None
        and not isinstance(steps.value, bool)
        and float(steps.value).is_integer()
        and steps.value >= 0
    )
    if steps.type.is_tensor or not integral:
        raise SpecError(
            "the number of Newton-Schulz steps must be a whole number: a literal or an "
            "integer hyper",
            _where(steps, span),
            hint="e.g. `hyper ns_steps = 5 in int [0, 100]`",
        )


SCHEDULES = tuple(NS_SCHEDULES)

# The matrix functions a spec calls by name, and how many arguments each takes.
_ARITY = {
    "transpose": (1,),
    "eye": (1,),
    "diag": (1,),
    "trace": (1,),
    "eigvecs": (1,),
    "eigvals": (1,),
    "qr": (1,),
    "sort_perm": (1,),
    "svd_u": (1, 2),
    "svd_v": (1, 2),
    "svd_s": (2,),
    "inv_root": (3,),
}
_SIGNATURES = {"svd_s": OPS["svd_s_k"].signature}
NAMES = tuple(_ARITY)
