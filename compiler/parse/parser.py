"""Spec text → :class:`SpecFile`. Lark parses; this module turns its errors into diagnostics.

Lark's own exceptions never escape: unbalanced brackets, stray characters and unexpected tokens
become :class:`SpecError` with the exact position, a caret and a hint. Declaration order (the
`optimizer` line first, statements only after `step`, no duplicates) is checked here too.
"""

from __future__ import annotations

import functools
import importlib.resources
import keyword
import math
import re
import unicodedata

from lark import Lark, Token, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.lexer import PatternStr
from lark.visitors import Transformer_NonRecursive

from optc.diagnostics import Span, SpecError, did_you_mean
from optc.parse import ast

# Greek spellings accepted in source, mapped to the canonical ASCII names.
GREEK_ALIASES = {
    "θ": "theta",
    "η": "lr",
    "β1": "beta1",
    "β₁": "beta1",
    "β2": "beta2",
    "β₂": "beta2",
    "β3": "beta3",
    "β₃": "beta3",
    "β": "beta",
    "ε": "eps",
    "λ": "weight_decay",
}

KEYWORDS = (
    "optimizer",
    "cite",
    "convention",
    "counterpart",
    "hyper",
    "state",
    "def",
    "step",
    "in",
    "if",
    "then",
    "else",
    "and",
    "or",
    "not",
    "true",
    "false",
)

# Stated limits: every input beyond them is a located error, never a hang or a crash.
MAX_LINES = 2000  # lines in one spec
MAX_CHARS = 200_000  # characters in one spec
MAX_DEPTH = 100  # nesting levels of one expression (operators, calls, `if`, `not`, ...)
MAX_LITERAL = 1e300  # largest magnitude of a number literal
MIN_LITERAL = 1e-300  # smallest nonzero magnitude of a number literal

# Expression rules of the grammar: each is one nesting level.
_EXPR_RULES = frozenset(
    [
        "ifelse",
        "or_",
        "and_",
        "not_",
        "compare",
        "add",
        "sub",
        "mul",
        "div",
        "matmul",
        "neg",
        "pow",
        "number",
        "true",
        "false",
        "name",
        "call",
    ]
)

_TOKEN_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a "string"',
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "EQUAL": "`=`",
    "_NL": "end of line",
    "$END": "end of file",
    "OPEN": "`[` or `(`",
    "CLOSE": "`]` or `)`",
    "COLON": "`:`",
    "DOTTED": "a dotted library path like `torch.optim.AdamW`",
    "COMPARE": "a comparison",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "AT": "`@`",
    "CIRCUMFLEX": "`^`",
}


@functools.cache
def _lark() -> Lark:
    grammar = importlib.resources.files("optc.grammar").joinpath("optimizer.lark").read_text()
    return Lark(
        grammar, start="file", parser="lalr", propagate_positions=True, maybe_placeholders=True
    )


def parse_spec(text: str, filename: str = "<spec>") -> ast.SpecFile:
    """Parse spec text into a :class:`SpecFile`; raise :class:`SpecError` on any malformed input."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is not part of the spec
    try:
        _check_characters(text, filename)
        if not any(line.split("#", 1)[0].strip() for line in text.splitlines()):
            raise SpecError(
                "empty spec",
                Span(filename, 1, 1, 1, 1),
                hint="a spec starts with `optimizer NAME`, then hypers, states and a `step` block",
            )
        _check_brackets(text, filename)
        tree = _parse(text, filename)
        return _assemble(_transform(tree, filename), filename, text)
    except SpecError as err:
        raise err.with_source(text) from None


def parse_library(text: str, filename: str) -> list[ast.DefDecl]:
    """Parse a file of `def` lines only (the prelude)."""
    try:
        _check_characters(text, filename)
        items = _transform(_parse(text, filename), filename)
    except SpecError as err:
        raise err.with_source(text) from None
    for item in items:
        if not isinstance(item, ast.DefDecl):
            raise SpecError(
                "only `def` lines may appear in a library file",
                item.span,
                hint="move declarations and statements into a spec",
                source=text,
            )
    return items


def _parse(text: str, filename: str) -> Tree:
    """Lark's parse tree, its syntax errors as diagnostics, its depth checked."""
    try:
        tree = _lark().parse(text if text.endswith("\n") else text + "\n")
    except UnexpectedInput as err:
        raise _syntax_error(err, text, filename) from None
    _check_depth(tree, filename)
    return tree


