"""The spec AST: what the source says, with a span on every node, before names are resolved."""

from __future__ import annotations

from dataclasses import dataclass, field

from optc.diagnostics import Span


@dataclass(frozen=True)
class Num:
    value: float
    span: Span


@dataclass(frozen=True)
class BoolLit:
    value: bool
    span: Span


@dataclass(frozen=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span
    func_span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # "neg" | "not"
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Binary:
    op: str  # "add" "sub" "mul" "div" "pow" "and" "or"
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Compare:
    op: str  # "<" "<=" ">" ">=" "==" "!="
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class IfElse:
    cond: Expr
    then: Expr
    orelse: Expr
    span: Span


Expr = Num | BoolLit | Name | Call | Unary | Binary | Compare | IfElse


@dataclass(frozen=True)
class Domain:
    """``in (lo, hi]``-style set of allowed hyper values; ``kind`` is real, int or bool."""

    kind: str
    lo: Expr | None
    hi: Expr | None
    lo_closed: bool
    hi_closed: bool
    span: Span


@dataclass(frozen=True)
class HyperDecl:
    name: str
    name_span: Span
    default: Expr
    domain: Domain
    span: Span
    doc: str = ""  # the optional one-line description after the domain


@dataclass(frozen=True)
class CounterpartEntry:
    """One ``library_name = value`` of a counterpart line.

    ``value`` is a spec name (a hyper or a state), a tuple of hyper names (torch's ``betas``), or
    a fixed number/bool: the library option must have that value to be this algorithm.
    """

    name: str
    value: str | tuple[str, ...] | float | bool
    span: Span


@dataclass(frozen=True)
class CounterpartDecl:
    """``counterpart torch.optim.AdamW: betas = (beta1, beta2), exp_avg = m, amsgrad = false``."""

    library: str
    library_span: Span
    entries: tuple[CounterpartEntry, ...]
    span: Span


@dataclass(frozen=True)
class StateDecl:
    name: str
    name_span: Span
    # "param" | "scalar" | "global" | "rows" | "cols", or a matrix's two dimensions
    shape: str | tuple[str, str]
    init: Expr
    span: Span


@dataclass(frozen=True)
class DefDecl:
    name: str
    name_span: Span
    params: tuple[str, ...]
    body: Expr
    span: Span


@dataclass(frozen=True)
class OptimizerLine:
    """``optimizer NAME``; ``span`` covers the name."""

    name: str
    span: Span


@dataclass(frozen=True)
class CiteLine:
    text: str
    span: Span


@dataclass(frozen=True)
class StepLine:
    """The ``step`` line that opens the body."""

    span: Span


@dataclass(frozen=True)
class UseDecl:
    """``use adam [as a]``: another spec whose step a statement ``a(...)`` runs."""

    spec: str  # the used spec's file stem
    alias: str | None
    span: Span


@dataclass(frozen=True)
class Run:
    """``a()`` or ``a(g = EXPR)``: the used spec's step, here, on θ (and EXPR as its gradient)."""

    name: str
    name_span: Span
    kwargs: tuple[tuple[str, Span, Expr], ...]
    span: Span


@dataclass(frozen=True)
class SectionLine:
    """``eval`` or ``train``: the statements below map θ to the evaluation point and back."""

    kind: str  # "eval" | "train"
    span: Span


@dataclass(frozen=True)
class Convention:
    key: str
    text: str
    span: Span


@dataclass(frozen=True)
class Statement:
    """``target = expr`` (kind "assign") or ``target <- expr`` (kind "update")."""

    kind: str
    target: str
    target_span: Span
    expr: Expr
    span: Span


@dataclass(frozen=True)
class BlockHead:
    """A block header line: ``if COND:``, ``else:`` or ``every K:`` (cond None for else)."""

    kind: str  # "if" | "else" | "every"
    cond: Expr | None
    span: Span


@dataclass
class Block:
    """``if COND:`` (or ``every K:``) with the statements indented below it, and an ``else:``."""

    kind: str  # "if" | "every"
    cond: Expr
    span: Span  # the header line
    body: list[Statement | Block] = field(default_factory=list)
    orelse: list[Statement | Block] = field(default_factory=list)
    else_span: Span | None = None


@dataclass
class SpecFile:
    """A parsed spec (or prelude): declarations in source order, the step body."""

    file: str
    source: str
    name: str | None = None
    name_span: Span | None = None
    cites: list[str] = field(default_factory=list)
    conventions: list[Convention] = field(default_factory=list)
    counterparts: list[CounterpartDecl] = field(default_factory=list)
    hypers: list[HyperDecl] = field(default_factory=list)
    states: list[StateDecl] = field(default_factory=list)
    defs: list[DefDecl] = field(default_factory=list)
    body: list[Statement | Block] = field(default_factory=list)
    step_span: Span | None = None
    # `eval` / `train` sections: θ ← the point the model is evaluated at, and back
    sections: dict[str, list[Statement]] = field(default_factory=dict)
    section_spans: dict[str, Span] = field(default_factory=dict)
    uses: list[UseDecl] = field(default_factory=list)
    # the text of every file a statement may come from (used specs), for comments and messages
    sources: dict[str, str] = field(default_factory=dict)
