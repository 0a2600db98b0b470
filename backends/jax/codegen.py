"""IR → an ``optax.GradientTransformation`` factory.

The module has ``<name>_init`` / ``<name>_update`` (one leaf's initial states, and one leaf's
step returning the increment to θ and the new states — optax's convention: updates are added
to params by ``optax.apply_updates``), a ``<Name>State`` NamedTuple with the step count and one
field per state tree, the factory ``<name>(...)``, and ``STATE_FIELDS`` / ``HYPER_NAMES``. The
machinery around the leaf functions (hyper resolution, schedules, masks, optax states) is the
hand-written :mod:`optc.backends.jax.runtime`.

Names. A spec's names are public and kept exactly: hypers are the leaf functions' keywords, and
the factory's keywords unless the spec declares an optax counterpart that names them otherwise
(then the spec name is an alias); the step size ``lr`` is ``learning_rate``, as optax calls it.
When a spec name equals a name the generated code uses itself (``jnp``, ``delta``, ``dtype``...)
the internal name gets trailing underscores instead.
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import inspect
from dataclasses import dataclass

import jinja2

from optc import pysource
from optc.backends import lowering, rounds
from optc.backends.jax import axes
from optc.backends.pyexpr import PythonPrinter, ScalarFacts, format_number
from optc.diagnostics import SpecError
from optc.ir import phases
from optc.ir.allocation import on_dimensions
from optc.ir.nodes import (
    REAL_SCALAR,
    Binding,
    Const,
    Counterpart,
    DType,
    Expr,
    Hyper,
    Op,
    Program,
    Role,
    Shape,
    Var,
    free_vars,
)
from optc.ir.ops import AXIS_REDUCTIONS, LAYOUT_OPS, MATRIX_FUNCTIONS, SHAPE_NAMES
from optc.ir.printer import Prec, operand_precedences

_FUNCTIONS = {
    "sqrt": "sqrt",
    "abs": "abs",
    "sign": "sign",
    "exp": "exp",
    "log": "log",
    "cos": "cos",
    "sin": "sin",
    "floor": "floor",
    "mod": "mod",
    "min": "minimum",
    "max": "maximum",
    "where": "where",
    "ifelse": "where",
    "and": "logical_and",
    "or": "logical_or",
    "not": "logical_not",
}


# Per-tensor reductions (``initial`` makes max/min of an empty leaf defined, as the reference).
_REDUCTIONS = {
    "norm2": "{jnp}.sqrt({jnp}.sum({jnp}.square({0})))",
    "norm1": "{jnp}.sum({jnp}.abs({0}))",
    "norminf": "{jnp}.max({jnp}.abs({0}), initial=0.0)",
    "rms": "{jnp}.sqrt({jnp}.mean({jnp}.square({0})))",
    "mean": "{jnp}.mean({0})",
    "sum": "{jnp}.sum({0})",
    "maxof": "{jnp}.max({0}, initial=-{jnp}.inf)",
    "minof": "{jnp}.min({0}, initial={jnp}.inf)",
    "dot": "{jnp}.sum({0} * {1})",  # operands as operands of *, see function()
    "count": "{jnp}.sum({0}, dtype=g.dtype)",
}
# The leaf's dimensions (static under jit), bound at the top of the functions that read them.
_SHAPES = {
    "numel": "{x}.size",
    "ndim": "{x}.ndim",
    "rows": "{x}.shape[0] if {x}.ndim else 1",
    "cols": "math.prod({x}.shape[1:])",
}


def _shape_preamble(exprs: list[Expr], array: str) -> list[str]:
    names = lowering.shape_names_used(exprs)
    return lowering.shape_preamble(names, {k: v.format(x=array) for k, v in _SHAPES.items()})


# Matrix functions and layout changes are helpers of optc.backends.jax.axes (`@` is infix).
_MISSING = [
    op for op in (*MATRIX_FUNCTIONS, *LAYOUT_OPS) if op != "matmul" and op not in axes.__all__
]
assert not _MISSING, f"optc.backends.jax.axes must spell {_MISSING}"


class JaxPrinter(PythonPrinter):
    """jnp spellings (``jnp`` as the module calls it). Constant-only arguments of jnp functions
    are written as floats: jnp would otherwise make integer arrays of them (and
    ``jnp.maximum(1, 2) ** -1`` fails)."""

    def __init__(
        self,
        names: dict[str, str],
        jnp: str = "jnp",
        facts: ScalarFacts | None = None,
        internal: lowering.InternalNames | None = None,
    ) -> None:
        super().__init__(names, facts)
        self.jnp = jnp
        self._traced: dict[str, bool] = {}
        self.internal = internal
        self.axes: set[str] = set()  # helpers of optc.backends.jax.axes the code calls
        self.like = "g"  # a θ-shaped array: where matrix results take their layout and dtype

    def axis(self, name: str) -> str:
        """A helper of ``optc.backends.jax.axes`` (``row_mean``, ``rows_shape``...)."""
        self.axes.add(name)
        return self.internal[name] if self.internal is not None else name

    def inf(self) -> str:
        return f"{self.jnp}.inf"

    def fill_like_gradient(self, expr: Expr, text: str, shape: Shape = Shape.TENSOR) -> str:
        if shape is Shape.SCALAR:  # a number beside a per-tensor scalar: a 0-d array
            return f"{self.jnp}.full((), {text}, g.dtype)"
        if shape is not Shape.TENSOR:  # a per-row or per-column state given a scalar
            return f"{self.jnp}.full({self.axis(shape.value + '_shape')}(g), {text}, g.dtype)"
        if expr.type.is_tensor:  # a per-row or per-column value over θ
            return f"{self.jnp}.broadcast_to({text}, g.shape)"
        return f"{self.jnp}.full_like(g, {text})"

    def python_number(self, expr: Expr) -> bool:
        """Hypers given as numbers stay Python numbers; θ, g, t and states are arrays."""
        return not expr.type.is_tensor and not any(self._is_traced(v) for v in free_vars(expr))

    def _is_traced(self, name: str) -> bool:
        if name not in self._traced:
            bindings = self.facts.bindings if self.facts is not None else {}
            hypers = self.facts.hypers if self.facts is not None else {}
            if name in bindings:
                expr = bindings[name]
                self._traced[name] = expr.type.is_tensor or not self.python_number(expr)
            else:
                self._traced[name] = name not in hypers
        return self._traced[name]

    def scalar_call(self, expr: Op, args: list[str]) -> tuple[str, int]:
        args = self._float_constants(expr, args)
        return (
            f"{self.jnp}.{'divide' if expr.op == 'div' else 'power'}({', '.join(args)})",
            Prec.ATOM,
        )

    def strong_zero(self, scalar: Expr, test: str, product: str, in_sum: bool) -> tuple[str, int]:
        return f"{self.jnp}.where({test} != 0, {product}, 0.0)", Prec.ATOM

    def _float_constants(self, expr: Op, args: list[str]) -> list[str]:
        """Constant arguments as Python floats (jnp functions reject Python ints in x64)."""
        return [
            self._as_float(arg, text)
            if not free_vars(arg) and arg.type.dtype is DType.REAL
            else text
            for arg, text in zip(expr.args, args, strict=True)
        ]

    def _as_float(self, arg: Expr, text: str) -> str:
        """``2`` → ``2.0``; a quotient is a float already; anything else goes through float()."""
        if isinstance(arg, Const):
            return repr(float(arg.value))
        if isinstance(arg, Op) and arg.op == "div":
            return text
        # a spec name `float` hides the builtin
        return f"1.0 * ({text})" if "float" in self.names else f"float({text})"

    def function(self, expr: Op, args: list[str]) -> tuple[str, int]:
        if expr.op == "dot":  # the operands of a product: dot(g, a - b) is sum(g * (a - b))
            args = [
                self.at(x, p) for x, p in zip(expr.args, operand_precedences("mul"), strict=True)
            ]
        if expr.op in _REDUCTIONS:
            return _REDUCTIONS[expr.op].format(*args, jnp=self.jnp), Prec.ATOM
        if expr.op in AXIS_REDUCTIONS:
            return f"{self.axis(expr.op)}({args[0]})", Prec.ATOM
        if expr.op in MATRIX_FUNCTIONS or expr.op in LAYOUT_OPS:  # optc.backends.jax.axes
            return self.matrix_function(expr, args, self.like)
        if expr.op == "ifelse" and on_dimensions(expr.args[0]):  # static: one branch traced
            return self.ternary(expr)
        if expr.op in ("and", "or", "not") and on_dimensions(expr):  # static: a Python bool
            return self.logic(expr)
        args = self._float_constants(expr, args)
        if expr.op == "clip":
            return f"{self.jnp}.clip({args[0]}, min={args[1]}, max={args[2]})", Prec.ATOM
        if expr.op == "sign":  # sign(NaN) = 0, as torch.sign (docs/language.md, "Non-finite")
            return f"{self.jnp}.sign({self.jnp}.nan_to_num({args[0]}))", Prec.ATOM
        return f"{self.jnp}.{_FUNCTIONS[expr.op]}({', '.join(args)})", Prec.ATOM


# -- public names -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of the factory."""

    keyword: str
    default: str  # Python literal
    annotation: str
    keyword_only: bool
    doc: str


