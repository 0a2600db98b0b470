"""AST → IR: resolve names, inline `def`s, infer types, put the step body into SSA form.

Every rule a spec can break here (undefined names, unknown functions, wrong arity, assigning a
hyper, updating an undeclared state, a tensor condition in `if`, missing conventions...) raises a
:class:`SpecError` pointing at the offending token, with a hint.
"""

from __future__ import annotations

import keyword
import math
from pathlib import Path

from optc.diagnostics import Diagnostic, Severity, Span, SpecError, did_you_mean
from optc.ir import allocation, matrix, phases
from optc.ir.nodes import (
    INT_SCALAR,
    REAL_SCALAR,
    REAL_TENSOR,
    Binding,
    Const,
    Counterpart,
    DType,
    Expr,
    Guard,
    Hyper,
    HyperKind,
    Op,
    Program,
    Role,
    Shape,
    State,
    Type,
    Var,
    broadcast,
    free_vars,
    matrix_type,
    show_dims,
    walk,
)
from optc.ir.ops import AXIS_REDUCTIONS, COMPARE_OPS, FUNCTIONS, NORM_NAMES, OPS, SHAPE_NAMES
from optc.parse import ast

BUILTINS = {
    "theta": Var("theta", Role.INPUT, REAL_TENSOR),
    "g": Var("g", Role.INPUT, REAL_TENSOR),
    "t": Var("t", Role.INPUT, INT_SCALAR),
    **{name: Var(name, Role.INPUT, INT_SCALAR) for name in SHAPE_NAMES},
}
CONSTANTS = {"inf": math.inf, "pi": math.pi}

# Stated limits of one spec's IR (after `def`s are inlined): beyond them, a located error.
MAX_IR_NODES = 10_000  # expression nodes built for the whole spec
MAX_IR_DEPTH = 200  # nesting of one expression
MAX_INLINE_DEPTH = 20  # defs calling defs

# Hyper-name prefixes that oblige a spec to state a convention, and the convention key.
REQUIRED_CONVENTIONS = (
    ("eps", "eps", 'convention eps "outside the root: sqrt(v_hat) + eps"'),
    ("beta", "bias_correction", 'convention bias_correction "both moments debiased by 1 - beta^t"'),
    ("weight_decay", "weight_decay", 'convention weight_decay "decoupled: theta * (1 - lr * wd)"'),
)


def build_program(
    spec: ast.SpecFile, prelude: list[ast.DefDecl]
) -> tuple[Program, list[Diagnostic]]:
    """Lower a parsed spec to a :class:`Program`; also return non-fatal warnings."""
    program, warnings = _Builder(spec, prelude).build()
    phases.plan(program)  # a global state given a per-parameter value is a located error
    return program, warnings


