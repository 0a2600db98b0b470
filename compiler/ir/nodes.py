"""IR data types. Backends and checks see only these, never the AST.

A program is a list of :class:`Binding` in SSA form: every binding has a unique id, locals keep
their spec name, and each update of a state ``s`` (or θ) makes a new version ``s#1``, ``s#2``...
whose ``display`` name is still ``s``. Expressions are immutable trees of :class:`Const`,
:class:`Var` and :class:`Op`; every node carries its :class:`Type` (scalar or θ-shaped tensor;
real, bool or int), inferred when the IR is built.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from optc.diagnostics import Span


class Shape(enum.Enum):
    """What a value holds per parameter. A parameter is viewed as a matrix of ``rows`` (its
    first dimension) by ``cols`` (the product of the others; a 0-d parameter is 1 x 1, a 1-d one
    of n entries n x 1): ``ROWS`` holds one number per row, ``COLS`` one per column. Both are
    stored with θ's number of dimensions and size 1 along the reduced ones (``(rows, 1, ..., 1)``
    and ``(1, *theta.shape[1:])``), so they broadcast against θ in NumPy, torch and jax alike."""

    SCALAR = "scalar"  # one number per step or per parameter (hypers, t, reductions)
    TENSOR = "tensor"  # shaped like θ
    ROWS = "rows"  # one number per row of θ's matrix view
    COLS = "cols"  # one number per column of θ's matrix view
    MATRIX = "matrix"  # a 2-d array of symbolic dimensions (``Type.dims``): [rows, rows]...


# A symbolic dimension of a matrix value: "rows", "cols", "1" or the name of an int hyper.
Dims = tuple[str, str]

# The θ-layout kinds by their matrix-view dimensions (docs/language.md, "Matrix values"): a
# value of these dimensions is stored in θ's layout, any other as a plain 2-d array.
_LAYOUT_DIMS = {
    ("1", "1"): Shape.SCALAR,
    ("rows", "cols"): Shape.TENSOR,
    ("rows", "1"): Shape.ROWS,
    ("1", "cols"): Shape.COLS,
}


def broadcast(*shapes: Shape) -> Shape:
    """The shape of an elementwise combination: scalars broadcast over anything, ROWS and COLS
    over θ, and ROWS with COLS is their outer combination (θ-shaped: ``r * c``)."""
    kinds = {s for s in shapes if s is not Shape.SCALAR}
    if not kinds:
        return Shape.SCALAR
    if len(kinds) == 1:
        return kinds.pop()
    return Shape.TENSOR


def value_shape(
    shape: Shape,
    theta_shape: tuple[int, ...],
    dims: Dims | None = None,
    sizes: dict[str, int] | None = None,
) -> tuple[int, ...]:
    """The array shape of a value of this kind for a parameter of ``theta_shape``; a MATRIX
    value's ``dims`` are looked up in ``sizes`` (int hypers) after rows and cols."""
    if shape is Shape.MATRIX:
        assert dims is not None
        return tuple(dim_size(d, theta_shape, sizes or {}) for d in dims)
    if shape is Shape.SCALAR:
        return ()
    if shape is Shape.TENSOR or not theta_shape:
        return tuple(theta_shape)
    if shape is Shape.ROWS:
        return (theta_shape[0],) + (1,) * (len(theta_shape) - 1)
    return (1, *theta_shape[1:])


def dim_size(dim: str, theta_shape: tuple[int, ...], sizes: dict[str, int]) -> int:
    """The size of one symbolic dimension for a parameter of ``theta_shape``."""
    if dim == "1":
        return 1
    if dim == "rows":
        return theta_shape[0] if theta_shape else 1
    if dim == "cols":
        return math.prod(theta_shape[1:])
    return int(sizes[dim])


class Role(enum.StrEnum):
    """What a :class:`Var` refers to."""

    INPUT = "input"  # theta, g, t
    HYPER = "hyper"
    STATE = "state"  # a state's value at step entry
    LOCAL = "local"  # a binding of the step body


class HyperKind(enum.StrEnum):
    """The domain kind of a hyperparameter."""

    REAL = "real"
    INT = "int"
    BOOL = "bool"


class DType(enum.Enum):
    REAL = "real"
    BOOL = "bool"
    INT = "int"