@dataclass(frozen=True)
class Naming:
    keywords: dict[str, str]  # spec hyper → factory keyword
    aliases: dict[str, str]  # spec hyper → alias keyword (the spec name), where it differs
    fields: dict[str, str]  # spec state → NamedTuple field
    count_field: str
    fixed: dict[str, float | bool]  # counterpart options fixed to one value
    mask: str | None  # the decay mask's keyword
    mu_dtype: bool  # whether the factory takes mu_dtype
    counterpart: Counterpart | None
    signature: inspect.Signature | None  # the optax counterpart's


def _optax_function(library: str):
    module, _, name = library.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


@functools.cache
def _optax_signature(library: str) -> inspect.Signature | None:
    function = _optax_function(library)
    return inspect.signature(function) if function is not None else None


def naming(program: Program) -> Naming:
    counterpart = program.counterpart("jax")
    signature = _optax_signature(counterpart.library) if counterpart else None
    if counterpart is not None and signature is None:
        raise SpecError(f"`{counterpart.library}` is not an optax function", counterpart.span)
    hyper_names = {h.name for h in program.hypers}
    keywords: dict[str, str] = {}
    for hyper in program.hypers:
        keyword = hyper.name
        if counterpart is not None:
            lib, index = counterpart.library_name(hyper.name)
            if index is not None:
                raise SpecError(
                    f"optax takes no tuples: `{lib}` groups `{hyper.name}`", counterpart.span
                )
            keyword = lib
        if keyword == "lr" and "learning_rate" not in hyper_names:
            keyword = "learning_rate"  # optax's name for the step size, for every spec
        keywords[hyper.name] = keyword
    if len(set(keywords.values())) < len(keywords):  # two hypers on one keyword: keep spec names
        keywords = {h.name: h.name for h in program.hypers}
    public = set(keywords.values())
    aliases = {}
    for name, keyword in keywords.items():
        if keyword != name and name not in public:
            aliases[name] = name
    public |= set(aliases.values())

    fixed = dict(counterpart.fixed) if counterpart else {}
    if signature is not None:
        for name in [*keywords.values(), *fixed]:
            if name not in signature.parameters:
                raise SpecError(
                    f"`{counterpart.library}` has no argument `{name}`",
                    counterpart.span,
                    hint="name the optax argument on the left: `b1 = beta1`",
                )
    fixed = {name: value for name, value in fixed.items() if name not in public}
    public |= set(fixed)

    mask = None
    if "weight_decay" in hyper_names:
        mask = "mask"
        if signature is not None and "weight_decay_mask" in signature.parameters:
            mask = "weight_decay_mask"
        mask = mask if mask not in public else None
    public |= {mask} if mask else set()
    mu_dtype = (
        counterpart is not None
        and "mu" in counterpart.states
        and "mu_dtype" in signature.parameters
        and "mu_dtype" not in public
    )

    fields: dict[str, str] = {}
    library_fields = {
        spec: lib for lib, spec in (counterpart.states if counterpart else {}).items()
    }
    for state in program.states:
        name = library_fields.get(state.name, state.name)
        if name.startswith("_"):  # NamedTuple fields cannot start with an underscore
            name = "state" + name
        while name in fields.values():
            name += "_"
        fields[state.name] = name
    count_field = "count"
    while count_field in fields.values():
        count_field += "_"
    return Naming(
        keywords, aliases, fields, count_field, fixed, mask, mu_dtype, counterpart, signature
    )


