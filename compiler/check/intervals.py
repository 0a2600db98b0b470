"""Sound interval arithmetic over SymPy expressions, for proving domain safety.

Endpoints are exact :class:`fractions.Fraction` (or ±inf, always open): ``1 - beta^t`` with
``beta in [0, 1)`` and ``t >= 1`` comes out exactly ``(0, 1]``. Transcendental results (exp, log,
fractional powers) are rounded outwards, so every interval contains every value the expression
can take. A division by an interval holding 0 is evaluated as if 0 were excluded: that division
is reported on its own, and everything downstream assumes it does not happen.

:class:`IntervalEval` also carries *facts* (``expr ∈ I``) from path conditions such as the
``rho_t > 5`` of ``if rho_t > 5 then ...``, propagated into the terms of a sum.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import sympy

from optc.check import budget

Num = Fraction | float  # a float endpoint is always ±inf
INF = math.inf


@dataclass(frozen=True)
class Interval:
    """A real interval; infinite ends are open. ``lo > hi`` (or an open point) is empty."""

    lo: Num = -INF
    hi: Num = INF
    lo_open: bool = True
    hi_open: bool = True

    @property
    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open))

    def contains(self, x: Num) -> bool:
        above = x > self.lo or (x == self.lo and not self.lo_open)
        below = x < self.hi or (x == self.hi and not self.hi_open)
        return not self.empty and above and below

    def within(self, other: Interval) -> bool:
        """Whether every point of self lies in ``other``."""
        if self.empty:
            return True
        lo_ok = self.lo > other.lo or (self.lo == other.lo and (self.lo_open or not other.lo_open))
        hi_ok = self.hi < other.hi or (self.hi == other.hi and (self.hi_open or not other.hi_open))
        return lo_ok and hi_ok

    @property
    def nonneg(self) -> bool:
        return self.within(NONNEG)

    @property
    def positive(self) -> bool:
        return self.within(POSITIVE)

    def __str__(self) -> str:
        if self.empty:
            return "{}"
        if self.lo == self.hi:
            return f"{{{_num_text(self.lo)}}}"
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{left}{_num_text(self.lo)}, {_num_text(self.hi)}{right}"


REALS = Interval()
NONNEG = Interval(Fraction(0), INF, False, True)
POSITIVE = Interval(Fraction(0), INF, True, True)
EMPTY = Interval(Fraction(1), Fraction(0), False, False)


def point(x: Num) -> Interval:
    return Interval(x, x, False, False)


def closed(lo: Num, hi: Num) -> Interval:
    return Interval(lo, hi, math.isinf(lo), math.isinf(hi))


def _num_text(x: Num) -> str:
    if isinstance(x, float):
        return "inf" if x > 0 else "-inf"
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.6g}"


# -- endpoint arithmetic --------------------------------------------------------------------------

End = tuple[Num, bool]  # (value, open)


def _mul_num(a: Num, b: Num) -> Num:
    """Endpoint product with 0·∞ = 0 (the values themselves are finite)."""
    if a == 0 or b == 0:
        return Fraction(0)
    return a * b


def _pick(ends: Iterable[End], lowest: bool) -> End:
    """The extreme endpoint; on a tie a closed end wins."""
    ends = list(ends)
    best = min(e[0] for e in ends) if lowest else max(e[0] for e in ends)
    return best, all(e[1] for e in ends if e[0] == best)


def _hull(ends: list[End]) -> Interval:
    (lo, lo_open), (hi, hi_open) = _pick(ends, True), _pick(ends, False)
    return _finish(lo, hi, lo_open, hi_open)


def _finish(lo: Num, hi: Num, lo_open: bool, hi_open: bool) -> Interval:
    """Normalise: infinite ends are open, finite float ends become fractions."""
    lo = lo if isinstance(lo, Fraction) or math.isinf(lo) else Fraction(lo)
    hi = hi if isinstance(hi, Fraction) or math.isinf(hi) else Fraction(hi)
    return Interval(lo, hi, lo_open or math.isinf(lo), hi_open or math.isinf(hi))


def _round(x: float, up: bool) -> Num:
    """A float result rounded outwards to an exact endpoint."""
    if math.isinf(x) or math.isnan(x):
        return INF if up else -INF
    return Fraction(math.nextafter(x, INF if up else -INF))


# -- interval operations --------------------------------------------------------------------------


def add(a: Interval, b: Interval) -> Interval:
    if a.empty or b.empty:
        return EMPTY
    return _finish(a.lo + b.lo, a.hi + b.hi, a.lo_open or b.lo_open, a.hi_open or b.hi_open)


def neg(a: Interval) -> Interval:
    return EMPTY if a.empty else Interval(-a.hi, -a.lo, a.hi_open, a.lo_open)


def mul(a: Interval, b: Interval) -> Interval:
    if a.empty or b.empty:
        return EMPTY
    ends = [
        (_mul_num(x, y), (xo or yo) and not _attained_zero(x, xo, y, yo))
        for x, xo in ((a.lo, a.lo_open), (a.hi, a.hi_open))
        for y, yo in ((b.lo, b.lo_open), (b.hi, b.hi_open))
    ]
    return _hull(ends)


def _attained_zero(x: Num, x_open: bool, y: Num, y_open: bool) -> bool:
    """A closed 0 end makes the product 0 attained, whatever the other factor."""
    return (x == 0 and not x_open) or (y == 0 and not y_open)


def recip(a: Interval) -> Interval:
    """1/a, assuming a ≠ 0 (a zero divisor is reported separately)."""
    if a.empty:
        return EMPTY
    if a.lo == a.hi == 0:
        return REALS  # always a division by zero: reported; nothing is known downstream
    if a.lo >= 0:
        lo = Fraction(0) if math.isinf(a.hi) else 1 / a.hi
        hi = INF if a.lo == 0 else 1 / a.lo
        return _finish(lo, hi, a.hi_open, a.lo_open)
    if a.hi <= 0:
        return neg(recip(neg(a)))
    return REALS


def union(a: Interval, b: Interval) -> Interval:
    if a.empty:
        return b
    if b.empty:
        return a
    return _hull([(a.lo, a.lo_open), (b.lo, b.lo_open), (a.hi, a.hi_open), (b.hi, b.hi_open)])


def intersect(a: Interval, b: Interval) -> Interval:
    if a.lo > b.lo or (a.lo == b.lo and a.lo_open):
        lo, lo_open = a.lo, a.lo_open
    else:
        lo, lo_open = b.lo, b.lo_open
    if a.hi < b.hi or (a.hi == b.hi and a.hi_open):
        hi, hi_open = a.hi, a.hi_open
    else:
        hi, hi_open = b.hi, b.hi_open
    result = Interval(lo, hi, lo_open, hi_open)
    return EMPTY if result.empty else result


def meet(values: Iterable[Interval]) -> Interval:
    """The intersection of several intervals (all reals for none)."""
    result = REALS
    for value in values:
        result = intersect(result, value)
    return result


def maximum(a: Interval, b: Interval) -> Interval:
    if a.empty or b.empty:
        return EMPTY
    lo = max(a.lo, b.lo)
    lo_open = any(o for x, o in ((a.lo, a.lo_open), (b.lo, b.lo_open)) if x == lo)
    hi = _pick([(a.hi, a.hi_open), (b.hi, b.hi_open)], False)
    return Interval(lo, hi[0], lo_open, hi[1])


def minimum(a: Interval, b: Interval) -> Interval:
    return neg(maximum(neg(a), neg(b)))


def absolute(a: Interval) -> Interval:
    if a.empty or a.lo >= 0:
        return a
    if a.hi <= 0:
        return neg(a)
    hi = _pick([(-a.lo, a.lo_open), (a.hi, a.hi_open)], False)
    return Interval(Fraction(0), hi[0], False, hi[1])


def sign(a: Interval) -> Interval:
    if a.empty:
        return EMPTY
    lo = Fraction(1) if a.positive else Fraction(0) if a.nonneg else Fraction(-1)
    hi = Fraction(-1) if neg(a).positive else Fraction(0) if neg(a).nonneg else Fraction(1)
    return closed(lo, hi)


def _exp_num(x: Num, up: bool) -> Num:
    if isinstance(x, float):
        return INF if x > 0 else Fraction(0)
    if x == 0:
        return Fraction(1)
    try:
        return _round(math.exp(x), up)
    except OverflowError:
        return INF


def _log_num(x: Num, up: bool) -> Num:
    if isinstance(x, float):
        return INF
    if x == 0:
        return -INF
    if x == 1:
        return Fraction(0)
    return _round(math.log(x), up)


def exp(a: Interval) -> Interval:
    if a.empty:
        return EMPTY
    return _finish(_exp_num(a.lo, False), _exp_num(a.hi, True), a.lo_open, a.hi_open)


def log(a: Interval) -> Interval:
    """log over the positive part of ``a`` (a non-positive argument is reported separately)."""
    a = intersect(a, POSITIVE)
    if a.empty:
        return EMPTY
    return _finish(_log_num(a.lo, False), _log_num(a.hi, True), a.lo_open, a.hi_open)


def pow_int(a: Interval, n: int) -> Interval:
    """a^n for a constant integer n."""
    if a.empty:
        return EMPTY
    if n == 0:
        return point(Fraction(1))
    if n < 0:
        return recip(pow_int(a, -n))
    if n % 2 == 0:
        a = absolute(a)
    return _finish(_ipow(a.lo, n, False), _ipow(a.hi, n, True), a.lo_open, a.hi_open)


def _ipow(x: Num, n: int, up: bool) -> Num:
    if isinstance(x, float) or n <= 64:
        return x**n
    try:
        return _round(float(x) ** n, up)
    except OverflowError:  # |x| > 1: the power is beyond any float, with the sign of x^n
        return INF if x > 0 or n % 2 == 0 else -INF


def power(base: Interval, expo: Interval, integer: bool) -> Interval:
    """base^expo for a non-constant (or non-integer) exponent."""
    if base.empty or expo.empty:
        return EMPTY
    nonneg_base = intersect(base, NONNEG)
    result = EMPTY
    if not nonneg_base.empty:
        result = exp(mul(expo, log(nonneg_base)))
        if nonneg_base.contains(Fraction(0)):
            if not intersect(expo, POSITIVE).empty:
                result = union(result, point(Fraction(0)))
            if expo.contains(Fraction(0)):
                result = union(result, point(Fraction(1)))
    if integer and base.lo < 0:
        bound = power(absolute(base), expo, False)
        result = union(result, Interval(-bound.hi, bound.hi, bound.hi_open, bound.hi_open))
    elif nonneg_base.empty:
        return REALS  # a negative base to a fractional power: reported separately
    return result


# -- evaluation over SymPy trees ------------------------------------------------------------------

_RELATION_SIGN: dict[type, Interval] = {
    sympy.StrictGreaterThan: POSITIVE,
    sympy.GreaterThan: NONNEG,
    sympy.StrictLessThan: neg(POSITIVE),
    sympy.LessThan: neg(NONNEG),
    sympy.Equality: point(Fraction(0)),
}


def symbol_default(symbol: sympy.Symbol) -> Interval:
    """What a symbol's SymPy assumptions say about its range."""
    if symbol.is_positive:
        return POSITIVE
    if symbol.is_nonnegative:
        return NONNEG
    if symbol.is_negative:
        return neg(POSITIVE)
    if symbol.is_nonpositive:
        return neg(NONNEG)
    return REALS