def _transform(tree: Tree, filename: str) -> list:
    """Parse tree → AST items; a SpecError raised while building is unwrapped from Lark's."""
    try:
        return _ToAst(filename).transform(tree).children
    except VisitError as err:
        if isinstance(err.orig_exc, SpecError):
            raise err.orig_exc from None
        raise


# ---------------------------------------------------------------------------------------------
# Limits: characters, size, nesting


def _check_characters(text: str, filename: str) -> None:
    """Reject control and invisible characters (NUL, a lone CR, bidi overrides...) and oversized
    inputs.

    Tabs and line ends (LF, CRLF) are the only control characters a spec may contain: strings
    and comments are pasted into generated code, and a NUL or a lone CR there breaks it.
    """
    for index, ch in enumerate(text):
        if ch in "\t\n" or (ch == "\r" and text[index + 1 : index + 2] == "\n"):
            continue
        if ch.isprintable() or ch == " ":
            continue
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            line = text.count("\n", 0, index) + 1
            col = index - (text.rfind("\n", 0, index) + 1) + 1
            name = unicodedata.name(ch, _CONTROL_NAMES.get(ch, "control character"))
            raise SpecError(
                f"control character U+{ord(ch):04X} ({name}) in the spec",
                Span(filename, line, col, line, col + 1),
                hint="remove it: specs, their strings and comments hold printable text, tabs "
                "and line ends only",
            )
    lines = text.count("\n") + 1
    if lines > MAX_LINES or len(text) > MAX_CHARS:
        line = min(lines, MAX_LINES + 1)
        raise SpecError(
            f"the spec is too long: {lines} lines, {len(text)} characters",
            Span(filename, line, 1, line, 2),
            hint=f"a spec has at most {MAX_LINES} lines and {MAX_CHARS} characters",
        )


# Control, format (bidi overrides, zero-width), line/paragraph separators, surrogates, private
# use and unassigned code points.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\r": "CARRIAGE RETURN",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
}


def _check_depth(tree: Tree, filename: str) -> None:
    """Reject an expression nested deeper than MAX_DEPTH, at the first construct too deep.

    Iterative, so it holds for any input; every later stage (the AST, the IR, SymPy, the
    backends' printers) then works on trees of bounded depth.
    """
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in _EXPR_RULES:
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError(
                    f"expression nested deeper than {MAX_DEPTH} levels",
                    _span_of(filename, node.meta),
                    hint="split it into several statements with locals (`x = ...`)",
                )
        children = [child for child in node.children if isinstance(child, Tree)]
        stack.extend((child, depth) for child in reversed(children))  # leftmost first


# ---------------------------------------------------------------------------------------------
# Syntax errors


