"""Phases: how a step that reduces across parameters runs, one parameter at a time.

The language's meaning is "each statement runs for every parameter of the group before the next
one" (backends/reference/interpreter.py evaluates it so). Backends run one parameter at a time
instead, which is the same wherever a statement reads only its own parameter. ``total(x)`` reads
every parameter, so the compiler splits the step at each one (docs/language.md, "Global state"):

- every binding gets a *level*: ``PARAM`` if its value differs between parameters (it reads θ, g,
  a per-parameter state, a dimension, or a PARAM binding), else ``GROUP`` (hypers, t, global
  states, totals and what is computed from them only);
- and a *phase*: 0 for what can be computed from the step's inputs, 1 + the phase of its argument
  for a total, and the largest phase of what it reads otherwise.

Round k (1, 2, ...) sums the partial values of the phase-k totals over the parameters, then
computes the group values of phase k once. The per-parameter work of each round recomputes what
it needs from the step's inputs rather than carrying tensors between rounds: nothing per
parameter is kept alive across the group's loop. Group values of phase 0 (``1 - beta^t``) are
cheap scalars, recomputed wherever they are read.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from optc.diagnostics import SpecError
from optc.ir.nodes import REAL_SCALAR, Binding, Expr, Op, Program, Role, Var, free_vars, walk


class Level(enum.StrEnum):
    PARAM = "param"  # differs between the parameters of a group
    GROUP = "group"  # one value for the whole group


@dataclass(frozen=True)
class Round:
    """The k-th sum across parameters and the group work that waits for it."""

    index: int  # 1, 2, ...
    totals: tuple[Binding, ...]  # ``total#j = total(x)``: each parameter contributes sum(x)
    group: tuple[Binding, ...]  # group values of this phase, computed once after the sums


@dataclass(frozen=True)
class PhasePlan:
    """The step of a program with global state or totals, split into rounds."""

    body: tuple[Binding, ...]  # the program's bindings, each total(x) hoisted into its own
    rounds: tuple[Round, ...]
    level: dict[str, Level]  # binding id → level
    phase: dict[str, int]  # binding id → phase
    globals_out: dict[str, str]  # global state → id of its final version

    def passed(self, id_: str) -> bool:
        """Whether a value is computed once per group and handed to later functions."""
        return self.level[id_] is Level.GROUP and self.phase[id_] >= 1

    def binding(self, id_: str) -> Binding:
        return next(b for b in self.body if b.id == id_)

    def closure(self, targets: list[str], available: set[str]) -> list[Binding]:
        """The bindings that compute ``targets``, in body order, given the values in
        ``available`` (and the step's inputs)."""
        ids = {b.id for b in self.body}
        needed: set[str] = set()
        stack = [t for t in targets if t in ids and t not in available]
        while stack:
            id_ = stack.pop()
            if id_ in needed:
                continue
            needed.add(id_)
            stack += [
                v for v in free_vars(self.binding(id_).expr) if v in ids and v not in available
            ]
        return [b for b in self.body if b.id in needed]


def plan(program: Program) -> PhasePlan | None:
    """The rounds of a program that reads across parameters or keeps global state; None for a
    program whose parameters are independent (one function per parameter suffices)."""
    if not program.globals and not any(
        isinstance(n, Op) and n.op == "total" for b in program.body for n in walk(b.expr)
    ):
        return None
    body = _hoist_totals(program.body)
    level, phase = _levels(program, body)
    global_names = {s.name for s in program.globals}
    for binding in body:
        if binding.target in global_names and level[binding.id] is Level.PARAM:
            raise SpecError(
                f"global state `{binding.target}` is one value for all parameters, but this "
                "value differs from parameter to parameter",
                binding.span,
                hint="sum a per-parameter value over the parameters with total(...) first",
            )
    globals_out = {
        s.name: program.outputs[s.name] for s in program.globals if s.name in program.outputs
    }
    last = max(phase.values(), default=0)
    count = max(last, 1 if globals_out else 0)
    rounds = tuple(
        Round(
            k,
            tuple(b for b in body if _is_total(b) and phase[b.id] == k),
            tuple(
                b
                for b in body
                if not _is_total(b) and level[b.id] is Level.GROUP and phase[b.id] == k
            ),
        )
        for k in range(1, count + 1)
    )
    return PhasePlan(tuple(body), rounds, level, phase, globals_out)


def _is_total(binding: Binding) -> bool:
    return isinstance(binding.expr, Op) and binding.expr.op == "total"


def _hoist_totals(body: list[Binding]) -> list[Binding]:
    """Each ``total(x)`` as its own binding ``total#k``, placed before the statement reading it."""
    hoisted: list[Binding] = []
    count = 0

    def rewrite(expr: Expr, binding: Binding) -> Expr:
        nonlocal count
        if not isinstance(expr, Op):
            return expr
        args = tuple(rewrite(arg, binding) for arg in expr.args)
        if expr.op != "total":
            return expr if args == expr.args else Op(expr.op, args, expr.type, expr.span)
        count += 1
        id_ = f"total#{count}"
        span = expr.span or binding.span
        total = Op("total", args, REAL_SCALAR, span)
        hoisted.append(Binding(id_, "total", None, total, span, binding.source))
        return Var(id_, Role.LOCAL, REAL_SCALAR)

    for binding in body:
        expr = rewrite(binding.expr, binding)
        hoisted.append(dataclasses.replace(binding, expr=expr))  # guards and merges kept
    return hoisted


def _levels(program: Program, body: list[Binding]) -> tuple[dict[str, Level], dict[str, int]]:
    per_param = {"theta", "g"} | {s.name for s in program.states}
    level: dict[str, Level] = {}
    phase: dict[str, int] = {}
    for binding in body:
        reads = [n for n in walk(binding.expr) if isinstance(n, Var)]
        if _is_total(binding):
            level[binding.id] = Level.GROUP
            phase[binding.id] = 1 + max((phase.get(v.name, 0) for v in reads), default=0)
            continue
        param = any(
            v.name in per_param
            or (v.role is Role.INPUT and v.name != "t")
            or level.get(v.name) is Level.PARAM
            for v in reads
        )
        level[binding.id] = Level.PARAM if param else Level.GROUP
        phase[binding.id] = max((phase.get(v.name, 0) for v in reads), default=0)
    return level, phase
