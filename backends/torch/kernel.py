"""The update split for the fast paths: ``<name>_scalars`` and ``<name>_kernel``.

``<name>_scalars(t=..., **hypers)`` computes the step's per-step scalars on the host, once per
param group (:mod:`optc.backends.hoist` says which values those are); ``<name>_kernel`` is the
rest of ``<name>_update`` — the same statements, in the same order — with every such value
read from a keyword argument. The runtime passes real and integer scalars as 0-d tensors and
conditions as Python bools, so ``torch.compile`` of a loop of kernels traces one graph that a
changing ``lr`` or ``t`` does not invalidate. The readable ``<name>_update`` stays the ground
truth; the tests hold the kernel to it for every spec.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

from optc.backends import hoist, lowering
from optc.backends.torch.printer import TorchPrinter
from optc.ir.nodes import Binding, DType, Expr, Program, Var
from optc.ir.printer import Prec, Rendered


class KernelPrinter(TorchPrinter):
    """A :class:`TorchPrinter` that prints each maximal host subexpression as the name of a
    keyword argument, and spells it as the 0-d tensor (or, for a condition, the bool) the
    runtime passes."""

    def __init__(self, base: TorchPrinter, host: set[str]) -> None:
        super().__init__(base.names, base.device_values, base.internal, base.facts, base.like)
        self.host = host
        self.passed: dict[Expr, str] = {}  # host expression → argument name, in order of use
        self._numbered = 0

    def visit(self, expr: Expr, context: Hashable = None) -> Rendered:
        if hoist.is_host(expr, self.host) and hoist.worth_passing(expr):
            return self._argument(expr), Prec.ATOM
        return super().visit(expr, context)

    def on_device(self, expr: Expr) -> bool:
        if hoist.is_host(expr, self.host) and hoist.worth_passing(expr):
            return expr.type.dtype is not DType.BOOL
        return super().on_device(expr)

    def _argument(self, expr: Expr) -> str:
        name = self.passed.get(expr)
        if name is None:
            if isinstance(expr, Var):  # a hyper, t, or a named local: keep its name
                name = self.names.get(expr.name, expr.name)
            else:
                name = self.internal[f"s{self._numbered}"]
                self._numbered += 1
            self.passed[expr] = name
        return name


@dataclasses.dataclass(frozen=True)
class DevicePart:
    """The tensor work of an update body: what ``<name>_kernel`` runs (and the Triton kernel)."""

    host: set[str]  # the ids of the host locals (computed by ``<name>_scalars``)
    printer: KernelPrinter  # its ``passed``: host expression → argument name, in order
    body: list[Binding]  # the other bindings, in body order
    statements: list[lowering.StatementView]  # those bindings as torch statements


def device_part(program: Program, printer: TorchPrinter, update_body: list[Binding]) -> DevicePart:
    """Split an update body into host scalars and tensor work, printing the tensor work."""
    host = hoist.host_locals(program, update_body)
    kernel = KernelPrinter(printer, host)
    device_body = [b for b in update_body if b.id not in host]
    statements = lowering.statements(program, kernel, device_body)
    return DevicePart(host, kernel, device_body, statements)


def kernel_function(
    program: Program, printer: TorchPrinter, update_body: list[Binding], update_extra: str
) -> tuple[KernelPrinter, lowering.FunctionView]:
    """``<name>_kernel`` for an update body, and the printer that named its scalars (the
    multi-tensor path reads the same ones; :func:`scalars_function` then returns them all).
    The Triton kernel reads the first of them, in this order (their table is positional)."""
    tensor = f"{printer.torch}.Tensor"
    part = device_part(program, printer, update_body)
    kernel, device_body, statements = part.printer, part.body, part.statements
    preamble = kernel.shape_preamble([b.expr for b in device_body])
    printer.absorb(kernel)
    passed = "".join(
        f", {name}: {'bool' if expr.type.dtype is DType.BOOL else tensor}"
        for expr, name in kernel.passed.items()
    )
    states = "".join(f"{s.name}: {tensor}, " for s in program.states)
    outputs = ", ".join(["theta", *(s.name for s in program.states)])
    return kernel, lowering.FunctionView(
        f"{program.snake_name}_kernel",
        f"theta: {tensor}, g: {tensor}, {states}"
        + (f"*{passed}{update_extra}" if passed or update_extra else "").rstrip(", "),
        f"tuple[{tensor}, ...]",
        f"{program.snake_name}_update with the per-step scalars of "
        f"{program.snake_name}_scalars as arguments.",
        preamble,
        statements,
        outputs + ("," if not program.states else ""),
    )


def scalars_function(
    program: Program,
    printer: TorchPrinter,
    kernel: KernelPrinter,
    update_body: list[Binding],
    hyper_params: str,
) -> lowering.FunctionView:
    """``<name>_scalars``: every host value the kernel (and the foreach function) read."""
    snake = program.snake_name
    scalar_body = [_unconditional(b) for b in update_body if b.id in kernel.host]
    scalar_values = [f'"{name}": {printer.render(expr)}' for expr, name in kernel.passed.items()]
    return lowering.FunctionView(
        f"{snake}_scalars",
        f"*, t: int, {hyper_params}" if hyper_params else "*, t: int",
        "dict[str, float | bool]",
        f"The per-step scalars {snake}_kernel reads: values of t and the hypers only.",
        [],
        lowering.statements(program, printer, scalar_body),
        "{" + ", ".join(scalar_values) + "}",
    )


def _unconditional(binding: Binding) -> Binding:
    """A host binding outside the blocks it sits in (a merge becomes its select): a value of
    ``t`` and the hypers is pure and IEEE, so computing it whichever branch is taken is safe,
    and the kernel's arguments then exist on every step."""
    return dataclasses.replace(binding, guards=(), merge=0)
