"""IR → a ``torch.optim.Optimizer`` module.

The module has three public pieces, in the style of torch.optim: ``<name>_init`` (one
parameter's initial state), ``<name>_update`` (one readable, pure single-tensor step — the ground
truth) and the ``Optimizer`` class that owns param groups, state and the step loop; plus
``<name>_scalars`` / ``<name>_kernel``, the update split for the fused path (kernel.py), and
``<name>_foreach``, the multi-tensor path (foreach.py).
Expressions are spelled by :class:`optc.backends.torch.printer.TorchPrinter`.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
from collections.abc import Iterable
from dataclasses import dataclass

import jinja2

from optc import pysource
from optc.backends import lowering, rounds
from optc.backends.pyexpr import ScalarFacts
from optc.backends.torch import triton_kernel
from optc.backends.torch.foreach import foreach_function
from optc.backends.torch.kernel import kernel_function, scalars_function
from optc.backends.torch.printer import TorchPrinter
from optc.diagnostics import SpecError
from optc.ir import phases
from optc.ir.nodes import (
    REAL_SCALAR,
    Binding,
    Op,
    Program,
    Role,
    Shape,
    Var,
    free_vars,
    walk,
)
from optc.ir.ops import OPS


def _device_values(program: Program, body: Iterable[Binding]) -> set[str]:
    """Scalar and global states, reductions, and every binding computed from one, live on the
    device."""
    device = {s.name for s in program.states if s.shape is Shape.SCALAR}
    device |= {s.name for s in program.globals}
    for binding in body:
        reduces = any(
            isinstance(n, Op) and OPS[n.op].category in ("reduce", "global", "matrix")
            for n in walk(binding.expr)
        )
        if reduces or free_vars(binding.expr) & device:
            device.add(binding.id)
    return device


def _state_init(program: Program, printer: TorchPrinter) -> list[tuple[str, str, str]]:
    """(name, Python expression, spec text) for each state's initial value."""
    torch, result = printer.torch, []
    keep = f"memory_format={torch}.preserve_format"
    for state in program.states:
        init = state.init
        if state.shape is Shape.MATRIX:
            code = lowering.matrix_state_init(state, printer)
        elif state.shape is Shape.SCALAR:
            code = (
                "theta.new_zeros(())"
                if lowering.is_zero(init)
                else f"theta.new_full((), {printer.render(init)})"
            )
        elif state.shape is not Shape.TENSOR:  # one number per row / per column of θ
            size = f"{printer.axis(state.shape.value + '_shape')}(theta)"
            if init.type.is_tensor:
                code = printer.render(init)
            elif lowering.is_zero(init):
                code = f"theta.new_zeros({size})"
            else:
                code = f"theta.new_full({size}, {printer.render(init)})"
        elif lowering.is_zero(init):
            code = f"{torch}.zeros_like(theta, {keep})"
        elif isinstance(init, Var) and init.name == "theta":
            code = f"theta.clone({keep})"
        elif init.type.is_tensor:
            code = printer.render(init)
        else:
            code = f"{torch}.full_like(theta, {printer.render(init)}, {keep})"
        source = state.source
        result.append((state.name, code, source))
    return result


@dataclass(frozen=True)
class Parameter:
    """One parameter of the generated ``__init__``, with its docstring entry."""

    name: str
    annotation: str
    default: str
    doc: str


def _class_parameters(program: Program, layout: GroupLayout) -> tuple[list, list]:
    """The positional-or-keyword and the keyword-only parameters of ``__init__``."""
    hypers = {h.name: h for h in program.hypers}
    positional, keyword_only = [], []
    for key, members in layout.keys.items():
        if len(members) == 1 and layout.index[members[0]] is None:
            hyper = hypers[members[0]]
            view = lowering.hyper_view(hyper, key)
            doc = lowering.hyper_doc(hyper)
            positional.append(Parameter(key, view.annotation, view.default, doc))
            continue
        views = [lowering.hyper_view(hypers[m], m) for m in members]
        default = "(" + lowering.tuple_items([v.default for v in views]) + ")"
        annotation = "tuple[" + ", ".join(v.annotation for v in views) + "]"
        doc = "; ".join(f"``{m}``: {lowering.hyper_doc(hypers[m])}" for m in members)
        positional.append(Parameter(key, annotation, default, f"``({', '.join(members)})``: {doc}"))
        for member, view in zip(members, views, strict=True):
            keyword_only.append(
                Parameter(
                    member,
                    f"{view.annotation} | None",
                    "None",
                    f"``{key}[{layout.index[member]}]`` by its spec name; overrides ``{key}``",
                )
            )
    counterpart = program.counterpart("torch")
    for name, value in (counterpart.fixed if counterpart else {}).items():
        literal = repr(value) if isinstance(value, bool) else lowering.format_number(value)
        annotation = "bool" if isinstance(value, bool) else "float"
        doc = f"{counterpart.library}'s option; only ``{literal}`` is this algorithm"
        positional.append(Parameter(name, annotation, literal, doc))
    taken = {p.name for p in positional + keyword_only}
    for name, annotation, default, doc in _FLAG_PARAMETERS:
        if name not in taken:
            keyword_only.append(Parameter(name, annotation, default, doc))
    return positional, keyword_only


