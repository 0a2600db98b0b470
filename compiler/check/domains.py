"""Domain safety: every division, sqrt, log and negative or fractional power, proved or warned.

Each risky operand is translated to SymPy with locals substituted and each state version kept as
a symbol named like the spec (so a condition reads ``eps = 0 and v = 0``). Its range comes from
interval analysis (:mod:`optc.check.intervals`) over the hyper domains, ``t >= 1`` and the state
invariants, inferred as a greatest fixpoint: a candidate bound (``>= 0``, ``> 0``, ``<= 1``...)
survives if the initial value satisfies it and one step preserves it assuming all survivors.
When the range cannot exclude the failure, the failure condition is derived exactly (a sum of
non-negative terms is zero iff every term is, a product iff some factor is...) and reported.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from optc.check import intervals as iv
from optc.check.budget import BudgetExceeded, bounded
from optc.check.intervals import Interval, IntervalEval
from optc.check.symbolic import Translator, program_symbols, spec_str, to_sympy
from optc.diagnostics import Diagnostic, Severity, Span, SpecError
from optc.ir.nodes import Binding, Const, Hyper, Op, Program, walk
from optc.render.spec import spec_text

# Candidate state invariants: a state keeps those its start satisfies and each step preserves.
CANDIDATES = (
    iv.NONNEG,
    iv.POSITIVE,
    Interval(Fraction(-1), iv.INF, False, True),
    iv.neg(iv.NONNEG),
    iv.neg(iv.POSITIVE),
    Interval(-iv.INF, Fraction(1), True, False),
    Interval(-iv.INF, Fraction(1), True, True),
)
T_RANGE = Interval(Fraction(1), iv.INF, False, True)

# Seconds of SymPy work one compile may spend on domain checks; what is left when it runs out is
# reported "undecided". The library's largest spec needs well under 0.1 s.
COMPILE_BUDGET = 1.0


class Status(enum.StrEnum):
    """The verdict on one risky operation."""

    PROVED_SAFE = "proved safe"
    WARNING = "warning"
    UNDECIDED = "undecided"  # the time budget ran out


PROVED_SAFE, WARNING, UNDECIDED = Status.PROVED_SAFE, Status.WARNING, Status.UNDECIDED


@dataclass
class DomainCheck:
    """One risky operation and its verdict."""

    kind: str  # "division" | "sqrt" | "log" | "power"
    operand: str  # the operand in spec syntax, e.g. "sqrt(v_hat) + eps"
    status: Status
    reason: str  # why it is safe, or what goes wrong ("eps = 0 and v = 0 divides by zero")
    condition: str | None  # when it fails, e.g. "eps = 0 and v = 0"
    hint: str | None
    line: int
    statement: str
    span: Span

    def diagnostic(self) -> Diagnostic:
        if self.status == UNDECIDED:
            message = f"{_WHAT[self.kind]} `{self.operand}` was not checked: {self.reason}"
        else:
            message = f"{_WHAT[self.kind]} `{self.operand}` may fail: {self.reason}"
        return Diagnostic(Severity.WARNING, message, self.span, self.hint)

    @property
    def always_fails(self) -> bool:
        """Whether it fails on every input (``x / 0``, ``g / (v - v)``): a compile error."""
        return self.status == WARNING and self.condition == "always"

    def error(self) -> SpecError:
        """The compile error of a site that always fails."""
        return SpecError(_ALWAYS[self.kind].format(self.operand), self.span, self.hint)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "operand": self.operand,
            "status": self.status,
            "reason": self.reason,
            "condition": self.condition,
            "hint": self.hint,
            "line": self.line,
            "statement": self.statement,
        }


_WHAT = {"division": "division by", "sqrt": "sqrt of", "log": "log of", "power": "power"}


@dataclass
class DomainReport:
    """Every risky operation of a spec, plus the state invariants the proofs used."""

    name: str
    file: str
    invariants: dict[str, str]  # state → its inferred range, e.g. "[0, inf)" or "(-inf, inf)"
    checks: list[DomainCheck] = field(default_factory=list)

    @property
    def warnings(self) -> list[DomainCheck]:
        return [c for c in self.checks if c.status == WARNING]

    @property
    def undecided(self) -> list[DomainCheck]:
        return [c for c in self.checks if c.status == UNDECIDED]

    def diagnostics(self) -> list[Diagnostic]:
        return [c.diagnostic() for c in self.warnings + self.undecided]

    def to_json(self) -> dict:
        return {
            "spec": self.name,
            "file": self.file,
            "invariants": self.invariants,
            "checks": [c.to_json() for c in self.checks],
        }

    def render(self) -> str:
        lines = [f"domain checks for {self.name} ({self.file})"]
        invariants = ", ".join(f"{k} in {v}" for k, v in self.invariants.items()) or "no states"
        lines.append(f"  state invariants: {invariants}")
        if not self.checks:
            lines.append("  no divisions, square roots, logs or negative/fractional powers")
        for c in self.checks:
            verdict = {PROVED_SAFE: "proved safe", UNDECIDED: "UNDECIDED"}.get(c.status, "WARNING")
            lines.append(f"  line {c.line:<3} {_WHAT[c.kind]} `{c.operand}`: {verdict}: {c.reason}")
            if c.hint:
                lines.append(f"           help: {c.hint}")
        return "\n".join(lines)


def domain_warnings(program: Program, budget: float | None = COMPILE_BUDGET) -> list[Diagnostic]:
    """The warnings of :func:`domain_report`, for the compile pipeline.

    A risky operation that fails on every input (``g / 0``) raises its :class:`SpecError`. A
    failure of the analysis itself never stops a compile: it becomes one warning.
    """
    try:
        report = domain_report(program, budget)
    except Exception as err:
        message = f"domain checks skipped: the analysis failed ({type(err).__name__}: {err})"
        return [Diagnostic(Severity.WARNING, message, None, "please report this spec")]
    for check in report.checks:
        if check.always_fails:
            raise check.error()
    diagnostics = [c.diagnostic() for c in report.warnings]
    if report.undecided:  # one warning for all of them, at the first
        first = report.undecided[0]
        more = len(report.undecided) - 1
        message = f"{_WHAT[first.kind]} `{first.operand}`" + (
            f" and {more} more risky operation{'s' * (more > 1)}" if more else ""
        )
        diagnostics.append(
            Diagnostic(
                Severity.WARNING, f"{message} not checked: {first.reason}", first.span, first.hint
            )
        )
    return diagnostics


def domain_report(program: Program, budget: float | None = None) -> DomainReport:
    """Prove or warn about every division, sqrt, log and negative/fractional power.

    With a ``budget`` (seconds), the sites not judged when it runs out are "undecided".
    """
    report = DomainReport(program.name, program.file, {})
    judged: set[int] = set()
    analysis: _Analysis | None = None
    try:
        with bounded(budget):
            analysis = _Analysis(program)
            env = analysis.fixpoint()
            report.invariants = {
                s.name: str(env[analysis.symbols[s.name]]) for s in program.all_states
            }
            evaluator = IntervalEval(env)
            seen: set[tuple] = set()
            for index, site in enumerate(analysis.sites):
                key = (site.binding.id, site.kind, site.args, site.path)
                if key in seen:
                    judged.add(index)
                    continue
                seen.add(key)
                check = _judge(site, evaluator, analysis)
                judged.add(index)
                if check is not None:
                    report.checks.append(check)
    except BudgetExceeded:
        report.checks.extend(_undecided(program, analysis, judged, budget))
    return report


def _undecided(
    program: Program, analysis: _Analysis | None, judged: set[int], budget: float | None
) -> list[DomainCheck]:
    """A check per risky op the budget left unjudged (every one, if the analysis itself ran
    out: then they are found in the IR directly)."""
    reason = f"the symbolic analysis ran out of its {budget:g} s budget"
    hint = "simplify the expression, or run `optc check` (a larger budget)"
    if analysis is not None and analysis.sites:
        nodes = [
            (s.kind, s.node, s.binding) for i, s in enumerate(analysis.sites) if i not in judged
        ]
    else:
        nodes = [
            (_KINDS[node.op], node, binding)
            for binding in program.body
            for node in walk(binding.expr)
            if isinstance(node, Op) and node.op in _KINDS
        ]
    checks, seen = [], set()
    for kind, node, binding in nodes:
        if kind == "power" and isinstance(node.args[1], Const):
            value = node.args[1].value
            if float(value).is_integer() and value >= 0:
                continue  # x^2 cannot fail
        operand_node = node if kind == "power" else node.args[-1]
        operand = spec_text(operand_node, program)
        if (binding.id, kind, operand) in seen:
            continue
        seen.add((binding.id, kind, operand))
        span = node.span or binding.span
        checks.append(
            DomainCheck(
                kind, operand, UNDECIDED, reason, None, hint, span.line, binding.source, span
            )
        )
    return checks


def state_invariants(program: Program) -> dict[str, Interval]:
    """Each state's inferred range (the greatest fixpoint of the candidate bounds)."""
    with bounded(None):
        analysis = _Analysis(program)
        env = analysis.fixpoint()
    return {s.name: env[analysis.symbols[s.name]] for s in program.all_states}


