"""IR → LaTeX, in the notation of the summary sheet (θ, g, η, β₁, ε, λ).

Used for the docstrings of generated code and by ``optc show --latex``. The output uses only
commands that amsmath, MathJax and KaTeX all know (``aligned``, ``cases``, ``\\text``,
``\\operatorname``, ``\\left``/``\\right``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from optc.ir.nodes import Const, Expr, Guard, Op, Program, Var
from optc.ir.ops import NS_SCHEDULES
from optc.ir.printer import ExprPrinter, Prec, Rendered

# Whole names with a conventional symbol.
_GREEK = {
    "theta": r"\theta",
    "lr": r"\eta",
    "eps": r"\epsilon",
    "weight_decay": r"\lambda",
    "momentum": r"\mu",
    "inf": r"\infty",
}

# Greek letters by name: a whole name, or the head of a compound one (``beta1_decay``).
_GREEK_LETTERS = """
    alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau
    upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
"""
_LETTERS = {name: "\\" + name for name in _GREEK_LETTERS.split()}
_LETTERS["eps"] = r"\epsilon"

# Words of a compound name's tail that have a symbol of their own as a subscript.
_SUBSCRIPT_WORDS = {"inf": r"\infty", "plus": "+", "minus": "-"}

_ACCENTS = ("hat", "bar", "tilde")

# Precedence levels of the shared printer framework (a cases block binds like a select).
CASES, OR, AND, NOT, REL, ADD, MUL, UNARY, POW, ATOM = (
    Prec.SELECT,
    Prec.OR,
    Prec.AND,
    Prec.NOT,
    Prec.COMPARE,
    Prec.ADD,
    Prec.MUL,
    Prec.UNARY,
    Prec.POWER,
    Prec.ATOM,
)


def latex_name(name: str) -> str:
    r"""A spec name as a math symbol.

    ``lr`` → ``\eta``, ``beta1`` → ``\beta_{1}``, ``m_hat`` → ``\hat{m}``,
    ``m1_hat`` → ``\hat{m}_{1}``, ``rho_inf`` → ``\rho_{\infty}``,
    ``t_alpha_beta3`` → ``t_{\alpha,\beta_{3}}``, ``beta1_decay`` → ``\beta_{1,\mathrm{decay}}``,
    ``step_size`` → ``\mathrm{step\_size}``.
    """
    if name in _GREEK:
        return _GREEK[name]
    parts = name.split("_")
    accents = [part for part in parts[1:] if part in _ACCENTS]
    parts = [parts[0]] + [part for part in parts[1:] if part not in _ACCENTS]
    head, index = _split_index(parts[0])
    base = _symbol(head)
    if "_".join(parts) in _GREEK:  # lr_hat → \hat{\eta}
        base, subscripts = _GREEK["_".join(parts)], []
    elif base is not None:
        subscripts = ([index] if index else []) + _subscripts([p for p in parts[1:] if p])
    elif index and len(parts) == 1:  # gp2 → \mathrm{gp}_{2}
        base, subscripts = _word(head), [index]
    else:  # a word: upright, underscores kept
        base, subscripts = _word("_".join(parts)), []
    for accent in accents:
        base = rf"\{accent}{{{base}}}"
    return f"{base}_{{{','.join(subscripts)}}}" if subscripts else base


def _split_index(word: str) -> tuple[str, str]:
    """``beta1`` → (``beta``, ``1``); ``m`` → (``m``, ``""``)."""
    match = re.fullmatch(r"(.*?[^\d])(\d+)", word)
    return (match.group(1), match.group(2)) if match else (word, "")


def _symbol(word: str) -> str | None:
    """A single letter or a Greek letter's name as a symbol; None for any other word."""
    if word in _LETTERS:
        return _LETTERS[word]
    if len(word) == 1 and word.isalpha():
        return word
    return None


def _word(text: str) -> str:
    escaped = text.replace("_", "\\_")
    return rf"\mathrm{{{escaped}}}"


def _subscripts(parts: list[str]) -> list[str]:
    """Tail words as comma-separated subscripts; consecutive plain words share one ``\\mathrm``."""
    items: list[str] = []
    words: list[str] = []
    for part in parts:
        head, index = _split_index(part)
        symbol = _SUBSCRIPT_WORDS.get(part) or (part if part.isdigit() else _symbol(head))
        if symbol is None:
            words.append(part)
            continue
        if words:
            items.append(_word(r"\ ".join(words)))
            words = []
        if part in _SUBSCRIPT_WORDS or part.isdigit():
            items.append(symbol)
        else:
            items.append(f"{symbol}_{{{index}}}" if index else symbol)
    if words:
        items.append(_word(r"\ ".join(words)))
    return items


