"""IR → LaTeX, in the notation of the summary sheet (θ, g, η, β₁, ε, λ).

Used for the docstrings of generated code and by ``optc show --latex``.
"""

from __future__ import annotations

import re

from optc.ir.nodes import Const, Expr, Program, Var

_GREEK = {
    "theta": r"\theta",
    "lr": r"\eta",
    "eps": r"\epsilon",
    "weight_decay": r"\lambda",
    "alpha": r"\alpha",
    "beta": r"\beta",
    "gamma": r"\gamma",
    "delta": r"\delta",
    "rho": r"\rho",
    "mu": r"\mu",
    "nu": r"\nu",
    "tau": r"\tau",
    "kappa": r"\kappa",
    "sigma": r"\sigma",
    "momentum": r"\mu",
    "inf": r"\infty",
}

# Greek letters by name (used inside compound names; the aliases above only for whole names).
_LETTERS = {
    k: v for k, v in _GREEK.items() if k not in ("lr", "eps", "weight_decay", "momentum", "inf")
}
_LETTERS["eps"] = r"\epsilon"

ADD, MUL, UNARY, POW, ATOM = range(1, 6)


def latex_name(name: str) -> str:
    """``beta1`` → ``\\beta_1``, ``m_hat`` → ``\\hat{m}``, ``lr`` → ``\\eta``."""
    if name in _GREEK:
        return _GREEK[name]
    for accent in ("hat", "bar", "tilde"):
        if name.endswith(f"_{accent}"):
            return rf"\{accent}{{{latex_name(name[: -len(accent) - 1])}}}"
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name)
    if match:
        return f"{latex_name(match.group(1))}_{{{match.group(2)}}}"
    if "_" in name:
        head, tail = name.split("_", 1)
        tail = tail if len(tail) == 1 else rf"\mathrm{{{tail.replace('_', ' ')}}}"
        match = re.fullmatch(r"([A-Za-z]+?)(\d+)", head)
        if match and match.group(1) in _LETTERS:  # beta1_decay → \beta_{1,\mathrm{decay}}
            return rf"{_LETTERS[match.group(1)]}_{{{match.group(2)},{tail}}}"
        if head in _LETTERS or len(head) == 1:
            return rf"{_LETTERS.get(head, head)}_{{{tail}}}"
        escaped = name.replace("_", r"\_")
        return rf"\mathrm{{{escaped}}}"
    return name if len(name) == 1 else rf"\mathrm{{{name}}}"


_RELATIONS = {"lt": "<", "le": r"\le", "gt": ">", "ge": r"\ge", "eq": "=", "ne": r"\ne"}
_FUNCTIONS = {
    "sqrt": None,
    "abs": None,
    "sign": r"\operatorname{sign}",
    "exp": r"\exp",
    "log": r"\log",
    "min": r"\min",
    "max": r"\max",
    "clip": r"\operatorname{clip}",
}


class LatexPrinter:
    def __init__(self, program: Program) -> None:
        self.display = {b.id: b.display for b in program.body}

    def render(self, expr: Expr) -> str:
        return self._render(expr)[0]

    def _at(self, expr: Expr, min_prec: int) -> str:
        text, prec = self._render(expr)
        return text if prec >= min_prec else rf"\left({text}\right)"

    def _render(self, expr: Expr) -> tuple[str, int]:
        if isinstance(expr, Const):
            if isinstance(expr.value, bool):
                return (r"\mathrm{true}" if expr.value else r"\mathrm{false}"), ATOM
            if expr.value == float("inf"):
                return r"\infty", ATOM
            value = expr.value
            return (str(int(value)) if float(value).is_integer() else f"{value:g}"), ATOM
        if isinstance(expr, Var):
            return latex_name(self.display.get(expr.name, expr.name)), ATOM
        a = expr.args
        match expr.op:
            case "add":
                return f"{self._at(a[0], ADD)} + {self._at(a[1], ADD)}", ADD
            case "sub":
                return f"{self._at(a[0], ADD)} - {self._at(a[1], MUL)}", ADD
            case "mul":
                right = self._at(a[1], MUL)
                sep = r" \cdot " if right[:1].isdigit() else " "
                return f"{self._at(a[0], MUL)}{sep}{right}", MUL
            case "div":
                return rf"\frac{{{self.render(a[0])}}}{{{self.render(a[1])}}}", ATOM
            case "neg":
                return f"-{self._at(a[0], MUL)}", UNARY
            case "pow":
                return f"{{{self._at(a[0], ATOM)}}}^{{{self.render(a[1])}}}", POW
            case "sqrt":
                return rf"\sqrt{{{self.render(a[0])}}}", ATOM
            case "abs":
                return rf"\left|{self.render(a[0])}\right|", ATOM
            case op if op in _RELATIONS:
                return f"{self._at(a[0], ADD)} {_RELATIONS[op]} {self._at(a[1], ADD)}", 0
            case "and" | "or":
                symbol = r"\land" if expr.op == "and" else r"\lor"
                return f"{self._at(a[0], 1)} {symbol} {self._at(a[1], 1)}", 0
            case "not":
                return rf"\lnot {self._at(a[0], ATOM)}", UNARY
            case "where" | "ifelse":
                cond, then, orelse = (self.render(x) for x in a)
                return (
                    rf"\begin{{cases}} {then} & \text{{if }} {cond} \\ "
                    rf"{orelse} & \text{{otherwise}} \end{{cases}}",
                    ATOM,
                )
        args = ", ".join(self.render(x) for x in a)
        return rf"{_FUNCTIONS[expr.op]}\left({args}\right)", ATOM


def latex_statements(program: Program) -> list[str]:
    """One LaTeX line per step statement: ``m \\leftarrow \\beta_1 m + (1 - \\beta_1) g``."""
    printer = LatexPrinter(program)
    lines = []
    for binding in program.body:
        arrow = r"\leftarrow" if binding.target else "="
        lines.append(f"{latex_name(binding.display)} {arrow} {printer.render(binding.expr)}")
    return lines


def latex_aligned(program: Program, indent: str = "  ") -> str:
    """The whole step as one LaTeX ``aligned`` environment."""
    rows = " \\\\\n".join(f"{indent}&{line}" for line in latex_statements(program))
    return f"\\begin{{aligned}}\n{rows}\n\\end{{aligned}}"