# -- collecting the risky sites -------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    kind: str
    node: Op
    args: tuple[sympy.Basic, ...]
    path: tuple[sympy.Basic, ...]
    binding: Binding


class _Analysis:
    """The program with each state version as a symbol, its risky sites, and base ranges."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.symbols = program_symbols(program)
        self.versions: list[tuple[sympy.Symbol, sympy.Basic]] = []
        self.display: dict[str, str] = {}
        self.sites: list[_Site] = []
        self._translate_body()
        self.base = self._base_ranges()

    def _translate_body(self) -> None:
        env: dict[str, sympy.Basic] = dict(self.symbols)
        for binding in self.program.body:

            def hook(node: Op, args: list, path: tuple, binding: Binding = binding) -> None:
                kind = _KINDS.get(node.op)
                if kind is not None:
                    self.sites.append(_Site(kind, node, tuple(args), path, binding))

            value = Translator(env, hook)(binding.expr)
            if binding.target is None:
                env[binding.id] = value
            else:
                symbol = sympy.Symbol(binding.id, real=True)
                self.display[binding.id] = binding.display
                self.versions.append((symbol, value))
                env[binding.id] = symbol

    def _base_ranges(self) -> dict[sympy.Basic, Interval]:
        base: dict[sympy.Basic, Interval] = {self.symbols["t"]: T_RANGE}
        for hyper in self.program.hypers:
            if hyper.kind != "bool":
                base[self.symbols[hyper.name]] = hyper_range(hyper)
        return base

    def run(self, entry: Mapping[str, Interval]) -> dict[sympy.Basic, Interval]:
        """Ranges of every symbol after one step, given the states' ranges at entry."""
        env = dict(self.base)
        for state in self.program.all_states:
            env[self.symbols[state.name]] = entry[state.name]
        evaluator = IntervalEval(env)
        for symbol, value in self.versions:
            env[symbol] = evaluator.range(value)
        return env

    def fixpoint(self) -> dict[sympy.Basic, Interval]:
        """The greatest inductive combination of candidate bounds, and the ranges under it."""
        init_eval = IntervalEval(self.base)
        alive: dict[str, list[Interval]] = {}
        for state in self.program.all_states:
            start = init_eval(to_sympy(state.init, self.symbols))
            extra = [c for c in (_lower(start), _upper(start)) if c is not None]
            alive[state.name] = [c for c in (*CANDIDATES, *extra) if start.within(c)]
        while True:
            entry = {name: iv.meet(cands) for name, cands in alive.items()}
            env = self.run(entry)
            changed = False
            for state in self.program.all_states:
                final = env[self._final_symbol(state.name)]
                kept = [c for c in alive[state.name] if final.within(c)]
                changed |= len(kept) != len(alive[state.name])
                alive[state.name] = kept
            if not changed:
                return env

    def _final_symbol(self, state: str) -> sympy.Symbol:
        out = self.program.outputs.get(state)
        return sympy.Symbol(out, real=True) if out else self.symbols[state]

    def names(self, expr: sympy.Basic) -> dict[str, str]:
        """Spec names for the symbols of ``expr``: a state version prints as its state."""
        by_display: dict[str, list[str]] = {}
        for symbol in expr.free_symbols:
            by_display.setdefault(self.display.get(symbol.name, symbol.name), []).append(
                symbol.name
            )
        names = {}
        for display, ids in by_display.items():
            if len(ids) == 1:
                names[ids[0]] = display
            else:  # an entry value and a new version of one state side by side
                names.update({i: (f"{i}_entry" if i == display else i) for i in ids})
        return names


