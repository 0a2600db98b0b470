"""The property report of a spec (``optc check``): what SymPy can say about the algorithm.

(a) invariance of the update to the gradient's scale (g → c·g, c > 0) as eps → 0, decided on two
unrolled steps from the initial states with symbolic gradients g_1, g_2; (b) the update at g = 0
from the initial state; (c) the first step in closed form (at eps = 0 too, with x/|x| written
sign(x): Adam's is -lr*sign(g)); (d) state memory per parameter; (e) elementwise ops per step.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import sympy

from optc.check import intervals as iv
from optc.check.budget import BudgetExceeded, bounded
from optc.check.domains import hyper_range
from optc.check.intervals import POSITIVE, REALS, Interval, IntervalEval, neg
from optc.check.symbolic import (
    BOOL,
    Ranges,
    SymbolicProgram,
    numeric_equal,
    shorten,
    spec_str,
    symbolic_program,
)
from optc.ir.nodes import Op, Program, Shape, walk
from optc.render.spec import spec_text

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
    memory: str  # e.g. "2·numel", "rows + cols"
    tensor_states: int
    scalar_states: int
    elementwise_ops: int
    ops_by_kind: dict[str, int]
    exprs: dict[str, sympy.Basic] = field(default_factory=dict, repr=False)
    rows_states: int = 0  # one number per row of θ's matrix view
    cols_states: int = 0  # one number per column

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
                "rows_states": self.rows_states,
                "cols_states": self.cols_states,
            },
            "elementwise_ops": {"total": self.elementwise_ops, "by_op": self.ops_by_kind},
        }

    def render(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in self.ops_by_kind.items())
        lines = [
            f"properties of {self.name} ({self.file})",
            f"  gradient-scale invariance (g -> c*g, eps -> 0): {self.scale_invariance}"
            + (f": {self.scale_detail}" if self.scale_detail else ""),
            f"  update at g = 0 from the initial state: dtheta = {shorten(self.update_at_zero, 300)}",
            f"  first step: dtheta_1 = {shorten(self.first_step, 300)}",
        ]
        if self.first_step_eps0 is not None:
            lines.append(
                f"  first step at eps = 0: dtheta_1 = {shorten(self.first_step_eps0, 300)}"
            )
        lines.append(f"  state memory per parameter: {self.memory}")
        lines.append(f"  elementwise ops per step: {self.elementwise_ops} ({ops or 'none'})")
        return "\n".join(lines)


PROPERTY_BUDGET = 30.0  # CPU seconds of SymPy work per report; what is left is "undecided"


def property_report(program: Program, budget: float | None = PROPERTY_BUDGET) -> PropertyReport:
    """Compute every property of a spec (a second or two for the larger specs).

    SymPy's work is bounded: what is not done within ``budget`` CPU seconds is reported
    undecided, and exact powers too large to compute stay symbolic.
    """
    has_eps = any(_is_eps(h.name) for h in program.hypers)
    out = f"undecided: the symbolic analysis ran out of its {budget:g} s budget" if budget else ""
    texts = {"zero": out, "first": out, "first_eps0": out if has_eps else None}
    status, detail = UNDECIDED, out
    exprs: dict[str, sympy.Basic] = {}
    try:
        with bounded(budget):
            sp = symbolic_program(program)
            ranges = _ranges(program, sp)
            eps0 = {sp.symbols[h.name]: sympy.Integer(0) for h in program.hypers if _is_eps(h.name)}
            evaluator = IntervalEval({s: r for s, r in ranges.items() if r != BOOL})
            first = _attempt(
                lambda: simplify_expr(_first_step(sp, sp.symbols["g"], ranges), evaluator)
            )
            exprs["first_step"], texts["first"] = first, _text(first)
            zero = _attempt(
                lambda: simplify_expr(_first_step(sp, sympy.Integer(0), ranges), evaluator)
            )
            exprs["update_at_zero"], texts["zero"] = zero, _text(zero)
            if eps0:
                first_eps0 = _attempt(lambda: simplify_expr(first.xreplace(eps0), evaluator))
                exprs["first_step_eps0"], texts["first_eps0"] = first_eps0, _text(first_eps0)
            try:
                status, detail = scale_invariance(sp, ranges, eps0)
            except Exception as err:  # SymPy can fail on odd programs; the report still comes
                status, detail = UNDECIDED, f"SymPy failed while unrolling ({type(err).__name__})"
    except BudgetExceeded:
        pass
    counts = _StateCounts.of(program.states)
    ops = elementwise_ops(program)
    return PropertyReport(
        name=program.name,
        file=program.file,
        scale_invariance=status,
        scale_detail=detail,
        update_at_zero=texts["zero"],
        first_step=texts["first"],
        first_step_eps0=texts["first_eps0"],
        memory=state_memory(program)
        + (f"; {len(program.globals)} per param group" if program.globals else ""),
        tensor_states=counts.tensors,
        scalar_states=counts.scalars,
        rows_states=counts.rows,
        cols_states=counts.cols,
        elementwise_ops=sum(ops.values()),
        ops_by_kind=dict(sorted(ops.items())),
        exprs=exprs,
    )


def _attempt(compute: Callable[[], sympy.Basic]) -> sympy.Basic:
    """A closed form, or NaN when SymPy fails on it (printed as ``nan``)."""
    try:
        return compute()
    except Exception:  # SymPy raises many kinds of errors on pathological programs
        return sympy.nan


def _is_eps(name: str) -> bool:
    return name.startswith("eps")


def _ranges(program: Program, sp: SymbolicProgram) -> dict[sympy.Symbol, Interval | str]:
    """The range of every hyper (booleans marked), for branch decisions and random tests."""
    ranges: dict[sympy.Symbol, Interval | str] = {}
    for hyper in program.hypers:
        ranges[sp.symbols[hyper.name]] = BOOL if hyper.kind == "bool" else hyper_range(hyper)
    return ranges


# -- unrolling ------------------------------------------------------------------------------------


def unroll(sp: SymbolicProgram, grads: list[sympy.Basic], ranges: Ranges) -> list[sympy.Basic]:
    """θ after each step from the initial states, step k seeing gradient ``grads[k-1]``."""
    theta = sp.symbols["theta"]
    states = dict(sp.inits)
    thetas = []
    for k, grad in enumerate(grads, start=1):
        mapping = {
            sp.symbols["g"]: grad,
            sp.symbols["t"]: sympy.Integer(k),
            sp.symbols["theta"]: theta,
        }
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
    # only conditions on hypers alone can be decided by their ranges: simplify just those
    simpler = cond.replace(
        lambda e: (
            isinstance(e, sympy.Rel)
            and not isinstance(e, sympy.Eq | sympy.Ne)
            and e.free_symbols <= evaluator.env.keys()
        ),
        lambda e: e.func(_cheap_simplify(e.lhs - e.rhs), 0),
    )
    if simpler is sympy.true or simpler is sympy.false:
        return bool(simpler)
    return evaluator.truth(simpler)


def _branchy(expr: sympy.Basic) -> bool:
    """Whether ``expr`` holds branches or conditions, which make sympy.simplify very slow."""
    return expr.has(sympy.Piecewise, sympy.ITE, sympy.Rel, sympy.logic.boolalg.BooleanFunction)


# sign, min and max hidden from sympy.simplify, which would expand them into slow case splits
_OPAQUE = {sympy.sign: sympy.Function("sgn"), sympy.Min: sympy.Function("mn"),
           sympy.Max: sympy.Function("mx")}  # fmt: skip


def _protected_simplify(expr: sympy.Basic) -> sympy.Basic:
    """sympy.simplify with sign/min/max kept opaque; ``expr`` itself if it has branches."""
    if _branchy(expr):
        return expr
    for function, opaque in _OPAQUE.items():
        expr = expr.replace(function, opaque)
    expr = sympy.simplify(expr)
    for function, opaque in _OPAQUE.items():
        expr = expr.replace(opaque, function)
    return expr


def _cheap_simplify(expr: sympy.Basic) -> sympy.Basic:
    """sympy.simplify for small expressions only (it can take minutes otherwise)."""
    return expr if sympy.count_ops(expr) > 60 else _protected_simplify(expr)


# -- (a) gradient-scale invariance ----------------------------------------------------------------


def scale_invariance(
    sp: SymbolicProgram, ranges: Ranges, eps0: Mapping[sympy.Symbol, sympy.Basic]
) -> tuple[str, str]:
    """Whether Δθ₁ and Δθ₂ are unchanged under g → c·g (c > 0) once every eps* is 0."""
    scalars = {sp.symbols[h.name] for h in sp.program.hypers} | {sp.symbols["t"]}
    branches = sum(_branch_nodes(v, scalars) for v in sp.outputs.values())
    if branches > MAX_BRANCHES:
        return UNDECIDED, f"{branches} branches (where/if/min/max): too many to unroll in SymPy"
    # Nonzero gradients: the generic case (sign(|g|) = 1), as the random tests sample it too.
    g1, g2 = (sympy.Symbol(f"g_{k}", real=True, nonzero=True) for k in (1, 2))
    c = sympy.Symbol("c", positive=True)
    ranges = {**ranges, c: POSITIVE}
    plain = _deltas_at_eps0(sp, [g1, g2], ranges, eps0)
    scaled = _deltas_at_eps0(sp, [c * g1, c * g2], ranges, eps0)
    if plain is None or scaled is None:
        return UNDECIDED, "the unrolled update is undefined (0/0) at eps = 0"
    evaluable = True
    for k, (a, b) in enumerate(zip(plain, scaled, strict=True), start=1):
        same, point = numeric_equal(a, b, {**ranges, g1: REALS, g2: REALS})
        if same is False:
            return DISPROVED, _counterexample(k, a, b, point, ranges)
        evaluable = evaluable and same is not None
    evaluator = IntervalEval({s: r for s, r in ranges.items() if r != BOOL})
    if all(is_zero(b - a, evaluator) for a, b in zip(plain, scaled, strict=True)):
        vanishes = all(is_zero(a, evaluator) for a in plain)
        steps = "two unrolled steps, nonzero gradients"
        return PROVED, f"the update vanishes as eps -> 0 ({steps})" if vanishes else steps
    if not evaluable:  # reductions have no value in the one-coordinate model
        return (
            UNDECIDED,
            "SymPy could not simplify the difference to 0, and no random point could be evaluated",
        )
    return NUMERIC, "SymPy could not simplify the difference to 0; random points agree"


MAX_BRANCHES = 10  # two unrolled steps multiply branches; SymPy slows down badly beyond this


def _branch_nodes(expr: sympy.Basic, scalars: set[sympy.Symbol]) -> int:
    """Branch nodes (where/if/min/max) that depend on θ, g or a state."""
    return sum(
        1
        for node in sympy.preorder_traversal(expr)
        if isinstance(node, sympy.Piecewise | sympy.ITE | sympy.Min | sympy.Max)
        and not node.free_symbols <= scalars
    )


def _counterexample(
    k: int,
    a: sympy.Basic,
    b: sympy.Basic,
    point: Mapping[sympy.Symbol, sympy.Basic],
    ranges: Ranges,
) -> str:
    """The differing step: the simplified difference when short, else the two values."""
    diff = b - a
    if sympy.count_ops(diff) <= SIMPLIFY_BUDGET:
        diff = simplify_expr(diff, IntervalEval({s: r for s, r in ranges.items() if r != BOOL}))
    used = diff.free_symbols if sympy.count_ops(diff) <= 40 else a.free_symbols | b.free_symbols
    where = ", ".join(f"{s} = {v}" for s, v in point.items() if s in used)
    if sympy.count_ops(diff) <= 40:
        return f"step {k}: dtheta(c*g) - dtheta(g) = {_text(diff)} (e.g. at {where})"
    x, y = (sympy.N(e.xreplace(point), 6) for e in (a, b))
    return f"step {k}: at {where}: dtheta(g) = {x} but dtheta(c*g) = {y}"


def _deltas_at_eps0(
    sp: SymbolicProgram,
    grads: list[sympy.Basic],
    ranges: Ranges,
    eps0: Mapping[sympy.Symbol, sympy.Basic],
) -> list[sympy.Basic] | None:
    """Δθ of each unrolled step with every eps* = 0: set before unrolling (small expressions),
    else after it (a branch not taken may divide by eps: ADOPT's first step); None if 0/0."""
    at0 = SymbolicProgram(
        sp.program,
        sp.symbols,
        sp.bindings,
        {k: v.xreplace(eps0) for k, v in sp.outputs.items()},
        {k: v.xreplace(eps0) for k, v in sp.inits.items()},
    )
    for attempt in (lambda: _deltas(at0, grads, ranges),
                    lambda: [d.xreplace(eps0) for d in _deltas(sp, grads, ranges)]):  # fmt: skip
        try:
            deltas = attempt()
        except (ValueError, TypeError, ZeroDivisionError):  # SymPy: "zoo is not comparable"
            continue
        if not any(d.has(sympy.nan, sympy.zoo) for d in deltas):
            return deltas
    return None


def _deltas(sp: SymbolicProgram, grads: list[sympy.Basic], ranges: Ranges) -> list[sympy.Basic]:
    thetas = [sp.symbols["theta"], *unroll(sp, grads, ranges)]
    return [after - before for before, after in itertools.pairwise(thetas)]


def is_zero(expr: sympy.Basic, evaluator: IntervalEval) -> bool:
    """Whether SymPy can show ``expr == 0``, helped by the ranges: known signs pulled out of
    sign/abs/max, sums of known sign abstracted as positive symbols (sound: a function that is 0
    for every positive value of a symbol is 0 at the value it stood for)."""
    if expr == 0:
        return True
    expr = _normalize(expr, evaluator)
    abstract, _ = abstract_signs(expr, evaluator)
    return _is_zero(abstract) or (abstract != expr and _is_zero(expr))


def _is_zero(expr: sympy.Basic) -> bool:
    """Whether SymPy can show ``expr == 0`` (cheap canonical forms first)."""
    if expr == 0:
        return True
    if expr.has(sympy.Piecewise):  # SymPy's piecewise simplification is far too slow here
        folded = sympy.piecewise_fold(expr)
        if isinstance(folded, sympy.Piecewise):
            return all(_is_zero(value) for value, _ in folded.args)
    transforms = [sympy.factor_terms, sympy.cancel]
    if sympy.count_ops(expr) <= 2 * SIMPLIFY_BUDGET:
        transforms.append(_protected_simplify)
    for transform in transforms:
        try:
            if transform(expr) == 0:
                return True
        except Exception:  # a transform that fails proves nothing
            continue
    return False


# -- closed forms ---------------------------------------------------------------------------------


def simplify_expr(expr: sympy.Basic, evaluator: IntervalEval) -> sympy.Basic:
    """The shortest of a few canonical forms, x/|x| written sign(x), known signs pulled out.

    Sums of hypers of known sign (``1 - beta2``) stand in as positive symbols meanwhile, so
    SymPy may cancel ``sqrt(1/(1 - beta2))*sqrt(1 - beta2)``.
    """
    expr = _normalize(expr, evaluator)
    abstract, restore = abstract_signs(expr, evaluator)
    candidates = [abstract]
    if sympy.count_ops(abstract) <= SIMPLIFY_BUDGET:
        expanded = sympy.expand(abstract)
        candidates += [expanded, sympy.collect(expanded, _THETA), _protected_simplify(abstract)]
    candidates += [sympy.factor_terms(c) for c in candidates]
    best = min(candidates, key=lambda e: (sympy.count_ops(e), len(str(e))))
    return _normalize(best.xreplace(restore), evaluator)


def abstract_signs(
    expr: sympy.Basic, evaluator: IntervalEval
) -> tuple[sympy.Basic, dict[sympy.Symbol, sympy.Basic]]:
    """Replace each maximal sum of scalars (no g, theta or state) whose sign the ranges decide
    by a positive symbol (negated if negative). Returns the new expression and the way back.
    """
    restore: dict[sympy.Symbol, sympy.Basic] = {}
    made: dict[sympy.Basic, sympy.Basic] = {}
    tensors = {s for s in expr.free_symbols if s.name in _TENSOR_NAMES or s.name.startswith("g_")}

    def visit(node: sympy.Basic) -> sympy.Basic:
        if not node.args or isinstance(node, sympy.Rel | sympy.logic.boolalg.Boolean):
            return node
        if isinstance(node, sympy.Add) and not node.free_symbols & tensors:
            if node not in made:
                made[node] = _stand_in(node, evaluator, restore)
            if made[node] is not None:
                return made[node]
        return node.func(*(visit(a) for a in node.args))

    return visit(expr), restore


_TENSOR_NAMES = {"theta", "g"}


def _stand_in(
    node: sympy.Basic, evaluator: IntervalEval, restore: dict[sympy.Symbol, sympy.Basic]
) -> sympy.Basic | None:
    value = evaluator(node)
    if value.positive:
        symbol = sympy.Dummy("q", positive=True)
        restore[symbol] = node
        return symbol
    if neg(value).positive:
        symbol = sympy.Dummy("q", positive=True)
        restore[symbol] = -node
        return -symbol
    return None


SIMPLIFY_BUDGET = 120  # count_ops above which sympy.simplify is too slow to run on every check
_THETA = sympy.Symbol("theta", real=True)


def _normalize(expr: sympy.Basic, evaluator: IntervalEval) -> sympy.Basic:
    expr = pull_known_signs(sign_rewrite(expr), evaluator)
    return sign_rewrite(factor_min_max(prune_min_max(expr, evaluator), evaluator))


def factor_min_max(expr: sympy.Basic, evaluator: IntervalEval) -> sympy.Basic:
    """max(p*a, p*b) → p*max(a, b) for a common factor p > 0 (e.g. c^2 in a scaled AMSGrad)."""

    def fix(e: sympy.Basic) -> sympy.Basic:
        factored = [sympy.factor_terms(a) for a in e.args]
        common = set(sympy.Mul.make_args(factored[0]))
        for arg in factored[1:]:
            common &= set(sympy.Mul.make_args(arg))
        pulled = [f for f in common if evaluator(f).positive]
        if not pulled:
            return e
        scale = sympy.Mul(*pulled)
        return scale * e.func(*(sympy.cancel(a / scale) for a in factored))

    return expr.replace(lambda e: isinstance(e, sympy.Max | sympy.Min), fix)


def prune_min_max(expr: sympy.Basic, evaluator: IntervalEval) -> sympy.Basic:
    """max(a, b) → a when the ranges prove a >= b (e.g. max(0, g^2*(1 - beta2))); same for min."""

    def fix(e: sympy.Basic) -> sympy.Basic:
        keep = list(e.args)
        wanted = iv.NONNEG if isinstance(e, sympy.Max) else iv.neg(iv.NONNEG)
        for a in e.args:
            for b in e.args:
                if a is not b and a in keep and b in keep and evaluator(a - b).within(wanted):
                    keep.remove(b)
        return e.func(*keep)

    return expr.replace(lambda e: isinstance(e, sympy.Max | sympy.Min), fix)


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

    def fix_relation(e: sympy.Rel) -> sympy.Basic:
        return e.func(split(e.lhs - e.rhs)[1], 0)

    expr = expr.replace(lambda e: isinstance(e, sympy.sign), fix_sign)
    expr = expr.replace(lambda e: isinstance(e, sympy.Abs), fix_abs)
    return expr.replace(lambda e: isinstance(e, sympy.Rel) and e.rhs == 0, fix_relation)


def sign_rewrite(expr: sympy.Basic) -> sympy.Basic:
    """Replace every x·|x|^-1 by sign(x) (and x^k·|x|^-k by sign(x)^k)."""

    def fix(mul: sympy.Mul) -> sympy.Basic:
        factors = list(mul.args)
        for i, factor in enumerate(factors):
            base, expo = factor.as_base_exp()
            if not isinstance(base, sympy.Abs) or not expo.is_integer:
                continue
            x = base.args[0]
            # x^k / |x|^k = sign(x)^k, and |x|^k * sign(x)^k = x^k
            partner = (x, -expo) if expo.is_negative else (sympy.sign(x), expo)
            result = sympy.sign(x) ** (-expo) if expo.is_negative else x**expo
            for j, other in enumerate(factors):
                if j != i and other.as_base_exp() == partner:
                    rest = [f for k, f in enumerate(factors) if k not in (i, j)]
                    return sympy.Mul(*rest, result)
        return mul

    previous = None
    while previous != expr:
        previous, expr = expr, expr.replace(lambda e: isinstance(e, sympy.Mul), fix)
    return expr


def _text(expr: sympy.Basic) -> str:
    return spec_str(expr)


# -- (d) memory and (e) op count ------------------------------------------------------------------


def state_memory(program: Program) -> str:
    """State elements per parameter, by allocation: the formula of the states every parameter
    has, then ``COND: formula`` for those allocated only where COND holds (optc.ir.allocation):
    Muon is ``ndim >= 2: numel; ndim < 2: 2·numel`` (its momentum, AdamW's two moments)."""
    groups: dict[str | None, list] = {}
    for state in program.states:
        where = None if state.where is None else spec_text(state.where, program)
        groups.setdefault(where, []).append(state)
    parts = [
        _group_memory(states) if where is None else f"{where}: {_group_memory(states)}"
        for where, states in sorted(groups.items(), key=lambda item: item[0] is not None)
    ]
    return "; ".join(parts) or "0"


@dataclass(frozen=True)
class _StateCounts:
    """How many states of each kind, and the matrix states' dimensions."""

    tensors: int
    scalars: int
    rows: int
    cols: int
    matrices: list

    @classmethod
    def of(cls, states: list) -> _StateCounts:
        tensors = sum(s.shape is Shape.TENSOR for s in states)
        rows = sum(s.shape is Shape.ROWS for s in states)
        cols = sum(s.shape is Shape.COLS for s in states)
        matrices = [s.dims for s in states if s.shape is Shape.MATRIX]
        return cls(
            tensors, len(states) - tensors - rows - cols - len(matrices), rows, cols, matrices
        )


def _group_memory(states: list) -> str:
    c = _StateCounts.of(states)
    return memory_formula(c.tensors, c.scalars, c.rows, c.cols, c.matrices)


def memory_formula(
    tensors: int, scalars: int, rows: int = 0, cols: int = 0, matrices: Iterable = ()
) -> str:
    """State elements per parameter: ``2·numel``, ``numel + 1``, ``rows + cols``, ``0``...
    (a per-row state holds ``rows`` numbers, a per-column one ``cols``: Adafactor's factored
    second moment is ``rows + cols``, not ``numel``); a matrix state of dimensions (a, b) holds
    a·b (``rows²`` for Shampoo's [rows, rows] L, ``rows·rank`` for a [rows, rank] projector)."""
    parts = []
    counts = collections.Counter(_matrix_term(dims) for dims in matrices)
    units = [(tensors, "numel"), (rows, "rows"), (cols, "cols"), *map(reversed, counts.items())]
    for count, unit in units:
        if count:
            parts.append(unit if count == 1 else f"{count}·{unit}")
    if scalars:
        parts.append(str(scalars))
    return " + ".join(parts) or "0"


def _matrix_term(dims: tuple[str, str]) -> str:
    """``rows²``, ``rows·rank``, ``rank`` (a dimension 1 drops out)."""
    d0, d1 = dims
    if d0 == d1 and d0 != "1":
        return f"{d0}²"
    named = [d for d in dims if d != "1"]
    return "·".join(named) or "1"


def elementwise_ops(program: Program) -> collections.Counter[str]:
    """Tensor-typed op nodes of one step by op, identical subtrees counted once."""
    seen: set[Op] = set()
    for binding in program.body:
        for node in walk(binding.expr):
            if isinstance(node, Op) and node.type.is_tensor:
                seen.add(node)
    return collections.Counter(node.op for node in seen)