def _check_brackets(text: str, filename: str) -> None:
    """Report the first unbalanced `(` or `)` with the position of the bracket itself.

    A line ending in `\\` continues on the next, so brackets may span such lines.
    """
    opened: list[tuple[int, int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r'"[^"\n]*"', lambda m: " " * len(m.group()), raw.split("#", 1)[0])
        if re.match(r"\s*hyper\b", line):  # domains like `[0, 1)` are half-open on purpose
            cut = re.search(r"\bin\b", line)
            line = line[: cut.start()] if cut else line
        for col, ch in enumerate(line, start=1):
            if ch == "(":
                opened.append((lineno, col))
            elif ch == ")":
                if not opened:
                    raise SpecError(
                        "unmatched `)`",
                        Span(filename, lineno, col, lineno, col + 1),
                        hint="remove it, or add the `(` it closes",
                    )
                opened.pop()
        if opened and not line.rstrip().endswith("\\"):
            line_open, col = opened[-1]
            raise SpecError(
                "`(` is never closed",
                Span(filename, line_open, col, line_open, col + 1),
                hint="add the matching `)` before the end of the line",
            )


def _syntax_error(err: UnexpectedInput, text: str, filename: str) -> SpecError:
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream]
        span = Span(filename, err.line, err.column, err.line, err.column + 1)
        if not ch.isascii():
            return SpecError(
                f"unexpected non-ASCII character `{ch}` (U+{ord(ch):04X})",
                span,
                hint="specs are ASCII; the Greek names θ η β₁ β₂ ε λ are the only exceptions",
            )
        return SpecError(
            f"unexpected character `{ch}`",
            span,
            hint="operators are + - * / ^ and comparisons; strings are in double quotes",
        )
    expected = _accepted(err)
    if isinstance(err, UnexpectedToken) and err.token.type != "$END":
        token = err.token
        width = max(1, len(str(token.value).rstrip("\n")))
        line, col = token.line, token.column
        if token.type == "_NL":
            # Point just past the last token of the line, where something is missing.
            line_text = text.splitlines()[line - 1] if line - 1 < len(text.splitlines()) else ""
            code = line_text.split("#", 1)[0].rstrip()
            col = len(code) + 1
            return SpecError(
                "the line ends in the middle of an expression or declaration",
                Span(filename, line, col, line, col + 1),
                hint=_expected_hint(expected, text, line, col),
            )
        hint = _expected_hint(expected, text, line, col)
        missing = _missing_keyword(expected, token)
        if missing is not None:
            return SpecError(
                f"missing `{missing}` before {_describe(token)}",
                Span(filename, line, col, line, col + width),
                hint=hint,
            )
        if token.type == "NAME" and _is_line_start(text, line, col):
            keyword = did_you_mean(str(token.value), KEYWORDS)
            hint = keyword or hint
        elif token.type == "NAME" and col > 1:
            previous = _previous_word(text, line, col)
            if (
                previous is not None
                and previous[0] not in KEYWORDS
                and _is_line_start(text, line, previous[1])
            ):
                keyword = did_you_mean(previous[0], KEYWORDS)
                if keyword:
                    return SpecError(
                        f"unknown declaration `{previous[0]}`",
                        Span(filename, line, previous[1], line, previous[1] + len(previous[0])),
                        hint=keyword,
                    )
        return SpecError(
            f"unexpected {_describe(token)}",
            Span(filename, line, col, line, col + width),
            hint=hint,
        )
    # End of input: report at the end of the last line.
    lines = text.rstrip("\n").splitlines() or [""]
    line, col = len(lines), len(lines[-1]) + 1
    return SpecError(
        "unexpected end of file",
        Span(filename, line, col, line, col + 1),
        hint=_expected_hint(expected, text, line, col),
    )


def _accepted(err: UnexpectedInput) -> set[str]:
    """The terminals the parser would accept at the error, as precisely as Lark can tell.

    ``err.expected`` is the set of the LALR state, shared by every context that reaches it
    (`)` and `,` after any number); the interactive parser replays the stack and keeps only the
    terminals that would really be accepted here.
    """
    expected = set(getattr(err, "expected", None) or ())
    parser = getattr(err, "interactive_parser", None)
    if parser is not None:
        try:
            accepted = set(parser.accepts())
        except Exception:  # Lark internals; the state's own set is still a fine answer
            accepted = set()
        expected = accepted or expected
    return expected


@functools.cache
def _terminal_text() -> dict[str, str]:
    """Each terminal's spelling for messages: the literal for keywords and punctuation."""
    return {
        t.name: f"`{t.pattern.value}`"
        for t in _lark().terminals
        if isinstance(t.pattern, PatternStr)
    }


_OPERATORS = frozenset({"PLUS", "MINUS", "STAR", "SLASH", "CIRCUMFLEX", "COMPARE", "AND", "OR"})


def _is_keyword(terminal: str) -> bool:
    return _terminal_text().get(terminal, "").strip("`").isalpha()


def _words(terminal: str) -> str:
    if terminal in _TOKEN_WORDS:
        return _TOKEN_WORDS[terminal]
    return _terminal_text().get(terminal, "a token")  # never a Lark-internal name


def _missing_keyword(expected: set[str], token: Token) -> str | None:
    """The one keyword the line needs before ``token`` (`in` before a domain, `then`...)."""
    if token.type in _OPERATORS or token.type == "_NL":
        return None
    keywords = [t for t in expected if _is_keyword(t) and t not in _OPERATORS]
    if len(keywords) == 1:
        return _terminal_text()[keywords[0]].strip("`")
    if len(expected) == 1 and next(iter(expected)) in _terminal_text():  # `=` in `def f(x) x`
        return _terminal_text()[next(iter(expected))].strip("`")
    return None