_KINDS = {"div": "division", "sqrt": "sqrt", "log": "log", "pow": "power"}


def hyper_range(hyper: Hyper) -> Interval:
    """A hyper's domain as an exact interval."""
    lo = Fraction(hyper.lo) if abs(hyper.lo) != iv.INF else hyper.lo
    hi = Fraction(hyper.hi) if abs(hyper.hi) != iv.INF else hyper.hi
    return iv._finish(lo, hi, not hyper.lo_closed, not hyper.hi_closed)


def _lower(x: Interval) -> Interval | None:
    return None if x.empty or abs(x.lo) == iv.INF else Interval(x.lo, iv.INF, x.lo_open, True)


def _upper(x: Interval) -> Interval | None:
    return None if x.empty or abs(x.hi) == iv.INF else Interval(-iv.INF, x.hi, True, x.hi_open)


# -- judging one site -----------------------------------------------------------------------------


def _judge(site: _Site, base: IntervalEval, analysis: _Analysis) -> DomainCheck | None:
    """Prove the site safe, or derive when it fails; None for powers that cannot fail."""
    evaluator = base
    for cond in site.path:
        evaluator = evaluator.assume(cond)
    if site.kind == "power":
        failure = _power_failure(site, evaluator)
        if failure is None:
            return None
    else:
        failure = (*_FAILURES[site.kind](site.args[-1], evaluator), _EFFECT[site.kind])
    operand_node = site.node if site.kind == "power" else site.node.args[-1]
    operand = spec_text(operand_node, analysis.program)
    make = _CheckMaker(site, operand, analysis)
    cond, range_text, effect = failure
    cond = _refute(cond, site.path, evaluator)
    if cond is sympy.false:
        return make.safe(range_text)
    return make.warning(cond, effect)