# -- the factory's parameters and docs --------------------------------------------------------


def _literal(value: float | bool, kind: str = "real") -> str:
    if isinstance(value, bool):
        return repr(value)
    return format_number(value) if kind == "int" else repr(float(value))


def _optax_default(naming: Naming, keyword: str):
    if naming.signature is None or keyword not in naming.signature.parameters:
        return None
    return naming.signature.parameters[keyword].default


def _differs(ours: float | bool | None, theirs) -> bool:
    if theirs is inspect.Parameter.empty:
        return True
    if isinstance(ours, bool) or isinstance(theirs, bool) or ours is None or theirs is None:
        return ours is not theirs and ours != theirs
    try:
        return float(ours) != float(theirs)
    except (TypeError, ValueError):
        return True


def _hyper_doc(hyper: Hyper) -> str:
    requirement = hyper.requirement()
    return f"{hyper.doc.rstrip('.')}; {requirement}" if hyper.doc else requirement


def _params(program: Program, naming: Naming) -> tuple[list[Param], list[str]]:
    """The factory's parameters, in optax's order where the spec has an optax counterpart; and
    the docstring's list of differences from that counterpart."""
    library = naming.counterpart.library if naming.counterpart else None
    differences: list[str] = []
    params: list[Param] = []
    for hyper in program.hypers:
        keyword = naming.keywords[hyper.name]
        default = _literal(hyper.default, hyper.kind)
        doc = f"{_hyper_doc(hyper)} (default {default})"
        if hyper.name in naming.aliases:
            doc += f"; the spec's ``{hyper.name}``, also accepted as ``{hyper.name}=``"
        if hyper.kind != "bool":
            doc += "; a schedule (a callable of the step count) is accepted"
        theirs = _optax_default(naming, keyword)
        if library and _differs(hyper.default, theirs):
            optax_says = (
                f"{library} requires it"
                if theirs is inspect.Parameter.empty
                else f"{library}'s default: {theirs!r}"
            )
            differences.append(f"``{keyword}`` defaults to {default}, the spec's ({optax_says})")
        annotation = "bool" if hyper.kind == "bool" else "optax.ScalarOrSchedule"
        params.append(Param(keyword, default, annotation, False, doc))
    for keyword, value in naming.fixed.items():
        theirs = _optax_default(naming, keyword)
        doc = (
            f"{library} with {keyword}={value!r} is this spec: any other value raises ValueError "
            f"(default {_literal(value)})"
        )
        if _differs(value, theirs):
            differences.append(
                f"``{keyword}`` accepts only {value!r} ({library}'s default: {theirs!r})"
            )
        annotation = "bool" if isinstance(value, bool) else "float"
        params.append(Param(keyword, _literal(value), annotation, False, doc))
    if naming.mask:
        doc = (
            "where decay applies, as optax.adamw's ``mask``: a tree of bools shaped like the "
            "params (or a prefix of it), or a callable of the updates returning one; "
            "``weight_decay`` is 0 where it is False (default None: everywhere)"
        )
        if library and naming.mask not in naming.signature.parameters:
            differences.append(f"``{naming.mask}`` is optc's: {library} has no decay mask")
        params.append(Param(naming.mask, "None", "Any", False, doc))
    if naming.mu_dtype:
        doc = (
            f"dtype of the ``{naming.fields[naming.counterpart.states['mu']]}`` state (the "
            "first moment), as optax's (default None: the params' dtype)"
        )
        params.append(Param("mu_dtype", "None", "Any", False, doc))
    if naming.signature is not None:
        order = list(naming.signature.parameters)
        kinds = {name: p.kind for name, p in naming.signature.parameters.items()}
        params.sort(key=lambda p: order.index(p.keyword) if p.keyword in order else len(order))
        params = [
            Param(
                p.keyword,
                p.default,
                p.annotation,
                kinds.get(p.keyword, inspect.Parameter.KEYWORD_ONLY)
                is inspect.Parameter.KEYWORD_ONLY,
                p.doc,
            )
            for p in params
        ]
        offered = {p.keyword for p in params}
        missing = [name for name in order if name not in offered]
        if missing:
            differences.append(
                f"{library}'s {', '.join(f'``{m}``' for m in missing)} not accepted: "
                "the spec has no such option"
            )
    else:
        params = [
            Param(p.keyword, p.default, p.annotation, p.keyword in {naming.mask}, p.doc)
            for p in params
        ]
    for name in naming.aliases:
        params.append(Param(name, "None", "optax.ScalarOrSchedule | None", True, ""))
    return params, differences