_RELATIONS = {"lt": "<", "le": r"\le", "gt": ">", "ge": r"\ge", "eq": "=", "ne": r"\ne"}
_FUNCTIONS = {
    "sign": r"\operatorname{sign}",
    "exp": r"\exp",
    "log": r"\log",
    "cos": r"\cos",
    "sin": r"\sin",
    "floor": r"\operatorname{floor}",
    "mod": r"\operatorname{mod}",
    "min": r"\min",
    "max": r"\max",
    "clip": r"\operatorname{clip}",
    "rms": r"\operatorname{rms}",
    "mean": r"\operatorname{mean}",
    "sum": r"\operatorname{sum}",
    "maxof": r"\max",
    "minof": r"\min",
    "count": r"\#",
    "total": r"\sum_{\mathrm{params}}",
    # axis reductions: the statistic, subscripted with what it keeps one number of
    "row_mean": r"\operatorname{mean}_{\mathrm{row}}",
    "row_sum": r"\operatorname{sum}_{\mathrm{row}}",
    "row_max": r"\max_{\mathrm{row}}",
    "col_mean": r"\operatorname{mean}_{\mathrm{col}}",
    "col_sum": r"\operatorname{sum}_{\mathrm{col}}",
    "col_max": r"\max_{\mathrm{col}}",
    # matrix functions of θ's matrix view
    "polar": r"\operatorname{polar}",
    "newton_schulz": r"\operatorname{NS}",
    # matrix values
    "eye": r"\operatorname{I}",
    "diag": r"\operatorname{diag}",
    "trace": r"\operatorname{tr}",
    "eigvecs": r"\operatorname{eigvecs}",
    "eigvals": r"\operatorname{eigvals}",
    "qr": r"\operatorname{qr}_Q",
    "sort_perm": r"\operatorname{sortperm}",
    "svd_u": r"\operatorname{svd}_U",
    "svd_v": r"\operatorname{svd}_V",
    "svd_u_k": r"\operatorname{svd}_U",
    "svd_v_k": r"\operatorname{svd}_V",
    "svd_s_k": r"\operatorname{svd}_S",
    "inv_root": r"\operatorname{invroot}",
    **{
        f"ns_{name}": rf"\operatorname{{NS}}_{{\mathrm{{{name.replace('_', ' ')}}}}}"
        for name in NS_SCHEDULES
    },
}
# Norms: the delimiters and the subscript naming the order.
_NORMS = {"norm2": "_{2}", "norm1": "_{1}", "norminf": r"_{\infty}"}


def _number(value: float) -> tuple[str, int]:
    if value == float("inf"):
        return r"\infty", ATOM
    if value == float("-inf"):
        return r"-\infty", UNARY
    text = str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"
    if "e" in text:  # 1e-08 → 10^{-8}, 2.5e-05 → 2.5 \cdot 10^{-5}
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        magnitude = mantissa.lstrip("-")
        text = ("-" if value < 0 else "") + (
            power if magnitude == "1" else rf"{magnitude} \cdot {power}"
        )
        return text, (UNARY if value < 0 else MUL if magnitude != "1" else POW)
    return text, (UNARY if value < 0 else ATOM)