def _zero_failure(expr: sympy.Basic, ev: IntervalEval) -> tuple[sympy.Basic, str]:
    value = ev(expr)
    return zero_condition(expr, ev), f"it lies in {value}"


def _sqrt_failure(expr: sympy.Basic, ev: IntervalEval) -> tuple[sympy.Basic, str]:
    value = ev(expr)
    return negative_condition(expr, ev), f"it lies in {value}"


def _log_failure(expr: sympy.Basic, ev: IntervalEval) -> tuple[sympy.Basic, str]:
    value = ev(expr)
    return sympy.Or(negative_condition(expr, ev), zero_condition(expr, ev)), f"it lies in {value}"


_FAILURES = {"division": _zero_failure, "sqrt": _sqrt_failure, "log": _log_failure}


def _power_failure(site: _Site, ev: IntervalEval) -> tuple[sympy.Basic, str, str] | None:
    """A power fails at 0^negative or negative^fractional; integer powers ≥ 0 never fail."""
    base, expo = site.args
    expo_range = ev(expo)
    integer = bool(expo.is_integer)
    if integer and expo_range.nonneg:
        return None
    zero_base = sympy.false
    if not expo_range.nonneg:
        zero_base = sympy.And(zero_condition(base, ev), _decided(sympy.Lt(expo, 0), ev))
    negative_base = negative_condition(base, ev) if not integer else sympy.false
    text = f"the base lies in {ev(base)} and the exponent in {expo_range}"
    if negative_base is sympy.false:
        site_effect = "raises 0 to a negative power"
    elif zero_base is sympy.false:
        site_effect = "takes a fractional power of a negative number"
    else:
        site_effect = _EFFECT["power"]
    return sympy.Or(zero_base, negative_base), text, site_effect


