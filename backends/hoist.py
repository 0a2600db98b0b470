"""Per-step scalars: the values of a step that depend only on ``t`` and the hypers.

A step's tensor work reads a handful of numbers that are the same for every element and every
parameter of a param group at a given step — ``1 - beta1**t``, ``lr * weight_decay``, a
warmup factor. The readable ``<name>_update`` computes them inline as Python numbers. The fast
paths compute them once per group and step on the host and hand them to the tensor work as
arguments, so a compiled kernel sees them as inputs (no recompilation when a scheduler changes
``lr`` or ``t`` advances) and an elementwise kernel reads them from registers.

This module decides *which* values those are; each backend spells them.
"""

from __future__ import annotations

from collections.abc import Iterable

from optc.ir.nodes import Binding, Const, Expr, Op, Program, Role, Shape, Var, walk
from optc.ir.ops import OPS, SHAPE_NAMES


def host_locals(program: Program, body: Iterable[Binding]) -> set[str]:
    """The ids of the body's local bindings (not state or θ updates) whose values are host
    scalars, in body order (a host local may read earlier ones)."""
    host: set[str] = set()
    for binding in body:
        if binding.target is None and is_host(binding.expr, host):
            host.add(binding.id)
    return host


def is_host(expr: Expr, host: set[str]) -> bool:
    """Whether ``expr`` is one number per group and step: a scalar computed from ``t``,
    hypers, constants and ``host`` locals only — no state, no reduction over a tensor and no
    parameter dimension (those differ between the parameters of a group)."""
    if expr.type.shape is not Shape.SCALAR:
        return False
    for node in walk(expr):
        if isinstance(node, Op) and OPS[node.op].category in ("reduce", "global"):
            return False
        if isinstance(node, Var) and not _host_var(node, host):
            return False
    return True


def worth_passing(expr: Expr) -> bool:
    """Whether a host value is passed as an argument rather than written as a literal."""
    return not isinstance(expr, Const)


def _host_var(var: Var, host: set[str]) -> bool:
    if var.role is Role.HYPER:
        return True
    if var.role is Role.INPUT:
        return var.name == "t" and var.name not in SHAPE_NAMES
    return var.role is Role.LOCAL and var.name in host
