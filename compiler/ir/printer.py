"""The one framework every printer of IR expressions builds on: Python (torch, jax), LaTeX.

A printer turns an expression into ``(text, precedence)`` bottom-up. This module owns what they
share: the precedence levels, operator associativity (from the op table in
:mod:`optc.ir.ops`), parenthesising an operand by them, and memoisation — each node is
rendered once per context however often a parent asks for it, so rendering is linear in the
size of the tree (nested ``if``\\ s used to be rendered once per enclosing branch: exponential).
Subclasses implement :meth:`ExprPrinter.visit` for their target's spellings.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from optc.ir.nodes import Expr, Op
from optc.ir.ops import OPS, Prec

__all__ = ["ExprFold", "ExprPrinter", "Prec", "Rendered", "operand_precedences", "wrap"]

T = TypeVar("T")


Rendered = tuple[str, int]


def wrap(rendered: Rendered, min_prec: int, open_: str = "(", close: str = ")") -> str:
    """The text, parenthesised when it binds looser than ``min_prec``."""
    text, prec = rendered
    return text if prec >= min_prec else f"{open_}{text}{close}"


def operand_precedences(op: str) -> tuple[int, int]:
    """The least precedence each operand of a binary infix op may have without parentheses.

    Left-associative ops (``a - b - c`` is ``(a - b) - c``) need the right operand to bind
    tighter; right-associative ones (``a ^ b ^ c`` is ``a ^ (b ^ c)``) the left.
    """
    info = OPS[op]
    prec = int(info.precedence)
    if info.assoc == "right":
        return prec + 1, prec
    if info.assoc == "none":  # a < b < c does not chain: both sides bind tighter
        return prec + 1, prec + 1
    return prec, prec + 1


class ExprFold(Generic[T]):
    """A bottom-up function of IR expressions computed once per (node, context).

    ``context`` distinguishes results for one node that depend on where it sits (the Python
    printers spell a switched-off term ``0`` inside a sum, a zero tensor elsewhere; the SymPy
    translator carries the path condition of a branch).
    """

    def __init__(self) -> None:
        self._memo: dict[tuple[int, Hashable], tuple[Expr, T]] = {}

    def visit(self, expr: Expr, context: Hashable = None) -> T:
        """The result for one node; children are read through :meth:`fold`."""
        raise NotImplementedError

    def fold(self, expr: Expr, context: Hashable = None) -> T:
        key = (id(expr), context)
        hit = self._memo.get(key)
        if hit is None:  # keep the node alive with its result, so its id is not reused
            hit = self._memo[key] = (expr, self.visit(expr, context))
        return hit[1]


class ExprPrinter(ExprFold[Rendered]):
    """Precedence-aware rendering of IR expressions: ``visit`` returns (text, precedence)."""

    def rendered(self, expr: Expr, context: Hashable = None) -> Rendered:
        return self.fold(expr, context)

    def render(self, expr: Expr, context: Hashable = None) -> str:
        return self.rendered(expr, context)[0]

    def at(self, expr: Expr, min_prec: int, context: Hashable = None) -> str:
        """``expr`` as an operand that must bind at least as tightly as ``min_prec``."""
        return wrap(self.rendered(expr, context), min_prec)

    def infix(self, expr: Op, spelling: str, contexts: tuple = (None, None)) -> Rendered:
        """A binary operator between its operands, parenthesised by precedence and
        associativity from the op table."""
        left_prec, right_prec = operand_precedences(expr.op)
        left = self.at(expr.args[0], left_prec, contexts[0])
        right = self.at(expr.args[1], right_prec, contexts[1])
        return f"{left}{spelling}{right}", int(OPS[expr.op].precedence)
