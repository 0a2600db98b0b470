"""IR → SymPy, one tensor element at a time.

Every op of the language is elementwise, so a θ-shaped tensor is modelled by one scalar symbol:
``theta`` and ``g`` are real, ``t`` a positive integer, each hyper carries the assumptions its
domain allows SymPy to state (``positive``, ``nonnegative``, ``integer``), and each state has a
symbol for its value at step entry. The checks (domains, properties, equivalence) all start here.
"""

from __future__ import annotations

import math
import operator
import random
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

import sympy
from sympy.printing.str import StrPrinter

from optc.check import budget
from optc.check.intervals import Interval, sample, symbol_default
from optc.ir.nodes import Const, Expr, Hyper, Op, Program, Var
from optc.ir.ops import NONNEGATIVE_PRESERVING, NONNEGATIVE_REDUCTIONS, OPS, SHAPE_NAMES
from optc.ir.printer import ExprFold

# Called for every op as it is translated: the IR node, its translated arguments, the path
# conditions (SymPy booleans) under which it is evaluated.
OpHook = Callable[[Op, list[sympy.Basic], tuple[sympy.Basic, ...]], None]


def number(value: float | bool) -> sympy.Basic:
    """An exact SymPy number for a spec constant (decimals stay exact: 0.9 → 9/10)."""
    if isinstance(value, bool):
        return sympy.true if value else sympy.false
    if math.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    if float(value).is_integer():
        return sympy.Integer(int(value))
    return sympy.Rational(repr(float(value)))


def domain_assumptions(
    kind: str, lo: float, hi: float, lo_closed: bool, hi_closed: bool
) -> dict[str, bool]:
    """The SymPy assumptions a domain implies (sign and integrality; bounds are not expressible)."""
    if kind == "bool":
        return {}
    facts: dict[str, bool] = {"real": True}
    if kind == "int":
        facts["integer"] = True
    if lo > 0 or (lo == 0 and not lo_closed):
        facts["positive"] = True
    elif lo >= 0:
        facts["nonnegative"] = True
    if hi < 0 or (hi == 0 and not hi_closed):
        facts["negative"] = True
    elif hi <= 0:
        facts["nonpositive"] = True
    return facts


def hyper_symbol(hyper: Hyper) -> sympy.Symbol:
    """The symbol of a hyper, with the assumptions of its domain."""
    return sympy.Symbol(
        hyper.name,
        **domain_assumptions(hyper.kind, hyper.lo, hyper.hi, hyper.lo_closed, hyper.hi_closed),
    )


def input_symbols() -> dict[str, sympy.Symbol]:
    """``theta`` and ``g`` (real), ``t`` (the step count: a positive integer) and the
    parameter's dimensions (non-negative integers: a parameter may have no elements)."""
    return {
        "theta": sympy.Symbol("theta", real=True),
        "g": sympy.Symbol("g", real=True),
        "t": sympy.Symbol("t", integer=True, positive=True),
        **{name: sympy.Symbol(name, integer=True, nonnegative=True) for name in SHAPE_NAMES},
    }


class Reduction(sympy.Function):
    """A per-tensor reduction of a θ-shaped value, as an opaque real function of the value's
    elementwise expression (the checks reason about one coordinate; a reduction reads them
    all). Norms, ``rms`` and ``count`` are known to be non-negative. An axis reduction
    (``row_mean(x)``...) is one too: at one coordinate it is the value of that coordinate's row
    or column, an opaque function of the argument's elementwise expression."""

    nonnegative = False
    sums = False  # a sum, mean or max of its arguments (or a product of matrices of them):
    # non-negative where they are
    axis = False  # an axis reduction (row_mean...)

    def _eval_is_extended_real(self) -> bool:
        return True

    def _eval_is_nonnegative(self) -> bool | None:
        if self.nonnegative:
            return True
        # sum, mean and total of non-negative values (total(g^2), total(norm(s, 1)))
        if self.sums and all(arg.is_nonnegative for arg in self.args):
            return True
        # an axis reduction of a square of reductions ((theta - row_mean(theta))^2): SymPy
        # calls it extended non-negative only, since a reduction may be infinite
        if self.axis and all(arg.is_extended_nonnegative for arg in self.args):
            return True
        return None

    def _eval_is_finite(self) -> None:
        return None

    def _eval_evalf(self, prec: int) -> None:
        """Never a number: the one-coordinate model cannot evaluate a reduction (SymPy would
        otherwise borrow mpmath's function of the same name: ``norm(x)`` as ``|x|``), so the
        random-point comparisons skip it rather than claim an equality vectors may break."""
        return None