class _Builder:
    def __init__(self, spec: ast.SpecFile, prelude: list[ast.DefDecl]) -> None:
        self.spec = spec
        self.defs: dict[str, ast.DefDecl] = {d.name: d for d in prelude}
        for d in spec.defs:
            _check_identifier(d.name, d.name_span, "a def")
            for param in d.params:
                _check_identifier(param, d.name_span, "a def parameter")
            if d.name in self.defs or d.name in FUNCTIONS:
                raise SpecError(
                    f"`{d.name}` is already defined"
                    + (" by the prelude" if d.name in self.defs else " as a built-in function"),
                    d.name_span,
                    hint="choose another name for this def",
                )
            self.defs[d.name] = d
        self.hypers: dict[str, Hyper] = {}
        self.states: dict[str, State] = {}
        self.globals: dict[str, State] = {}  # `state d: global`, one per param group
        self.warnings: list[Diagnostic] = []
        self._inlining: list[str] = []
        self._sites: list[Span] = []  # the call sites of the defs being inlined, outermost first
        self._nodes = 0  # expression nodes built so far (MAX_IR_NODES)
        self._depth: dict[int, int] = {}  # id(op) → its nesting depth (MAX_IR_DEPTH)
        self._values: dict[int, float] = {}  # id(op) → its value, for constant subexpressions
        self._keep: list[Op] = []  # the ops whose ids key _depth and _values, kept alive

    # -- declarations -------------------------------------------------------------------------
    def build(self) -> tuple[Program, list[Diagnostic]]:
        for decl in self.spec.hypers:
            self._check_not_builtin(decl.name, decl.name_span)
            self.hypers[decl.name] = self._hyper(decl)
        self._check_conventions()
        for decl in self.spec.states:
            self._check_not_builtin(decl.name, decl.name_span)
            target = self.globals if decl.shape == "global" else self.states
            target[decl.name] = self._state(decl)
        body, outputs = self._body()
        sections = {kind: self._section(kind, lines) for kind, lines in self.spec.sections.items()}
        if "train" in sections and "eval" not in sections:
            raise SpecError(
                "a `train` section without an `eval` section",
                self.spec.section_spans["train"],
                hint="`train` maps the evaluation point back: write the `eval` section first",
            )
        program = Program(
            name=self.spec.name,
            cites=list(self.spec.cites),
            conventions={c.key: c.text for c in self.spec.conventions},
            counterparts=[self._counterpart(decl) for decl in self.spec.counterparts],
            hypers=list(self.hypers.values()),
            states=list(self.states.values()),
            globals=list(self.globals.values()),
            sections={kind: bindings for kind, (bindings, _) in sections.items()},
            section_outputs={kind: output for kind, (_, output) in sections.items()},
            body=body,
            outputs=outputs,
            file=self.spec.file,
            source=self.spec.source,
        )
        return allocation.with_allocation(program), self.warnings

    def _counterpart(self, decl: ast.CounterpartDecl) -> Counterpart:
        hypers: dict[str, str | tuple[str, ...]] = {}
        states: dict[str, str] = {}
        fixed: dict[str, float | bool] = {}
        mapped: dict[str, str] = {}  # spec name → the library name it maps to
        for entry in decl.entries:
            if entry.name in hypers or entry.name in states or entry.name in fixed:
                raise SpecError(
                    f"`{entry.name}` is mapped twice in counterpart `{decl.library}`",
                    entry.span,
                    hint="map each library name once",
                )
            if isinstance(entry.value, (bool, float)):
                fixed[entry.name] = entry.value
                continue
            names = entry.value if isinstance(entry.value, tuple) else (entry.value,)
            for name in names:
                if name in mapped:
                    raise SpecError(
                        f"`{name}` already maps to `{mapped[name]}` in counterpart "
                        f"`{decl.library}`",
                        entry.span,
                        hint="a spec name corresponds to one library name",
                    )
                mapped[name] = entry.name
                if name in self.states and isinstance(entry.value, tuple):
                    raise SpecError(
                        f"state `{name}` cannot be part of a tuple",
                        entry.span,
                        hint="tuples group hypers, as torch's `betas = (beta1, beta2)`",
                    )
                if name not in self.hypers and name not in self.states:
                    known = [*self.hypers, *self.states]
                    raise SpecError(
                        f"counterpart `{decl.library}` maps `{entry.name}` to `{name}`, which is "
                        "neither a hyper nor a state of this spec",
                        entry.span,
                        hint=did_you_mean(name, known)
                        or "the right-hand side names a hyper or a state of this spec",
                    )
            if entry.value in self.states:
                states[entry.name] = entry.value
            else:
                hypers[entry.name] = entry.value
        return Counterpart(decl.library, hypers, states, fixed, decl.span)

    def _check_not_builtin(self, name: str, span: Span) -> None:
        _check_identifier(name, span, "a hyper or state")
        if name.startswith("__"):
            raise SpecError(
                f"`{name}` cannot be a hyper or state name: generated code passes it as a "
                "Python keyword argument",
                span,
                hint="Python keywords and names starting with `__` cannot be keyword arguments; "
                "rename it",
            )
        if name in BUILTINS or name in CONSTANTS:
            raise SpecError(
                f"`{name}` is built in and cannot be redeclared",
                span,
                hint="theta, g, t, numel, ndim, rows, cols and inf are provided by the compiler; "
                "choose another name",
            )
        if name in FUNCTIONS or name in self.defs:
            raise SpecError(f"`{name}` is the name of a function", span, hint="choose another name")
        if name in NORM_NAMES:
            raise SpecError(f"`{name}` is the name of a norm", span, hint="choose another name")

    def _hyper(self, decl: ast.HyperDecl) -> Hyper:
        domain = decl.domain
        default = _constant(decl.default, "the default of a hyper")
        if domain.kind == "bool":
            if not isinstance(default, bool):
                raise SpecError(
                    f"the default of bool hyper `{decl.name}` must be true or false",
                    _span_of(decl.default),
                    hint=f"e.g. `hyper {decl.name} = false in bool`",
                )
            hyper = Hyper(
                decl.name, default, HyperKind.BOOL, 0.0, 1.0, True, True, decl.span, decl.doc
            )
            return hyper
        lo = _constant(domain.lo, "a domain bound")
        hi = _constant(domain.hi, "a domain bound")
        if isinstance(lo, bool) or isinstance(hi, bool) or not lo < hi:
            raise SpecError(
                f"empty domain for `{decl.name}`",
                domain.span,
                hint="write the lower bound first, e.g. `in [0, 1)`",
            )
        hyper = Hyper(
            decl.name,
            default,
            HyperKind(domain.kind),
            lo,
            hi,
            domain.lo_closed,
            domain.hi_closed,
            decl.span,
            decl.doc,
        )
        if isinstance(default, bool) or not hyper.contains(default):
            raise SpecError(
                f"the default {default!r} of `{decl.name}` is outside its domain "
                f"{hyper.domain_text()}",
                _span_of(decl.default),
                hint="change the default or widen the domain",
            )
        return hyper

    def _check_conventions(self) -> None:
        stated = {c.key for c in self.spec.conventions}
        for decl in self.spec.hypers:
            for prefix, key, example in REQUIRED_CONVENTIONS:
                if decl.name.startswith(prefix) and key not in stated:
                    raise SpecError(
                        f"hyper `{decl.name}` needs its convention stated: "
                        f'add a `convention {key} "..."` line',
                        decl.name_span,
                        hint=f"e.g. {example}",
                    )

    def _state(self, decl: ast.StateDecl) -> State:
        shared = decl.shape == "global"
        env = self._global_env(include_theta=not shared)
        init = self._expr(
            decl.init,
            env,
            context="a global state's initial value (hypers and numbers only)"
            if shared
            else "a state's initial value",
        )
        if isinstance(decl.shape, tuple):
            return self._matrix_state(decl, init)
        shape = _STATE_SHAPES.get(decl.shape, Shape.SCALAR)
        if init.type.is_matrix:
            raise SpecError(
                f"state `{decl.name}` starts from a {show_dims(init.type.matrix_dims)} matrix",
                _span_of(decl.init),
                hint=f"declare its dimensions: `state {decl.name}: "
                + " x ".join(init.type.matrix_dims)
                + " = ...`",
            )
        if shape is Shape.SCALAR and init.type.is_tensor:
            raise SpecError(
                f"scalar state `{decl.name}` cannot start from a tensor value",
                _span_of(decl.init),
                hint="start it from a number, a hyper, or a reduction such as norm(theta)",
            )
        if shape in (Shape.ROWS, Shape.COLS) and init.type.shape not in (Shape.SCALAR, shape):
            raise SpecError(
                f"state `{decl.name}` holds one number per {_UNIT[shape]} of θ, but starts "
                f"from a {_SHAPE_WORDS[init.type.shape]} value",
                _span_of(decl.init),
                hint=f"start it from a number, or reduce θ: `{shape.value[:3]}_mean(theta)`",
            )
        if init.type.dtype is DType.BOOL:
            raise SpecError(
                f"state `{decl.name}` must start from a number",
                _span_of(decl.init),
                hint="a comparison is a condition, not a value: e.g. `state s = 0`",
            )
        return State(decl.name, shape, init, decl.span, self._source(decl.span))

    def _matrix_state(self, decl: ast.StateDecl, init: Expr) -> State:
        """``state L: rows x rows = INIT``: dimensions rows, cols or int hypers; INIT a number,
        a hyper, or a value of exactly these dimensions (``eye(rows)``)."""
        for dim in decl.shape:
            hyper = self.hypers.get(dim)
            if dim not in ("rows", "cols", "1") and (
                hyper is None or hyper.kind is not HyperKind.INT
            ):
                raise SpecError(
                    f"state `{decl.name}`: the dimension `{dim}` is not rows, cols, 1 or an int "
                    "hyper",
                    decl.span,
                    hint=did_you_mean(dim, ["rows", "cols", *self.hypers])
                    or f"declare it first: `hyper {dim} = 4 in int [1, inf)`",
                )
        dims = (decl.shape[0], decl.shape[1])
        kind = matrix_type(dims)
        if init.type.is_tensor and init.type.matrix_dims != dims:
            raise SpecError(
                f"state `{decl.name}` is {show_dims(dims)}, but starts from a "
                f"{show_dims(init.type.matrix_dims)} value",
                _span_of(decl.init),
                hint=f"start it from a number or a {show_dims(dims)} value such as `eye({dims[0]})`"
                if dims[0] == dims[1]
                else "start it from a number",
            )
        if init.type.dtype is DType.BOOL:
            raise SpecError(
                f"state `{decl.name}` must start from a number",
                _span_of(decl.init),
                hint="a comparison is a condition, not a value",
            )
        return State(
            decl.name,
            kind.shape,
            init,
            decl.span,
            self._source(decl.span),
            kind.dims,
        )

    def _global_env(self, include_theta: bool) -> dict[str, Expr]:
        env: dict[str, Expr] = {name: Const(value) for name, value in CONSTANTS.items()}
        for hyper in self.hypers.values():
            dtype = {HyperKind.BOOL: DType.BOOL, HyperKind.INT: DType.INT}.get(
                hyper.kind, DType.REAL
            )
            env[hyper.name] = Var(hyper.name, Role.HYPER, Type(Shape.SCALAR, dtype))
        if include_theta:  # a state's initial value may read θ and its dimensions
            env["theta"] = BUILTINS["theta"]
            env.update({name: BUILTINS[name] for name in SHAPE_NAMES})
        return env

    # -- the step body ------------------------------------------------------------------------
    def _body(self) -> tuple[list[Binding], dict[str, str]]:
        env = self._global_env(include_theta=False)
        env.update(BUILTINS)
        for state in [*self.states.values(), *self.globals.values()]:
            env[state.name] = Var(state.name, Role.STATE, state.type)
        self._versions: dict[str, int] = {}
        self._outputs: dict[str, str] = {}
        self._ids: set[str] = set()
        self._blocks = 0
        body: list[Binding] = []
        self._statements(self.spec.body, env, {}, body, ())
        outputs = self._outputs
        if "theta" not in outputs:
            raise SpecError(
                "the step never updates `theta`",
                self.spec.step_span,
                hint="add a statement such as `theta <- theta - lr * g`",
            )
        read = set().union(*(free_vars(b.expr) for b in body))
        for state in [*self.states.values(), *self.globals.values()]:
            if state.name not in outputs and state.name not in read:
                self.warnings.append(
                    Diagnostic(
                        Severity.WARNING,
                        f"state `{state.name}` is never used",
                        state.span,
                        hint="read or update it in the step, or remove it",
                    )
                )
        return body, outputs

    def _section(self, kind: str, lines: list[ast.Statement]) -> tuple[list[Binding], str]:
        """An ``eval`` / ``train`` section: θ from θ, the states, hypers, t and dimensions."""
        env = self._global_env(include_theta=True)
        env["t"] = BUILTINS["t"]
        for state in [*self.states.values(), *self.globals.values()]:
            env[state.name] = Var(state.name, Role.STATE, state.type)
        span = self.spec.section_spans[kind]
        saved = self._versions, self._outputs, self._ids
        self._versions, self._outputs, self._ids = {}, {}, set()
        bindings: list[Binding] = []
        locals_at: dict[str, Span] = {}
        for stmt in lines:
            if stmt.kind == "update" and stmt.target != "theta":
                raise SpecError(
                    f"`{kind}` only moves theta; `{stmt.target}` keeps its value",
                    stmt.target_span,
                    hint="the states change in the step; here write theta <- ...",
                )
            binding = self._statement(stmt, env, locals_at, ())
            bindings.append(binding)
            env[stmt.target] = Var(binding.id, Role.LOCAL, binding.expr.type)
        output = self._outputs.get("theta")
        self._versions, self._outputs, self._ids = saved
        if output is None:
            raise SpecError(
                f"the `{kind}` section never updates `theta`",
                span,
                hint="e.g. `theta <- lerp(theta, z, 1 - 1/beta1)` below the section line",
            )
        return bindings, output

    def _statements(
        self,
        lines: list[ast.Statement | ast.Block],
        env: dict[str, Expr],
        locals_at: dict[str, Span],
        body: list[Binding],
        guards: tuple[Guard, ...],
    ) -> None:
        for line in lines:
            if isinstance(line, ast.Block):
                self._block(line, env, locals_at, body, guards)
                continue
            binding = self._statement(line, env, locals_at, guards)
            body.append(binding)
            env[line.target] = Var(binding.id, Role.LOCAL, binding.expr.type)

    def _source(self, span: Span) -> str:
        """The statement as written; one from a used spec says which (``(adam) m <- ...``)."""
        source = self.spec.sources.get(span.file, self.spec.source)
        lines = source.splitlines()[span.line - 1 : span.end_line]
        text = " ".join(line.strip().removesuffix("\\").strip() for line in lines)
        return text if span.file == self.spec.file else f"({Path(span.file).stem}) {text}"

    def _statement(
        self,
        stmt: ast.Statement,
        env: dict[str, Expr],
        locals_at: dict[str, Span],
        guards: tuple[Guard, ...],
    ) -> Binding:
        self._check_target(stmt, locals_at)
        expr = self._expr(stmt.expr, env, context="the step")
        source = self._source(stmt.span)
        if stmt.kind == "assign":
            locals_at[stmt.target] = stmt.target_span
            id_ = stmt.target
            while id_ in self._ids:  # the same local name in two branches of a block
                id_ += "'"
            self._ids.add(id_)
            return Binding(id_, stmt.target, None, expr, stmt.span, source, guards)
        declared = (
            Shape.TENSOR
            if stmt.target == "theta"
            else {**self.states, **self.globals}[stmt.target].shape
        )
        if declared is Shape.MATRIX or expr.type.is_matrix:
            self._check_matrix_update(stmt, expr)
        elif declared is Shape.SCALAR and expr.type.is_tensor:
            raise SpecError(
                f"scalar state `{stmt.target}` is assigned a tensor value",
                _span_of(stmt.expr),
                hint="reduce it first, or declare the state without `: scalar`",
            )
        elif broadcast(declared, expr.type.shape) is not declared:
            axis = declared.value[:3]
            raise SpecError(
                f"state `{stmt.target}` holds one number per {_UNIT[declared]} of θ, "
                f"but is assigned a {_SHAPE_WORDS[expr.type.shape]} value",
                _span_of(stmt.expr),
                hint=f"reduce it to one number per {_UNIT[declared]} first: "
                f"`{axis}_mean(...)`, `{axis}_sum(...)` or `{axis}_max(...)`"
                if expr.type.is_param_shaped
                else f"declare the state `: {expr.type.shape.value}` or combine the value "
                "with a θ-shaped one",
            )
        if expr.type.dtype is DType.BOOL:
            raise SpecError(
                f"`{stmt.target}` is assigned a condition, not a number",
                _span_of(stmt.expr),
                hint="use where(cond, a, b) to choose between numbers",
            )
        if guards and (stmt.target in self.globals or _reads_total(expr)):
            raise SpecError(
                "global states and total(...) cannot sit inside an `if`/`every` block yet",
                stmt.span,
                hint="compute it before the block and use its value inside",
            )
        return Binding(
            self._version(stmt.target), stmt.target, stmt.target, expr, stmt.span, source, guards
        )

    def _check_matrix_update(self, stmt: ast.Statement, expr: Expr) -> None:
        """A matrix state takes a value of exactly its dimensions; θ and θ-layout states take
        no matrix value (its dimensions could not fill theirs)."""
        state = {**self.states, **self.globals}.get(stmt.target)
        want = state.type.matrix_dims if state is not None else ("rows", "cols")
        got = expr.type.matrix_dims
        if got != want:
            what = "θ" if state is None else f"state `{stmt.target}`"
            raise SpecError(
                f"{what} is {show_dims(want)}, but is assigned a {show_dims(got)} value",
                _span_of(stmt.expr),
                hint="a scalar is not filled into a matrix state: write `0 * " + stmt.target + "`"
                if not expr.type.is_tensor
                else "transpose(...) swaps dimensions; `P @ R` maps [rows, rank] by "
                "[rank, cols] back to θ's [rows, cols]",
            )

    def _version(self, target: str) -> str:
        self._versions[target] = self._versions.get(target, 0) + 1
        id_ = f"{target}#{self._versions[target]}"
        self._outputs[target] = id_
        return id_

    def _block(
        self,
        block: ast.Block,
        env: dict[str, Expr],
        locals_at: dict[str, Span],
        body: list[Binding],
        guards: tuple[Guard, ...],
    ) -> None:
        """A block's statements, guarded; then one merge per state or θ it updates. Locals
        bound inside a block are its own (the names may be bound again after it)."""
        cond = self._block_condition(block, env)
        self._blocks += 1
        number = self._blocks
        source = self._source(block.span)
        branches = []
        for taken, lines in ((True, block.body), (False, block.orelse)):
            inner = dict(env)
            guard = Guard(number, cond, taken, block.kind, source, block.span.line)
            self._statements(lines, inner, dict(locals_at), body, (*guards, guard))
            branches.append(inner)
        for name in ["theta", *self.states, *self.globals]:
            before, then, orelse = env[name], branches[0][name], branches[1][name]
            if then is before and orelse is before:
                continue
            expr = self._make_op("ifelse", [cond, then, orelse], block.span)
            id_ = self._version(name)
            body.append(Binding(id_, name, name, expr, block.span, source, guards, merge=number))
            env[name] = Var(id_, Role.LOCAL, expr.type)

    def _block_condition(self, block: ast.Block, env: dict[str, Expr]) -> Expr:
        """``if c:`` reads c; ``every k:`` is ``mod(t, k) == 0`` (steps k, 2k, ...)."""
        raw = self._expr(block.cond, env, context=f"the condition of `{block.kind}`")
        if block.kind == "every":
            if raw.type.is_tensor or raw.type.dtype is DType.BOOL:
                raise SpecError(
                    "`every K:` takes a number of steps",
                    _span_of(block.cond),
                    hint="e.g. `every k:` with `hyper k = 5 in int [1, inf)`",
                )
            t = BUILTINS["t"]
            cond = self._make_op(
                "eq", [self._make_op("mod", [t, raw], block.span), Const(0.0)], block.span
            )
        else:
            cond = raw
        if cond.type.dtype is not DType.BOOL or cond.type.is_tensor:
            raise SpecError(
                "the condition of an `if` block must be a comparison of scalars",
                _span_of(block.cond),
                hint="for an elementwise choice use where(cond, a, b)",
            )
        allowed = {"t", *SHAPE_NAMES, *self.hypers}
        if not free_vars(cond) <= allowed:
            names = ", ".join(f"`{n}`" for n in sorted(free_vars(cond) - allowed))
            raise SpecError(
                f"a block's condition may read t, hypers and the parameter's dimensions, not {names}",
                _span_of(block.cond),
                hint="for a choice that depends on values use `if c then a else b` or where(c, a, b)",
            )
        return cond

    def _check_target(self, stmt: ast.Statement, locals_at: dict[str, Span]) -> None:
        name, span = stmt.target, stmt.target_span
        if name in self.hypers:
            raise SpecError(
                f"`{name}` is a hyper; hypers are read-only in the step",
                span,
                hint=f"bind a new local instead, e.g. `{name}_t = ...`",
            )
        if name in ("g", "t", *SHAPE_NAMES) or name in CONSTANTS:
            raise SpecError(
                f"`{name}` is built in and read-only",
                span,
                hint=f"bind a new local instead, e.g. `{name}_2 = ...`",
            )
        if name in NORM_NAMES:
            raise SpecError(f"`{name}` is the name of a norm", span, hint="choose another name")
        if name in FUNCTIONS or name in self.defs:
            raise SpecError(f"`{name}` is the name of a function", span, hint="choose another name")
        if stmt.kind == "update":
            if name != "theta" and name not in self.states and name not in self.globals:
                hint = did_you_mean(name, [*self.states, *self.globals, "theta"])
                raise SpecError(
                    f"`{name}` is not a declared state",
                    span,
                    hint=hint or f"declare it before `step`: `state {name} = 0`",
                )
            return
        if name == "theta" or name in self.states or name in self.globals:
            raise SpecError(
                f"`{name}` is {'the parameter' if name == 'theta' else 'a state'}; "
                "update it with `<-`",
                span,
                hint=f"write `{name} <- ...`",
            )
        _check_identifier(name, span, "a local")
        if name in locals_at:
            raise SpecError(
                f"`{name}` is already bound at line {locals_at[name].line}",
                span,
                hint="locals are bound once; choose a new name",
            )

    # -- expressions --------------------------------------------------------------------------
    def _expr(self, node: ast.Expr, env: dict[str, Expr], context: str) -> Expr:
        self._nodes += 1
        if self._nodes > MAX_IR_NODES:
            raise SpecError(
                f"the spec is too large: more than {MAX_IR_NODES} expression nodes once its "
                "defs are inlined",
                self._site(node.span),
                hint="simplify it; a def called many times (or defs calling defs) is copied at "
                "each call",
            )
        match node:
            case ast.Num(value=value):
                return Const(value)
            case ast.BoolLit(value=value):
                return Const(value, Type(Shape.SCALAR, DType.BOOL))
            case ast.Name(id=name, span=span):
                if name in env:
                    return env[name]
                raise self._undefined(name, span, env, context)
            case ast.Unary(op=op, operand=operand, span=span):
                return self._make_op(op, [self._expr(operand, env, context)], span)
            case ast.Binary(op=op, left=left, right=right, span=span):
                args = [self._expr(left, env, context), self._expr(right, env, context)]
                return self._make_op(op, args, span)
            case ast.Compare(op=op, left=left, right=right, span=span):
                args = [self._expr(left, env, context), self._expr(right, env, context)]
                return self._make_op(COMPARE_OPS[op], args, span)
            case ast.IfElse(cond=cond, then=then, orelse=orelse, span=span):
                args = [self._expr(x, env, context) for x in (cond, then, orelse)]
                return self._make_op("ifelse", args, span)
            case ast.Call():
                return self._call(node, env, context)
        raise AssertionError(f"unhandled AST node {node!r}")

    def _call(self, node: ast.Call, env: dict[str, Expr], context: str) -> Expr:
        if node.func == "dualize":
            return self._dualize(node, env, context)
        schedule = _schedule(node)
        if schedule is not None:  # newton_schulz(x, steps, polar_express)
            args = [self._expr(arg, env, context) for arg in node.args[:2]]
            return self._register(matrix.call(node.func, args, node.span, schedule), args, node)
        args = [self._expr(arg, env, context) for arg in node.args]
        if node.func in matrix.NAMES:
            return self._register(matrix.call(node.func, args, self._site(node.span)), args, node)
        if node.func in FUNCTIONS:
            op, args = _reduction(node, args)
            if op is not None:
                return self._make_op(op, args, node.span)
            info = OPS[node.func]
            if len(args) != info.arity:
                raise SpecError(
                    f"`{node.func}` takes {info.arity} argument{'s' * (info.arity != 1)}, "
                    f"got {len(args)}",
                    node.func_span,
                    hint=f"call it as {info.signature}",
                )
            return self._make_op(node.func, args, node.span)
        if node.func in self.defs:
            return self._inline(self.defs[node.func], args, node)
        hint = did_you_mean(node.func, [*FUNCTIONS, *self.defs])
        raise SpecError(
            f"unknown function `{node.func}`",
            node.func_span,
            hint=hint or "functions: " + ", ".join([*FUNCTIONS, *sorted(self.defs)]),
        )

    def _dualize(self, node: ast.Call, env: dict[str, Expr], context: str) -> Expr:
        """``dualize(x, c * N)``: the steepest-descent direction of x under the norm c·‖·‖_N,
        argmax over c‖v‖_N ≤ 1 of <x, v> — (1/c) times N's map, written out as IR (docs/language.md,
        "Norms and dualize")."""
        if len(node.args) != 2:
            raise SpecError(
                f"`dualize` takes 2 arguments, got {len(node.args)}",
                node.func_span,
                hint="call it as dualize(x, norm) with norm one of " + ", ".join(NORM_NAMES),
            )
        x = self._expr(node.args[0], env, context)
        norm, scale = self._norm(node.args[1], env, context)
        if not x.type.is_param_shaped or x.type.dtype is not DType.REAL:
            raise SpecError(
                "`dualize` maps a θ-shaped value to its steepest-descent direction; "
                "this argument is not one",
                _span_of(node.args[0]),
                hint="e.g. dualize(g, l2) or dualize(m, linf)",
            )
        return dualize_expr(norm, x, node.span, scale)

    def _norm(self, node: ast.Expr, env: dict[str, Expr], context: str) -> tuple[str, Expr | None]:
        """A norm argument: ``N``, ``c * N`` / ``N * c`` or ``N / c`` with c a scalar (the
        scale is c, or 1 / c)."""
        if isinstance(node, ast.Name) and node.id in NORM_NAMES:
            return node.id, None
        if isinstance(node, ast.Binary) and node.op in ("mul", "div"):
            sides = [(node.left, node.right)]
            if node.op == "mul":
                sides.insert(0, (node.right, node.left))
            for norm_side, scale_side in sides:
                if isinstance(norm_side, ast.Name) and norm_side.id in NORM_NAMES:
                    scale = self._expr(scale_side, env, context)
                    if scale.type.is_tensor or scale.type.dtype is DType.BOOL:
                        raise SpecError(
                            "a norm's scale must be a number, the same for every entry",
                            _span_of(scale_side),
                            hint="e.g. `2 * l2`, `sqrt(numel) * l2` or `l2 / 2`",
                        )
                    if node.op == "div":
                        scale = self._make_op("div", [Const(1.0), scale], node.span)
                    return norm_side.id, scale
        raise SpecError(
            "the second argument of `dualize` is a norm",
            _span_of(node),
            hint="one of " + ", ".join(NORM_NAMES) + ", optionally scaled: `2 * l2`",
        )

    def _inline(self, decl: ast.DefDecl, args: list[Expr], call: ast.Call) -> Expr:
        if len(args) != len(decl.params):
            raise SpecError(
                f"`{decl.name}` takes {len(decl.params)} argument"
                f"{'s' * (len(decl.params) != 1)}, got {len(args)}",
                call.func_span,
                hint=f"call it as {decl.name}({', '.join(decl.params)})",
            )
        if decl.name in self._inlining:
            raise SpecError(
                f"`{decl.name}` calls itself", call.func_span, hint="defs cannot recurse"
            )
        if len(self._inlining) >= MAX_INLINE_DEPTH:
            raise SpecError(
                f"defs call defs more than {MAX_INLINE_DEPTH} deep",
                self._site(call.func_span),
                hint="flatten the chain of defs",
            )
        env = self._global_env(include_theta=False)
        env["t"] = BUILTINS["t"]
        env.update(zip(decl.params, args, strict=True))
        self._inlining.append(decl.name)
        self._sites.append(call.span)
        try:
            return self._expr(decl.body, env, context=f"def `{decl.name}`")
        finally:
            self._inlining.pop()
            self._sites.pop()

    def _site(self, span: Span) -> Span:
        """Where to report a problem found while building: the outermost call being inlined
        (a def's body is shared by every call; the step's line is what the user can change)."""
        return self._sites[0] if self._sites else span

    def _register(self, node: Expr, args: list[Expr], call: ast.Call) -> Expr:
        """A matrix function's node (and the layout op around it), depth bounded."""
        self._bound_depth(node, args, self._site(call.span))
        if isinstance(node, Op) and node.op == "as_param":
            self._bound_depth(node.args[0], args, self._site(call.span))
        return node

    def _bound_depth(self, node: Expr, args: list[Expr], site: Span) -> None:
        depth = 1 + max((self._depth.get(id(a), 1) for a in args), default=0)
        if depth > MAX_IR_DEPTH:
            raise SpecError(
                f"expression nested deeper than {MAX_IR_DEPTH} levels once its defs are inlined",
                site,
                hint="split it into several statements with locals (`x = ...`)",
            )
        self._depth[id(node)] = depth
        self._keep.append(node)

    def _make_op(self, op: str, args: list[Expr], span: Span) -> Op:
        """An op with its span, its depth bounded and its constant value checked."""
        site = self._site(span)
        node = _make_op(op, args, site)
        self._bound_depth(node, args, site)
        values = [a.value if isinstance(a, Const) else self._values.get(id(a)) for a in args]
        if op in _FOLD and not any(v is None or isinstance(v, bool) for v in values):
            # a constant subexpression that overflows (9^9^9) is an error, not a hang later
            self._values[id(node)] = _fold(op, values, site)
        return node

    def _undefined(self, name: str, span: Span, env: dict[str, Expr], context: str) -> SpecError:
        if context.startswith("def") and (name in self.states or name in BUILTINS):
            return SpecError(
                f"`{name}` is not visible inside {context}",
                span,
                hint="pass it as an argument; a def sees its parameters, hypers and t",
            )
        if context == "a state's initial value" and (name in BUILTINS or name in self.states):
            return SpecError(
                f"`{name}` cannot be used in {context}",
                span,
                hint="initial values may use constants, hypers and theta",
            )
        hint = did_you_mean(name, env)
        if hint is None and name in self.states:
            hint = f"`{name}` is declared as a state after this line"
        later = next(
            (
                s
                for s in _statements_of(self.spec.body)
                if s.target == name and s.span.line > span.line
            ),
            None,
        )
        if hint is None and later is not None:
            hint = f"`{name}` is bound on line {later.span.line}, after this use: move that line up"
        inside = next(
            (
                s
                for s in _statements_of(self.spec.body)
                if s.target == name and s.span.line < span.line
            ),
            None,
        )
        if hint is None and inside is not None:
            hint = (
                f"`{name}` is bound on line {inside.span.line} inside a block, and a block's "
                "locals end with it: bind it before the block, or use a state"
            )
        if hint is None:
            hint = f"declare it (`hyper {name} = ...`, `state {name} = ...`) or bind it first: `{name} = ...`"
        return SpecError(f"undefined name `{name}`", span, hint=hint)