class IntervalEval:
    """Evaluate SymPy expressions to intervals under symbol ranges and known facts."""

    def __init__(
        self,
        env: Mapping[sympy.Basic, Interval],
        facts: Mapping[sympy.Basic, Interval] | None = None,
    ) -> None:
        self.env = env
        self.facts: dict[sympy.Basic, Interval] = dict(facts or {})
        self.rewrites: dict[sympy.Symbol, sympy.Basic] = {}
        self.memo: dict[sympy.Basic, Interval] = {}

    def __call__(self, expr: sympy.Basic) -> Interval:
        if expr not in self.memo:
            budget.check()
            self.memo[expr] = self._with_facts(expr, self._eval(expr))
        return self.memo[expr]

    def range(self, expr: sympy.Basic, splits: int = 3) -> Interval:
        """A tighter range than a plain call: splits cases on ``sign(x)`` and substitutes
        facts like ``v - g^2 > 0`` as ``v = s + g^2`` with a slack ``s > 0`` (then expands), so
        relations between terms survive (Yogi: ``v - (1-b)*sign(v - g^2)*g^2 > 0`` for v > 0).
        """
        value = self(expr)
        used = expr.free_symbols & self.rewrites.keys()
        if used and sympy.count_ops(expr) < 200:
            rewritten = sympy.expand(expr.xreplace({s: self.rewrites[s] for s in used}))
            value = intersect(value, self(rewritten))
        signs = sorted(expr.atoms(sympy.sign), key=sympy.default_sort_key)
        if not signs or splits == 0:
            return value
        atom, arg = signs[0], signs[0].args[0]
        cases = ((sympy.Gt(arg, 0), 1), (sympy.Eq(arg, 0), 0), (sympy.Lt(arg, 0), -1))
        split = EMPTY
        for cond, sgn in cases:
            if cond is sympy.false or self.truth(cond) is False:
                continue
            case = self.assume(cond) if cond is not sympy.true else self
            split = union(split, case.range(expr.xreplace({atom: sympy.Integer(sgn)}), splits - 1))
        return intersect(value, split)

    def _with_facts(self, expr: sympy.Basic, value: Interval) -> Interval:
        if expr in self.facts:
            value = intersect(value, self.facts[expr])
        if isinstance(expr, sympy.Add):
            const, rest = expr.as_coeff_Add()
            if const != 0 and rest in self.facts:
                value = intersect(value, add(point(_fraction(const)), self.facts[rest]))
        return value

    def _eval(self, expr: sympy.Basic) -> Interval:
        if isinstance(expr, sympy.Symbol):
            return self.env.get(expr, symbol_default(expr))
        if isinstance(expr, sympy.Rational):
            return point(_fraction(expr))
        if isinstance(expr, sympy.Number | sympy.NumberSymbol):
            return _float_point(expr)
        handler = _HANDLERS.get(type(expr).__name__)
        # a sum, mean or max of a reduction (optc.check.symbolic.Reduction) is non-negative
        # where its argument is: row_max(g^2 + min(r, c)) for r, c >= 0
        sums = handler is None and getattr(type(expr), "sums", False)
        if sums and all(self(arg).nonneg for arg in expr.args):
            return intersect(NONNEG, symbol_default(expr))
        return handler(self, expr) if handler else symbol_default(expr)  # by its assumptions

    # -- conditions -------------------------------------------------------------------------------
    def truth(self, cond: sympy.Basic) -> bool | None:
        """True/False when the condition is decided by the ranges, else None."""
        if cond is sympy.true or cond is sympy.false:
            return bool(cond)
        if isinstance(cond, sympy.Not):
            inner = self.truth(cond.args[0])
            return None if inner is None else not inner
        if isinstance(cond, sympy.And | sympy.Or):
            values = [self.truth(a) for a in cond.args]
            decisive = isinstance(cond, sympy.Or)
            if decisive in values:
                return decisive
            return None if None in values else not decisive
        if isinstance(cond, sympy.Rel):
            return self._relation(cond)
        return None

    def _relation(self, rel: sympy.Rel) -> bool | None:
        diff = self(rel.lhs - rel.rhs)
        if diff.empty:
            return None
        if isinstance(rel, sympy.Unequality):
            equal = self._relation(sympy.Eq(rel.lhs, rel.rhs, evaluate=False))
            return None if equal is None else not equal
        wanted = _RELATION_SIGN[type(rel)]
        if diff.within(wanted):
            return True
        if intersect(diff, wanted).empty:
            return False
        return None

    def assume(self, cond: sympy.Basic, holds: bool = True) -> IntervalEval:
        """A new evaluator that also knows ``cond`` (or its negation)."""
        facts = dict(self.facts)
        rewrites = dict(self.rewrites)
        for expr, value in self._facts(cond, holds):
            facts[expr] = intersect(facts.get(expr, REALS), value)
            slack = _slack(expr, rewrites)
            if slack is not None:
                symbol, replacement, dummy = slack
                rewrites[symbol] = replacement
                facts[dummy] = value
        result = IntervalEval(self.env, facts)
        result.rewrites = rewrites
        return result

    def _facts(self, cond: sympy.Basic, holds: bool) -> list[tuple[sympy.Basic, Interval]]:
        if isinstance(cond, sympy.Not):
            return self._facts(cond.args[0], not holds)
        if isinstance(cond, sympy.And if holds else sympy.Or):
            return [f for arg in cond.args for f in self._facts(arg, holds)]
        if not isinstance(cond, sympy.Rel):
            return []
        rel = cond if holds else cond.negated
        if type(rel) not in _RELATION_SIGN:
            return []
        const, rest = (rel.lhs - rel.rhs).as_coeff_Add()
        value = add(_RELATION_SIGN[type(rel)], point(-_fraction(const)))
        return self._spread(rest, value)

    def _spread(self, expr: sympy.Basic, value: Interval) -> list[tuple[sympy.Basic, Interval]]:
        """``expr ∈ value``, and what it implies for each term of a sum or a scaled factor."""
        facts = [(expr, value)]
        if isinstance(expr, sympy.Add):
            terms = list(expr.args)
            for i, term in enumerate(terms):
                others = point(Fraction(0))
                for other in terms[:i] + terms[i + 1 :]:
                    others = add(others, self(other))
                facts.append((term, add(value, neg(others))))
        coeff, rest = expr.as_coeff_Mul()
        if coeff not in (0, 1) and isinstance(coeff, sympy.Rational):
            facts.append((rest, mul(value, point(1 / _fraction(coeff)))))
        return facts