def _reduction_class(op: str) -> type[Reduction]:
    name = {
        "norm2": "norm",
        "norm1": "norm1",
        "norminf": "norminf",
        "maxof": "max_of",
        "minof": "min_of",
    }.get(op, op)
    return type(
        name,
        (Reduction,),
        {
            "nonnegative": op in NONNEGATIVE_REDUCTIONS,
            "sums": op in ("sum", "mean", "total", *NONNEGATIVE_PRESERVING)
            or OPS[op].category == "axis",
            "axis": OPS[op].category == "axis",
            "nargs": OPS[op].arity,
        },
    )


_REDUCTIONS = {
    op: _reduction_class(op)
    for op, info in OPS.items()
    if info.category in ("reduce", "global", "axis", "matrix")
}


def program_symbols(program: Program) -> dict[str, sympy.Symbol]:
    """Symbols for the inputs, every hyper and every state's entry value, keyed by spec name."""
    symbols = input_symbols()
    for hyper in program.hypers:
        symbols[hyper.name] = hyper_symbol(hyper)
    for state in program.all_states:
        symbols[state.name] = sympy.Symbol(state.name, real=True)
    return symbols


def piecewise(cond: sympy.Basic, then: sympy.Basic, orelse: sympy.Basic) -> sympy.Basic:
    """``if cond then a else b`` as a Piecewise (an ITE when both branches are conditions)."""
    if cond is sympy.true:
        return then
    if cond is sympy.false:
        return orelse
    if is_condition(then) and is_condition(orelse):
        return sympy.ITE(cond, then, orelse)
    return sympy.Piecewise((then, cond), (orelse, True))


_UNARY: dict[str, Callable[[sympy.Basic], sympy.Basic]] = {
    "neg": operator.neg,
    "sqrt": sympy.sqrt,
    "abs": sympy.Abs,
    "sign": sympy.sign,
    "exp": sympy.exp,
    "log": sympy.log,
    "cos": sympy.cos,
    "sin": sympy.sin,
    "floor": sympy.floor,
    "not": sympy.Not,
}
_BINARY: dict[str, Callable[[sympy.Basic, sympy.Basic], sympy.Basic]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": sympy.Pow,
    "min": sympy.Min,
    "max": sympy.Max,
    "mod": sympy.Mod,
    "lt": sympy.Lt,
    "le": sympy.Le,
    "gt": sympy.Gt,
    "ge": sympy.Ge,
    "eq": sympy.Eq,
    "ne": sympy.Ne,
    "and": sympy.And,
    "or": sympy.Or,
}


def is_condition(expr: sympy.Basic) -> bool:
    """Whether a translated value is a truth value (a comparison, and/or/not, true/false)."""
    return isinstance(expr, sympy.logic.boolalg.Boolean) and not isinstance(expr, sympy.Symbol)


def as_number(expr: sympy.Basic) -> sympy.Basic:
    """A truth value used as a number is 1 or 0 (as the backends compute it)."""
    if expr is sympy.true or expr is sympy.false:
        return sympy.Integer(int(bool(expr)))
    if is_condition(expr):
        return sympy.Piecewise((1, expr), (0, True))
    return expr


def as_condition(expr: sympy.Basic) -> sympy.Basic:
    """A number used as a condition is true when nonzero."""
    if is_condition(expr) or (isinstance(expr, sympy.Symbol) and expr.is_real is None):
        return expr
    return sympy.Ne(expr, 0)


_LOGIC = ("and", "or", "not")


def apply_op(op: str, args: list[sympy.Basic]) -> sympy.Basic:
    """The SymPy meaning of one IR op applied to translated arguments."""
    if OPS[op].category == "layout":  # the same numbers, viewed as a matrix or as θ
        return args[0]
    if op in _REDUCTIONS:  # count reads a mask: its argument stays a condition
        return _REDUCTIONS[op](*(args if op == "count" else [as_number(a) for a in args]))
    if op in _LOGIC:
        args = [as_condition(a) for a in args]
    elif op in ("where", "ifelse"):
        cond, then, orelse = as_condition(args[0]), args[1], args[2]
        if not (is_condition(then) and is_condition(orelse)):
            then, orelse = as_number(then), as_number(orelse)
        return piecewise(cond, then, orelse)
    else:
        args = [as_number(a) for a in args]
    if op in _UNARY:
        return _UNARY[op](args[0])
    if op in _BINARY:
        return _BINARY[op](args[0], args[1])
    if op == "clip":
        return sympy.Min(sympy.Max(args[0], args[1]), args[2])
    raise ValueError(f"no SymPy meaning for op `{op}`")