def _signature(params: list[Param]) -> str:
    parts, star = [], False
    for p in params:
        if p.keyword_only and not star:
            parts.append("*")
            star = True
        parts.append(f"{p.keyword}: {p.annotation} = {p.default}")
    return ", ".join(parts)


# -- the leaf functions -----------------------------------------------------------------------


def _state_init(program: Program, printer: JaxPrinter, jnp: str) -> list[tuple[str, str, str]]:
    """(name, jnp expression, spec text) of each state's initial value."""
    result = []
    for state in program.states:
        init = state.init
        if state.shape is Shape.MATRIX:
            code = lowering.matrix_state_init(state, printer)
        elif state.shape is Shape.SCALAR:
            value = "0" if lowering.is_zero(init) else printer.render(init)
            code = f"{jnp}.full([], {value}, theta.dtype)"
        elif state.shape is not Shape.TENSOR:  # one number per row / per column of θ
            size = f"{printer.axis(state.shape.value + '_shape')}(theta)"
            if init.type.is_tensor:
                code = f"{jnp}.asarray({printer.render(init)}, theta.dtype)"
            elif lowering.is_zero(init):
                code = f"{jnp}.zeros({size}, theta.dtype)"
            else:
                code = f"{jnp}.full({size}, {printer.render(init)}, theta.dtype)"
        elif lowering.is_zero(init):
            code = f"{jnp}.zeros_like(theta)"
        elif init.type.is_tensor:
            code = f"{jnp}.asarray({printer.render(init)}, theta.dtype)"
        else:
            code = f"{jnp}.full_like(theta, {printer.render(init)})"
        if state.where is not None:  # elsewhere an empty array keeps the tree's structure
            code = f"({code} if {printer.render(state.where)} else {jnp}.zeros(0, theta.dtype))"
        result.append((state.name, code, state.source))
    return result


