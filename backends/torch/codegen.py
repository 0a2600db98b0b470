"""IR → a ``torch.optim.Optimizer`` module.

The module has three public pieces, in the style of torch.optim: ``<name>_init`` (one
parameter's initial state), ``<name>_update`` (one readable, pure single-tensor step — the ground
truth) and the ``Optimizer`` class that owns param groups, state and the step loop.

Scalars that depend only on hypers and ``t`` stay Python floats (no device round trips, no
kernel launches); everything shaped like θ — and scalar *states*, which live on the device — is
a tensor. :class:`TorchPrinter` picks the spelling for each case.
"""

from __future__ import annotations

import functools
import importlib.resources

import jinja2

from optc.backends import lowering
from optc.backends.pyexpr import ATOM, TERNARY, PythonPrinter, python_name
from optc.ir.nodes import Expr, Op, Program, Shape, Var, free_vars

_TENSOR_FUNCTIONS = {"sqrt", "abs", "sign", "exp", "log"}
_SCALAR_FUNCTIONS = {"sqrt": "math.sqrt", "abs": "abs", "exp": "math.exp", "log": "math.log"}


class TorchPrinter(PythonPrinter):
    def __init__(self, names: dict[str, str], device_values: set[str]) -> None:
        super().__init__(names)
        self.device_values = device_values

    def inf(self) -> str:
        return "math.inf"

    def on_device(self, expr: Expr) -> bool:
        """Whether the value is a tensor at run time (θ-shaped, or a scalar state's 0-d tensor)."""
        return expr.type.is_tensor or bool(free_vars(expr) & self.device_values)

    def as_tensor(self, expr: Expr, text: str) -> str:
        return text if self.on_device(expr) else f"g.new_tensor({text})"

    def fill_like_gradient(self, expr: Expr, text: str) -> str:
        if self.on_device(expr):  # a scalar state's 0-d tensor
            return f"({text}).expand_as(g).clone()"
        return f"torch.full_like(g, {text})"

    def function(self, expr: Op, args: list[str]) -> tuple[str, int]:
        op, a = expr.op, expr.args
        if op in _TENSOR_FUNCTIONS:
            if self.on_device(a[0]):
                return f"torch.{op}({args[0]})", ATOM
            if op == "sign":
                x = args[0]
                return f"(({x} > 0) - ({x} < 0))", ATOM
            return f"{_SCALAR_FUNCTIONS[op]}({args[0]})", ATOM
        if op in ("min", "max"):
            tensors = [self.on_device(x) for x in a]
            if all(tensors):
                return (
                    f"torch.{'minimum' if op == 'min' else 'maximum'}({args[0]}, {args[1]})",
                    ATOM,
                )
            if any(tensors):
                tensor, scalar = (args[0], args[1]) if tensors[0] else (args[1], args[0])
                bound = "max" if op == "min" else "min"
                return f"torch.clamp({tensor}, {bound}={scalar})", ATOM
            return f"{op}({args[0]}, {args[1]})", ATOM
        if op == "clip":
            x = self.as_tensor(a[0], args[0]) if self.on_device(expr) else args[0]
            if not self.on_device(expr):
                return f"min(max({args[0]}, {args[1]}), {args[2]})", ATOM
            if self.on_device(a[1]) == self.on_device(a[2]):
                return f"torch.clamp({x}, {args[1]}, {args[2]})", ATOM
            return f"torch.clamp(torch.clamp({x}, min={args[1]}), max={args[2]})", ATOM
        if op in ("where", "ifelse"):
            if not self.on_device(a[0]):
                if not self.on_device(expr):
                    return self.ternary(expr)
                # A scalar condition choosing between a tensor and a scalar: fill the scalar
                # branch, so the value is a θ-shaped tensor whichever way the condition goes.
                then_text = self._branch(a[1], args[1])
                orelse_text = self._branch(a[2], args[2])
                return f"{then_text} if {args[0]} else {orelse_text}", TERNARY
            # With two scalar branches torch.where would return the default dtype; make one a
            # tensor of the gradient's dtype. One tensor branch sets the dtype by itself.
            both_scalar = not (self.on_device(a[1]) or self.on_device(a[2]))
            then = self.as_tensor(a[1], args[1]) if both_scalar else args[1]
            return f"torch.where({args[0]}, {then}, {args[2]})", ATOM
        if op in ("and", "or", "not"):
            if not self.on_device(expr):
                return self.logic(expr)
            tensors = [self.as_tensor(x, text) for x, text in zip(a, args, strict=True)]
            return f"torch.logical_{op}({', '.join(tensors)})", ATOM
        raise AssertionError(f"torch backend cannot spell {op}")

    def _branch(self, expr: Expr, text: str) -> str:
        text = text if self.on_device(expr) else self.fill_like_gradient(expr, text)
        return text if self._render(expr)[1] > TERNARY else f"({text})"


def _device_values(program: Program) -> set[str]:
    """Scalar states, and every binding computed from one, live on the device."""
    device = {s.name for s in program.states if s.shape is Shape.SCALAR}
    for binding in program.body:
        if free_vars(binding.expr) & device:
            device.add(binding.id)
    return device


def _state_init(program: Program, printer: TorchPrinter) -> list[tuple[str, str, str]]:
    """(name, Python expression, spec text) for each state's initial value."""
    result = []
    for state in program.states:
        init = state.init
        if state.shape is Shape.SCALAR:
            code = (
                "theta.new_zeros(())"
                if lowering.is_zero(init)
                else f"theta.new_full((), {printer.render(init)})"
            )
        elif lowering.is_zero(init):
            code = "torch.zeros_like(theta, memory_format=torch.preserve_format)"
        elif isinstance(init, Var) and init.name == "theta":
            code = "theta.clone(memory_format=torch.preserve_format)"
        elif init.type.is_tensor:
            code = printer.render(init)
        else:
            code = f"torch.full_like(theta, {printer.render(init)}, memory_format=torch.preserve_format)"
        source = program.source.splitlines()[state.span.line - 1].strip()
        result.append((state.name, code, source))
    return result


@functools.cache
def _template() -> jinja2.Template:
    text = importlib.resources.files("optc.backends.torch").joinpath("templates/module.py.j2")
    env = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(text.read_text())


def generate(program: Program, spec_path: str) -> str:
    """The formatted source of ``generated/torch/<name>.py``."""
    printer = TorchPrinter(lowering.python_names(program), _device_values(program))
    statements = lowering.statements(program, printer)
    inits = _state_init(program, printer)
    hypers = lowering.hyper_views(program)
    source = _template().render(
        uses_math=lowering.uses_math(statements, hypers, [code for _, code, _ in inits]),
        dunder_all=lowering.dunder_all(
            [program.name, f"{program.snake_name}_init", f"{program.snake_name}_update"]
        ),
        program=program,
        spec_path=spec_path,
        snake=program.snake_name,
        hypers=hypers,
        states=[python_name(s.name) for s in program.states],
        state_keys=[s.name for s in program.states],
        inits=inits,
        statements=statements,
        math=lowering.docstring_math(program),
        **lowering.signature_parts(program),
    )
    return lowering.format_python(source)