class Translator(ExprFold[sympy.Basic]):
    """Translate IR expressions under ``env`` (Var name → SymPy), optionally reporting each op.

    ``where``/``ifelse`` branches are translated under their condition (and its negation), so a
    hook sees the path condition of every op it is shown. Built on the printers' framework:
    each (node, path) is translated — and shown to the hook — once.
    """

    def __init__(self, env: Mapping[str, sympy.Basic], hook: OpHook | None = None) -> None:
        super().__init__()
        self.env = env
        self.hook = hook

    def __call__(self, expr: Expr, path: tuple[sympy.Basic, ...] = ()) -> sympy.Basic:
        return self.fold(expr, path)

    def visit(self, expr: Expr, context: Hashable = None) -> sympy.Basic:
        path: tuple[sympy.Basic, ...] = context or ()
        budget.check()
        if isinstance(expr, Const):
            return number(expr.value)
        if isinstance(expr, Var):
            return self.env[expr.name]
        if expr.op in ("where", "ifelse"):
            cond = self(expr.args[0], path)
            args = [cond, self(expr.args[1], (*path, cond)), self(expr.args[2], (*path, ~cond))]
        else:
            args = [self(arg, path) for arg in expr.args]
        if self.hook is not None:
            self.hook(expr, args, path)
        return apply_op(expr.op, args)


def to_sympy(expr: Expr, env: Mapping[str, sympy.Basic]) -> sympy.Basic:
    """One IR expression as SymPy; ``env`` maps every Var name in it to a SymPy expression."""
    return Translator(env)(expr)


@dataclass
class SymbolicProgram:
    """A program's step as SymPy: every binding and output in terms of the entry symbols."""

    program: Program
    symbols: dict[str, sympy.Symbol]  # theta, g, t, hypers, states (entry values)
    bindings: dict[str, sympy.Basic]  # binding id → value, earlier bindings substituted
    outputs: dict[str, sympy.Basic]  # "theta" and every state → its value after the step
    inits: dict[str, sympy.Basic]  # every state → its initial value (hypers and theta)

    @property
    def delta_theta(self) -> sympy.Basic:
        """The update Δθ = θ_new − θ."""
        return self.outputs["theta"] - self.symbols["theta"]


def symbolic_program(
    program: Program, symbols: Mapping[str, sympy.Symbol] | None = None
) -> SymbolicProgram:
    """Translate the whole step, substituting each binding into the later ones."""
    symbols = dict(symbols) if symbols is not None else program_symbols(program)
    env: dict[str, sympy.Basic] = dict(symbols)
    translate = Translator(env)
    bindings: dict[str, sympy.Basic] = {}
    for binding in program.body:
        bindings[binding.id] = env[binding.id] = translate(binding.expr)
    outputs = {"theta": bindings[program.outputs["theta"]]}
    for state in program.all_states:
        out = program.outputs.get(state.name)
        outputs[state.name] = bindings[out] if out is not None else symbols[state.name]
    return SymbolicProgram(program, symbols, bindings, outputs, initial_values(program, symbols))


def initial_values(program: Program, symbols: Mapping[str, sympy.Basic]) -> dict[str, sympy.Basic]:
    """Each state's initial value as SymPy (an expression of hypers and theta)."""
    return {state.name: to_sympy(state.init, symbols) for state in program.all_states}