def _delta_statements(
    program: Program,
    printer: JaxPrinter,
    delta: str,
    new_theta: str,
    body: list[Binding],
    cond_call: str,
):
    """The body with θ's last update written as the increment; and whether the increment had
    to be computed as ``new_theta - theta`` (then the leaf needs θ)."""
    final_id = program.outputs["theta"]
    final = next(b for b in body if b.id == final_id)
    read_later = any(final_id in free_vars(b.expr) for b in body)
    increment = None if final.guards or read_later else lowering.theta_delta(program, body)
    views = lowering.statements(program, printer, body, _static, cond_call)
    if increment is None:
        views.append(
            lowering.StatementView(
                "# the increment optax adds to θ (0 where θ is kept, also when θ is ±inf)",
                f"{delta} = {printer.jnp}.where({new_theta} == theta, 0.0, {new_theta} - theta)",
            )
        )
        return views, True
    index = next(i for i, v in enumerate(views) if v.comment == lowering.comment(final))
    views[index] = lowering.StatementView(
        views[index].comment, f"{delta} = {printer.render(increment)}", views[index].indent
    )
    return views, False


def _selected_versions(body: list[Binding], taken: set[str]) -> dict[str, str]:
    """Names of their own for the versions a traced block computes (``slow_1``): its branches
    are functions for ``jax.lax.cond`` that read the values before the block from the enclosing
    scope, so they may not assign those names."""
    names = {}
    for binding in body:
        if binding.target and any(not _static(g.cond) for g in binding.guards):
            name = binding.id.replace("#", "_")
            while name in taken:
                name += "_"
            taken.add(name)
            names[binding.id] = name
    return names


