"""Backend-neutral preparation for code generation: every decision made before templates run.

Templates stay dumb (as in FBGEMM's codegen): this module turns a Program into plain data —
hyper signatures and validation conditions, statements with their spec comments, docstring
text — and each backend adds only its own spellings.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from optc.backends.pyexpr import PythonPrinter, format_number
from optc.ir import allocation
from optc.ir.nodes import Binding, Const, Expr, Hyper, Op, Program, Role, Shape, Var, walk
from optc.ir.ops import OPS, SHAPE_NAMES
from optc.render.latex import latex_aligned


@dataclass(frozen=True)
class HyperView:
    name: str  # Python keyword-argument name
    default: str  # Python literal
    annotation: str
    valid: str  # a Python condition that holds exactly when the value is in the domain
    domain: str  # the domain, for docs
    requirement: str  # what a valid value is, for error messages


@dataclass(frozen=True)
class StatementView:
    comment: str  # the spec statement, with its line number
    code: str
    indent: str = ""  # inside Python blocks: four spaces per level


def hyper_doc(hyper: Hyper) -> str:
    """A hyper's docstring entry: its description (if the spec gives one) and its domain."""
    requirement = hyper.requirement()
    return f"{hyper.doc.rstrip('.')}; {requirement}" if hyper.doc else requirement


def hyper_view(hyper: Hyper, name: str) -> HyperView:
    """A hyper as the Python parameter ``name``."""
    if hyper.kind == "bool":
        return HyperView(
            name,
            repr(hyper.default),
            "bool",
            f"isinstance({name}, bool)",
            "{True, False}",
            hyper.requirement(),
        )
    default = format_number(hyper.default) if hyper.kind == "int" else repr(float(hyper.default))
    return HyperView(
        name,
        default,
        hyper.kind if hyper.kind == "int" else "float",
        domain_condition(hyper, name),
        hyper.domain_text(),
        hyper.requirement(),
    )


def domain_condition(hyper: Hyper, name: str) -> str:
    """A Python condition true exactly for values in the hyper's domain (NaN never is).

    An open infinite end excludes inf itself: ``lr in (0, inf)`` rejects ``lr = inf``.
    """
    parts = []
    if hyper.kind == "int":
        parts.append(f"float({name}).is_integer()")  # also rejects nan and inf
    elif domain_needs_isfinite(hyper):
        parts.append(f"math.isfinite({name})")
    lo = format_number(hyper.lo) if hyper.lo != -math.inf else None
    hi = format_number(hyper.hi) if hyper.hi != math.inf else None
    lo_op, hi_op = ("<=" if hyper.lo_closed else "<"), ("<=" if hyper.hi_closed else "<")
    if lo is not None and hi is not None:
        parts.append(f"{lo} {lo_op} {name} {hi_op} {hi}")
    elif lo is not None:  # name first, as linters prefer
        parts.append(f"{name} {'>=' if hyper.lo_closed else '>'} {lo}")
    elif hi is not None:
        parts.append(f"{name} {hi_op} {hi}")
    return " and ".join(parts) or f"{name} == {name}"


def domain_needs_isfinite(hyper: Hyper) -> bool:
    """Whether the domain condition tests ``math.isfinite``: an open infinite end (reals)."""
    open_infinite = (hyper.lo == -math.inf and not hyper.lo_closed) or (
        hyper.hi == math.inf and not hyper.hi_closed
    )
    return hyper.kind == "real" and open_infinite


def tuple_items(items: list[str]) -> str:
    """The inside of a Python tuple display: ``a, b`` or ``a,`` for one item."""
    return f"{items[0]}," if len(items) == 1 else ", ".join(items)


def python_tuple(names) -> str:
    """A tuple of string literals."""
    return "(" + tuple_items([f'"{name}"' for name in names]) + ")"