def _slack(
    expr: sympy.Basic, taken: Mapping[sympy.Symbol, sympy.Basic]
) -> tuple[sympy.Symbol, sympy.Basic, sympy.Dummy] | None:
    """For a fact on ``x + rest`` (x a symbol): ``x = s - rest`` with a fresh slack ``s``."""
    if not isinstance(expr, sympy.Add):
        return None
    for term in expr.args:
        coeff, symbol = term.as_coeff_Mul()
        if isinstance(symbol, sympy.Symbol) and coeff in (1, -1) and symbol not in taken:
            dummy = sympy.Dummy("slack")
            return symbol, (dummy - (expr - term)) / coeff, dummy
    return None


def _fraction(x: sympy.Rational) -> Fraction:
    return Fraction(int(x.p), int(x.q))


def _float_point(x: sympy.Basic) -> Interval:
    if x.is_infinite or x is sympy.nan or not x.is_real:
        return REALS
    value = float(x)
    return Interval(_round(value, False), _round(value, True), False, False)


def _fold(op: Callable[[Interval, Interval], Interval]) -> Callable:
    def handler(ev: IntervalEval, expr: sympy.Basic) -> Interval:
        values = [ev(a) for a in expr.args]
        result = values[0]
        for value in values[1:]:
            result = op(result, value)
        return result

    return handler


