"""Decide whether two specs are the same algorithm (``optc equiv A B --bind NAME=EXPR``).

Both steps are translated to SymPy over shared symbols (a hyper name means the same symbol in
both), the binds are substituted, and the θ update and every state transition are compared. A
state whose entry value no longer reaches θ (Adam's m once beta1 = 0) is memoryless and ignored;
the others are matched by name, else by equal transitions. Each comparison is decided by SymPy
(a difference that simplifies to 0, or a nonzero difference at an exact random point) or, when
SymPy cannot simplify a difference that every random point says is 0, left undecided with the
numeric evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy

from optc.check import intervals as iv
from optc.check.domains import T_RANGE, hyper_range, state_invariants
from optc.check.intervals import Interval, IntervalEval
from optc.check.properties import is_zero, simplify_expr
from optc.check.symbolic import (
    BOOL,
    domain_assumptions,
    input_symbols,
    numeric_equal,
    shorten,
    spec_str,
    symbolic_program,
)
from optc.equiv.arrays import compare_on_arrays
from optc.ir.nodes import Hyper, Program

SYMBOLIC = "symbolic"
NUMERIC = "numeric fallback"


@dataclass
class Difference:
    """One output on which the two specs differ (or that only one of them has)."""

    output: str  # "theta", "state m", "init of m", "state v_max (only in AMSGrad)"
    difference: str  # the simplified a - b, or what is missing
    counterexample: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "output": self.output,
            "difference": self.difference,
            "counterexample": self.counterexample,
        }


@dataclass
class EquivResult:
    """The verdict: ``equal`` True/False, or None when only random tests agree."""

    a: str
    b: str
    binds: dict[str, str]
    equal: bool | None
    method: str  # SYMBOLIC | NUMERIC
    matched: list[tuple[str, str]]
    ignored: dict[str, list[str]]  # spec name → its memoryless states
    compared: dict[str, str]  # output → "equal" | "differs" | "equal numerically (not proved)"
    differences: list[Difference] = field(default_factory=list)

    @property
    def first_difference(self) -> Difference | None:
        return self.differences[0] if self.differences else None

    def to_json(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "binds": self.binds,
            "equal": self.equal,
            "method": self.method,
            "matched_states": [list(pair) for pair in self.matched],
            "memoryless_states": self.ignored,
            "compared": self.compared,
            "differences": [d.to_json() for d in self.differences],
        }

    def render(self) -> str:
        sign = {True: "==", False: "!=", None: "=?"}[self.equal]
        binds = ", ".join(f"{k} = {v}" for k, v in self.binds.items())
        verdict = {True: "equivalent", False: "NOT equivalent", None: "undecided"}[self.equal]
        lines = [f"{self.a} {sign} {self.b}" + (f"  (with {binds})" if binds else "")]
        lines.append(f"  verdict: {verdict} ({self.method})")
        if self.matched:
            lines.append("  states: " + ", ".join(f"{x} <-> {y}" for x, y in self.matched))
        for name, states in self.ignored.items():
            if states:
                lines.append(f"  memoryless in {name} (ignored): {', '.join(states)}")
        for output, status in self.compared.items():
            lines.append(f"  {output}: {status}")
        if self.differences:
            first = self.differences[0]
            lines.append(f"  first difference: {first.output}: {shorten(first.difference, 400)}")
            if first.counterexample:
                point = ", ".join(f"{k} = {v}" for k, v in first.counterexample.items())
                lines.append(f"    e.g. at {point}")
            for other in self.differences[1:]:
                lines.append(f"  also: {other.output}: {shorten(other.difference, 400)}")
        return "\n".join(lines)


def equivalent(a: Program, b: Program, binds: Mapping[str, str] | None = None) -> EquivResult:
    """Decide whether ``a`` and ``b`` compute the same θ update and state transitions once
    the hypers in ``binds`` are replaced by their expressions (over hyper names)."""
    return _Decision(a, b, dict(binds or {})).run()


# -- the decision ---------------------------------------------------------------------------------


@dataclass
class _Side:
    """One program translated over the shared symbols, binds substituted."""

    program: Program
    states: dict[str, sympy.Symbol]  # state → entry symbol
    theta: sympy.Basic
    outputs: dict[str, sympy.Basic]  # state → new value
    inits: dict[str, sympy.Basic]
    influential: list[str]


class _Decision:
    def __init__(self, a: Program, b: Program, binds: dict[str, str]) -> None:
        self.a, self.b, self.binds = a, b, binds
        self.inputs = input_symbols()
        self.ranges: dict[sympy.Symbol, Interval | str] = {self.inputs["t"]: T_RANGE}
        self.hypers = self._hyper_symbols()
        self.values = self._bind_values()
        self.sides = [self._side(a, ""), self._side(b, "'")]
        self.rename: dict[sympy.Symbol, sympy.Symbol] = {}

    # -- symbols ----------------------------------------------------------------------------------
    def _hyper_symbols(self) -> dict[str, sympy.Symbol]:
        """One symbol per hyper name, assumptions from the intersection of its domains."""
        declared: dict[str, list[Hyper]] = {}
        for program in (self.a, self.b):
            for hyper in program.hypers:
                declared.setdefault(hyper.name, []).append(hyper)
        for name in self.binds:
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise ValueError(
                    f"--bind {name}: not a hyper of {self.a.name} or {self.b.name}"
                    f" (hypers: {known})"
                )
        symbols = {}
        for name, hypers in declared.items():
            kind = hypers[0].kind
            domain = iv.meet([hyper_range(h) for h in hypers]) if kind != "bool" else None
            symbols[name] = self._make_symbol(name, kind, domain)
        for name in self._new_names(symbols):
            bound = [h for hs in declared.values() for h in hs if self.binds.get(h.name) == name]
            kind = bound[0].kind if bound else "real"
            domain = iv.meet([hyper_range(h) for h in bound]) if kind != "bool" else None
            symbols[name] = self._make_symbol(name, kind, domain)
        return symbols

    def _new_names(self, known: Mapping[str, sympy.Symbol]) -> list[str]:
        """Names used in bind expressions that are no hyper of either spec."""
        names: set[str] = set()
        for text in self.binds.values():
            parsed = sympy.sympify(sympy.parse_expr(text, local_dict={**self.inputs, **known}))
            names |= {s.name for s in parsed.free_symbols} - set(known) - set(self.inputs)
        return sorted(names)

    def _make_symbol(self, name: str, kind: str, domain: Interval | None) -> sympy.Symbol:
        if domain is None:
            symbol = sympy.Symbol(name)
            self.ranges[symbol] = BOOL
            return symbol
        if domain.empty:
            raise ValueError(f"the domains of `{name}` in the two specs do not overlap")
        lo, hi = float(domain.lo), float(domain.hi)
        assumptions = domain_assumptions(kind, lo, hi, not domain.lo_open, not domain.hi_open)
        symbol = sympy.Symbol(name, **assumptions)
        self.ranges[symbol] = domain
        return symbol

    def _bind_values(self) -> dict[sympy.Symbol, sympy.Basic]:
        local = {**self.inputs, **self.hypers}
        values = {}
        for name, text in self.binds.items():
            try:
                values[self.hypers[name]] = sympy.sympify(sympy.parse_expr(text, local_dict=local))
            except (SyntaxError, TypeError, sympy.SympifyError) as err:
                raise ValueError(f"--bind {name}={text}: cannot parse: {err}") from None
        return values

    # -- one side ---------------------------------------------------------------------------------
    def _side(self, program: Program, mark: str) -> _Side:
        states = {s.name: sympy.Symbol(s.name + mark, real=True) for s in program.all_states}
        symbols = {**self.inputs, **{h.name: self.hypers[h.name] for h in program.hypers}}
        symbols.update(states)
        sp = symbolic_program(program, symbols)
        bind = self.values
        theta = sp.outputs["theta"].xreplace(bind)
        outputs = {s: sp.outputs[s].xreplace(bind) for s in states}
        inits = {s: sp.inits[s].xreplace(bind) for s in states}
        for name, value in state_invariants(program).items():
            self.ranges[states[name]] = value
        influential = _influential(theta, outputs, states)
        return _Side(program, states, theta, outputs, inits, influential)

    # -- matching and comparing -------------------------------------------------------------------
    def run(self) -> EquivResult:
        a, b = self.sides
        matched = self._match()
        rename = {b.states[y]: a.states[x] for x, y in matched}
        self.rename = rename
        checks: list[tuple[str, sympy.Basic, sympy.Basic]] = [
            ("theta", a.theta, b.theta.xreplace(rename))
        ]
        for x, y in matched:
            label = f"state {x}" if x == y else f"state {x} ({self.b.name}: {y})"
            checks.append((label, a.outputs[x], b.outputs[y].xreplace(rename)))
            checks.append((f"init of {x}", a.inits[x], b.inits[y]))
        compared, differences, numeric = self._compare(checks)
        for side, other in ((a, b), (b, a)):
            paired = {x for x, _ in matched} if side is a else {y for _, y in matched}
            for name in side.influential:
                if name not in paired:
                    differences.append(self._unmatched(side, other, name))
        if numeric and not differences:  # undecided one coordinate at a time: try whole arrays
            self._arrays(compared, differences)
        equal: bool | None = not differences
        if equal and numeric:
            equal = None
        return EquivResult(
            a=self.a.name,
            b=self.b.name,
            binds=self.binds,
            equal=equal,
            method=NUMERIC if equal is None else SYMBOLIC,
            matched=matched,
            ignored={s.program.name: _memoryless(s) for s in self.sides},
            compared=compared,
            differences=differences,
        )

    def _arrays(self, compared: dict[str, str], differences: list[Difference]) -> None:
        """The randomized array fallback (optc.equiv.arrays): evidence, never a proof."""
        try:
            verdict = compare_on_arrays(self.a, self.b, self.binds)
        except Exception as err:  # a spec the reference cannot step alone (e.g. NaN hypers)
            compared["theta on random arrays"] = f"not run ({type(err).__name__}: {err})"
            return
        compared["theta on random arrays"] = verdict.text()
        if not verdict.equal:
            differences.append(Difference("theta on random arrays", verdict.text()))

    def _match(self) -> list[tuple[str, str]]:
        """Pair influential states: by name first, then by equal transition and init."""
        a, b = self.sides
        shape = {**{("a", s.name): s.shape for s in self.a.states},
                 **{("b", s.name): s.shape for s in self.b.states}}  # fmt: skip
        pairs = [
            (x, x) for x in a.influential if x in b.influential and shape["a", x] == shape["b", x]
        ]
        rename = {b.states[y]: a.states[x] for x, y in pairs}
        for x in a.influential:
            if any(x == p for p, _ in pairs):
                continue
            for y in b.influential:
                if any(y == q for _, q in pairs) or shape["a", x] != shape["b", y]:
                    continue
                trial = {**rename, b.states[y]: a.states[x]}
                if self._same(a.outputs[x], b.outputs[y].xreplace(trial)) and self._same(
                    a.inits[x], b.inits[y]
                ):
                    pairs.append((x, y))
                    rename = trial
                    break
        return pairs

    def _same(self, x: sympy.Basic, y: sympy.Basic) -> bool:
        agree, _ = numeric_equal(x, y, self.ranges)
        return agree is not False and is_zero(x - y, self._evaluator())

    def _evaluator(self) -> IntervalEval:
        return IntervalEval({s: r for s, r in self.ranges.items() if r != BOOL})

    def _compare(
        self, checks: list[tuple[str, sympy.Basic, sympy.Basic]]
    ) -> tuple[dict[str, str], list[Difference], bool]:
        compared: dict[str, str] = {}
        differences: list[Difference] = []
        numeric = False
        for label, x, y in checks:
            agree, point = numeric_equal(x, y, self.ranges)
            if agree is False:
                compared[label] = "differs"
                differences.append(self._difference(label, x, y, point))
            elif is_zero(x - y, self._evaluator()):
                compared[label] = "equal"
            elif agree is None:  # no random point could be evaluated (e.g. reductions)
                compared[label] = "undecided (not proved; no random point could be evaluated)"
                numeric = True
            else:
                compared[label] = "equal numerically (not proved)"
                numeric = True
        return compared, differences, numeric

    def _difference(
        self, label: str, x: sympy.Basic, y: sympy.Basic, point: Mapping[sympy.Symbol, sympy.Basic]
    ) -> Difference:
        diff = simplify_expr(x - y, self._evaluator())
        names = self._names(diff)
        text = f"{self.a.name} - {self.b.name} = {spec_str(diff, names)}"
        used = diff.free_symbols or (x.free_symbols | y.free_symbols)
        example = {names.get(s.name, s.name): str(v) for s, v in point.items() if s in used}
        return Difference(label, text, example)

    def _unmatched(self, side: _Side, other: _Side, name: str) -> Difference:
        value = side.outputs[name].xreplace(self.rename)
        update = spec_str(value, self._names(value))
        return Difference(
            f"state {name} (only in {side.program.name})",
            f"{side.program.name} keeps `{name}` (new value {update}); "
            f"{other.program.name} has no matching state",
        )

    def _names(self, expr: sympy.Basic) -> dict[str, str]:
        """Print b's state symbols without their mark unless a has a state of that name."""
        a_names = set(self.sides[0].states)
        return {
            s.name: s.name[:-1]
            for s in expr.free_symbols
            if s.name.endswith("'") and s.name[:-1] not in a_names
        }


def _influential(
    theta: sympy.Basic, outputs: Mapping[str, sympy.Basic], states: Mapping[str, sympy.Symbol]
) -> list[str]:
    """States whose entry value reaches θ, directly or through other such states."""
    by_symbol = {symbol: name for name, symbol in states.items()}
    found: list[str] = []
    frontier = [theta]
    while frontier:
        expr = frontier.pop()
        for symbol in expr.free_symbols:
            name = by_symbol.get(symbol)
            if name is not None and name not in found:
                found.append(name)
                frontier.append(outputs[name])
    return [name for name in states if name in found]


def _memoryless(side: _Side) -> list[str]:
    return [name for name in side.states if name not in side.influential]