def statements(
    program: Program,
    printer: PythonPrinter,
    bindings: Iterable[Binding] | None = None,
    static: Callable[[Expr], bool] = lambda cond: True,
    cond_call: str = "",
) -> list[StatementView]:
    """Python statements for the step body (or ``bindings`` of it), one per spec statement,
    named as the printer names them. A θ-shaped, per-row or per-column state (or θ) given a
    value of fewer entries (a scalar; a per-row value for θ) is filled to its own shape, so
    states keep their shape from step to step.

    A block whose condition is ``static`` (known when the function runs: torch's Python ``t``,
    the parameter's dimensions) becomes a Python ``if``/``else``; its merges become assignments
    at the end of each branch where the names differ. Any other block becomes two local
    functions returning the merged values and a call of ``cond_call`` (``jax.lax.cond``):
    jit-stable, and the branch not taken does no work. Its statements' names must differ from
    the values before the block (the functions read those from the enclosing scope).
    """
    return BlockWriter(program, printer, static, cond_call).write(
        program.body if bindings is None else list(bindings)
    )


class BlockWriter:
    """Python statements with blocks for a list of bindings (see :func:`statements`);
    subclasses may spell each statement differently (:meth:`_statement`)."""

    def __init__(self, program: Program, printer: PythonPrinter, static, cond_call: str) -> None:
        self.printer = printer
        self.static = static
        self.cond_call = cond_call
        self.shaped = {"theta": Shape.TENSOR} | {
            s.name: s.shape for s in program.states if s.shape is not Shape.SCALAR
        }
        self.views: list[StatementView] = []
        self.open: list = []  # the blocks open (Guards), outermost first

    def write(self, bindings: list[Binding]) -> list[StatementView]:
        self.merges: dict[int, list[Binding]] = {}
        for b in bindings:
            if b.merge:
                self.merges.setdefault(b.merge, []).append(b)
        written = [b for b in bindings if not b.merge]  # merges close their blocks
        for i, binding in enumerate(written):
            following = written[i + 1] if i + 1 < len(written) else None
            self._enter(list(binding.guards))
            self._statement(binding)
            self._leave_before(following)
        self._leave_before(None)
        return self.views

    # -- opening and closing blocks -------------------------------------------------------------
    def _enter(self, guards: list) -> None:
        for guard in guards[len(self.open) :]:
            comment = f"# line {guard.line}: {guard.source}"
            if self.static(guard.cond):
                cond = self.printer.render(guard.cond)
                self._line(comment, f"if {cond}:" if guard.taken else f"if not ({cond}):")
            elif guard.taken:
                self._line(comment, f"def {self._branch(guard.block, True)}():")
            else:  # the then branch computes nothing these statements need
                self._line(comment, f"def {self._branch(guard.block, True)}():")
                self._line("", f"    return {self._values(guard.block, False)}")
                self._line("", f"def {self._branch(guard.block, False)}():")
            self.open.append(guard)

    def _leave_before(self, following: Binding | None) -> None:
        """Close the blocks ``following`` is not in (all of them at the end)."""
        want = list(following.guards) if following is not None else []
        while self.open and (
            len(want) < len(self.open) or want[len(self.open) - 1] != self.open[-1]
        ):
            guard = self.open.pop()
            depth = len(self.open)
            after = want[depth] if len(want) > depth else None
            continues = after is not None and after.block == guard.block and not after.taken
            if self.static(guard.cond):
                self._merge_assignments(guard.block, guard.taken, depth + 1)
                if guard.taken and continues:  # the else branch follows
                    self._indented(depth, "else:")
                    self.open.append(after)
                    return
                if guard.taken and self._needs_else(guard.block):
                    self._indented(depth, "else:")
                    self._merge_assignments(guard.block, False, depth + 1)
                continue
            self._indented(depth + 1, f"return {self._values(guard.block, guard.taken)}")
            if guard.taken and continues:
                self._indented(depth, f"def {self._branch(guard.block, False)}():")
                self.open.append(after)
                return
            if guard.taken:
                self._indented(depth, f"def {self._branch(guard.block, False)}():")
                self._indented(depth + 1, f"return {self._values(guard.block, False)}")
            self._cond_call(guard, depth)

    def _cond_call(self, guard, depth: int) -> None:
        merges = self.merges.get(guard.block, [])
        targets = ", ".join(self._name(m) for m in merges) + ("," if len(merges) == 1 else "")
        cond = self.printer.render(guard.cond)
        then, orelse = self._branch(guard.block, True), self._branch(guard.block, False)
        call = f"{self.cond_call}({cond}, {then}, {orelse})"
        static = [c for c in allocation.conjuncts(guard.cond) if self.static(c)]
        if static:  # `ndim >= 2 and mod(t, k) == 0`: where ndim < 2, the else branch alone
            # (tracing the other would meet states this parameter does not have)
            known = " and ".join(self.printer.render(c) for c in static)
            call = f"{call} if {known} else {orelse}()"
        self._indented(depth, f"{targets} = {call}")

    # -- merges ---------------------------------------------------------------------------------
    def _branch(self, block: int, taken: bool) -> str:
        return f"_block_{block}_{'then' if taken else 'else'}"

    def _values(self, block: int, taken: bool) -> str:
        """The merged values one branch leaves, as a tuple display."""
        values = [self.printer.render(m.expr.args[1 if taken else 2]) for m in self.merges[block]]
        return tuple_items(values) if len(values) != 1 else f"({values[0]},)"

    def _name(self, merge: Binding) -> str:
        return self.printer.render(Var(merge.id, Role.LOCAL, merge.type))

    def _needs_else(self, block: int) -> bool:
        return any(self._differs(m, False) for m in self.merges.get(block, []))

    def _differs(self, merge: Binding, taken: bool) -> bool:
        return self._name(merge) != self.printer.render(merge.expr.args[1 if taken else 2])

    def _merge_assignments(self, block: int, taken: bool, depth: int) -> None:
        for merge in self.merges.get(block, []):
            if self._differs(merge, taken):
                value = self.printer.render(merge.expr.args[1 if taken else 2])
                self._indented(depth, f"{self._name(merge)} = {value}")

    # -- lines ----------------------------------------------------------------------------------
    def _statement(self, binding: Binding) -> None:
        target = self.printer.render(Var(binding.id, Role.LOCAL, binding.type))
        value = self.printer.render(binding.expr)
        want = self.shaped.get(binding.target or "")
        if want is not None and binding.type.shape is not want:
            value = self.printer.fill_like_gradient(binding.expr, value, want)
        self._line(comment(binding), f"{target} = {value}")

    def _line(self, comment: str, code: str) -> None:
        self._indented(len(self.open), code, comment)

    def _indented(self, depth: int, code: str, comment: str = "") -> None:
        self.views.append(StatementView(comment, code, "    " * depth))


