"""The functions a phased step is lowered to, shared by every backend (optc.ir.phases).

A program with ``total(...)`` or global state becomes, per round k:

- ``<name>_partials_k``: one parameter's contributions to the round's totals (``sum(x)`` each);
- ``<name>_group_k``: the group values of the round, computed once from the summed totals;

and the final ``<name>_update``: one parameter's new θ and states, reading the group values.
Every function recomputes the per-parameter values it needs from the step's inputs; the values
computed once per group are passed on by name (:attr:`RoundsLayout.names`).
"""

from __future__ import annotations

from dataclasses import dataclass

from optc.ir.nodes import REAL_SCALAR, Binding, Op, Program, free_vars
from optc.ir.phases import PhasePlan


@dataclass(frozen=True)
class RoundFunctions:
    index: int
    partials: list[Binding]  # computed by the partials function, in order (terms included)
    totals: list[tuple[str, str]]  # (name, binding id) of each total of the round
    group: list[Binding]  # computed by the group function, in order
    returns: list[tuple[str, str]]  # (name, binding id) the group function returns
    before: list[str]  # names of the group values of earlier rounds (keyword arguments)


@dataclass(frozen=True)
class RoundsLayout:
    names: dict[str, str]  # binding id → Python name, for every value passed between functions
    rounds: list[RoundFunctions]
    update: list[Binding]  # the update function's bindings, in order
    update_inputs: list[str]  # every passed value's name (keyword arguments of the update)
    global_outputs: dict[str, str]  # global state → name of its final value


def layout(program: Program, plan: PhasePlan, taken: set[str]) -> RoundsLayout:
    """Which bindings each function computes, and the names of the values passed on."""
    final_globals = set(plan.globals_out.values())
    passed = [b for b in plan.body if plan.passed(b.id) or b.id in final_globals]
    names = _passed_names(passed, taken | {"theta", "g", "t"})
    rounds, available, before = [], set(), []
    for index, round_ in enumerate(plan.rounds, start=1):
        totals = [(names[b.id], b.id) for b in round_.totals]
        needed = plan.closure([_id for b in round_.totals for _id in _reads(b)], available)
        partials = _in_body_order(plan, needed + [_term(b) for b in round_.totals])
        available |= {b.id for b in round_.totals}
        returned = [b.id for b in round_.group]
        if index == len(plan.rounds):  # the last round also settles every global state
            returned += [
                i for i in plan.globals_out.values() if i not in returned and i not in available
            ]
        group = plan.closure(returned, available)
        rounds.append(
            RoundFunctions(
                index,
                partials,
                totals,
                group,
                [(names[i], i) for i in returned],
                list(before),
            )
        )
        available |= set(returned)
        before += [name for name, _ in totals] + [names[i] for i in returned]
    update = plan.closure(_per_parameter_outputs(program), available)
    global_outputs = {g: names[i] for g, i in plan.globals_out.items()}
    return RoundsLayout(names, rounds, update, before, global_outputs)


def _term(total: Binding) -> Binding:
    """A parameter's term of ``total(x)``: ``sum(x)``, or ``x`` for a per-parameter scalar,
    bound where the total stands (so it reads the values of that point of the step)."""
    x = total.expr.args[0]
    term = Op("sum", (x,), REAL_SCALAR, total.expr.span) if x.type.is_tensor else x
    return Binding(total.id, total.display, None, term, total.span, total.source)


def _in_body_order(plan: PhasePlan, bindings: list[Binding]) -> list[Binding]:
    order = {b.id: i for i, b in enumerate(plan.body)}
    return sorted(bindings, key=lambda b: order[b.id])


def _reads(binding: Binding) -> list[str]:
    return sorted(free_vars(binding.expr))


def _per_parameter_outputs(program: Program) -> list[str]:
    return [program.outputs["theta"]] + [
        program.outputs[s.name] for s in program.states if s.name in program.outputs
    ]


def _passed_names(passed: list[Binding], taken: set[str]) -> dict[str, str]:
    """A local keeps its name; a state's version ``d#1`` is ``d_1``; a total is ``total_k``."""
    local = {b.id: b.display for b in passed if "#" not in b.id}  # unique: bound once
    names = dict(local)
    used = set(taken) | set(local.values())
    for binding in passed:
        if binding.id in local:
            continue
        name = binding.id.replace("#", "_")
        while name in used:
            name += "_"
        used.add(name)
        names[binding.id] = name
    return names
