"""IR → ``generated/triton/<name>.py``: the fused update as one Triton kernel over a chunk table.

The kernel runs the statements of ``<name>_kernel`` (the same hoisted split: the per-step
scalars of ``<name>_scalars`` are read from a small table, so a changing ``lr`` or ``t`` never
recompiles) on one ``BLOCK`` of one parameter per program, in registers: load θ, the gradient
and the states once, compute in float32 (float64 for float64 parameters), store θ and the
states the step writes. Which parameter and which block a program takes comes from a chunk
table, so one launch covers every parameter of a param group (``optc.backends.torch.chunks``
builds the table and launches).

Only elementwise steps have a kernel: no reductions, per-row or per-column values, matrix
functions, sums across parameters, scalar states or parameter dimensions
(:func:`unsupported` says why a spec has none); those keep the ``torch.compile`` fused path.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Hashable

import jinja2

from optc import pysource
from optc.backends import hoist, lowering
from optc.backends.pyexpr import ScalarFacts
from optc.backends.torch.kernel import DevicePart, KernelPrinter, device_part
from optc.backends.torch.printer import TorchPrinter
from optc.ir import phases
from optc.ir.nodes import REAL_TENSOR, Const, DType, Expr, Op, Program, Role, Shape, Var, walk
from optc.ir.ops import OPS
from optc.ir.printer import Prec, Rendered

# tl functions that compute what torch's do (IEEE or exact); the others are optc's helpers
# in optc.backends.torch.triton_ieee.
_TL_FUNCTIONS = {"abs", "exp", "log", "cos", "sin", "floor"}
_IEEE_FUNCTIONS = {"sqrt", "sign", "mod", "clip"}


def unsupported(program: Program) -> str | None:
    """Why a spec has no Triton kernel (None: it has one)."""
    if "tl" in lowering.spec_names(program):  # the interpreter reads `tl.constexpr` literally
        return "it names something `tl`, the Triton module's name for triton.language"
    if phases.plan(program) is not None:
        return "it reads across parameters (global state or sums over the group)"
    for state in program.states:
        if state.shape is not Shape.TENSOR:
            return f"state {state.name} is not θ-shaped"
    host = hoist.host_locals(program, program.body)
    for binding in program.body:
        if binding.id in host:
            continue
        for guard in binding.guards:
            if not hoist.is_host(guard.cond, host):
                return f"the block at line {guard.line} depends on the parameter"
        if lowering.shape_names_used([binding.expr]):
            return f"line {binding.span.line} reads the parameter's dimensions"
        for node in walk(binding.expr):
            if isinstance(node, Op) and OPS[node.op].category not in _ELEMENTWISE:
                return f"line {binding.span.line} has {node.op}, which is not elementwise"
            if node.type.dtype is DType.INT and not hoist.is_host(node, host):
                return f"line {binding.span.line} computes integers per element"
    return None


_ELEMENTWISE = ("arith", "compare", "logic", "select", "branch")


class TritonPrinter(KernelPrinter):
    """Spells the tensor work in ``triton.language``: the host values are the names the torch
    kernel gives them (loaded from the scalar table), everything else is a block of values
    or a literal."""

    def __init__(self, base: TorchPrinter, part: DevicePart, names: lowering.InternalNames):
        super().__init__(base, part.host)
        self.passed = dict(part.printer.passed)
        self.tl, self._ieee = "tl", names["ieee"]
        self.uses_helpers = False  # whether the kernel calls optc.backends.torch.triton_ieee
        self.block, self.compute = names["BLOCK"], names["COMPUTE"]

    def visit(self, expr: Expr, context: Hashable = None) -> Rendered:
        hosted = hoist.is_host(expr, self.host) and hoist.worth_passing(expr)
        if isinstance(expr, Op) and not hosted and not self.python_number(expr):
            if expr.op == "div" and not self.python_number(expr.args[1]):
                return self._call("div", expr.args), Prec.ATOM
            if expr.op == "pow":
                return self._power(expr)
        return super().visit(expr, context)

    @property
    def ieee_module(self) -> str:
        self.uses_helpers = True
        return self._ieee

    def _call(self, helper: str, args: tuple[Expr, ...]) -> str:
        return f"{self.ieee_module}.{helper}({', '.join(self.render(a) for a in args)})"

    def _power(self, expr: Op) -> Rendered:
        """Small integer powers as products (torch's ``pow`` is exact for ``x ** 2``), others
        through the helper ``pow``."""
        base, exponent = expr.args
        if isinstance(exponent, Const) and exponent.value in (2, 3, 4):
            factor = self.at(base, Prec.MUL + 1)
            return " * ".join([factor] * int(exponent.value)), Prec.MUL
        if isinstance(exponent, Const) and exponent.value == 1:
            return self.rendered(base)
        return self._call("pow", expr.args), Prec.ATOM

    def on_device(self, expr: Expr) -> bool:
        return not self.python_number(expr)

    def python_number(self, expr: Expr) -> bool:
        """Only literals are Python numbers in the kernel (host values are loaded)."""
        return all(isinstance(node, Const) for node in walk(expr))

    def scalar_call(self, expr: Op, args: list[str]) -> tuple[str, int]:
        return self.infix(expr, " / " if expr.op == "div" else " ** ")

    def strong_zero(self, scalar: Expr, test: str, product: str, in_sum: bool) -> tuple[str, int]:
        return f"{self.tl}.where({test} != 0, {product}, 0)", Prec.ATOM

    def inf(self) -> str:
        return f"{self.ieee_module}.INF"

    def as_tensor(self, expr: Expr, text: str) -> str:
        return text

    def fill_like_gradient(self, expr: Expr, text: str, shape: Shape = Shape.TENSOR) -> str:
        return f"{self.tl}.full(({self.block},), {text}, {self.compute})"

    def function(self, expr: Op, args: list[str]) -> tuple[str, int]:
        op, tl = expr.op, self.tl
        if op in _TL_FUNCTIONS:
            return f"{tl}.{op}({args[0]})", Prec.ATOM
        if op in _IEEE_FUNCTIONS:
            return f"{self.ieee_module}.{op}({', '.join(args)})", Prec.ATOM
        if op in ("min", "max"):
            return f"{self.ieee_module}.{op}imum({args[0]}, {args[1]})", Prec.ATOM
        if op in ("where", "ifelse"):
            return f"{tl}.where({', '.join(args)})", Prec.ATOM
        # Logic as selects: the interpreter's `&` of a block and a scalar condition fails.
        if op == "and":
            return f"{tl}.where({args[0]}, {args[1]}, False)", Prec.ATOM
        if op == "or":
            return f"{tl}.where({args[0]}, True, {args[1]})", Prec.ATOM
        if op == "not":
            return f"{tl}.where({args[0]}, False, True)", Prec.ATOM
        raise AssertionError(f"the Triton kernel cannot spell {op}")


def generate(program: Program, spec_path: str) -> str | None:
    """The formatted source of ``generated/triton/<name>.py``, or None (see :func:`unsupported`)."""
    if unsupported(program) is not None:
        return None
    snake = program.snake_name
    internal = lowering.InternalNames(lowering.spec_names(program))
    names = {name: name for name in lowering.spec_names(program)}
    names.update({b.id: b.display for b in program.body})
    # No value is a 0-d device tensor here: those are scalar states and reductions (unsupported).
    base = TorchPrinter(names, set(), internal, ScalarFacts(program))
    part = device_part(program, base, program.body)
    printer = TritonPrinter(base, part, internal)
    statements = lowering.statements(program, printer, part.body)
    if printer.passed != part.printer.passed:  # the table's layout is <name>_scalars' dict
        raise AssertionError(f"{snake}: the Triton kernel reads other scalars than the torch one")
    written = {b.target for b in part.body if b.target is not None}
    operands = [
        (name, internal[f"{name}_at"], internal[f"{name}_type"])
        for name in ["theta", "g", *(s.name for s in program.states)]
    ]
    final = {name: Var(id_, Role.LOCAL, REAL_TENSOR) for name, id_ in program.outputs.items()}
    source = _template().render(
        program=program,
        spec_path=spec_path,
        snake=snake,
        n=internal,
        operands=operands,
        uses_helpers=printer.uses_helpers,
        stored=[(at, printer.render(final[name])) for name, at, _ in operands if name in written],
        scalars=[
            (name, expr.type.dtype is DType.BOOL) for expr, name in part.printer.passed.items()
        ],
        statements=statements,
    )
    return pysource.format_python(source)


def has_kernel(program: Program) -> bool:
    """Whether the spec's step is elementwise, so that it has a Triton kernel."""
    return unsupported(program) is None


@functools.cache
def _template() -> jinja2.Template:
    text = importlib.resources.files("optc.backends.torch").joinpath("templates/triton.py.j2")
    env = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(text.read_text())
