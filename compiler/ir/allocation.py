"""Where each state is allocated: on the parameters whose dimensions reach a statement using it.

A dispatching spec (``if ndim >= 2:`` Muon ``else:`` AdamW; SOAP's rotations of the matrices)
reads some states in one class of parameters only. Allocating them everywhere would give every
bias a ``rows x rows`` preconditioner and every matrix AdamW's two moments, which no library
does. So a state is allocated only where the parameter's dimensions (``ndim``, ``rows``,
``cols``, ``numel``) meet the block conditions of at least one statement that reads or writes
it; everywhere else it does not exist (torch: no key in ``optimizer.state[p]``; jax: an empty
array in the state tree, which keeps the tree's structure for ``jit`` and checkpoints).

The condition is derived, not declared, so it cannot disagree with the step: each statement
contributes the dimension conditions of the blocks around it, and a read in a branch of
``if c then a else b`` with c on dimensions that branch's condition (the ``else`` of a
dimension block its negation; a block mixing dimensions with ``t`` or hypers its dimension conjuncts, an
``else`` of such a block nothing), and a state's condition is the disjunction over its
statements. A state used by a statement under no dimension condition is allocated everywhere
(``where`` is None). Merges (the end of a block) are not uses: they choose between versions the
branches left, and the branch not taken leaves the state as it was.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator

from optc.ir.nodes import (
    Binding,
    DType,
    Expr,
    Guard,
    Op,
    Program,
    Shape,
    Type,
    Var,
    free_vars,
)
from optc.ir.ops import SHAPE_NAMES

_BOOL = Type(Shape.SCALAR, DType.BOOL)
# The comparison that is true exactly where the key is false (dimensions are integers, never NaN).
_NEGATED = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}


def with_allocation(program: Program) -> Program:
    """The program with each state's ``where``: its allocation condition, or None for all."""
    sites = _sites(program, [*program.body, *(b for s in program.sections.values() for b in s)])
    states = [
        dataclasses.replace(s, where=_disjunction(sites.get(s.name, []))) for s in program.states
    ]
    return dataclasses.replace(program, states=states)


def _sites(program: Program, bindings: Iterable[Binding]) -> dict[str, list[list[Expr]]]:
    """For each state, the dimension conditions (a conjunction each) of the statements using it."""
    names = {s.name for s in program.states}
    version_of = {b.id: b.target for b in bindings if b.target in names}
    sites: dict[str, list[list[Expr]]] = {}
    for binding in bindings:
        if binding.merge:
            continue
        conjuncts = [c for guard in binding.guards for c in _dimension_conjuncts(guard)]
        used = list(_reads(binding.expr, conjuncts))
        if binding.target in names:
            used.append((binding.target, conjuncts))
        for name, conds in used:
            if version_of.get(name, name) in names:
                sites.setdefault(version_of.get(name, name), []).append(conds)
    return sites


def _reads(expr: Expr, conds: list[Expr]) -> Iterator[tuple[str, list[Expr]]]:
    """The names an expression reads, each with the dimension conditions it is read under: a
    branch of ``if c then a else b`` on the dimensions alone is evaluated only where c (or not
    c) holds, in every backend (a Python conditional, as a block's ``if``)."""
    if isinstance(expr, Var):
        yield expr.name, conds
    elif isinstance(expr, Op) and expr.op == "ifelse" and on_dimensions(expr.args[0]):
        cond, then, orelse = expr.args
        yield from _reads(cond, conds)
        yield from _reads(then, [*conds, cond])
        yield from _reads(orelse, [*conds, _negation(cond)])
    elif isinstance(expr, Op):
        for arg in expr.args:
            yield from _reads(arg, conds)


def _dimension_conjuncts(guard: Guard) -> list[Expr]:
    """What a guard says about the parameter's dimensions alone, as conjuncts."""
    if on_dimensions(guard.cond):
        return [guard.cond if guard.taken else _negation(guard.cond)]
    if not guard.taken:
        return []
    return [c for c in conjuncts(guard.cond) if on_dimensions(c)]


def on_dimensions(cond: Expr) -> bool:
    """Whether a condition reads the parameter's dimensions and nothing else (static per
    parameter: a Python ``if`` in every backend, also under jit)."""
    return bool(free_vars(cond)) and free_vars(cond) <= set(SHAPE_NAMES)


def conjuncts(cond: Expr) -> list[Expr]:
    """The operands of a condition's top-level ``and``s (the condition itself if none)."""
    if isinstance(cond, Op) and cond.op == "and":
        return [c for arg in cond.args for c in conjuncts(arg)]
    return [cond]


def _negation(cond: Expr) -> Expr:
    if isinstance(cond, Op) and cond.op in _NEGATED:
        return Op(_NEGATED[cond.op], cond.args, cond.type, cond.span)
    if isinstance(cond, Op) and cond.op == "not":
        return cond.args[0]
    return Op("not", (cond,), _BOOL, cond.span if isinstance(cond, Op) else None)


def _disjunction(sites: list[list[Expr]]) -> Expr | None:
    """``or`` of the sites' ``and``s, simplified; None when it always holds (a site under no
    dimension condition, both branches of a dimension block) or the state is never used (kept,
    as a declared state always was)."""
    terms = _simplified([tuple(dict.fromkeys(site)) for site in sites])
    if not terms or any(not term for term in terms):
        return None
    return _fold("or", [_fold("and", list(term)) for term in terms])


def _simplified(terms: list[tuple[Expr, ...]]) -> list[tuple[Expr, ...]]:
    """Terms (conjunctions) merged while two differ in one condition and its negation only
    (``A and c``, ``A and not c``: ``A``), then those implied by a shorter one dropped."""
    terms = list(dict.fromkeys(terms))
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(terms, 2):
            rest = [c for c in a if c not in b]
            if len(a) == len(b) and len(rest) == 1 and _negation(rest[0]) in b:
                kept = tuple(c for c in a if c != rest[0])
                terms = [t for t in terms if t not in (a, b)] + [kept]
                merged = True
                break
    return [t for t in terms if not any(set(o) < set(t) for o in terms)]


def _fold(op: str, exprs: list[Expr]) -> Expr:
    result = exprs[0]
    for expr in exprs[1:]:
        result = Op(op, (result, expr), _BOOL)
    return result