def _statements_of(lines: list[ast.Statement | ast.Block]) -> list[ast.Statement]:
    """Every statement of a step body, blocks flattened, in source order."""
    flat: list[ast.Statement] = []
    for line in lines:
        flat += (
            _statements_of([*line.body, *line.orelse]) if isinstance(line, ast.Block) else [line]
        )
    return flat


def _reads_total(expr: Expr) -> bool:
    return any(isinstance(n, Op) and n.op == "total" for n in walk(expr))


def _check_identifier(name: str, span: Span, what: str) -> None:
    """A spec name becomes a Python name (keyword argument, variable): it must be one."""
    if not (name.isascii() and name.isidentifier()):
        raise SpecError(
            f"`{name}` cannot be {what} name: it is not a Python identifier",
            span,
            hint="names are ASCII letters, digits and `_`, not starting with a digit",
        )
    if keyword.iskeyword(name):
        raise SpecError(
            f"`{name}` cannot be {what} name: generated code passes it as a Python name, and "
            "it is a Python keyword",
            span,
            hint="Python keywords cannot be keyword arguments or variables; rename it",
        )


_REDUCTIONS = {"rms": "rms", "mean": "mean", "sum": "sum", "dot": "dot", "count": "count"}
_NORM_ORDERS = {1.0: "norm1", 2.0: "norm2", math.inf: "norminf"}