def _expected_hint(expected: set[str], text: str, line: int, col: int) -> str | None:
    """``expected ...`` with keywords first, operators grouped; a missing keyword is shown
    inserted into the line (``hyper x = false in bool``)."""
    if not expected:
        return None
    keywords = sorted(t for t in expected if _is_keyword(t) and t not in _OPERATORS)
    operators = sorted(t for t in expected if t in _OPERATORS)
    others = sorted(
        {_words(t) for t in expected if t not in keywords and t not in operators} - {"a token"}
    )
    parts = [_words(t) for t in keywords] + others
    if operators:
        parts.append("an operator" if len(operators) > 2 else " or ".join(map(_words, operators)))
    if len(parts) > 7:
        parts = [*parts[:7], "..."]
    hint = "expected " + ", ".join(parts)
    if len(keywords) == 1:
        lines = text.splitlines()
        if 0 < line <= len(lines):
            source = lines[line - 1]
            word = _words(keywords[0]).strip("`")
            fixed = (source[: col - 1].rstrip() + f" {word} " + source[col - 1 :].lstrip()).strip()
            hint += f"; e.g. `{_clip(fixed, 70)}`"
    return hint


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _describe(token: Token) -> str:
    # `x` of `rows x cols` lexes as its own keyword where no rule expects a name; it is a name.
    if token.type in ("NAME", "X"):
        return f"name `{_clip(token.value)}`"
    if token.type == "NUMBER":
        return f"number `{_clip(token.value)}`"
    if token.type == "STRING":
        return f"string {_clip(token.value)}"
    return f"`{_clip(token.value)}`"


def _is_line_start(text: str, line: int, col: int) -> bool:
    lines = text.splitlines()
    return line - 1 < len(lines) and not lines[line - 1][: col - 1].strip()


def _previous_word(text: str, line: int, col: int) -> tuple[str, int] | None:
    lines = text.splitlines()
    if line - 1 >= len(lines):
        return None
    before = lines[line - 1][: col - 1]
    match = re.search(r"(\w+)\s*$", before)
    return (match.group(1), match.start(1) + 1) if match else None


# ---------------------------------------------------------------------------------------------
# Parse tree → AST


