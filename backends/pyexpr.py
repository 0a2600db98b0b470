"""Print IR expressions as Python source with minimal parentheses.

Shared by the torch and jax backends: infix operators are spelled here; each backend subclass
spells the functions (``torch.sqrt`` vs ``jnp.sqrt``) and decides scalar-vs-tensor forms.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping

from optc.ir.nodes import Const, Expr, Op, Var

TERNARY, OR, AND, NOT, COMPARE, ADD, MUL, UNARY, POWER, ATOM = range(1, 11)

_INFIX = {
    "add": (" + ", ADD),
    "sub": (" - ", ADD),
    "mul": (" * ", MUL),
    "div": (" / ", MUL),
    "lt": (" < ", COMPARE),
    "le": (" <= ", COMPARE),
    "gt": (" > ", COMPARE),
    "ge": (" >= ", COMPARE),
    "eq": (" == ", COMPARE),
    "ne": (" != ", COMPARE),
}

RESERVED = {"math", "torch", "jax", "jnp", "optax", "np", "delta", "dtype", "new_theta"}


def python_name(name: str) -> str:
    """A spec name as a safe Python identifier (keywords and module names get a trailing _)."""
    return f"{name}_" if keyword.iskeyword(name) or name in RESERVED else name


def format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class PythonPrinter:
    """Render an IR expression; subclasses implement :meth:`function` and :meth:`inf`."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names  # SSA id → Python name

    def render(self, expr: Expr) -> str:
        return self._render(expr)[0]

    # -- subclass hooks
    def function(self, expr: Op, args: list[str]) -> tuple[str, int]:
        raise NotImplementedError

    def inf(self) -> str:
        raise NotImplementedError

    def fill_like_gradient(self, expr: Expr, text: str) -> str:
        """A θ-shaped tensor filled with a scalar value."""
        raise NotImplementedError

    # -- the printer
    def _render(self, expr: Expr) -> tuple[str, int]:
        if isinstance(expr, Const):
            if isinstance(expr.value, bool):
                return ("True" if expr.value else "False"), ATOM
            if expr.value == float("inf"):
                return self.inf(), ATOM
            return format_number(expr.value), ATOM
        if isinstance(expr, Var):
            name = self.names.get(expr.name)
            return (name if name is not None else python_name(expr.name)), ATOM
        if expr.op in _INFIX:
            text, prec = _INFIX[expr.op]
            left = self._at(expr.args[0], prec)
            right = self._at(expr.args[1], prec + 1)
            return f"{left}{text}{right}", prec
        if expr.op == "neg":
            return f"-{self._at(expr.args[0], UNARY)}", UNARY
        if expr.op == "pow":
            return f"{self._at(expr.args[0], ATOM)} ** {self._at(expr.args[1], UNARY)}", POWER
        return self.function(expr, [self.render(arg) for arg in expr.args])

    def _at(self, expr: Expr, min_prec: int) -> str:
        text, prec = self._render(expr)
        return text if prec >= min_prec else f"({text})"

    def ternary(self, expr: Op) -> tuple[str, int]:
        cond, then, orelse = expr.args
        return (
            f"{self._at(then, OR)} if {self._at(cond, OR)} else {self._at(orelse, TERNARY)}",
            TERNARY,
        )

    def logic(self, expr: Op) -> tuple[str, int]:
        """Python's own ``and``/``or``/``not``, for plain scalar conditions."""
        if expr.op == "not":
            return f"not {self._at(expr.args[0], NOT)}", NOT
        prec = AND if expr.op == "and" else OR
        left = self._at(expr.args[0], prec)
        right = self._at(expr.args[1], prec + 1)
        return f"{left} {expr.op} {right}", prec
