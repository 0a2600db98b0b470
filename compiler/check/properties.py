"""The property report of a spec (``optc check``): what SymPy can say about the algorithm.

(a) invariance of the update to the gradient's scale (g → c·g, c > 0) as eps → 0, decided on two
unrolled steps from the initial states with symbolic gradients g_1, g_2; (b) the update at g = 0
from the initial state; (c) the first step in closed form (at eps = 0 too, with x/|x| written
sign(x): Adam's is -lr*sign(g)); (d) state memory per parameter; (e) elementwise ops per step.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy

from optc.check.domains import hyper_range
from optc.check.intervals import POSITIVE, REALS, IntervalEval, neg
from optc.check.symbolic import (
    BOOL,
    Ranges,
    SymbolicProgram,
    numeric_equal,
    spec_str,
    symbolic_program,
)
from optc.ir.nodes import Op, Program, Shape, walk

PROVED = "proved"
DISPROVED = "disproved"
NUMERIC = "holds numerically (not proved)"
UNDECIDED = "undecided"


@dataclass
class PropertyReport:
    """The properties of one spec; the SymPy forms ride along for tests and other checks."""

    name: str
    file: str
    scale_invariance: str  # PROVED | DISPROVED | NUMERIC | UNDECIDED
    scale_detail: str
    update_at_zero: str
    first_step: str
    first_step_eps0: str | None  # None when the spec has no eps hyper
    memory: str  # e.g. "2·numel"
    tensor_states: int
    scalar_states: int
    elementwise_ops: int
    ops_by_kind: dict[str, int]
    exprs: dict[str, sympy.Basic] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        return {
            "spec": self.name,
            "file": self.file,
            "scale_invariance": {"status": self.scale_invariance, "detail": self.scale_detail},
            "update_at_zero_grad": self.update_at_zero,
            "first_step": self.first_step,
            "first_step_eps0": self.first_step_eps0,
            "memory": {
                "formula": self.memory,
                "tensor_states": self.tensor_states,
                "scalar_states": self.scalar_states,
            },
            "elementwise_ops": {"total": self.elementwise_ops, "by_op": self.ops_by_kind},
        }

    def render(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in self.ops_by_kind.items())
        lines = [
            f"properties of {self.name} ({self.file})",
            f"  gradient-scale invariance (g -> c*g, eps -> 0): {self.scale_invariance}"
            + (f": {self.scale_detail}" if self.scale_detail else ""),
            f"  update at g = 0 from the initial state: dtheta = {self.update_at_zero}",
            f"  first step: dtheta_1 = {self.first_step}",
        ]
        if self.first_step_eps0 is not None:
            lines.append(f"  first step at eps = 0: dtheta_1 = {self.first_step_eps0}")
        lines.append(f"  state memory per parameter: {self.memory}")
        lines.append(f"  elementwise ops per step: {self.elementwise_ops} ({ops or 'none'})")
        return "\n".join(lines)


def property_report(program: Program) -> PropertyReport:
    """Compute every property of a spec (a second or two for the larger specs)."""
    sp = symbolic_program(program)
    ranges = _ranges(program, sp)
    eps0 = {sp.symbols[h.name]: sympy.Integer(0) for h in program.hypers if _is_eps(h.name)}
    evaluator = IntervalEval({s: r for s, r in ranges.items() if r != BOOL})
    first = _simplify(_first_step(sp, sp.symbols["g"], ranges), evaluator)
    zero = _simplify(_first_step(sp, sympy.Integer(0), ranges), evaluator)
    first_eps0 = _simplify(first.xreplace(eps0), evaluator) if eps0 else None
    status, detail = scale_invariance(sp, ranges, eps0)
    tensors = sum(s.shape is Shape.TENSOR for s in program.states)
    scalars = len(program.states) - tensors
    ops = elementwise_ops(program)
    exprs = {"first_step": first, "update_at_zero": zero}
    if first_eps0 is not None:
        exprs["first_step_eps0"] = first_eps0
    return PropertyReport(
        name=program.name,
        file=program.file,
        scale_invariance=status,
        scale_detail=detail,
        update_at_zero=_text(zero),
        first_step=_text(first),
        first_step_eps0=_text(first_eps0) if first_eps0 is not None else None,
        memory=memory_formula(tensors, scalars),
        tensor_states=tensors,
        scalar_states=scalars,
        elementwise_ops=sum(ops.values()),
        ops_by_kind=dict(sorted(ops.items())),
        exprs=exprs,
    )


def _is_eps(name: str) -> bool:
    return name.startswith("eps")


def _ranges(program: Program, sp: SymbolicProgram) -> dict[sympy.Symbol, object]:
    """The range of every hyper (booleans marked), for branch decisions and random tests."""
    ranges: dict[sympy.Symbol, object] = {}
    for hyper in program.hypers:
        ranges[sp.symbols[hyper.name]] = BOOL if hyper.kind == "bool" else hyper_range(hyper)
    return ranges


# -- unrolling ------------------------------------------------------------------------------------


def unroll(
    sp: SymbolicProgram, grads: list[sympy.Basic], ranges: Ranges
) -> list[sympy.Basic]:
    """θ after each step from the initial states, step k seeing gradient ``grads[k-1]``."""
    theta = sp.symbols["theta"]
    states = dict(sp.inits)
    thetas = []
    for k, grad in enumerate(grads, start=1):
        mapping = {sp.symbols["g"]: grad, sp.symbols["t"]: sympy.Integer(k), sp.symbols["theta"]: theta}
        mapping.update({sp.symbols[name]: value for name, value in states.items()})
        theta = decide_branches(sp.outputs["theta"].xreplace(mapping), ranges)
        states = {
            name: decide_branches(sp.outputs[name].xreplace(mapping), ranges) for name in states
        }
        thetas.append(theta)
    return thetas


def _first_step(sp: SymbolicProgram, grad: sympy.Basic, ranges: Ranges) -> sympy.Basic:
    return unroll(sp, [grad], ranges)[0] - sp.symbols["theta"]


def decide_branches(expr: sympy.Basic, ranges: Ranges) -> sympy.Basic:
    """Resolve the branch conditions of ``expr`` that the hyper ranges decide."""
    if not expr.has(sympy.Piecewise):
        return expr
    evaluator = IntervalEval({s: r for s, r in ranges.items() if r != BOOL})

    def fix(*pairs: sympy.Basic) -> sympy.Basic:
        pieces = []
        for value, cond in pairs:
            verdict = _truth(cond, evaluator)
            if verdict is False:
                continue
            pieces.append((value, sympy.true if verdict else cond))
            if verdict:
                break
        return sympy.Piecewise(*pieces) if pieces else sympy.nan

    return expr.replace(lambda e: isinstance(e, sympy.Piecewise), lambda e: fix(*e.args))


def _truth(cond: sympy.Basic, evaluator: IntervalEval) -> bool | None:
    verdict = evaluator.truth(cond)
    if verdict is not None:
        return verdict
    simpler = cond.replace(
        lambda e: isinstance(e, sympy.Rel) and not isinstance(e, sympy.Eq | sympy.Ne),
        lambda e: e.func(sympy.simplify(e.lhs - e.rhs), 0),
    )
    if simpler is sympy.true or simpler is sympy.false:
        return bool(simpler)
    return evaluator.truth(simpler)


# -- (a) gradient-scale invariance ----------------------------------------------------------------


def scale_invariance(
    sp: SymbolicProgram, ranges: Ranges, eps0: Mapping[sympy.Symbol, sympy.Basic]
) -> tuple[str, str]:
    """Whether Δθ₁ and Δθ₂ are unchanged under g → c·g (c > 0) once every eps* is 0."""
    at0 = SymbolicProgram(
        sp.program,
        sp.symbols,
        sp.bindings,
        {k: v.xreplace(eps0) for k, v in sp.outputs.items()},
        {k: v.xreplace(eps0) for k, v in sp.inits.items()},
    )
    g1, g2 = sympy.Symbol("g_1", real=True), sympy.Symbol("g_2", real=True)
    c = sympy.Symbol("c", positive=True)
    ranges = {**ranges, c: POSITIVE}
    plain = _deltas(at0, [g1, g2], ranges)
    scaled = _deltas(at0, [c * g1, c * g2], ranges)
    if any(d.has(sympy.nan, sympy.zoo) for d in plain + scaled):
        return UNDECIDED, "the unrolled update is 0/0 at eps = 0"
    for k, (a, b) in enumerate(zip(plain, scaled, strict=True), start=1):
        same, point = numeric_equal(a, b, {**ranges, g1: REALS, g2: REALS})
        if same is False:
            diff = _simplify(b - a, IntervalEval({s: r for s, r in ranges.items() if r != BOOL}))
            where = ", ".join(f"{s} = {v}" for s, v in point.items() if s in diff.free_symbols)
            return DISPROVED, f"step {k}: dtheta(c*g) - dtheta(g) = {_text(diff)} (e.g. at {where})"
    if all(_is_zero(b - a) for a, b in zip(plain, scaled, strict=True)):
        vanishes = all(_is_zero(a) for a in plain)
        return PROVED, "the update vanishes as eps -> 0" if vanishes else "two unrolled steps"
    return NUMERIC, "SymPy could not simplify the difference to 0; random points agree"


def _deltas(sp: SymbolicProgram, grads: list[sympy.Basic], ranges: Ranges) -> list[sympy.Basic]:
    thetas = [sp.symbols["theta"], *unroll(sp, grads, ranges)]
    return [after - before for before, after in zip(thetas, thetas[1:], strict=False)]


def _is_zero(expr: sympy.Basic) -> bool:
    """Whether SymPy can show ``expr == 0`` (cheap canonical forms first)."""
    if expr == 0:
        return True
    for transform in (sympy.factor_terms, sympy.cancel, sympy.simplify):
        try:
            if transform(expr) == 0:
                return True
        except (sympy.PolynomialError, TypeError, ValueError):
            continue
    return False


# -- closed forms ---------------------------------------------------------------------------------


_SGN = sympy.Function("sgn")  # sign(x) hidden from simplify, which would expand it to cases


def _simplify(expr: sympy.Basic, evaluator: IntervalEval) -> sympy.Basic:
    """The shortest of a few canonical forms, x/|x| written sign(x), known signs pulled out."""
    expr = _normalize(expr, evaluator).replace(sympy.sign, _SGN)
    candidates = [expr]
    if sympy.count_ops(expr) < 300:
        candidates += [sympy.expand(expr), sympy.simplify(expr)]
    candidates += [sympy.factor_terms(c) for c in candidates]
    best = min(candidates, key=lambda e: (sympy.count_ops(e), len(str(e))))
    return _normalize(best.replace(_SGN, sympy.sign), evaluator)


def _normalize(expr: sympy.Basic, evaluator: IntervalEval) -> sympy.Basic:
    return sign_rewrite(pull_known_signs(sign_rewrite(expr), evaluator))


def pull_known_signs(expr: sympy.Basic, evaluator: IntervalEval) -> sympy.Basic:
    """sign(p·x) → sign(x) and |p·x| → p·|x| for factors p of known sign (e.g. 1 - beta1)."""

    def split(arg: sympy.Basic) -> tuple[sympy.Basic, sympy.Basic]:
        known, rest = sympy.Integer(1), []
        for factor in sympy.Mul.make_args(sympy.factor_terms(arg)):
            value = evaluator(factor)
            if value.positive:
                known *= factor
            elif neg(value).positive:
                known *= -factor
                rest.append(sympy.Integer(-1))
            else:
                rest.append(factor)
        return known, sympy.Mul(*rest)

    def fix_sign(e: sympy.Basic) -> sympy.Basic:
        return sympy.sign(split(e.args[0])[1])

    def fix_abs(e: sympy.Basic) -> sympy.Basic:
        known, rest = split(e.args[0])
        return known * sympy.Abs(rest)

    expr = expr.replace(lambda e: isinstance(e, sympy.sign), fix_sign)
    return expr.replace(lambda e: isinstance(e, sympy.Abs), fix_abs)


def sign_rewrite(expr: sympy.Basic) -> sympy.Basic:
    """Replace every x·|x|^-1 by sign(x) (and x^k·|x|^-k by sign(x)^k)."""

    def fix(mul: sympy.Mul) -> sympy.Basic:
        factors = list(mul.args)
        for i, factor in enumerate(factors):
            base, expo = factor.as_base_exp()
            if isinstance(base, sympy.Abs) and expo.is_negative and expo.is_integer:
                x = base.args[0]
                for j, other in enumerate(factors):
                    if j != i and other.as_base_exp() == (x, -expo):
                        rest = [f for k, f in enumerate(factors) if k not in (i, j)]
                        return sympy.Mul(*rest, sympy.sign(x) ** (-expo))
        return mul

    previous = None
    while previous != expr:
        previous, expr = expr, expr.replace(lambda e: isinstance(e, sympy.Mul), fix)
    return expr


def _text(expr: sympy.Basic) -> str:
    return spec_str(expr)


# -- (d) memory and (e) op count ------------------------------------------------------------------


def memory_formula(tensors: int, scalars: int) -> str:
    """State elements per parameter: ``2·numel``, ``numel + 1``, ``0``..."""
    parts = []
    if tensors:
        parts.append("numel" if tensors == 1 else f"{tensors}·numel")
    if scalars:
        parts.append(str(scalars))
    return " + ".join(parts) or "0"


def elementwise_ops(program: Program) -> collections.Counter[str]:
    """Tensor-typed op nodes of one step by op, identical subtrees counted once."""
    seen: set[Op] = set()
    for binding in program.body:
        for node in walk(binding.expr):
            if isinstance(node, Op) and node.type.is_tensor:
                seen.add(node)
    return collections.Counter(node.op for node in seen)