def matrix_state_init(state, printer: PythonPrinter) -> str:
    """A matrix state's initial value in the generated init function (θ is ``theta``): its
    value rendered with θ as the layout source, or ``matrix_full(theta, d0, d1, value)``."""
    saved, printer.like = printer.like, "theta"  # type: ignore[attr-defined]
    try:
        if state.init.type.is_tensor:
            return printer.render(state.init)
        dims = ", ".join(
            repr(d) if d in ("rows", "cols") else printer.names.get(d, d) for d in state.dims
        )
        return f"{printer.axis('matrix_full')}(theta, {dims}, {printer.render(state.init)})"  # type: ignore[attr-defined]
    finally:
        printer.like = saved  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Allocation:
    """States a generated init function creates only where a condition on the parameter's
    dimensions holds (optc.ir.allocation): the condition in Python and the states' inits."""

    condition: str
    inits: list[tuple[str, str, str]]  # (name, Python expression, spec text)


def split_by_allocation(
    program: Program, inits: list[tuple[str, str, str]], printer: PythonPrinter
) -> tuple[list[tuple[str, str, str]], list[Allocation]]:
    """The inits of the states every parameter has, and the others grouped by condition."""
    where = {s.name: s.where for s in program.states}
    always = [init for init in inits if where[init[0]] is None]
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for init in inits:
        if where[init[0]] is not None:
            groups.setdefault(printer.render(where[init[0]]), []).append(init)
    return always, [Allocation(cond, group) for cond, group in groups.items()]


