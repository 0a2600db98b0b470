"""The operator table: every IR op, its arity and how its result type is inferred.

Adding a primitive is one row here plus one spelling per backend (each backend checks at import
time that it spells every op, so a missing one fails loudly, not at run time).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpInfo:
    arity: int
    category: str  # "arith" | "compare" | "logic" | "select" | "branch"
    signature: str  # how users call it, for arity errors


OPS: dict[str, OpInfo] = {
    "add": OpInfo(2, "arith", "a + b"),
    "sub": OpInfo(2, "arith", "a - b"),
    "mul": OpInfo(2, "arith", "a * b"),
    "div": OpInfo(2, "arith", "a / b"),
    "pow": OpInfo(2, "arith", "a ^ b"),
    "neg": OpInfo(1, "arith", "-a"),
    "sqrt": OpInfo(1, "arith", "sqrt(x)"),
    "abs": OpInfo(1, "arith", "abs(x)"),
    "sign": OpInfo(1, "arith", "sign(x)"),
    "exp": OpInfo(1, "arith", "exp(x)"),
    "log": OpInfo(1, "arith", "log(x)"),
    "min": OpInfo(2, "arith", "min(a, b)"),
    "max": OpInfo(2, "arith", "max(a, b)"),
    "clip": OpInfo(3, "arith", "clip(x, lo, hi)"),
    "lt": OpInfo(2, "compare", "a < b"),
    "le": OpInfo(2, "compare", "a <= b"),
    "gt": OpInfo(2, "compare", "a > b"),
    "ge": OpInfo(2, "compare", "a >= b"),
    "eq": OpInfo(2, "compare", "a == b"),
    "ne": OpInfo(2, "compare", "a != b"),
    "and": OpInfo(2, "logic", "a and b"),
    "or": OpInfo(2, "logic", "a or b"),
    "not": OpInfo(1, "logic", "not a"),
    "where": OpInfo(3, "select", "where(cond, a, b)"),
    "ifelse": OpInfo(3, "branch", "if cond then a else b"),
}

# Functions a spec may call by name (the rest are operators).
FUNCTIONS = ("sqrt", "abs", "sign", "exp", "log", "min", "max", "clip", "where")

COMPARE_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