# torch.optim optimizers that accept sparse gradients; a spec reproducing one accepts them too.
SPARSE_COUNTERPARTS = ("torch.optim.SGD", "torch.optim.Adagrad")

_FLAG_PARAMETERS = (
    ("maximize", "bool", "False", "maximize the objective instead of minimizing it"),
    (
        "foreach",
        "bool | None",
        "None",
        "True or None: the update of each param group as torch._foreach_* ops over lists of "
        "tensors (on every device: on CPU too it is faster than the per-parameter loop). "
        "False: the readable per-parameter loop",
    ),
    (
        "fused",
        "bool | None",
        "None",
        "True: the update of each param group as one torch.compile'd graph (one pass over "
        "memory per parameter; the first step compiles), or on CUDA as one launch of the "
        "spec's Triton kernel where it has one. None or False: the path "
        "``foreach`` picks (None compiles nothing, as torch.optim)",
    ),
    ("capturable", "bool", "False", "accepted as in torch.optim; True is not available yet"),
    ("differentiable", "bool", "False", "accepted as in torch.optim; True is not available"),
)


@dataclass(frozen=True)
class GroupLayout:
    """Where each hyper lives in a param group: torch's names, tuples such as ``betas``."""

    keys: dict[str, list[str]]  # group key → the spec hypers stored under it, in order
    index: dict[str, int | None]  # spec hyper → index in its tuple (None: the key holds it)

    @classmethod
    def of(cls, program: Program) -> GroupLayout:
        counterpart = program.counterpart("torch")
        names = [h.name for h in program.hypers]
        tuples: dict[str, tuple[str, ...]] = {}
        if counterpart is not None:
            tuples = {k: v for k, v in counterpart.hypers.items() if isinstance(v, tuple)}
            renames = {v: k for k, v in counterpart.hypers.items() if isinstance(v, str)}
        else:
            renames = {}
            betas = [f"beta{k}" for k in range(1, len(names) + 1)]
            count = next((k for k in range(len(betas)) if betas[k] not in names), len(betas))
            if count >= 2 and "betas" not in names:  # torch's form: betas = (beta1, ..., betaK)
                tuples = {"betas": tuple(betas[:count])}
        keys: dict[str, list[str]] = {}
        index: dict[str, int | None] = {}
        for name in names:
            member_of = next((k for k, members in tuples.items() if name in members), None)
            if member_of is None:
                keys[renames.get(name, name)] = [name]
                index[name] = None
            else:
                keys.setdefault(member_of, list(tuples[member_of]))
                index[name] = tuples[member_of].index(name)
        return cls(keys, index)

    def key_of(self, hyper: str) -> str:
        return next(k for k, members in self.keys.items() if hyper in members)


def _runtime_hypers(program: Program, layout: GroupLayout, constructor: str) -> list[str]:
    """``Hyper(...)`` constructor calls declaring each hyper's domain and group position."""
    calls = []
    for hyper in program.hypers:
        args = [repr(hyper.name), repr(str(hyper.kind))]
        if hyper.kind != "bool":
            for end, value, closed in (
                ("lo", hyper.lo, hyper.lo_closed),
                ("hi", hyper.hi, hyper.hi_closed),
            ):
                if math.isfinite(value):
                    args.append(f"{end}={lowering.format_number(value)}")
                if closed:
                    args.append(f"{end}_closed=True")
        key = layout.key_of(hyper.name)
        if key != hyper.name:
            args.append(f"key={key!r}")
        if layout.index[hyper.name] is not None:
            args.append(f"index={layout.index[hyper.name]}")
        calls.append(f"{constructor}({', '.join(args)})")
    return calls


def _check_names(program: Program, layout: GroupLayout) -> None:
    """Names torch.optim gives a meaning that no spec name may take."""
    for hyper in program.hypers:
        if layout.key_of(hyper.name) in ("params", "step"):
            raise SpecError(
                f"hyper `{hyper.name}` would be the param-group key "
                f"`{layout.key_of(hyper.name)}`, which torch.optim reserves",
                hyper.span,
                hint="rename the hyper",
            )
    for state in program.states:
        if state.name == "step":
            raise SpecError(
                "state `step` would be the key torch.optim keeps the step count under",
                state.span,
                hint="rename the state",
            )
    reserved = {"params", "step", "initial_lr", *layout.keys} | {f[0] for f in _FLAG_PARAMETERS}
    for state in program.globals:
        if state.name in reserved:
            raise SpecError(
                f"global state `{state.name}` is kept in the param group under its name, "
                f"where `{state.name}` already means something",
                state.span,
                hint="rename the state",
            )