def _decided(cond: sympy.Basic, ev: IntervalEval) -> sympy.Basic:
    """``cond``, or true/false when the ranges decide it."""
    verdict = ev.truth(cond)
    return cond if verdict is None else sympy.sympify(verdict)


class _CheckMaker:
    """Builds the check record of one site, with spec-named conditions and a hint."""

    def __init__(self, site: _Site, operand: str, analysis: _Analysis) -> None:
        self.site, self.operand, self.analysis = site, operand, analysis

    def _record(
        self, status: Status, reason: str, cond: str | None, hint: str | None
    ) -> DomainCheck:
        b = self.site.binding
        span = self.site.node.span or b.span  # the operator itself, where the IR knows it
        return DomainCheck(
            self.site.kind, self.operand, status, reason, cond, hint, span.line, b.source, span
        )

    def safe(self, range_text: str) -> DomainCheck:
        return self._record(PROVED_SAFE, range_text, None, None)

    def warning(self, cond: sympy.Basic, effect: str) -> DomainCheck:
        text = spec_str(cond, self.analysis.names(cond)) if cond is not sympy.true else None
        reason = f"{text} {effect}" if text else f"always {effect}"
        return self._record(WARNING, reason, text or "always", self._hint(cond))

    def _hint(self, cond: sympy.Basic) -> str:
        short, example = _GUARD[self.site.kind]
        for hyper in self.analysis.program.hypers:
            fix = _narrowed(hyper, cond, self.analysis.symbols[hyper.name])
            if fix is not None:
                return f"declare {hyper.name} in {fix}, or {short}"
        return f"{short} ({example})"


_EFFECT = {
    "division": "divides by zero",
    "sqrt": "takes the sqrt of a negative number",
    "log": "takes the log of a non-positive number",
    "power": "raises 0 to a negative power or a negative number to a fractional power",
}
_ALWAYS = {
    "division": "division by zero: the denominator `{}` is 0 for every input",
    "sqrt": "sqrt of a negative number: `{}` is negative for every input",
    "log": "log of a non-positive number: `{}` is <= 0 for every input",
    "power": "invalid power: `{}` raises 0 to a negative power or a negative number to a "
    "fractional power for every input",
}
_GUARD = {
    "division": ("guard the division", "e.g. add a positive eps to the denominator"),
    "sqrt": ("guard the argument", "e.g. max(x, 0)"),
    "log": ("guard the argument", "e.g. add a positive eps"),
    "power": ("guard the base", "e.g. max(x, eps) with eps > 0"),
}


def _narrowed(hyper: Hyper, cond: sympy.Basic, symbol: sympy.Symbol) -> str | None:
    """The domain of ``hyper`` with a closed end opened, if the failure needs that end."""
    for atom in cond.atoms(sympy.Eq):
        if atom.lhs != symbol and atom.rhs != symbol:
            continue
        value = atom.rhs if atom.lhs == symbol else atom.lhs
        if hyper.lo_closed and value == sympy.nsimplify(hyper.lo):
            return dataclasses.replace(hyper, lo_closed=False).domain_text()
        if hyper.hi_closed and value == sympy.nsimplify(hyper.hi):
            return dataclasses.replace(hyper, hi_closed=False).domain_text()
    return None


# -- exact failure conditions ---------------------------------------------------------------------