def has_matrix_functions(body: Iterable[Binding]) -> bool:
    """Whether a step computes matrix functions: its parameters are batched by shape (a
    vmapped update per shape instead of one call per parameter)."""
    return any(
        isinstance(n, Op) and OPS[n.op].category == "matrix" for b in body for n in walk(b.expr)
    )


def allocation_exprs(program: Program) -> list[Expr]:
    """What a generated init function reads: the states' inits and allocation conditions."""
    return [s.init for s in program.states] + [s.where for s in program.states if s.where]


@dataclass(frozen=True)
class FunctionView:
    """One generated function of a phased step (backends/rounds.py), ready for a template."""

    name: str
    signature: str  # the parameter list, without parentheses
    returns: str  # the return annotation
    doc: str  # one line
    preamble: list[str]
    statements: list[StatementView]
    result: str  # the returned expression


def comment(binding: Binding) -> str:
    """The comment above a statement: its line and the spec text."""
    return f"# line {binding.span.line}: {binding.source}"


def theta_delta(program: Program, body: Iterable[Binding] | None = None) -> Op | None:
    """θ's final update as ``theta + delta`` when the spec writes it so (θ ± expression).

    Returning the increment directly (optax's convention) avoids computing ``new - theta``,
    which loses low bits in float32. None when θ's update is not of that form.
    """
    final = program.outputs["theta"]
    expr = next(b for b in (program.body if body is None else body) if b.id == final).expr
    if isinstance(expr, Op) and expr.op in ("add", "sub"):
        base, rest = expr.args
        if isinstance(base, Var) and base.name == "theta":
            return rest if expr.op == "add" else Op("neg", (rest,), rest.type)
    return None


def docstring_math(program: Program) -> str:
    """The update rule as a reST math block, for docstrings."""
    return ".. math::\n\n" + textwrap.indent(latex_aligned(program), "  ")


def is_zero(expr) -> bool:
    return isinstance(expr, Const) and not isinstance(expr.value, bool) and expr.value == 0


def spec_names(program: Program) -> set[str]:
    """Every name a spec puts into generated code: optimizer, hypers, states, locals."""
    names = {program.name, program.snake_name}
    names |= {h.name for h in program.hypers} | {s.name for s in program.states}
    names |= {b.display for b in program.body}
    return names


class InternalNames:
    """Spellings for the generated code's own names that never collide with a spec's names.

    A spec's names are public (keyword arguments, state keys) and are used exactly as written;
    when one of them equals an internal name (``torch``, ``math``, ``self``...), the internal one
    gets trailing underscores instead: ``import torch as torch_``.
    """

    def __init__(self, taken: set[str]) -> None:
        self._taken = set(taken)
        self._chosen: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in self._chosen:
            spelling = name
            while spelling in self._taken:
                spelling += "_"
            self._taken.add(spelling)
            self._chosen[name] = spelling
        return self._chosen[name]

    def import_line(self, module: str, *names: str) -> str:
        """``import torch [as torch_]`` or ``from a import b [as b_], c``."""
        if not names:
            alias = self[module]
            return f"import {module}" + (f" as {alias}" if alias != module else "")
        parts = [name + (f" as {self[name]}" if self[name] != name else "") for name in names]
        return f"from {module} import {', '.join(parts)}"


def shape_names_used(exprs: Iterable[Expr]) -> list[str]:
    """The parameter dimensions (``numel``, ``ndim``, ``rows``, ``cols``) the expressions read."""
    used = {node.name for expr in exprs for node in walk(expr) if isinstance(node, Var)}
    return [name for name in SHAPE_NAMES if name in used]


def shape_preamble(names: Iterable[str], spellings: Mapping[str, str]) -> list[str]:
    """Assignments binding each used dimension at the top of a generated function."""
    return [f"{name} = {spellings[name]}" for name in names]
