"""How the torch backend spells IR expressions: tensors, Python numbers, and the line between.

Scalars that depend only on hypers and ``t`` stay Python floats (no device round trips, no
kernel launches); everything shaped like θ — and scalar *states*, which live on the device — is
a tensor. :class:`TorchPrinter` picks the spelling for each case.
"""

from __future__ import annotations

from optc.backends import lowering
from optc.backends.pyexpr import PythonPrinter, ScalarFacts
from optc.backends.torch import axes
from optc.ir.nodes import DType, Expr, Op, Shape, Var
from optc.ir.ops import AXIS_REDUCTIONS, LAYOUT_OPS, MATRIX_FUNCTIONS, OPS
from optc.ir.printer import Prec, operand_precedences

_TENSOR_FUNCTIONS = {"sqrt", "abs", "sign", "exp", "log", "cos", "sin", "floor"}
# Per-tensor reductions: a 0-d tensor on the parameter's device (no host sync). The maxima
# (maxof, minof, norminf) are optc.backends.torch.axes helpers: torch's raise on empty tensors.
_REDUCTIONS = {
    "norm2": "{torch}.linalg.vector_norm({0})",
    "norm1": "{torch}.linalg.vector_norm({0}, 1)",
    "rms": "{torch}.sqrt({torch}.mean({torch}.square({0})))",
    "mean": "{torch}.mean({0})",
    "sum": "{torch}.sum({0})",
    "dot": "{torch}.sum({0} * {1})",  # operands as operands of *, see function()
    "count": "{torch}.sum({0}, dtype=g.dtype)",
}
_EMPTY_SAFE = {"maxof", "minof", "norminf"}
# The parameter's dimensions, bound at the top of the generated functions that read them.
_SHAPES = {
    "numel": "theta.numel()",
    "ndim": "theta.ndim",
    "rows": "theta.shape[0] if theta.ndim else 1",
    "cols": "{math}.prod(theta.shape[1:])",
}
# Plain-number functions that Python's math would raise on (or, for sign, a NaN it would keep
# or drop by argument order): spelled with optc.backends.ieee, docs/language.md "Non-finite".
_IEEE_FUNCTIONS = {"sqrt", "exp", "log", "sign", "cos", "sin", "floor"}


# Matrix functions and layout changes are helpers of optc.backends.torch.axes (`@` is infix).
_MISSING = [
    op for op in (*MATRIX_FUNCTIONS, *LAYOUT_OPS) if op != "matmul" and op not in axes.__all__
]
assert not _MISSING, f"optc.backends.torch.axes must spell {_MISSING}"