def _static(cond: Expr) -> bool:
    """A block on the leaf's dimensions is a Python ``if`` (they are static under jit); one on
    ``t`` or hypers (traced) is a ``jax.lax.cond``."""
    return free_vars(cond) <= set(SHAPE_NAMES)


def _step_reads_theta(program: Program) -> bool:
    """Whether the leaf needs θ beyond the ``theta + delta`` form of its last update."""
    final_id = program.outputs["theta"]
    thetas = {"theta"} | {b.id for b in program.body if b.target == "theta"}
    reads = [b.expr for b in program.body if b.id != final_id]
    delta = lowering.theta_delta(program)
    reads.append(delta if delta is not None else program.binding(final_id).expr)
    return any(free_vars(expr) & thetas for expr in reads)


@functools.cache
def _template() -> jinja2.Template:
    text = importlib.resources.files("optc.backends.jax").joinpath("templates/module.py.j2")
    env = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(text.read_text())


def _dict_literal(pairs) -> str:
    return "{" + ", ".join(f'"{k}": {v}' for k, v in pairs) + "}"


def generate(program: Program, spec_path: str) -> str:
    """The formatted source of ``generated/jax/<name>.py``."""
    names = naming(program)
    params, differences = _params(program, names)
    spec_names = lowering.spec_names(program)
    internal = lowering.InternalNames(spec_names | {p.keyword for p in params})
    jnp, dtype, delta, new_theta = (internal[n] for n in ("jnp", "dtype", "delta", "new_theta"))
    spec_const, runtime = internal["_SPEC"], internal["runtime"]

    plan = phases.plan(program)
    body = list(plan.body) if plan else program.body
    split = rounds.layout(program, plan, spec_names) if plan else None
    ids = {b.id: b.display for b in body}
    ids.update({b.id: new_theta for b in body if b.target == "theta"})
    ids.update({n: n for n in spec_names - {program.name, program.snake_name}})
    ids.update({"theta": "theta", "g": "g", "t": "t"})
    ids.update(split.names if split else {})
    ids.update(_selected_versions(body, set(ids.values()) | set(spec_names)))
    printer = JaxPrinter(ids, jnp, ScalarFacts(program), internal)
    update_body = split.update if split else body
    cond_call = f"{runtime}.cond"
    statements, via_difference = _delta_statements(
        program, printer, delta, new_theta, update_body, cond_call
    )
    needs_theta = split is not None or via_difference or _step_reads_theta(program)
    states = [s.name for s in program.states]
    counterpart = names.counterpart
    hyper_params = ", ".join(
        f"{h.name}: {'bool' if h.kind == 'bool' else 'float'}" for h in program.hypers
    )
    phase_functions = (
        _phase_functions(program, split, printer, hyper_params, cond_call) if split else []
    )
    if "eval" in program.sections:
        phase_functions.append(_eval_function(program, jnp, hyper_params, cond_call))
    inits = _state_init(program, printer, jnp)
    hyper_table = [
        (
            h.name,
            names.keywords[h.name],
            names.aliases.get(h.name),
            str(h.kind),
            "isinstance(x, bool)" if h.kind == "bool" else lowering.domain_condition(h, "x"),
            h.requirement(),
        )
        for h in program.hypers
    ]
    public = [
        "STATE_FIELDS",
        "HYPER_NAMES",
        f"{program.name}State",
        program.snake_name,
        f"{program.snake_name}_init",
        *(f.name for f in phase_functions),
        f"{program.snake_name}_update",
        *([f"{program.snake_name}_eval_params"] if "eval" in program.sections else []),
    ]
    if counterpart:
        public += [f"{program.snake_name}_from_optax", f"{program.snake_name}_to_optax"]
    source = _template().render(
        program=program,
        spec_path=spec_path,
        spec_path_literal=repr(spec_path),
        snake=program.snake_name,
        state_class=f"{program.name}State",
        dunder_all=pysource.dunder_all(public),
        state_fields=_dict_literal((s, f'"{f}"') for s, f in names.fields.items()),
        hyper_names=_dict_literal((h, f'"{k}"') for h, k in names.keywords.items()),
        count_field=names.count_field,
        fields=names.fields,
        inits=inits,
        statements=statements,
        states=states,
        needs_theta=needs_theta,
        hyper_params=hyper_params,
        update_extra="".join(
            f", {name}: jax.Array"
            for name in [s.name for s in program.globals] + (split.update_inputs if split else [])
        ),
        phase_functions=phase_functions,
        global_states=[s.name for s in program.globals],
        round_table=[
            (
                f"{program.snake_name}_partials_{r.index}" if r.totals else "None",
                lowering.python_tuple(n for n, _ in r.totals),
                f"{program.snake_name}_group_{r.index}",
            )
            for r in (split.rounds if split else [])
        ],
        global_outputs=split.global_outputs if split else {},
        has_eval="eval" in program.sections,
        jnp=jnp,
        jnp_import="import jax.numpy" + (f" as {jnp}" if jnp != "jax.numpy" else ""),
        dtype=dtype,
        delta=delta,
        spec_const=spec_const,
        runtime=runtime,
        axes_import=internal.import_line("optc.backends.jax.axes", *sorted(printer.axes))
        if printer.axes
        else "",
        runtime_import="from optc.backends.jax import runtime"
        + (f" as {runtime}" if runtime != "runtime" else ""),
        params=params,
        signature=_signature(params),
        given=_dict_literal(
            (names.keywords[h.name], names.keywords[h.name]) for h in program.hypers
        ),
        aliases=_dict_literal((a, a) for a in names.aliases.values()),
        options=_dict_literal(
            [(k, k) for k in names.fixed]
            + ([(names.mask, names.mask)] if names.mask else [])
            + ([("mu_dtype", "mu_dtype")] if names.mu_dtype else [])
        ),
        hyper_table=hyper_table,
        fixed=names.fixed,
        mask=names.mask,
        decay="weight_decay" if names.mask else None,
        moment=counterpart.states["mu"] if names.mu_dtype else None,
        counterpart=counterpart,
        differences=differences,
        tensor_states=[
            s.name for s in program.states if s.shape is Shape.TENSOR and s.where is None
        ],
        batch_by_shape=lowering.has_matrix_functions(update_body),
        math=lowering.docstring_math(program),
        update_preamble=_shape_preamble([b.expr for b in update_body], "g"),
        init_preamble=_shape_preamble(lowering.allocation_exprs(program), "theta"),
        uses_math=any(lowering.domain_needs_isfinite(h) for h in program.hypers)
        or "cols"
        in lowering.shape_names_used(
            [b.expr for b in program.body] + [s.init for s in program.states]
        ),
    )
    return pysource.format_python(source)