def _eval_pow(ev: IntervalEval, expr: sympy.Pow) -> Interval:
    base, expo = expr.args
    if isinstance(expo, sympy.Integer):
        return pow_int(ev(base), int(expo))
    return power(ev(base), ev(expo), bool(expo.is_integer))


def _eval_piecewise(ev: IntervalEval, expr: sympy.Piecewise) -> Interval:
    result = EMPTY
    for value, cond in expr.args:
        decided = ev.truth(cond)
        if decided is False:
            continue
        result = union(result, ev.assume(cond)(value))
        if decided is True:
            break
        ev = ev.assume(cond, holds=False)
    return result


def _unary(fn: Callable[[Interval], Interval]) -> Callable:
    return lambda ev, expr: fn(ev(expr.args[0]))


_HANDLERS: dict[str, Callable[[IntervalEval, sympy.Basic], Interval]] = {
    "Add": _fold(add),
    "Mul": _fold(mul),
    "Max": _fold(maximum),
    "Min": _fold(minimum),
    "Pow": _eval_pow,
    "exp": _unary(exp),
    "log": _unary(log),
    "Abs": _unary(absolute),
    "sign": _unary(sign),
    "Piecewise": _eval_piecewise,
}


# -- random points, for numeric fallbacks ---------------------------------------------------------


def sample(value: Interval, integer: bool, rng: random.Random) -> sympy.Rational:
    """A random exact point of an interval (moderate magnitudes, away from the ends)."""
    if value.empty:
        raise ValueError("cannot sample an empty interval")
    lo = value.lo if not math.isinf(value.lo) else None
    hi = value.hi if not math.isinf(value.hi) else None
    if lo is None and hi is None:
        lo, hi = Fraction(-3), Fraction(3)
    elif hi is None:
        hi = lo + Fraction(rng.choice([1, 2, 5, 10]))
    elif lo is None:
        lo = hi - Fraction(rng.choice([1, 2, 5, 10]))
    if integer:
        low = math.ceil(lo) + (value.lo_open and lo == math.ceil(lo))
        high = math.floor(hi) - (value.hi_open and hi == math.floor(hi))
        return sympy.Integer(rng.randint(low, max(low, min(high, low + 9))))
    x = lo + (hi - lo) * Fraction(rng.randint(1, 999), 1000)
    return sympy.Rational(x.numerator, x.denominator)