def _reduction(node: ast.Call, args: list[Expr]) -> tuple[str | None, list[Expr]]:
    """The reduction op a call names (``norm(x, 1)`` → norm1, one-argument ``max`` → maxof),
    or None for an elementwise function; arity errors are reported here for reductions."""
    name = node.func
    if name in ("max", "min") and len(args) == 1:
        return f"{name}of", args
    if name == "norm":
        if len(args) == 1:
            return "norm2", args
        order = args[1] if len(args) == 2 else None
        if not (isinstance(order, Const) and order.value in _NORM_ORDERS):
            raise SpecError(
                "`norm` takes a θ-shaped value and an optional order 1, 2 or inf",
                node.func_span if order is None else _span_of(node.args[1]),
                hint="norm(x) is the ℓ2 norm; norm(x, 1) and norm(x, inf) the ℓ1 and ℓ∞ norms",
            )
        return _NORM_ORDERS[float(order.value)], args[:1]
    if name in _REDUCTIONS:
        info = OPS[_REDUCTIONS[name]]
        if len(args) != info.arity:
            raise SpecError(
                f"`{name}` takes {info.arity} argument{'s' * (info.arity != 1)}, got {len(args)}",
                node.func_span,
                hint=f"call it as {info.signature}",
            )
        return _REDUCTIONS[name], args
    return None, args


