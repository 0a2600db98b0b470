"""IR → spec syntax, on the shared printer framework: for messages that quote an expression.

Locals and state versions print by their spec names, reductions by the names a spec calls them
(``norm(g, 1)``, one-argument ``max(x)``), so a message reads like the line it points at.
"""

from __future__ import annotations

from collections.abc import Hashable

from optc.ir.nodes import Const, Expr, Op, Program, Var
from optc.ir.ops import NS_SCHEDULES
from optc.ir.printer import ExprPrinter, Prec, Rendered

_INFIX = {
    "add": " + ",
    "sub": " - ",
    "mul": " * ",
    "div": " / ",
    "matmul": " @ ",
    "pow": "^",
    "and": " and ",
    "or": " or ",
    "lt": " < ",
    "le": " <= ",
    "gt": " > ",
    "ge": " >= ",
    "eq": " == ",
    "ne": " != ",
}
# Calls whose spec spelling differs from the op's name.
_CALLS = {"norm2": "norm({0})", "norm1": "norm({0}, 1)", "norminf": "norm({0}, inf)"}
_CALLS |= {"maxof": "max({0})", "minof": "min({0})", "polar": "dualize({0}, spectral)"}
_CALLS |= {f"{op}_k": f"{op}({{0}}, {{1}})" for op in ("svd_u", "svd_v", "svd_s")}
_CALLS |= {f"ns_{name}": f"newton_schulz({{0}}, {{1}}, {name})" for name in NS_SCHEDULES}


class SpecTextPrinter(ExprPrinter):
    def __init__(self, program: Program) -> None:
        super().__init__()
        self.display = {b.id: b.display for b in program.body}

    def visit(self, expr: Expr, context: Hashable = None) -> Rendered:
        if isinstance(expr, Const):
            value = expr.value
            if isinstance(value, bool):
                return ("true" if value else "false"), Prec.ATOM
            if value in (float("inf"), float("-inf")):
                return ("inf" if value > 0 else "-inf"), Prec.ATOM
            return (str(int(value)) if float(value).is_integer() else repr(value)), Prec.ATOM
        if isinstance(expr, Var):
            return self.display.get(expr.name, expr.name), Prec.ATOM
        assert isinstance(expr, Op)
        args = expr.args
        if expr.op == "ifelse":
            cond, then, orelse = (self.render(a) for a in args)
            return f"if {cond} then {then} else {orelse}", Prec.SELECT
        if expr.op == "neg":
            return f"-{self.at(args[0], Prec.UNARY)}", Prec.UNARY
        if expr.op == "not":
            return f"not {self.at(args[0], Prec.NOT)}", Prec.NOT
        if expr.op in _INFIX:
            return self.infix(expr, _INFIX[expr.op])
        if expr.op in ("as_matrix", "as_param"):  # layout only: the same matrix
            return self.rendered(args[0])
        parts = [self.render(a) for a in args]
        if expr.op in _CALLS:
            return _CALLS[expr.op].format(*parts), Prec.ATOM
        return f"{expr.op}({', '.join(parts)})", Prec.ATOM


def spec_text(expr: Expr, program: Program) -> str:
    """An IR expression in spec syntax, locals and state versions by their spec names."""
    return SpecTextPrinter(program).render(expr)