@functools.cache
def _template() -> jinja2.Template:
    text = importlib.resources.files("optc.backends.torch").joinpath("templates/module.py.j2")
    env = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(text.read_text())


def generate(program: Program, spec_path: str) -> str:
    """The formatted source of ``generated/torch/<name>.py``."""
    layout = GroupLayout.of(program)
    _check_names(program, layout)
    internal = lowering.InternalNames(lowering.spec_names(program))
    names = {name: name for name in lowering.spec_names(program)}  # exactly as the spec spells them
    plan = phases.plan(program)
    body = list(plan.body) if plan else program.body
    names.update({b.id: b.display for b in body})
    split = rounds.layout(program, plan, lowering.spec_names(program)) if plan else None
    names.update(split.names if split else {})
    device = _device_values(program, body)
    printer = TorchPrinter(names, device, internal, ScalarFacts(program))
    update_body = split.update if split else body
    statements = lowering.statements(program, printer, update_body)
    inits, allocations = lowering.split_by_allocation(
        program, _state_init(program, printer), printer
    )
    update_preamble = printer.shape_preamble([b.expr for b in update_body])
    hyper_params = ", ".join(
        f"{h.name}: {lowering.hyper_view(h, h.name).annotation}" for h in program.hypers
    )
    shared_params = "".join(f", {s.name}: {printer.torch}.Tensor" for s in program.globals)
    phase_functions = (
        _phase_functions(program, split, printer, hyper_params, device) if split else []
    )
    phase_functions += [
        _section_function(program, kind, internal, hyper_params) for kind in program.sections
    ]
    update_extra = (
        shared_params + "".join(f", {name}: {printer.torch}.Tensor" for name in split.update_inputs)
        if split
        else ""
    )
    kernel, kernel_view = kernel_function(program, printer, update_body, update_extra)
    foreach_view = foreach_function(program, kernel, update_body, update_extra)
    printer.absorb(kernel)
    fast_functions = [
        scalars_function(program, printer, kernel, update_body, hyper_params),
        kernel_view,
        *([foreach_view] if foreach_view else []),
    ]
    init_preamble = printer.shape_preamble(lowering.allocation_exprs(program))
    counterpart = program.counterpart("torch")
    positional, keyword_only = _class_parameters(program, layout)
    source = _template().render(
        imports=[
            *([internal.import_line("math")] if printer.uses_math else []),
            internal.import_line("collections.abc", "Iterable"),
            internal.import_line(
                "typing",
                "Any",
                *(
                    ["ClassVar"]
                    if program.globals
                    or (counterpart and (counterpart.states or counterpart.fixed))
                    else []
                ),
            ),
            "",
            internal.import_line("torch"),
            "",
            *([internal.import_line("optc.backends", "ieee")] if printer.uses_ieee else []),
            *(
                [internal.import_line("optc.backends.torch.axes", *sorted(printer.axes))]
                if printer.axes
                else []
            ),
            internal.import_line("optc.backends.torch.runtime", "Hyper", "SpecOptimizer"),
        ],
        n=internal,
        dunder_all=pysource.dunder_all(
            [
                program.name,
                f"{program.snake_name}_init",
                *(f.name for f in phase_functions),
                f"{program.snake_name}_update",
                *(f.name for f in fast_functions),
            ]
        ),
        program=program,
        spec_path=spec_path,
        snake=program.snake_name,
        hyper_params=hyper_params,
        update_extra=update_extra,
        phase_functions=phase_functions,
        fast_functions=fast_functions,
        global_states=lowering.python_tuple(s.name for s in program.globals),
        round_table=[
            (
                f"{program.snake_name}_partials_{r.index}" if r.totals else "None",
                lowering.python_tuple(n for n, _ in r.totals),
                f"{program.snake_name}_group_{r.index}",
            )
            for r in (split.rounds if split else [])
        ],
        global_outputs=split.global_outputs if split else {},
        has_foreach=foreach_view is not None,
        batch_by_shape=foreach_view is None and lowering.has_matrix_functions(update_body),
        sections=list(program.sections),
        triton_kernel=(
            f"optc.generated.triton.{program.snake_name}:{program.snake_name}_triton"
            if triton_kernel.has_kernel(program)
            else None
        ),
        states=[s.name for s in program.states],
        state_keys={spec: lib for lib, spec in (counterpart.states if counterpart else {}).items()},
        fixed=counterpart.fixed if counterpart else {},
        counterpart=counterpart.library if counterpart else None,
        sparse_gradients=counterpart is not None and counterpart.library in SPARSE_COUNTERPARTS,
        runtime_hypers=_runtime_hypers(program, layout, internal["Hyper"]),
        state_tuple=lowering.python_tuple(s.name for s in program.states),
        axis_states=lowering.python_tuple(
            s.name for s in program.states if s.shape in (Shape.ROWS, Shape.COLS)
        ),
        inits=inits,
        allocations=allocations,
        conditional_states=lowering.python_tuple(
            name for a in allocations for name, _, _ in a.inits
        ),
        statements=statements,
        update_preamble=update_preamble,
        init_preamble=init_preamble,
        positional=positional,
        keyword_only=keyword_only,
        math=lowering.docstring_math(program),
    )
    return pysource.format_python(source)