def _make_op(op: str, args: list[Expr], span: Span) -> Op:
    """Build an op node, inferring its type and rejecting ill-typed uses."""
    info = OPS[op]
    if info.category == "reduce":
        return _reduction_op(op, args, span)
    if info.category == "axis":
        return _axis_op(op, args, span)
    if op == "matmul":
        return matrix.matmul(args[0], args[1], span)
    if info.category == "matrix":
        return _matrix_op(op, args, span)
    if info.category == "global":
        if args[0].type.dtype is DType.BOOL:
            raise SpecError(
                "`total(x)` sums numbers over the parameters; this argument is a condition",
                _span_of_expr(args[0], span),
                hint="count a mask per parameter first: total(count(g > 0))",
            )
        return Op(op, tuple(args), REAL_SCALAR, span)
    args, dims = matrix.elementwise(op, args, span)
    shape = Shape.MATRIX if dims else broadcast(*(a.type.shape for a in args))
    if info.category == "arith":
        return Op(op, tuple(args), Type(shape, DType.REAL, dims), span)
    if info.category == "compare":
        return Op(op, tuple(args), Type(shape, DType.BOOL, dims), span)
    if info.category == "logic":
        for arg in args:
            if arg.type.dtype is not DType.BOOL:
                raise SpecError(
                    f"`{op}` needs conditions on both sides", span, hint="compare first: `a > 0`"
                )
        return Op(op, tuple(args), Type(shape, DType.BOOL, dims), span)
    cond, then, orelse = args
    if cond.type.dtype is not DType.BOOL:
        raise SpecError(
            f"the condition of `{info.signature}` must be a comparison",
            span,
            hint="e.g. `where(g * m > 0, a, b)`",
        )
    if info.category == "branch" and cond.type.is_tensor:
        raise SpecError(
            "the condition of `if ... then ... else` must be a scalar, but it depends on a tensor",
            span,
            hint="use where(cond, a, b) for an elementwise choice",
        )
    both_bool = then.type.dtype is DType.BOOL and orelse.type.dtype is DType.BOOL
    return Op(op, tuple(args), Type(shape, DType.BOOL if both_bool else DType.REAL, dims), span)