class LatexPrinter(ExprPrinter):
    """IR → LaTeX on the shared printer framework (memoised: each node rendered once)."""

    def __init__(self, program: Program) -> None:
        super().__init__()
        self.display = {b.id: b.display for b in program.body}

    def _at(self, expr: Expr, min_prec: int, signed: bool = True) -> str:
        """``expr`` parenthesized when it binds looser than ``min_prec`` (or, for an operand
        that follows another, when it starts with a minus sign: ``a - (-b)``, ``a (-b)``)."""
        text, prec = self.rendered(expr)
        if prec < min_prec or (not signed and text.startswith("-")):
            return rf"\left({text}\right)"
        return text

    def visit(self, expr: Expr, context: Hashable = None) -> Rendered:
        if isinstance(expr, Const):
            if isinstance(expr.value, bool):
                return (r"\mathrm{true}" if expr.value else r"\mathrm{false}"), ATOM
            return _number(expr.value)
        if isinstance(expr, Var):
            return latex_name(self.display.get(expr.name, expr.name)), ATOM
        a = expr.args
        match expr.op:
            case "add":
                return f"{self._at(a[0], ADD)} + {self._at(a[1], ADD, signed=False)}", ADD
            case "sub":
                return f"{self._at(a[0], ADD)} - {self._at(a[1], MUL, signed=False)}", ADD
            case "mul":
                left = self._at(a[0], MUL)
                right = self._at(a[1], MUL, signed=False)
                sep = r" \cdot " if _starts_with_digit(right) else " "
                return f"{left}{sep}{right}", MUL
            case "div":
                return rf"\frac{{{self.render(a[0])}}}{{{self.render(a[1])}}}", ATOM
            case "neg":
                return f"-{self._at(a[0], MUL)}", UNARY
            case "pow":
                base, prec = self.rendered(a[0])
                if prec < ATOM or (isinstance(a[0], Op) and a[0].op == "div"):
                    base = rf"\left({base}\right)"  # (a/b)^2, not a/b with a 2 beside it
                return f"{base}^{{{self.render(a[1])}}}", POW
            case "sqrt":
                return rf"\sqrt{{{self.render(a[0])}}}", ATOM
            case "abs":
                return rf"\left|{self.render(a[0])}\right|", ATOM
            case op if op in _RELATIONS:
                return f"{self._at(a[0], ADD)} {_RELATIONS[op]} {self._at(a[1], ADD)}", REL
            case "and":
                return rf"{self._at(a[0], AND)} \land {self._at(a[1], NOT)}", AND
            case "or":
                return rf"{self._at(a[0], OR)} \lor {self._at(a[1], AND)}", OR
            case "not":
                return rf"\lnot {self._at(a[0], ATOM)}", NOT
            case "where" | "ifelse":
                return self._cases(expr), CASES
            case op if op in _NORMS:
                return rf"\left\lVert {self.render(a[0])} \right\rVert{_NORMS[op]}", ATOM
            case "matmul":
                return f"{self._at(a[0], MUL)} {self._at(a[1], MUL + 1, signed=False)}", MUL
            case "transpose":
                return rf"{self._at(a[0], ATOM)}^{{\top}}", POW
            case "as_matrix" | "as_param":  # layout only: the same matrix
                return self.rendered(a[0])
            case "dot":
                return rf"\left\langle {self.render(a[0])}, {self.render(a[1])} \right\rangle", ATOM
        args = ", ".join(self.render(x) for x in a)
        return rf"{_FUNCTIONS[expr.op]}\left({args}\right)", ATOM

    def _cases(self, expr: Op) -> str:
        r"""A select as one flat ``cases``: an ``else`` that selects again continues the rows
        (``else if``), a ``then`` that selects again joins its condition with ``\land``."""
        rows = []
        for i, (value, conds) in enumerate(self._rows(expr, ())):
            if not conds:
                rows.append(rf"{value} & \text{{otherwise}}")
                continue
            if len(conds) == 1:
                cond = self.render(conds[0])
            else:
                cond = r" \land ".join(self._at(c, NOT) for c in conds)
            rows.append(rf"{value} & \text{{{'if' if i == 0 else 'else if'} }} {cond}")
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"

    def _rows(self, expr: Expr, guard: tuple[Expr, ...]) -> list[tuple[str, tuple[Expr, ...]]]:
        """(value, conditions that all hold) for each row of nested selects, in order; each row
        applies only where the rows above do not. No conditions: the last row, ``otherwise``."""
        if not (isinstance(expr, Op) and expr.op in ("where", "ifelse")):
            return [(self.render(expr), guard)]
        cond, then, orelse = expr.args
        return self._rows(then, (*guard, cond)) + self._rows(orelse, guard)


def _starts_with_digit(text: str) -> bool:
    return text.lstrip("{")[:1].isdigit()


def latex_statements(program: Program) -> list[str]:
    """One LaTeX line per step statement: ``m \\leftarrow \\beta_{1} m + (1 - \\beta_{1}) g``."""
    printer = LatexPrinter(program)
    lines = []
    for binding in program.body:
        if binding.merge:  # the block's end: its statements already show their conditions
            continue
        arrow = r"\leftarrow" if binding.target else "="
        line = f"{latex_name(binding.display)} {arrow} {printer.render(binding.expr)}"
        conditions = [_guard_text(printer, g) for g in binding.guards]
        lines.append(r"\quad ".join([*conditions, line]))
    return lines


def _guard_text(printer: LatexPrinter, guard: Guard) -> str:
    """``every k steps:``, ``if ...:`` or ``otherwise:`` before a statement of a block."""
    if guard.kind == "every":
        period = printer.render(guard.cond.args[0].args[1])
        return rf"\text{{every }} {period} \text{{ steps:}}"
    word = "if" if guard.taken else "unless"
    return rf"\text{{{word} }} {printer.render(guard.cond)}\text{{:}}"


def latex_aligned(program: Program, indent: str = "  ") -> str:
    """The whole step as one LaTeX ``aligned`` environment."""
    rows = " \\\\\n".join(f"{indent}&{line}" for line in latex_statements(program))
    return f"\\begin{{aligned}}\n{rows}\n\\end{{aligned}}"