def _phase_functions(
    program: Program,
    split: rounds.RoundsLayout,
    printer: JaxPrinter,
    hyper_params: str,
    cond_call: str,
) -> list[lowering.FunctionView]:
    """``<name>_init_globals``, then ``<name>_partials_k`` and ``<name>_group_k`` per round."""
    jnp, snake = printer.jnp, program.snake_name
    hypers = f", {hyper_params}" if hyper_params else ""
    shared = "".join(f", {s.name}: jax.Array" for s in program.globals)
    leaf = "g: jax.Array, theta: jax.Array, " + "".join(
        f"{s.name}: jax.Array, " for s in program.states
    )
    views = []
    if program.globals:
        inits = ", ".join(f'"{s.name}": {printer.render(s.init)}' for s in program.globals)
        views.append(
            lowering.FunctionView(
                f"{snake}_init_globals",
                f"*{hypers}" if hypers else "",
                "dict[str, float]",
                "The initial values of the global states (plain numbers).",
                [],
                [],
                "{" + inits + "}",
            )
        )
    for r in split.rounds:
        before = "".join(f", {name}: jax.Array" for name in r.before)
        partials = [name for name, _ in r.totals]
        if r.totals:  # a round of global states only has no terms to sum
            views.append(
                lowering.FunctionView(
                    f"{snake}_partials_{r.index}",
                    f"{leaf}*, t: jax.Array{hypers}{shared}{before}",
                    "tuple[jax.Array, ...]",
                    f"One leaf's terms of the round-{r.index} sums across leaves "
                    f"({', '.join(name for name, _ in r.totals)}).",
                    [
                        _float_step(jnp, "g"),
                        *_shape_preamble([b.expr for b in r.partials], "g"),
                    ],
                    lowering.statements(program, printer, r.partials, _static, cond_call),
                    lowering.tuple_items([f"{jnp}.asarray({p}, g.dtype)" for p in partials]),
                )
            )
        like = r.totals[0][0] if r.totals else program.globals[0].name
        totals = "".join(f", {name}: jax.Array" for name, _ in r.totals)
        returned = [
            f'"{name}": {printer.render(Var(id_, Role.LOCAL, REAL_SCALAR))}'
            for name, id_ in r.returns
        ]
        views.append(
            lowering.FunctionView(
                f"{snake}_group_{r.index}",
                f"*, t: jax.Array{hypers}{shared}{before}{totals}",
                "dict[str, jax.Array]",
                f"The values of round {r.index}, computed once from the summed terms.",
                [_float_step(jnp, like)],
                lowering.statements(program, printer, r.group, _static, cond_call),
                "{" + ", ".join(returned) + "}",
            )
        )
    return views