def _constant(node: ast.Expr | None, what: str) -> float | bool:
    """Evaluate a constant expression (numbers, inf, + - * / ^), exactly as IR constants are
    checked: a result that overflows, divides by zero or is not real is a located error."""
    match node:
        case ast.Num(value=value):
            return value
        case ast.BoolLit(value=value):
            return value
        case ast.Name(id=name) if name in CONSTANTS:
            return CONSTANTS[name]
        case ast.Unary(op="neg", operand=operand, span=span):
            return _fold("neg", [_number_operand(operand, what)], span)
        case ast.Binary(op=op, left=left, right=right, span=span) if op in _ARITH:
            values = [_number_operand(left, what), _number_operand(right, what)]
            return _fold(op, values, span)
    raise SpecError(
        f"{what} must be a constant", _span_of(node), hint="use a number such as 1e-3 or inf"
    )


def _number_operand(node: ast.Expr, what: str) -> float:
    value = _constant(node, what)
    if isinstance(value, bool):
        raise SpecError(
            "`true` and `false` are not numbers",
            _span_of(node),
            hint="arithmetic takes numbers; a bool hyper is written `= true in bool`",
        )
    return value


_ARITH = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}
_FOLD = {
    **_ARITH,
    "neg": lambda a: -a,
    "sqrt": math.sqrt,
    "abs": abs,
    "sign": lambda a: float((a > 0) - (a < 0)),
    "exp": math.exp,
    "log": math.log,
    "cos": math.cos,
    "sin": math.sin,
    "floor": lambda a: float(math.floor(a)),
    "mod": lambda a, b: a % b,
    "min": min,
    "max": max,
    "clip": lambda x, lo, hi: min(max(x, lo), hi),
}


