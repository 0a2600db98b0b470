"""Scalar math with the language's non-finite semantics, for generated torch code.

Scalars that depend only on hypers and ``t`` are Python numbers in the torch backend, and
Python's own math raises where the language gives a value (docs/language.md, "Non-finite
values"): ``math.sqrt(-1)`` and ``math.log(0)`` raise ``ValueError``, ``1 / 0`` raises
``ZeroDivisionError``, ``10.0 ** 400`` and ``math.exp(1000)`` raise ``OverflowError``,
``(-8.0) ** (1 / 3)`` is a complex number, and ``min``/``max`` drop a NaN or keep it depending on
the order of their arguments. These functions are IEEE 754 instead, as torch, jax and NumPy are
on arrays: they never raise, out-of-domain arguments give NaN, poles give ±inf, overflow gives
±inf, and NaN propagates (``sign`` excepted: ``sign(NaN) = 0``, as ``torch.sign``).

The code generator calls them only where plain Python could raise or lose a NaN; elsewhere the
generated code keeps Python's operators (``1 - beta1**t``).
"""

from __future__ import annotations

import math

__all__ = [
    "clip",
    "cos",
    "div",
    "exp",
    "floor",
    "log",
    "maximum",
    "minimum",
    "mod",
    "pow",
    "sign",
    "sin",
    "sqrt",
]

_INF = math.inf
_NAN = math.nan


def sqrt(x: float) -> float:
    """√x; NaN for x < 0 (``sqrt(-0.0) = -0.0``)."""
    return math.sqrt(x) if x >= 0 else _NAN


def log(x: float) -> float:
    """ln x; -inf at 0, NaN for x < 0."""
    if x > 0:
        return math.log(x)
    return -_INF if x == 0 else _NAN


def cos(x: float) -> float:
    """cos x; NaN for ±inf (as torch and numpy)."""
    return math.cos(x) if math.isfinite(x) else _NAN


def sin(x: float) -> float:
    """sin x; NaN for ±inf."""
    return math.sin(x) if math.isfinite(x) else _NAN


def floor(x: float) -> float:
    """⌊x⌋ as a float; ±inf and NaN unchanged."""
    return float(math.floor(x)) if math.isfinite(x) else x


def mod(x: float, y: float) -> float:
    """x - y * floor(x / y), with the sign of y (Python's %, torch.remainder, jnp.mod); NaN for
    y = 0."""
    return x % y if y != 0 else _NAN


def exp(x: float) -> float:
    """e^x; +inf on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and float(y).is_integer() and int(y) % 2 == 1


def pow(x: float, y: float) -> float:
    """x^y as C99 ``pow`` (and NumPy, jax, torch): NaN for a negative base to a non-integer
    power, ±inf for 0 to a negative power and on overflow."""
    try:
        if x > 0:  # `**` (the same C pow) traces symbolically under torch.compile: no
            return x**y  # recompile per step for t^r
        return math.pow(x, y)
    except OverflowError:  # |x| > 1 to a large power, or |x| < 1 to a large negative one
        return -_INF if x < 0 and _odd_integer(y) else _INF
    except ValueError:  # 0 to a negative power, or a negative base to a non-integer power
        if x == 0:
            return math.copysign(_INF, x) if _odd_integer(y) else _INF
        return _NAN


def div(x: float, y: float) -> float:
    """x / y; ±inf for x / 0 (the sign of x times the sign of the zero), NaN for 0 / 0."""
    try:
        return x / y
    except ZeroDivisionError:
        if x != x or x == 0:
            return _NAN
        return math.copysign(_INF, x) * math.copysign(1.0, y)


def minimum(x: float, y: float) -> float:
    """The smaller of x and y; NaN if either is NaN."""
    if x != x or y != y:
        return _NAN
    return x if x <= y else y


def maximum(x: float, y: float) -> float:
    """The larger of x and y; NaN if either is NaN."""
    if x != x or y != y:
        return _NAN
    return x if x >= y else y


def clip(x: float, lo: float, hi: float) -> float:
    """``minimum(maximum(x, lo), hi)``: hi when lo > hi; NaN if any argument is NaN."""
    return minimum(maximum(x, lo), hi)


def sign(x: float) -> int:
    """-1, 0 or 1; ``sign(NaN) = 0``, as ``torch.sign``."""
    return (x > 0) - (x < 0)