class SpecPrinter(StrPrinter):
    """SymPy → text in spec syntax: ``^`` for powers, ``abs``/``min``/``max``, renamed symbols."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        super().__init__({"order": "none"})
        self.names = dict(names or {})

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return self.names.get(expr.name, expr.name)

    def _print_Reduction(self, expr: Reduction) -> str:
        args = [self._print(a) for a in expr.args]
        spelled = {"norm1": "norm({0}, 1)", "norminf": "norm({0}, inf)", "max_of": "max({0})"}
        spelled["min_of"] = "min({0})"
        name = type(expr).__name__
        return spelled[name].format(*args) if name in spelled else f"{name}({', '.join(args)})"

    def _print_Abs(self, expr: sympy.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Min(self, expr: sympy.Min) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr: sympy.Max) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Infinity(self, expr: sympy.Basic) -> str:
        return "inf"

    def _print_NegativeInfinity(self, expr: sympy.Basic) -> str:
        return "-inf"

    def _print_Equality(self, expr: sympy.Eq) -> str:
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"

    def _print_And(self, expr: sympy.And) -> str:
        return " and ".join(self._wrap_logic(a) for a in _ordered(expr.args))

    def _print_Or(self, expr: sympy.Or) -> str:
        return " or ".join(self._wrap_logic(a) for a in _ordered(expr.args))

    def _print_Not(self, expr: sympy.Not) -> str:
        return f"not ({self._print(expr.args[0])})"

    def _print_BooleanTrue(self, expr: sympy.Basic) -> str:
        return "true"

    def _print_BooleanFalse(self, expr: sympy.Basic) -> str:
        return "false"

    def _wrap_logic(self, arg: sympy.Basic) -> str:
        text = self._print(arg)
        return f"({text})" if isinstance(arg, sympy.And | sympy.Or) else text

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        *pieces, (last, _) = expr.args
        text = self._print(last)
        for value, cond in reversed(pieces):
            text = f"if {self._print(cond)} then {self._print(value)} else {text}"
        return f"({text})"


def _ordered(args: tuple[sympy.Basic, ...]) -> list[sympy.Basic]:
    """Conjuncts in a stable, readable order: simpler first, then by text."""
    return sorted(args, key=lambda a: (sympy.count_ops(a), str(a)))


def shorten(text: str, width: int) -> str:
    """Long closed forms are cut in text renderings (the JSON forms keep them whole)."""
    return text if len(text) <= width else text[: width - 3] + "..."


def spec_str(expr: sympy.Basic, names: Mapping[str, str] | None = None) -> str:
    """Render a SymPy expression or condition in spec syntax (``-lr*sign(g)``, ``eps = 0``)."""
    return SpecPrinter(names).doprint(expr).replace("**", "^")


# -- numeric fallback -----------------------------------------------------------------------------

BOOL = "bool"  # a range marker for boolean symbols (bool hypers)
Ranges = Mapping[sympy.Symbol, Interval | str]


def random_point(
    symbols: set[sympy.Symbol], ranges: Ranges, rng: random.Random
) -> dict[sympy.Symbol, sympy.Basic]:
    """Exact random values for ``symbols``: inside their ranges, else nonzero in [-3, 3]."""
    point: dict[sympy.Symbol, sympy.Basic] = {}
    for symbol in sorted(symbols, key=lambda s: s.name):
        value = ranges.get(symbol, symbol_default(symbol))
        if value == BOOL:
            point[symbol] = sympy.true if rng.random() < 0.5 else sympy.false
            continue
        x = sample(value, bool(symbol.is_integer), rng)
        for _ in range(10):  # avoid 0 where the range allows: sign(0), 0/0 are corner cases
            if x != 0:
                break
            x = sample(value, bool(symbol.is_integer), rng)
        point[symbol] = x
    return point


def numeric_equal(
    a: sympy.Basic,
    b: sympy.Basic,
    ranges: Ranges,
    trials: int = 6,
    seed: int = 0,
) -> tuple[bool | None, dict[sympy.Symbol, sympy.Basic] | None]:
    """Compare two expressions at random exact points, evaluated to 30 digits.

    Returns (True, None) if they agree everywhere tried, (False, point) with a counterexample, or
    (None, None) if no point could be evaluated (e.g. every one hit 0/0).
    """
    rng = random.Random(seed)
    symbols = a.free_symbols | b.free_symbols
    evaluated = 0
    for _ in range(trials * 3):
        point = random_point(symbols, ranges, rng)
        x, y = _numeric(a, point), _numeric(b, point)
        if x is None or y is None:
            continue
        evaluated += 1
        if abs(x - y) > 1e-15 * max(1.0, abs(x), abs(y)):
            return False, point
        if evaluated >= trials:
            break
    return (True, None) if evaluated else (None, None)


def _numeric(expr: sympy.Basic, point: Mapping[sympy.Symbol, sympy.Basic]) -> complex | None:
    """The value of ``expr`` at ``point`` (None when undefined: 0/0, a leftover symbol...)."""
    try:
        value = sympy.N(expr.xreplace(point), 30)
        if value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo) or value.free_symbols:
            return None
        return complex(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