_UNDERFLOW = frozenset({"mul", "div", "pow", "exp"})


def _const_text(op: str, values: list[float]) -> str:
    """``10 ^ 400``, ``sqrt(-1)``: a constant op with its operand values, for messages."""
    texts = [_clip_number(v) for v in values]
    if op == "pow" and texts[0].startswith("-"):  # (-8) ^ 0.333333, not -8 ^ 0.333333
        texts[0] = f"({texts[0]})"
    if op == "neg":
        return f"-{texts[0]}"
    infix = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
    if op in infix:
        return f"{texts[0]} {infix[op]} {texts[1]}"
    return f"{op}({', '.join(texts)})"


def _clip_number(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.6g}"


def _fold(op: str, values: list[float], span: Span) -> float:
    """One constant op in float64, as the generated code computes it; never a silent inf, nan
    or complex number, never an exception other than SpecError."""
    text = _const_text(op, values)
    try:
        result = _FOLD[op](*values)
    except ZeroDivisionError:
        raise SpecError(
            f"the constant `{text}` divides by zero", span, hint="change the constant"
        ) from None
    except OverflowError:
        raise SpecError(
            f"the constant `{text}` overflows a float64",
            span,
            hint="constants are at most about 1.8e308 in magnitude",
        ) from None
    except ValueError:  # math.sqrt / math.log outside their domain
        raise SpecError(
            f"the constant `{text}` is outside the domain of `{op}`",
            span,
            hint="sqrt takes a number >= 0, log a number > 0, cos and sin a finite number",
        ) from None
    if isinstance(result, complex):
        raise SpecError(
            f"the constant `{text}` is not a real number (a fractional power of a negative number)",
            span,
            hint="take the power of a nonnegative base",
        )
    result = float(result)
    if math.isnan(result):
        raise SpecError(
            f"the constant `{text}` is undefined (nan)",
            span,
            hint="inf - inf, 0 * inf and inf / inf have no value",
        )
    finite = not any(math.isinf(v) for v in values)
    if result == 0 and finite and op in _UNDERFLOW and all(v != 0 for v in values):
        raise SpecError(
            f"the constant `{text}` underflows to 0 in float64",
            span,
            hint="write 0 if zero is meant, or change the constant",
        )
    if math.isinf(result) and finite:
        raise SpecError(
            f"the constant `{text}` overflows a float64",
            span,
            hint="constants are at most about 1.8e308 in magnitude",
        )
    return result


def _span_of(node: ast.Expr) -> Span:
    return node.span