@dataclass(frozen=True)
class Type:
    shape: Shape
    dtype: DType
    dims: Dims | None = None  # a MATRIX value's symbolic dimensions, None otherwise

    @property
    def matrix_dims(self) -> Dims:
        """The value's dimensions as a matrix: θ-shaped [rows, cols], per-row [rows, 1],
        per-column [1, cols], a scalar [1, 1], a MATRIX its own."""
        if self.shape is Shape.MATRIX:
            assert self.dims is not None
            return self.dims
        return next(d for d, s in _LAYOUT_DIMS.items() if s is self.shape)

    @property
    def is_matrix(self) -> bool:
        """A plain 2-d array (not in θ's layout): [rows, rows], [cols, rank]..."""
        return self.shape is Shape.MATRIX

    @property
    def is_tensor(self) -> bool:
        """An array per parameter (θ-shaped, per row or per column), not one number."""
        return self.shape is not Shape.SCALAR

    @property
    def is_param_shaped(self) -> bool:
        """Shaped like θ itself."""
        return self.shape is Shape.TENSOR


def matrix_type(dims: Dims, dtype: DType = DType.REAL) -> Type:
    """The type of a value of these matrix dimensions: θ's layout for [rows, cols], [rows, 1],
    [1, cols] and [1, 1] (a per-tensor scalar), a MATRIX for any other."""
    layout = _LAYOUT_DIMS.get(dims)
    return Type(layout, dtype) if layout is not None else Type(Shape.MATRIX, dtype, dims)


def show_dims(dims: Dims) -> str:
    """``[rows, cols]``, as messages and the docs write a value's dimensions."""
    return f"[{dims[0]}, {dims[1]}]"


REAL_SCALAR = Type(Shape.SCALAR, DType.REAL)
REAL_TENSOR = Type(Shape.TENSOR, DType.REAL)
INT_SCALAR = Type(Shape.SCALAR, DType.INT)


@dataclass(frozen=True)
class Const:
    value: float | bool
    type: Type = REAL_SCALAR


@dataclass(frozen=True)
class Var:
    """A reference to an input (theta, g, t), a hyper, a state's value at step entry, or a binding."""

    name: str
    role: Role
    type: Type


@dataclass(frozen=True)
class Op:
    op: str
    args: tuple[Expr, ...]
    type: Type
    # Where the op is written in the spec (the call site, for an op inlined from a def); not
    # part of the op's identity, so equal subtrees from different lines stay equal.
    span: Span | None = field(default=None, compare=False, repr=False)


Expr = Const | Var | Op


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of an expression tree, parents before children."""
    yield expr
    if isinstance(expr, Op):
        for arg in expr.args:
            yield from walk(arg)


def free_vars(expr: Expr) -> set[str]:
    return {node.name for node in walk(expr) if isinstance(node, Var)}


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter: default value and domain."""

    name: str
    default: float | bool
    kind: HyperKind
    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool
    span: Span
    doc: str = ""  # one line: what the hyper means, for the generated docstrings

    def domain_text(self) -> str:
        if self.kind is HyperKind.BOOL:
            return "{true, false}"
        lo = "-inf" if self.lo == float("-inf") else _number(self.lo)
        hi = "inf" if self.hi == float("inf") else _number(self.hi)
        interval = f"{'[' if self.lo_closed else '('}{lo}, {hi}{']' if self.hi_closed else ')'}"
        return f"integers in {interval}" if self.kind is HyperKind.INT else interval

    def requirement(self) -> str:
        """What a valid value is, for error messages: ``in (0, inf)``, ``a bool``..."""
        if self.kind is HyperKind.BOOL:
            return "a bool"
        if self.kind is HyperKind.INT:
            return f"an integer in {self.domain_text().removeprefix('integers in ')}"
        return f"in {self.domain_text()}"

    def contains(self, value: float) -> bool:
        if self.kind is HyperKind.BOOL:
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if (
            self.kind is HyperKind.INT and not float(value).is_integer()
        ):  # nan and inf are not integers
            return False
        above = value >= self.lo if self.lo_closed else value > self.lo
        below = value <= self.hi if self.hi_closed else value < self.hi
        return above and below


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


@dataclass(frozen=True)
class State:
    """Per-parameter state: ``shape`` is TENSOR (like θ), ROWS, COLS or SCALAR; ``init`` reads
    hypers/θ only.

    A global state (``Program.globals``) is a SCALAR whose ``init`` reads hypers only."""

    name: str
    shape: Shape
    init: Expr
    span: Span
    source: str = ""  # the declaration as written
    dims: Dims | None = None  # a MATRIX state's symbolic dimensions (``state L: rows x rows``)
    # Where it is allocated: a condition on the parameter's dimensions, None for every parameter
    # (derived from the step by optc.ir.allocation, never written in a spec).
    where: Expr | None = None

    @property
    def type(self) -> Type:
        return Type(self.shape, DType.REAL, self.dims)


@dataclass(frozen=True)
class Guard:
    """One enclosing block of a statement: the statement runs where ``cond`` is ``taken``."""

    block: int  # the block's number, in source order
    cond: Expr  # a scalar condition on t, hypers and the parameter's dimensions
    taken: bool  # True in the block's body, False in its `else`
    kind: str  # "if" | "every"
    source: str  # the header line as written
    line: int  # the header's line