def zero_condition(expr: sympy.Basic, ev: IntervalEval) -> sympy.Basic:
    """A condition equivalent to ``expr = 0`` over the ranges of ``ev``, as simple as possible."""
    value = ev(expr)
    if not value.contains(Fraction(0)):
        return sympy.false
    if value == iv.point(Fraction(0)):
        return sympy.true
    if isinstance(expr, sympy.Symbol):
        return sympy.Eq(expr, 0)
    if isinstance(expr, sympy.Mul):
        return sympy.Or(*(zero_condition(f, ev) for f in expr.args))
    if isinstance(expr, sympy.Pow):
        expo = ev(expr.exp)
        if expo.positive:
            return zero_condition(expr.base, ev)
        if iv.neg(expo).nonneg:
            return sympy.false  # x^0 = 1, and 1/x is never 0 for a finite x
        return sympy.And(zero_condition(expr.base, ev), _decided(sympy.Gt(expr.exp, 0), ev))
    if isinstance(expr, sympy.Abs):
        return zero_condition(expr.args[0], ev)
    if isinstance(expr, sympy.exp):
        return sympy.false
    if isinstance(expr, sympy.Add) and _same_sign(expr.args, ev):
        return sympy.And(*(zero_condition(term, ev) for term in expr.args))
    return _solved(expr, ev)


def negative_condition(expr: sympy.Basic, ev: IntervalEval) -> sympy.Basic:
    """A condition equivalent to ``expr < 0`` (False when the range proves ``expr >= 0``)."""
    value = ev(expr)
    if value.nonneg:
        return sympy.false
    if iv.neg(value).positive:
        return sympy.true
    return sympy.Lt(expr, 0)


def _same_sign(terms: tuple[sympy.Basic, ...], ev: IntervalEval) -> bool:
    ranges = [ev(term) for term in terms]
    return all(r.nonneg for r in ranges) or all(iv.neg(r).nonneg for r in ranges)


def _solved(expr: sympy.Basic, ev: IntervalEval) -> sympy.Basic:
    """``expr = 0`` solved for one symbol when it is a low-degree rational function of it."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if len(symbols) > 4 or not expr.is_rational_function(*symbols):
        return sympy.Eq(expr, 0)
    for symbol in symbols:
        numer, _ = sympy.fraction(sympy.together(expr))
        if not numer.is_polynomial(symbol) or sympy.degree(numer, symbol) > 2:
            continue
        roots = [r for r in sympy.solve(expr, symbol) if _may_equal(symbol, r, ev)]
        return sympy.Or(*(sympy.Eq(symbol, r) for r in roots))
    return sympy.Eq(expr, 0)


def _may_equal(symbol: sympy.Symbol, root: sympy.Basic, ev: IntervalEval) -> bool:
    """Whether ``symbol = root`` is possible: the root is real and inside the symbol's range."""
    if root.is_real is False:
        return False
    return iv.intersect(ev(symbol), ev(root)).empty is False


def _refute(cond: sympy.Basic, path: tuple[sympy.Basic, ...], ev: IntervalEval) -> sympy.Basic:
    """Drop the disjuncts of a failure condition that contradict the path or the ranges.

    A disjunct's equalities ``x = c`` are substituted into the path conditions and its other
    atoms; if any then evaluates to False over the ranges, the disjunct cannot happen.
    """
    disjuncts = cond.args if isinstance(cond, sympy.Or) else (cond,)
    kept = [d for d in disjuncts if not _impossible(d, path, ev)]
    result = sympy.Or(*kept)
    return sympy.And(*path, result) if path and result is not sympy.false else result


def _impossible(disjunct: sympy.Basic, path: tuple[sympy.Basic, ...], ev: IntervalEval) -> bool:
    atoms = disjunct.args if isinstance(disjunct, sympy.And) else (disjunct,)
    subs = {
        a.lhs: a.rhs for a in atoms if isinstance(a, sympy.Eq) and isinstance(a.lhs, sympy.Symbol)
    }
    for claim in (*atoms, *path):
        claim = claim.xreplace(subs) if subs else claim
        if claim is sympy.false or ev.truth(claim) is False:
            return True
    return False