def _span_of(filename: str, meta) -> Span:
    return Span(filename, meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(filename: str, token: Token) -> Span:
    return Span(filename, token.line, token.column, token.end_line, token.end_column)


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    """Builds AST nodes bottom-up; names are canonicalised (Greek aliases → ASCII) here."""

    def __init__(self, filename: str) -> None:
        super().__init__()
        self.filename = filename

    # -- helpers
    def _span(self, meta) -> Span:
        return _span_of(self.filename, meta)

    def _name(self, token: Token) -> str:
        text = str(token)
        if text in GREEK_ALIASES:
            return GREEK_ALIASES[text]
        if not text.isascii():
            raise SpecError(
                f"non-ASCII name `{text}`",
                _token_span(self.filename, token),
                hint="use an ASCII name; the Greek aliases are " + " ".join(GREEK_ALIASES),
            )
        return text

    def _literal(self, token: Token) -> float:
        """A number literal's value; one too large or too small for a float is an error."""
        text = str(token)
        value = float(text)
        if math.isinf(value) or value > MAX_LITERAL:
            raise SpecError(
                f"number `{_clip(text)}` is too large",
                _token_span(self.filename, token),
                hint=f"number literals are at most {MAX_LITERAL:g} in magnitude; "
                "write `inf` for an unbounded domain",
            )
        if value < MIN_LITERAL and re.search(r"[1-9]", text.lower().split("e")[0]):
            raise SpecError(
                f"number `{_clip(text)}` is too small: it would round to "
                f"{'0' if value == 0 else 'a subnormal float'}",
                _token_span(self.filename, token),
                hint=f"nonzero number literals are at least {MIN_LITERAL:g} in magnitude; "
                "write 0 if zero is meant",
            )
        return value

    # -- declarations
    def optimizer(self, meta, children):
        (name,) = children
        return ast.OptimizerLine(self._name(name), _token_span(self.filename, name))

    def cite(self, meta, children):
        return ast.CiteLine(str(children[0])[1:-1], self._span(meta))

    def convention(self, meta, children):
        key, text = children
        return ast.Convention(self._name(key), str(text)[1:-1], self._span(meta))

    def hyper(self, meta, children):
        name, default, domain, doc = children
        return ast.HyperDecl(
            self._name(name),
            _token_span(self.filename, name),
            default,
            domain,
            self._span(meta),
            str(doc)[1:-1].strip() if doc is not None else "",
        )

    def counterpart(self, meta, children):
        library, *entries = children
        return ast.CounterpartDecl(
            str(library),
            _token_span(self.filename, library),
            tuple(entry for entry in entries if entry is not None),
            self._span(meta),
        )

    def rename(self, meta, children):
        name, value = children
        return ast.CounterpartEntry(str(name), self._name(value), self._span(meta))

    def tuple_rename(self, meta, children):
        name, *values = children
        return ast.CounterpartEntry(
            str(name), tuple(self._name(v) for v in values), self._span(meta)
        )

    def fixed(self, meta, children):
        name, value = children
        return ast.CounterpartEntry(str(name), value, self._span(meta))

    def fixed_number(self, meta, children):
        return self._literal(children[0])

    def fixed_negative(self, meta, children):
        return -self._literal(children[0])

    def fixed_true(self, meta, children):
        return True

    def fixed_false(self, meta, children):
        return False

    def state(self, meta, children):
        name, shape, init = children
        return ast.StateDecl(
            self._name(name),
            _token_span(self.filename, name),
            shape or "param",
            init,
            self._span(meta),
        )

    def scalar_shape(self, meta, children):
        return "scalar"

    def param_shape(self, meta, children):
        return "param"

    def global_shape(self, meta, children):
        return "global"

    def rows_shape(self, meta, children):
        return "rows"

    def cols_shape(self, meta, children):
        return "cols"

    def matrix_shape(self, meta, children):
        return (children[0], children[1])

    def dim(self, meta, children):
        return str(children[0])

    def rows_dim(self, meta, children):
        return "rows"

    def cols_dim(self, meta, children):
        return "cols"

    def def_(self, meta, children):
        name, params, body = children
        return ast.DefDecl(
            self._name(name),
            _token_span(self.filename, name),
            tuple(params or ()),
            body,
            self._span(meta),
        )

    def params(self, meta, children):
        return [self._name(token) for token in children]

    def use(self, meta, children):
        spec, alias = children
        return ast.UseDecl(self._name(spec), self._name(alias) if alias else None, self._span(meta))

    def run(self, meta, children):
        name, *kwargs = children
        kwargs = tuple(k for k in kwargs if k is not None)
        return ast.Run(self._name(name), _token_span(self.filename, name), kwargs, self._span(meta))

    def kwarg(self, meta, children):
        name, expr = children
        return (self._name(name), _token_span(self.filename, name), expr)

    def eval_section(self, meta, children):
        return ast.SectionLine("eval", self._span(meta))

    def train_section(self, meta, children):
        return ast.SectionLine("train", self._span(meta))

    def step(self, meta, children):
        return ast.StepLine(self._span(meta))

    def assign(self, meta, children):
        name, expr = children
        return ast.Statement(
            "assign", self._name(name), _token_span(self.filename, name), expr, self._span(meta)
        )

    def if_head(self, meta, children):
        return ast.BlockHead("if", children[0], self._span(meta))

    def else_head(self, meta, children):
        return ast.BlockHead("else", None, self._span(meta))

    def every_head(self, meta, children):
        return ast.BlockHead("every", children[0], self._span(meta))

    def update(self, meta, children):
        name, expr = children
        return ast.Statement(
            "update", self._name(name), _token_span(self.filename, name), expr, self._span(meta)
        )

    def _interval(self, kind, meta, children):
        lo_closed, lo, hi, hi_closed = children
        return ast.Domain(kind, lo, hi, lo_closed, hi_closed, self._span(meta))

    def closed(self, meta, children):
        return True

    def open(self, meta, children):
        return False

    def interval(self, meta, children):
        return self._interval("real", meta, children)

    def int_interval(self, meta, children):
        return self._interval("int", meta, children)

    def bool_domain(self, meta, children):
        return ast.Domain("bool", None, None, True, True, self._span(meta))

    # -- expressions
    def number(self, meta, children):
        return ast.Num(self._literal(children[0]), self._span(meta))

    def true(self, meta, children):
        return ast.BoolLit(True, self._span(meta))

    def false(self, meta, children):
        return ast.BoolLit(False, self._span(meta))

    def name(self, meta, children):
        return ast.Name(self._name(children[0]), self._span(meta))

    def call(self, meta, children):
        func, args = children
        return ast.Call(
            self._name(func), tuple(args or ()), self._span(meta), _token_span(self.filename, func)
        )

    def args(self, meta, children):
        return list(children)

    def ifelse(self, meta, children):
        return ast.IfElse(*children, self._span(meta))

    def compare(self, meta, children):
        left, op, right = children
        return ast.Compare(str(op), left, right, self._span(meta))

    def neg(self, meta, children):
        return ast.Unary("neg", children[0], self._span(meta))

    def not_(self, meta, children):
        return ast.Unary("not", children[0], self._span(meta))

    def _binary(op):
        def method(self, meta, children):
            return ast.Binary(op, children[0], children[1], self._span(meta))

        return method

    add = _binary("add")
    sub = _binary("sub")
    mul = _binary("mul")
    div = _binary("div")
    matmul = _binary("matmul")
    pow = _binary("pow")
    and_ = _binary("and")
    or_ = _binary("or")


# Lark names the `def` rule "def"; route it to the method above.
setattr(_ToAst, "def", _ToAst.def_)


# ---------------------------------------------------------------------------------------------
# Declaration order and duplicates


def _assemble(items: list, filename: str, source: str) -> ast.SpecFile:
    spec = ast.SpecFile(file=filename, source=source)
    declared: dict[str, ast.Span] = {}

    def declare(name: str, span: Span, what: str) -> None:
        if name in declared:
            first = declared[name]
            raise SpecError(
                f"duplicate declaration of `{name}`",
                span,
                hint=f"`{name}` is already declared at line {first.line}; rename one of them",
            )
        declared[name] = span

    for index, item in enumerate(items):
        if isinstance(item, ast.OptimizerLine | ast.CiteLine | ast.StepLine):
            span = item.span
            if isinstance(item, ast.OptimizerLine):
                value = item.name
                if spec.name is not None:
                    raise SpecError(
                        "a spec declares one optimizer", span, hint="split it into two files"
                    )
                if index > 0:
                    first = _item_span(items[0])
                    raise SpecError(
                        "`optimizer NAME` must be the first line",
                        span,
                        hint=f"move it to the top, above line {first.line}",
                    )
                if not value.isidentifier() or not value[0].isalpha():
                    raise SpecError(
                        f"invalid optimizer name `{value}`",
                        span,
                        hint="an optimizer name starts with a letter, e.g. `optimizer AdamW2`",
                    )
                if keyword.iskeyword(value) or keyword.iskeyword(value.lower()):
                    raise SpecError(
                        f"invalid optimizer name `{value}`",
                        span,
                        hint=f"`{value.lower()}` (the jax factory's name) is a Python keyword",
                    )
                spec.name, spec.name_span = value, span
            elif isinstance(item, ast.CiteLine):
                value = item.text
                if not value.strip():
                    raise SpecError(
                        "empty `cite`",
                        span,
                        hint='name the source: cite "Authors, Title, Venue Year"',
                    )
                spec.cites.append(value)
            else:
                if spec.step_span is not None:
                    raise SpecError(
                        "a second `step` block",
                        span,
                        hint=f"the step block already started at line {spec.step_span.line}",
                    )
                spec.step_span = span
            continue
        if isinstance(item, ast.SectionLine):
            if spec.step_span is None:
                raise SpecError(
                    f"`{item.kind}` before the `step` block",
                    item.span,
                    hint=f"put the `{item.kind}` section after the step's statements",
                )
            if item.kind in spec.sections:
                raise SpecError(
                    f"a second `{item.kind}` section",
                    item.span,
                    hint=f"it already started at line {spec.section_spans[item.kind].line}",
                )
            spec.sections[item.kind] = []
            spec.section_spans[item.kind] = item.span
            continue
        if spec.sections and isinstance(item, ast.Run):
            raise SpecError(
                f"`{item.name}(...)` runs a step: it belongs to the `step` block",
                item.span,
                hint="move it above the `eval` / `train` section",
            )
        if spec.sections and isinstance(item, ast.Statement | ast.BlockHead):
            if isinstance(item, ast.BlockHead):
                raise SpecError(
                    "blocks are for the step, not for `eval` / `train`",
                    item.span,
                    hint="write the evaluation point as one expression of theta and the states",
                )
            spec.sections[list(spec.sections)[-1]].append(item)
            continue
        if isinstance(item, ast.Statement | ast.BlockHead | ast.Run):
            if spec.step_span is None:
                what = (
                    f"statement `{item.target} ...`"
                    if isinstance(item, ast.Statement)
                    else f"`{item.name}(...)`"
                    if isinstance(item, ast.Run)
                    else f"`{item.kind}` block"
                )
                raise SpecError(
                    f"{what} before the `step` block",
                    item.span,
                    hint="add a line `step` before the first statement",
                )
            spec.body.append(item)
            continue
        if spec.step_span is not None:
            raise SpecError(
                "declarations must come before the `step` block",
                item.span,
                hint=f"move this line above `step` (line {spec.step_span.line})",
            )
        if isinstance(item, ast.UseDecl):
            declare(item.alias or item.spec, item.span, "use")
            spec.uses.append(item)
        elif isinstance(item, ast.HyperDecl):
            declare(item.name, item.name_span, "hyper")
            spec.hypers.append(item)
        elif isinstance(item, ast.StateDecl):
            declare(item.name, item.name_span, "state")
            spec.states.append(item)
        elif isinstance(item, ast.DefDecl):
            declare(item.name, item.name_span, "def")
            spec.defs.append(item)
        elif isinstance(item, ast.CounterpartDecl):
            if any(c.library == item.library for c in spec.counterparts):
                raise SpecError(
                    f"counterpart `{item.library}` declared twice",
                    item.span,
                    hint="declare each library once: merge the two mappings into one line",
                )
            spec.counterparts.append(item)
        elif isinstance(item, ast.Convention):
            if any(c.key == item.key for c in spec.conventions):
                raise SpecError(
                    f"convention `{item.key}` stated twice",
                    item.span,
                    hint="state each convention once: merge the two texts into one line",
                )
            spec.conventions.append(item)
    if spec.name is None:
        raise SpecError(
            "missing `optimizer NAME` line",
            Span(filename, 1, 1, 1, 2),
            hint="start the spec with `optimizer MyOptimizer`",
        )
    if spec.step_span is None:
        last = len(source.rstrip("\n").splitlines())
        raise SpecError(
            "missing `step` block",
            Span(filename, last, 1, last, 2),
            hint="add `step` followed by the update statements, e.g. `theta <- theta - lr * g`",
        )
    if not spec.cites:
        raise SpecError(
            f"`{spec.name}` has no `cite` line",
            spec.name_span,
            hint='every spec names its source: add `cite "Authors, Title, Venue Year"` '
            "below the optimizer line",
        )
    spec.body = _blocks(spec.body)
    return spec


def _blocks(lines: list) -> list:
    """The step's lines as a tree: the lines indented below a block header belong to it.

    A block's lines share one column, deeper than the header's; `else:` stands at its `if:`'s
    column right after that block. Outside blocks, statements may start at any column.
    """
    root: list = []
    open_: list[tuple[ast.Block, list, int | None]] = []  # (block, its open list, body column)
    last_block: dict[int, ast.Block] = {}  # column → the block that just closed there

    def container() -> list:
        return open_[-1][1] if open_ else root

    for line in lines:
        col = line.span.col
        while open_ and col <= open_[-1][0].span.col:
            block, lines_, _ = open_.pop()
            if not lines_:
                _empty_block(block)
        if open_:
            block, lines_, body_col = open_[-1]
            if body_col is None:
                open_[-1] = (block, lines_, col)
            elif col != body_col:
                raise SpecError(
                    "this line is indented unlike the lines above it in its block",
                    line.span,
                    hint=f"indent every line of the block at line {block.span.line} to column "
                    f"{body_col}",
                )
        if isinstance(line, ast.BlockHead) and line.kind == "else":
            block = last_block.get(col)
            siblings = container()
            if block is None or not siblings or siblings[-1] is not block or block.else_span:
                raise SpecError(
                    "`else:` without an `if` block right above it",
                    line.span,
                    hint="put `else:` at the column of its `if ...:`, after the if's lines",
                )
            if block.kind != "if":
                raise SpecError(
                    f"`{block.kind}` blocks have no `else`",
                    line.span,
                    hint="use `if mod(t, k) == 0:` ... `else:` for a periodic choice",
                )
            block.else_span = line.span
            open_.append((block, block.orelse, None))
            continue
        last_block.pop(col, None)
        if isinstance(line, ast.BlockHead):
            block = ast.Block(line.kind, line.cond, line.span)
            container().append(block)
            last_block[col] = block
            open_.append((block, block.body, None))
            continue
        container().append(line)
    while open_:
        block, lines_, _ = open_.pop()
        if not lines_:
            _empty_block(block)
    return root


def _empty_block(block: ast.Block) -> None:
    raise SpecError(
        f"`{block.kind}` block without statements",
        block.span,
        hint="indent the statements that belong to it below its header line",
    )


def _item_span(item) -> Span:
    return item.span