@dataclass(frozen=True)
class Binding:
    """One statement of the step: ``id = expr``; ``target`` names the state/θ it updates, if any.

    ``guards``: the blocks the statement sits in, outermost first. A ``merge`` binding closes a
    block for one state: ``s#3 = if cond then s#2 else s#1`` (the version each branch left);
    statement-by-statement readers (the checks) see it as that select, and code generators as
    the end of the block.
    """

    id: str
    display: str
    target: str | None
    expr: Expr
    span: Span
    source: str  # the statement as written in the spec
    guards: tuple[Guard, ...] = ()
    merge: int = 0  # for a merge: the number of the block it closes

    @property
    def type(self) -> Type:
        return self.expr.type


@dataclass(frozen=True)
class Counterpart:
    """A library implementation the spec reproduces exactly, and how names map onto it.

    ``hypers`` maps a library argument to a spec hyper, or to a tuple of them (torch's
    ``betas``); ``states`` maps a library state key / field to a spec state; ``fixed`` holds
    library options that must keep one value for the library to be this algorithm
    (``amsgrad = false``). Spec hypers not named keep their spec name in the library.
    """

    library: str  # dotted path: torch.optim.AdamW, optax.adamw, pytorch_optimizer.Lion, ...
    hypers: dict[str, str | tuple[str, ...]]
    states: dict[str, str]
    fixed: dict[str, float | bool]
    span: Span

    @property
    def backend(self) -> str | None:
        """The optc backend whose users this library serves: torch, jax, or None."""
        if self.library.startswith("torch.optim."):
            return "torch"
        if self.library.startswith("optax."):
            return "jax"
        return None

    def library_name(self, hyper: str) -> tuple[str, int | None]:
        """Where a spec hyper lives in the library: (argument, index in its tuple or None)."""
        for lib, spec in self.hypers.items():
            if spec == hyper:
                return lib, None
            if isinstance(spec, tuple) and hyper in spec:
                return lib, spec.index(hyper)
        return hyper, None


@dataclass
class Program:
    """A whole optimizer: declarations plus the per-step SSA body."""

    name: str
    cites: list[str]
    conventions: dict[str, str]
    counterparts: list[Counterpart]
    hypers: list[Hyper]
    states: list[State]
    body: list[Binding]
    outputs: dict[str, str]  # state name or "theta" → id of its final version
    file: str
    source: str
    # One scalar per param group, shared by its parameters (``state d: global``).
    globals: list[State] = field(default_factory=list)
    # ``eval`` / ``train`` sections: bindings mapping θ to the evaluation point and back, and
    # the id of θ's final version in each.
    sections: dict[str, list[Binding]] = field(default_factory=dict)
    section_outputs: dict[str, str] = field(default_factory=dict)

    @property
    def snake_name(self) -> str:
        """The jax factory name: the spec name lower-cased, as optax spells its aliases."""
        return self.name.lower()

    @property
    def all_states(self) -> list[State]:
        """Per-parameter states, then global ones: everything a step carries to the next."""
        return [*self.states, *self.globals]

    def counterpart(self, backend: str) -> Counterpart | None:
        """The first declared counterpart serving ``backend`` ("torch" or "jax"), if any."""
        return next((c for c in self.counterparts if c.backend == backend), None)

    def binding(self, id_: str) -> Binding:
        return next(b for b in self.body if b.id == id_)


def is_parameter(expr: Expr) -> bool:
    """Whether the expression is θ itself: the input or one of its SSA versions."""
    return isinstance(expr, Var) and (expr.name == "theta" or expr.name.startswith("theta#"))


def switch_coefficient(expr: Expr) -> Expr | None:
    """The coefficient of a term that a hyper set to 0 switches off, or None.

    Such a term is ``c * theta`` (either order) where ``c`` is built from hypers and constants
    by products only (``weight_decay``, ``lr * weight_decay``): where ``c`` is 0 the term is 0
    even for an infinite θ, as torch.optim skips ``weight_decay * param`` when weight_decay is 0
    (docs/language.md, "Non-finite values").
    """
    if not (isinstance(expr, Op) and expr.op == "mul"):
        return None
    left, right = expr.args
    coefficient = right if is_parameter(left) else left if is_parameter(right) else None
    return coefficient if coefficient is not None and _hyper_monomial(coefficient) else None


def _hyper_monomial(expr: Expr) -> bool:
    if isinstance(expr, Const):
        return not isinstance(expr.value, bool)
    if isinstance(expr, Var):
        return expr.role is Role.HYPER
    return expr.op == "mul" and all(_hyper_monomial(arg) for arg in expr.args)