class TorchPrinter(PythonPrinter):
    """Spells IR functions for torch; ``torch``/``math`` as the module imports them."""

    def __init__(
        self,
        names: dict[str, str],
        device_values: set[str],
        internal: lowering.InternalNames,
        facts: ScalarFacts | None = None,
        like: str = "g",
    ) -> None:
        super().__init__(names, facts)
        self.device_values = device_values
        self.like = like  # a tensor argument: new tensors take its dtype and device
        self._device: dict[int, tuple[Expr, bool]] = {}
        self.internal = internal
        self.torch = internal["torch"]
        self.math = internal["math"]
        self.uses_math = False
        self.uses_ieee = False
        self.axes: set[str] = set()  # helpers of optc.backends.torch.axes the code calls

    def absorb(self, other: TorchPrinter) -> None:
        """Take over what another printer of the same module used (imports are decided from
        the main printer's flags)."""
        self.uses_math |= other.uses_math
        self.uses_ieee |= other.uses_ieee
        self.axes |= other.axes

    def axis(self, name: str) -> str:
        """A helper of ``optc.backends.torch.axes`` (``row_mean``, ``rows_shape``...)."""
        self.axes.add(name)
        return self.internal[name]

    @property
    def ieee(self) -> str:
        self.uses_ieee = True
        return self.internal["ieee"]

    def inf(self) -> str:
        self.uses_math = True
        return f"{self.math}.inf"

    def on_device(self, expr: Expr) -> bool:
        """Whether the value is a tensor at run time (θ-shaped, or a scalar state's 0-d tensor).

        Decided bottom-up once per node (memoised), so printing stays linear in the tree size.
        """
        hit = self._device.get(id(expr))
        if hit is None:
            if expr.type.is_tensor:
                value = True
            elif isinstance(expr, Var):
                value = expr.name in self.device_values
            else:
                value = isinstance(expr, Op) and (
                    OPS[expr.op].category in ("reduce", "global", "matrix", "layout")
                    or any(self.on_device(a) for a in expr.args)
                )
            hit = self._device[id(expr)] = (expr, value)
        return hit[1]

    def python_number(self, expr: Expr) -> bool:
        return not self.on_device(expr)

    def scalar_call(self, expr: Op, args: list[str]) -> tuple[str, int]:
        return f"{self.ieee}.{expr.op}({', '.join(args)})", Prec.ATOM

    def strong_zero(self, scalar: Expr, test: str, product: str, in_sum: bool) -> tuple[str, int]:
        if self.on_device(scalar):  # a scalar state: no Python branch on a device value
            return f"{self.torch}.where({test} != 0, {product}, 0)", Prec.ATOM
        zero = "0" if in_sum else f"{self.torch}.zeros_like({self.like})"
        return f"{product} if {test} != 0 else {zero}", Prec.SELECT

    def as_tensor(self, expr: Expr, text: str) -> str:
        return text if self.on_device(expr) else f"{self.like}.new_tensor({text})"

    def fill_like_gradient(self, expr: Expr, text: str, shape: Shape = Shape.TENSOR) -> str:
        if shape is Shape.SCALAR:  # a number beside a per-tensor scalar: a 0-d tensor
            return f"{self.like}.new_full((), {text})"
        if shape is not Shape.TENSOR:  # a per-row or per-column state given a scalar
            size = f"{self.axis(shape.value + '_shape')}({self.like})"
            if self.on_device(expr):
                return f"({text}).expand({size}).clone()"
            return f"{self.like}.new_full({size}, {text})"
        if self.on_device(expr):  # a scalar state's 0-d tensor, a per-row or per-column value
            return f"({text}).expand_as({self.like}).clone()"
        return f"{self.torch}.full_like({self.like}, {text})"

    def shape_preamble(self, exprs: list[Expr]) -> list[str]:
        """``rows = ...`` lines for the dimensions the expressions read."""
        names = lowering.shape_names_used(exprs)
        self.uses_math |= "cols" in names
        spellings = {k: v.format(math=self.math) for k, v in _SHAPES.items()}
        return lowering.shape_preamble(names, spellings)

    def function(self, expr: Op, args: list[str]) -> tuple[str, int]:
        op, a = expr.op, expr.args
        if op == "dot":  # the operands of a product: dot(g, a - b) is sum(g * (a - b))
            args = [self.at(x, p) for x, p in zip(a, operand_precedences("mul"), strict=True)]
        if op in AXIS_REDUCTIONS or op in _EMPTY_SAFE:
            return f"{self.axis(op)}({args[0]})", Prec.ATOM
        if OPS[op].category in ("matrix", "layout"):  # optc.backends.torch.axes (and .linalg)
            return self.matrix_function(expr, args, self.like)
        if op in _REDUCTIONS:
            return _REDUCTIONS[op].format(*args, torch=self.torch, math=self.math), Prec.ATOM
        if op in _TENSOR_FUNCTIONS:
            if self.on_device(a[0]):
                return f"{self.torch}.{op}({args[0]})", Prec.ATOM
            if op in _IEEE_FUNCTIONS:
                return f"{self.ieee}.{op}({args[0]})", Prec.ATOM
            return f"{op}({args[0]})", Prec.ATOM
        if op == "mod":  # Python's % (the divisor's sign) in every spelling
            if any(self.on_device(x) for x in a):
                return f"{self.torch}.remainder({args[0]}, {args[1]})", Prec.ATOM
            if all(x.type.dtype is DType.INT for x in a):
                return f"{self.at(a[0], Prec.MUL)} % {self.at(a[1], Prec.MUL + 1)}", Prec.MUL
            return f"{self.ieee}.mod({args[0]}, {args[1]})", Prec.ATOM
        if op in ("min", "max"):
            tensors = [self.on_device(x) for x in a]
            if all(tensors):
                return (
                    f"{self.torch}.{'minimum' if op == 'min' else 'maximum'}({args[0]}, {args[1]})",
                    Prec.ATOM,
                )
            if any(tensors):
                tensor, scalar = (args[0], args[1]) if tensors[0] else (args[1], args[0])
                bound = "max" if op == "min" else "min"
                return f"{self.torch}.clamp({tensor}, {bound}={scalar})", Prec.ATOM
            if all(x.type.dtype is DType.INT for x in a):  # integers: no NaN to lose
                return f"{op}({args[0]}, {args[1]})", Prec.ATOM
            return (
                f"{self.ieee}.{'minimum' if op == 'min' else 'maximum'}({args[0]}, {args[1]})",
                Prec.ATOM,
            )
        if op == "clip":
            x = self.as_tensor(a[0], args[0]) if self.on_device(expr) else args[0]
            if not self.on_device(expr):
                return f"{self.ieee}.clip({args[0]}, {args[1]}, {args[2]})", Prec.ATOM
            if self.on_device(a[1]) == self.on_device(a[2]):
                return f"{self.torch}.clamp({x}, {args[1]}, {args[2]})", Prec.ATOM
            inner = f"{self.torch}.clamp({x}, min={args[1]})"
            return f"{self.torch}.clamp({inner}, max={args[2]})", Prec.ATOM
        if op in ("where", "ifelse"):
            if not self.on_device(a[0]):
                if not self.on_device(expr):
                    return self.ternary(expr)
                # A scalar condition choosing between a tensor and a scalar: fill the scalar
                # branch, so the value is a θ-shaped tensor whichever way the condition goes.
                then_text = self._branch(a[1], args[1], expr.type.shape)
                orelse_text = self._branch(a[2], args[2], expr.type.shape)
                return f"{then_text} if {args[0]} else {orelse_text}", Prec.SELECT
            # With two scalar branches torch.where would return the default dtype; make one a
            # tensor of the gradient's dtype. One tensor branch sets the dtype by itself.
            both_scalar = not (self.on_device(a[1]) or self.on_device(a[2]))
            then = self.as_tensor(a[1], args[1]) if both_scalar else args[1]
            return f"{self.torch}.where({args[0]}, {then}, {args[2]})", Prec.ATOM
        if op in ("and", "or", "not"):
            if not self.on_device(expr):
                return self.logic(expr)
            tensors = [self.as_tensor(x, text) for x, text in zip(a, args, strict=True)]
            return f"{self.torch}.logical_{op}({', '.join(tensors)})", Prec.ATOM
        raise AssertionError(f"torch backend cannot spell {op}")

    def _branch(self, expr: Expr, text: str, shape: Shape) -> str:
        if shape is Shape.SCALAR:  # a per-tensor scalar (the other branch a 0-d tensor)
            text = self.as_tensor(expr, text)
        elif not self.on_device(expr) or (expr.type.is_tensor and expr.type.shape is not shape):
            text = self.fill_like_gradient(expr, text, shape)
        return text if self.rendered(expr)[1] > Prec.SELECT else f"({text})"