def _reduction_op(op: str, args: list[Expr], span: Span) -> Op:
    """A per-tensor reduction: θ-shaped arguments (a mask for ``count``), one real per parameter."""
    want = DType.BOOL if op == "count" else DType.REAL
    if op == "dot":  # entry by entry: equal dimensions (or broadcasting ones)
        args, _ = matrix.elementwise(op, args, span)
    for arg in args:
        if not arg.type.is_tensor:
            raise SpecError(
                f"`{OPS[op].signature}` reduces a θ-shaped value, but this argument is a scalar",
                _span_of_expr(arg, span),
                hint="a reduction sums, averages or takes a norm over the parameter's entries",
            )
        if arg.type.dtype is not want:
            what = "a condition (a mask)" if want is DType.BOOL else "a number"
            raise SpecError(
                f"`{OPS[op].signature}` needs {what} here",
                _span_of_expr(arg, span),
                hint="count takes a comparison such as `g > 0`; the others take numbers",
            )
    return Op(op, tuple(args), Type(Shape.SCALAR, DType.REAL), span)


_STATE_SHAPES = {"param": Shape.TENSOR, "rows": Shape.ROWS, "cols": Shape.COLS}
_UNIT = {Shape.ROWS: "row", Shape.COLS: "column", Shape.TENSOR: "entry"}
_SHAPE_WORDS = {
    Shape.SCALAR: "scalar",
    Shape.TENSOR: "θ-shaped",
    Shape.ROWS: "per-row",
    Shape.COLS: "per-column",
}


def _axis_op(op: str, args: list[Expr], span: Span) -> Op:
    """``row_mean(x)`` and the others: a θ-shaped value to one number per row (``row_*``,
    reducing each row's columns) or per column (``col_*``)."""
    (arg,) = args
    kind = AXIS_REDUCTIONS[op]
    if arg.type.is_matrix and arg.type.dtype is DType.REAL:  # [a, b] → [a, 1] or [1, b]
        d0, d1 = arg.type.matrix_dims
        return matrix.finish(op, (arg,), (d0, "1") if kind == "rows" else ("1", d1), span)
    if not arg.type.is_param_shaped:
        already = {Shape.ROWS: "row", Shape.COLS: "column"}.get(arg.type.shape)
        raise SpecError(
            f"`{OPS[op].signature}` reduces a θ-shaped value, but this argument is "
            + (f"already one number per {already}" if already else "a scalar"),
            _span_of_expr(arg, span),
            hint="mean(x), sum(x), max(x) reduce a per-row or per-column value to one number"
            if already
            else "an axis reduction averages, sums or takes the largest entry of each row or "
            "column of θ's matrix view",
        )
    if arg.type.dtype is not DType.REAL:
        raise SpecError(
            f"`{OPS[op].signature}` needs a number here, not a condition",
            _span_of_expr(arg, span),
            hint="turn a mask into numbers with where(c, 1, 0)",
        )
    return Op(op, (arg,), Type(Shape.ROWS if kind == "rows" else Shape.COLS, DType.REAL), span)


def _matrix_op(op: str, args: list[Expr], span: Span) -> Op:
    """``newton_schulz(x, steps, a, b, c)`` and the spectral norm's ``polar(x)``: functions of
    θ's matrix view (rows x cols), θ-shaped in and out (docs/language.md, "Matrix functions")."""
    x, *scalars = args
    if x.type.shape not in (Shape.TENSOR, Shape.MATRIX) or x.type.dtype is not DType.REAL:
        raise SpecError(
            f"`{OPS[op].signature}` works on θ's matrix view; this argument is not θ-shaped",
            _span_of_expr(x, span),
            hint="pass a θ-shaped value such as g or a momentum state",
        )
    matrix.numbers(op, scalars, span, "e.g. newton_schulz(x, 5, 3.4445, -4.7750, 2.0315)")
    if op == "newton_schulz":
        matrix.whole_steps(scalars[0], span)
    return Op(op, tuple(args), x.type, span)


def _schedule(node: ast.Call) -> str | None:
    """The schedule a ``newton_schulz(x, steps, NAME)`` call names, if it names one."""
    if node.func != "newton_schulz" or len(node.args) != 3:
        return None
    last = node.args[2]
    if isinstance(last, ast.Name) and last.id in matrix.SCHEDULES:
        return last.id
    return None


def _span_of_expr(expr: Expr, fallback: Span) -> Span:
    return getattr(expr, "span", None) or fallback


def dualize_expr(norm: str, x: Expr, span: Span | None, scale: Expr | None = None) -> Expr:
    """``dualize(x, scale * norm)`` as IR: under c·‖·‖ the map is (1/c) times the norm's."""
    direction = _dualize_map(norm, x, span)
    return direction if scale is None else _make_op("div", [direction, scale], span)


def _dualize_map(norm: str, x: Expr, span: Span | None) -> Expr:
    """argmax over ‖v‖_N ≤ 1 of <x, v>, as IR. A zero x maps to 0 (no direction); ties of the
    ℓ1 map share the step equally among the largest entries."""

    def op(name: str, *args: Expr) -> Expr:
        return _make_op(name, list(args), span)

    zero = Const(0.0)
    if norm == "spectral":  # U Vᵀ of θ's matrix view: <x, U Vᵀ> = ‖x‖_* (nuclear norm)
        return op("polar", x)
    if (
        norm == "rms_to_rms"
    ):  # sqrt(cols / rows) ‖x‖_2 → sqrt(rows / cols) U Vᵀ (no 0/0 at cols = 0)
        rows, cols = BUILTINS["rows"], BUILTINS["cols"]
        ratio = op("div", rows, op("max", cols, Const(1.0)))
        return op("mul", op("sqrt", ratio), op("polar", x))
    if norm in ("row_l2", "col_l2"):  # each row (column) of x over its ℓ2 norm, 0 where it is 0
        axis_sum = "row_sum" if norm == "row_l2" else "col_sum"
        size = op("sqrt", op(axis_sum, op("mul", x, x)))
        return op("where", op("gt", size, zero), op("div", x, size), zero)
    if norm in ("linf", "l1_to_linf"):  # sign(x): <x, sign x> = ‖x‖_1 (ℓ1→ℓ∞ = max |entry|)
        return op("sign", x)
    if norm in ("l2", "rms"):  # x / ‖x‖_2; under rms (‖x‖_2 / sqrt(numel)): x / rms(x)
        size = op("norm2" if norm == "l2" else "rms", x)
        return op("where", op("gt", size, zero), op("div", x, size), zero)
    # l1: sign(x) on the entries of largest magnitude, shared among ties: <x, v> = ‖x‖_inf
    largest = op("eq", op("abs", x), op("norminf", x))
    ties = op("max", op("count", largest), Const(1.0))  # at least one entry is largest
    return op("div", op("where", largest, op("sign", x), zero), ties)
