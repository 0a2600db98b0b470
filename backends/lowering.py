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
from optc.ir.nodes import Binding, Const, Expr, Hyper, Op, Program, Role, Shape, Var, walk
from optc.ir.ops import SHAPE_NAMES
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
) -> list[StatementView]:
    """Python statements for the step body (or ``bindings`` of it), one per spec statement,
    named as the printer names them. A θ-shaped state (or θ) given a scalar value is filled to
    θ's shape, so states keep their shape from step to step.

    A block whose condition is ``static`` (known when the function runs: torch's Python ``t``,
    the parameter's dimensions) becomes a Python ``if``/``else``; its merges become assignments
    at the end of each branch where the names differ. Any other block is computed whole and its
    merges select (``where``) — jit-stable for a traced ``t``.
    """
    return _BlockWriter(program, printer, static).write(
        program.body if bindings is None else list(bindings)
    )


class _BlockWriter:
    def __init__(self, program: Program, printer: PythonPrinter, static) -> None:
        self.printer = printer
        self.static = static
        self.tensor_targets = {"theta"} | {
            s.name for s in program.states if s.shape is Shape.TENSOR
        }
        self.views: list[StatementView] = []
        self.open: list = []  # the Python blocks open (Guards), outermost first

    def write(self, bindings: list[Binding]) -> list[StatementView]:
        self.merges = {b.merge: [] for b in bindings if b.merge}
        for b in bindings:
            if b.merge:
                self.merges[b.merge].append(b)
        # a Python block's merges are written as assignments at the end of each branch
        written = [b for b in bindings if not (b.merge and self._python_block(b.expr.args[0]))]
        for i, binding in enumerate(written):
            following = written[i + 1] if i + 1 < len(written) else None
            self._enter(self._python_guards(binding))
            self._statement(binding)
            self._leave_before(following)
        self._leave_before(None)
        return self.views

    def _python_block(self, cond: Expr) -> bool:
        return self.static(cond)

    def _python_guards(self, binding: Binding | None) -> list:
        if binding is None:
            return []
        return [g for g in binding.guards if self._python_block(g.cond)]

    def _enter(self, guards: list) -> None:
        for guard in guards[len(self.open) :]:
            cond = self.printer.render(guard.cond)
            comment = f"# line {guard.line}: {guard.source}"
            self._line(comment, f"if {cond}:" if guard.taken else f"if not ({cond}):")
            self.open.append(guard)

    def _leave_before(self, following: Binding | None) -> None:
        """Close the blocks ``following`` is not in (all of them at the end)."""
        want = self._python_guards(following)
        while self.open and (
            len(want) < len(self.open) or want[len(self.open) - 1] != self.open[-1]
        ):
            guard = self.open.pop()
            self._merge_assignments(guard.block, guard.taken, len(self.open) + 1)
            continues = len(want) > len(self.open) and want[len(self.open)].block == guard.block
            if guard.taken and continues:  # the else branch follows: `else:` replaces the if
                self.views.append(StatementView("", "else:", "    " * len(self.open)))
                self.open.append(want[len(self.open)])
                return
            if guard.taken and self._needs_else(guard.block):
                self.views.append(StatementView("", "else:", "    " * len(self.open)))
                self._merge_assignments(guard.block, False, len(self.open) + 1)

    def _needs_else(self, block: int) -> bool:
        return any(self._differs(m, False) for m in self.merges.get(block, []))

    def _differs(self, merge: Binding, taken: bool) -> bool:
        source = merge.expr.args[1 if taken else 2]
        return self.printer.render(Var(merge.id, Role.LOCAL, merge.type)) != self.printer.render(
            source
        )

    def _merge_assignments(self, block: int, taken: bool, depth: int) -> None:
        for merge in self.merges.get(block, []):
            if self._differs(merge, taken):
                target = self.printer.render(Var(merge.id, Role.LOCAL, merge.type))
                value = self.printer.render(merge.expr.args[1 if taken else 2])
                self.views.append(StatementView("", f"{target} = {value}", "    " * depth))

    def _statement(self, binding: Binding) -> None:
        target = self.printer.render(Var(binding.id, Role.LOCAL, binding.type))
        value = self.printer.render(binding.expr)
        if binding.target in self.tensor_targets and not binding.type.is_tensor:
            value = self.printer.fill_like_gradient(binding.expr, value)
        self._line(_comment(binding), f"{target} = {value}")

    def _line(self, comment: str, code: str) -> None:
        self.views.append(StatementView(comment, code, "    " * len(self.open)))


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


def _comment(binding: Binding) -> str:
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
