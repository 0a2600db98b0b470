"""Print IR expressions as Python source with minimal parentheses.

Shared by the torch and jax backends: infix operators are spelled here; each backend subclass
spells the functions (``torch.sqrt`` vs ``jnp.sqrt``) and decides scalar-vs-tensor forms.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from fractions import Fraction

from optc.check import intervals as iv
from optc.check.domains import hyper_range
from optc.ir.nodes import Const, DType, Expr, Op, Program, Shape, Var, switch_coefficient
from optc.ir.printer import ExprPrinter, Prec, Rendered

_INFIX = {
    "add": " + ",
    "sub": " - ",
    "mul": " * ",
    "div": " / ",
    "matmul": " @ ",
    "lt": " < ",
    "le": " <= ",
    "gt": " > ",
    "ge": " >= ",
    "eq": " == ",
    "ne": " != ",
}


def format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class ScalarFacts:
    """What the hyper domains say about a program's scalars, for the non-finite semantics
    (docs/language.md, "Non-finite values").

    - :meth:`may_be_zero`: whether a scalar can be exactly 0 (an interval analysis over the
      hyper domains and ``t >= 1``; states and anything unknown may be anything). A product of
      a scalar and a tensor is 0 where the scalar is 0 (the "strong zero"); the backends test
      the scalar at run time only where it may be 0.
    - :meth:`python_division_safe` / :meth:`python_power_safe`: whether Python's ``/`` and
      ``**`` on plain numbers cannot raise (``ZeroDivisionError``, ``OverflowError``) or turn
      complex here, judged by rules that hold in floating point too (rounding cannot make a
      sum of non-negative numbers negative, or ``1 - beta`` zero for ``beta < 1``); where they
      might, the backends call IEEE 754 versions instead.
    """

    def __init__(self, program: Program) -> None:
        self.hypers = {h.name: h for h in program.hypers}
        self.bindings = {b.id: b.expr for b in program.body}
        self._ranges: dict[int, iv.Interval] = {}

    # -- intervals (exact arithmetic)
    def range(self, expr: Expr) -> iv.Interval:
        key = id(expr)
        if key not in self._ranges:
            try:
                self._ranges[key] = self._range(expr)
            except (ArithmeticError, ValueError, TypeError):
                self._ranges[key] = iv.REALS
        return self._ranges[key]

    def _range(self, expr: Expr) -> iv.Interval:
        if isinstance(expr, Const):
            if isinstance(expr.value, bool) or not math.isfinite(expr.value):
                return iv.REALS
            return iv.point(Fraction(expr.value))
        if isinstance(expr, Var):
            if expr.name in self.hypers and self.hypers[expr.name].kind != "bool":
                return hyper_range(self.hypers[expr.name])
            if expr.name == "t":
                return iv.Interval(Fraction(1), iv.INF, False, True)
            if expr.name in self.bindings and not expr.type.is_tensor:
                return self.range(self.bindings[expr.name])
            return iv.REALS
        args = [self.range(a) for a in expr.args] if expr.op in _RANGE_OPS else []
        op = expr.op
        if op == "add":
            return iv.add(*args)
        if op == "sub":
            return iv.add(args[0], iv.neg(args[1]))
        if op == "neg":
            return iv.neg(args[0])
        if op == "mul":
            return iv.mul(*args)
        if op == "div":
            if args[1].contains(Fraction(0)):
                return iv.REALS
            return iv.mul(args[0], iv.recip(args[1]))
        if op == "pow":
            base, expo = args
            if isinstance(expr.args[1], Const) and float(expr.args[1].value).is_integer():
                if int(expr.args[1].value) < 0 and base.contains(Fraction(0)):
                    return iv.REALS
                return iv.pow_int(base, int(expr.args[1].value))
            if base.contains(Fraction(0)) and not iv.intersect(expo, iv.neg(iv.NONNEG)).empty:
                return iv.REALS
            return iv.power(base, expo, expr.args[1].type.dtype is DType.INT)
        if op == "sqrt":
            if not args[0].nonneg:
                return iv.REALS
            return iv.power(args[0], iv.point(Fraction(1, 2)), False)
        if op == "exp":
            return iv.exp(args[0])
        if op == "log":
            return iv.log(args[0]) if args[0].positive else iv.REALS
        if op == "abs":
            return iv.absolute(args[0])
        if op == "sign":
            return iv.sign(args[0])
        if op == "min":
            return iv.minimum(*args)
        if op == "max":
            return iv.maximum(*args)
        if op == "clip":
            return iv.minimum(iv.maximum(args[0], args[1]), args[2])
        if op in ("where", "ifelse"):
            return iv.union(args[1], args[2])
        return iv.REALS

    def may_be_zero(self, expr: Expr) -> bool:
        """Whether the scalar can be exactly 0 (or is not known not to be)."""
        value = self.range(expr)
        return value.empty or value.contains(Fraction(0))

    # -- rules that hold for Python floats
    def _atom_range(self, expr: Expr) -> iv.Interval | None:
        """The exact range of a constant, hyper or ``t`` (values computed without rounding)."""
        if isinstance(expr, Const) or (
            isinstance(expr, Var) and (expr.name in self.hypers or expr.name == "t")
        ):
            return self.range(expr)
        return None

    def _local(self, expr: Expr) -> Expr:
        while isinstance(expr, Var) and expr.name in self.bindings:
            expr = self.bindings[expr.name]
        return expr

    def positive(self, expr: Expr) -> bool:
        """Whether the float value is > 0 (or NaN), never 0 or negative."""
        expr = self._local(expr)
        atom = self._atom_range(expr)
        if atom is not None:
            return atom.positive
        if not isinstance(expr, Op):
            return False
        a = expr.args
        if expr.op == "add":
            return (self.positive(a[0]) and self.nonneg(a[1])) or (
                self.nonneg(a[0]) and self.positive(a[1])
            )
        if expr.op == "sub":
            # c - h of two exact numbers is 0 only when c == h; and c - h^n for h in [0, 1]
            # and n >= 1 is at least c - h, since a rounded h^n is at most h
            left, right = self._atom_range(a[0]), self._atom_range(self._local(a[1]))
            power = self._local(a[1])
            if right is None and isinstance(power, Op) and power.op == "pow":
                base = self._atom_range(power.args[0])
                unit = iv.Interval(Fraction(0), Fraction(1), False, False)
                if base is not None and base.within(unit) and self._at_least_one(power.args[1]):
                    right = base
            return left is not None and right is not None and iv.add(left, iv.neg(right)).positive
        if expr.op == "mul":
            return (self.positive(a[0]) and self._at_least_one(a[1])) or (
                self._at_least_one(a[0]) and self.positive(a[1])
            )
        if expr.op == "sqrt":
            return self.positive(a[0])
        if expr.op == "max":
            return self.positive(a[0]) or self.positive(a[1])
        return False

    def _at_least_one(self, expr: Expr) -> bool:
        """Whether the float value is >= 1 (or NaN)."""
        expr = self._local(expr)
        atom = self._atom_range(expr)
        if atom is not None:
            return atom.within(iv.Interval(Fraction(1), iv.INF, False, True))
        if isinstance(expr, Op) and expr.op in ("add", "mul"):
            first, second = expr.args
            if expr.op == "mul":
                return self._at_least_one(first) and self._at_least_one(second)
            return (self._at_least_one(first) and self.nonneg(second)) or (
                self.nonneg(first) and self._at_least_one(second)
            )
        return False

    def nonneg(self, expr: Expr) -> bool:
        """Whether the float value is >= 0 (or NaN), never negative."""
        expr = self._local(expr)
        atom = self._atom_range(expr)
        if atom is not None:
            return atom.nonneg
        if not isinstance(expr, Op):
            return False
        a = expr.args
        if expr.op in ("add", "mul", "div", "min"):
            return self.nonneg(a[0]) and self.nonneg(a[1])
        if expr.op == "max":
            return self.nonneg(a[0]) or self.nonneg(a[1])
        if expr.op == "sub":  # t - c for c <= 1, and exact differences
            left, right = self._atom_range(a[0]), self._atom_range(a[1])
            return left is not None and right is not None and iv.add(left, iv.neg(right)).nonneg
        if expr.op in ("sqrt", "abs", "exp"):
            return True
        if expr.op == "pow":
            return self.nonneg(a[0])
        return self.positive(expr)

    def python_division_safe(self, denominator: Expr) -> bool:
        """Whether ``x / denominator`` on Python numbers cannot raise ZeroDivisionError."""
        expr = self._local(denominator)
        if isinstance(expr, Const):
            return not isinstance(expr.value, bool) and expr.value != 0
        if isinstance(expr, Op) and expr.op == "neg":
            expr = expr.args[0]
        return self.positive(expr)

    def python_power_safe(self, base: Expr, exponent: Expr) -> bool:
        """Whether ``base ** exponent`` on Python numbers cannot raise or turn complex: a base
        in [-1, 1] to a non-negative integer power, a base in [0, 1] to a non-negative power,
        or a non-negative base to a constant power in [0, 1]."""
        atom = self._atom_range(base)
        unit = iv.Interval(Fraction(-1), Fraction(1), False, False)
        if atom is not None and atom.within(unit) and self.nonneg(exponent):
            return exponent.type.dtype is DType.INT or atom.nonneg
        return (
            isinstance(exponent, Const)
            and not isinstance(exponent.value, bool)
            and 0 <= exponent.value <= 1
            and self.nonneg(base)
        )


_RANGE_OPS = {
    "add", "sub", "neg", "mul", "div", "pow", "sqrt", "exp", "log", "abs", "sign",
    "min", "max", "clip", "where", "ifelse",
}  # fmt: skip


class PythonPrinter(ExprPrinter):
    """Render an IR expression; subclasses implement :meth:`function` and :meth:`inf`.

    Non-finite semantics shared by the Python backends: a product of a scalar and a tensor is
    0 where the scalar is 0 (:meth:`strong_zero` spells the run-time test, emitted only where
    :class:`ScalarFacts` cannot rule a zero out); division and powers of plain Python numbers
    go through :meth:`scalar_call` where Python could raise.
    """

    def __init__(self, names: Mapping[str, str], facts: ScalarFacts | None = None) -> None:
        super().__init__()
        self.names = names  # SSA id → Python name
        self.facts = facts

    # -- subclass hooks
    def function(self, expr: Op, args: list[str]) -> tuple[str, int]:
        raise NotImplementedError

    def inf(self) -> str:
        raise NotImplementedError

    def fill_like_gradient(self, expr: Expr, text: str, shape: Shape = Shape.TENSOR) -> str:
        """A tensor of ``shape`` (θ's, per row, per column) filled with a value of fewer entries
        (a scalar; a per-row or per-column value broadcast over θ)."""
        raise NotImplementedError

    def python_number(self, expr: Expr) -> bool:
        """Whether the value is a plain Python number at run time (Python's operators apply)."""
        raise NotImplementedError

    def scalar_call(self, expr: Op, args: list[str]) -> tuple[str, int]:
        """An IEEE 754 ``div`` or ``pow`` of plain numbers, where Python's operator could raise."""
        raise NotImplementedError

    def strong_zero(self, scalar: Expr, test: str, product: str, in_sum: bool) -> tuple[str, int]:
        """``product`` (a scalar times a tensor), or 0 where ``scalar`` is 0. ``test``: the
        scalar, parenthesised to be compared (``test != 0``). ``in_sum``: the product is an
        operand of ``+``/``-`` whose other operand is a tensor, so a plain 0 keeps the shape."""
        raise NotImplementedError

    def matrix_function(self, expr: Op, args: list[str], like: str) -> Rendered:
        """A matrix function or layout change: a helper of the backend's ``axes`` module
        (``self.axis``); ``like`` names a θ-shaped array (the result's layout, dtype, device)."""
        op = expr.op
        helper = self.axis(op)  # type: ignore[attr-defined]
        if op == "as_param":
            return f"{helper}({args[0]}, {like}, {expr.type.shape.value!r})", Prec.ATOM
        if op == "eye":
            return f"{helper}({args[0]}, {like})", Prec.ATOM
        return f"{helper}({', '.join(args)})", Prec.ATOM

    # -- the printer
    def visit(self, expr: Expr, context: Hashable = None) -> Rendered:
        """``context`` is True for an operand of ``+``/``-`` whose other operand is a tensor."""
        in_sum = bool(context)
        if isinstance(expr, Const):
            if isinstance(expr.value, bool):
                return ("True" if expr.value else "False"), Prec.ATOM
            if expr.value == float("inf"):
                return self.inf(), Prec.ATOM
            return format_number(expr.value), Prec.ATOM
        if isinstance(expr, Var):
            name = self.names.get(expr.name)
            return (name if name is not None else expr.name), Prec.ATOM
        a = expr.args
        if self.facts is not None:
            if expr.op in ("div", "pow") and all(self.python_number(x) for x in a):
                safe = (
                    self.facts.python_division_safe(a[1])
                    if expr.op == "div"
                    else self.facts.python_power_safe(a[0], a[1])
                )
                if not safe:
                    return self.scalar_call(expr, [self.render(x) for x in a])
            scalar = switch_coefficient(expr)
            if scalar is not None and self.facts.may_be_zero(scalar):
                product, _ = self.infix(expr, _INFIX["mul"])
                test = self.at(scalar, Prec.COMPARE + 1)
                return self.strong_zero(scalar, test, product, in_sum)
        if expr.op in _INFIX:
            sums = expr.op in ("add", "sub")
            contexts = (sums and a[1].type.is_tensor, sums and a[0].type.is_tensor)
            return self.infix(expr, _INFIX[expr.op], contexts)
        if expr.op == "neg":
            return f"-{self.at(a[0], Prec.UNARY)}", Prec.UNARY
        if expr.op == "pow":  # Python allows a signed exponent: 2 ** -t
            return f"{self.at(a[0], Prec.ATOM)} ** {self.at(a[1], Prec.UNARY)}", Prec.POWER
        return self.function(expr, [self.render(arg) for arg in a])

    def ternary(self, expr: Op) -> Rendered:
        cond, then, orelse = expr.args
        then_text, cond_text = self.at(then, Prec.OR), self.at(cond, Prec.OR)
        return f"{then_text} if {cond_text} else {self.at(orelse, Prec.SELECT)}", Prec.SELECT

    def logic(self, expr: Op) -> Rendered:
        """Python's own ``and``/``or``/``not``, for plain scalar conditions."""
        if expr.op == "not":
            return f"not {self.at(expr.args[0], Prec.NOT)}", Prec.NOT
        return self.infix(expr, f" {expr.op} ")