def _section_function(
    program: Program, kind: str, internal: lowering.InternalNames, hyper_params: str
) -> lowering.FunctionView:
    """``<name>_eval`` / ``<name>_train``: θ moved to the evaluation point, or back."""
    bindings = program.sections[kind]
    names = {name: name for name in lowering.spec_names(program)}
    names.update({b.id: b.display for b in bindings})
    printer = TorchPrinter(names, _device_values(program, bindings), internal, like="theta")
    tensor = f"{printer.torch}.Tensor"
    states = "".join(f", {s.name}: {tensor}" for s in program.states)
    shared = "".join(f", {s.name}: {tensor}" for s in program.globals)
    hypers = f", {hyper_params}" if hyper_params else ""
    what = (
        "the evaluation point"
        if kind == "eval"
        else "the training point, from the evaluation point"
    )
    return lowering.FunctionView(
        f"{program.snake_name}_{kind}",
        f"theta: {tensor}{states}, *, t: int{hypers}{shared}",
        tensor,
        f"θ at {what} (the spec's `{kind}` section); t: the steps taken.",
        printer.shape_preamble([b.expr for b in bindings]),
        lowering.statements(program, printer, bindings),
        printer.render(Var(program.section_outputs[kind], Role.LOCAL, bindings[-1].type)),
    )


def _phase_functions(
    program: Program,
    split: rounds.RoundsLayout,
    printer: TorchPrinter,
    hyper_params: str,
    device: set[str],
) -> list[lowering.FunctionView]:
    """``<name>_init_globals``, then ``<name>_partials_k`` and ``<name>_group_k`` per round."""
    torch, snake = printer.torch, program.snake_name
    tensor = f"{torch}.Tensor"
    hypers = f", {hyper_params}" if hyper_params else ""
    shared = "".join(f", {s.name}: {tensor}" for s in program.globals)
    per_param = f"theta: {tensor}, g: {tensor}, " + "".join(
        f"{s.name}: {tensor}, " for s in program.states
    )
    views = []
    if program.globals:
        inits = ", ".join(f'"{s.name}": {printer.render(s.init)}' for s in program.globals)
        views.append(
            lowering.FunctionView(
                f"{snake}_init_globals",
                f"*{hypers}" if hypers else "",
                "dict[str, float]",
                "The initial values of the group's global states (plain numbers).",
                [],
                [],
                "{" + inits + "}",
            )
        )
    for r in split.rounds:
        before = "".join(f", {name}: {tensor}" for name in r.before)
        terms = {b.id: b for b in r.partials}
        partials = [printer.as_tensor(terms[id_].expr, name) for name, id_ in r.totals]
        if r.totals:  # a round of global states only has no terms to sum
            views.append(
                lowering.FunctionView(
                    f"{snake}_partials_{r.index}",
                    f"{per_param}*, t: int{hypers}{shared}{before}",
                    f"tuple[{tensor}, ...]",
                    f"One parameter's terms of the round-{r.index} sums across parameters "
                    f"({', '.join(name for name, _ in r.totals)}).",
                    printer.shape_preamble([b.expr for b in r.partials]),
                    lowering.statements(program, printer, r.partials),
                    lowering.tuple_items(partials),
                )
            )
        like = r.totals[0][0] if r.totals else program.globals[0].name
        group = TorchPrinter(printer.names, device, printer.internal, printer.facts, like=like)
        totals = "".join(f", {name}: {tensor}" for name, _ in r.totals)
        returned = []
        for name, id_ in r.returns:
            value = Var(id_, Role.LOCAL, REAL_SCALAR)
            returned.append(f'"{name}": {group.as_tensor(value, group.render(value))}')
        views.append(
            lowering.FunctionView(
                f"{snake}_group_{r.index}",
                f"*, t: int{hypers}{shared}{before}{totals}",
                f"dict[str, {tensor}]",
                f"The group's values of round {r.index}, computed once from the summed terms.",
                [],
                lowering.statements(program, group, r.group),
                "{" + ", ".join(returned) + "}",
            )
        )
        printer.absorb(group)
    return views