def _eval_function(
    program: Program, jnp: str, hyper_params: str, cond_call: str
) -> lowering.FunctionView:
    """``<name>_eval``: one leaf at the evaluation point (the spec's ``eval`` section). A
    ``train`` section is not needed in jax: the training parameters are never overwritten."""
    bindings = program.sections["eval"]
    names = {name: name for name in lowering.spec_names(program)}
    names.update({b.id: b.display for b in bindings})
    names.update({"theta": "theta", "t": "t"})
    printer = JaxPrinter(names, jnp)
    printer.like = "theta"
    states = "".join(f", {s.name}: jax.Array" for s in program.states)
    shared = "".join(f", {s.name}: jax.Array" for s in program.globals)
    hypers = f", {hyper_params}" if hyper_params else ""
    return lowering.FunctionView(
        f"{program.snake_name}_eval",
        f"theta: jax.Array{states}, *, t: jax.Array{hypers}{shared}",
        "jax.Array",
        "One leaf at the evaluation point (the spec's `eval` section); t: the steps taken.",
        [_float_step(jnp, "theta"), *_shape_preamble([b.expr for b in bindings], "theta")],
        lowering.statements(program, printer, bindings, _static, cond_call),
        f"{jnp}.asarray({printer.render(Var(program.section_outputs['eval'], Role.LOCAL, bindings[-1].type))}, theta.dtype)",
    )


def _float_step(jnp: str, like: str) -> str:
    return f"t = t.astype({jnp}.promote_types({like}.dtype, {jnp}.float32))  # at least f32"
