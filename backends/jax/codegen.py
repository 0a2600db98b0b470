"""IR → an ``optax.GradientTransformation`` factory.

The module has ``<name>_update`` (one leaf's step, returning the increment to θ and the new
states — optax's convention: updates are added to params by ``optax.apply_updates``), a
``<Name>State`` NamedTuple with one field per state tree plus the step count, and the factory
``<name>(**hypers)``. Everything is jnp, so the step count and hypers may be traced: the
transformation jits once and works under ``optax.inject_hyperparams``.
"""

from __future__ import annotations

import functools
import importlib.resources

import jinja2

from optc.backends import lowering
from optc.backends.pyexpr import ATOM, PythonPrinter, python_name
from optc.ir.nodes import DType, Expr, Op, Program, Shape, free_vars

_FUNCTIONS = {
    "sqrt": "jnp.sqrt",
    "abs": "jnp.abs",
    "sign": "jnp.sign",
    "exp": "jnp.exp",
    "log": "jnp.log",
    "min": "jnp.minimum",
    "max": "jnp.maximum",
    "where": "jnp.where",
    "ifelse": "jnp.where",
    "and": "jnp.logical_and",
    "or": "jnp.logical_or",
    "not": "jnp.logical_not",
}


class JaxPrinter(PythonPrinter):
    """jnp spellings. Constant-only arguments of jnp functions are written as floats: jnp
    would otherwise make integer arrays of them (and ``jnp.maximum(1, 2) ** -1`` fails)."""

    def inf(self) -> str:
        return "jnp.inf"

    def fill_like_gradient(self, expr: Expr, text: str) -> str:
        return f"jnp.full_like(g, {text})"

    def function(self, expr: Op, args: list[str]) -> tuple[str, int]:
        args = [
            _as_float(text) if not free_vars(arg) and arg.type.dtype is DType.REAL else text
            for arg, text in zip(expr.args, args, strict=True)
        ]
        if expr.op == "clip":
            return f"jnp.clip({args[0]}, min={args[1]}, max={args[2]})", ATOM
        return f"{_FUNCTIONS[expr.op]}({', '.join(args)})", ATOM


def _as_float(text: str) -> str:
    """A constant expression as a float: ``2`` → ``2.0``, ``1 / 3`` stays as it is."""
    return f"{text}.0" if text.isdigit() else f"float({text})" if "." not in text else text


def _state_init(program: Program, printer: JaxPrinter) -> list[tuple[str, str, str]]:
    result = []
    for state in program.states:
        init = state.init
        if state.shape is Shape.SCALAR:
            value = "0" if lowering.is_zero(init) else printer.render(init)
            code = f"jnp.full([], {value}, theta.dtype)"
        elif lowering.is_zero(init):
            code = "jnp.zeros_like(theta)"
        elif init.type.is_tensor:
            code = f"jnp.asarray({printer.render(init)}, theta.dtype)"
        else:
            code = f"jnp.full_like(theta, {printer.render(init)})"
        source = program.source.splitlines()[state.span.line - 1].strip()
        result.append((python_name(state.name), code, source))
    return result


def _delta_statements(program: Program, printer: JaxPrinter) -> tuple[list, bool]:
    """The body with θ's last update written as the increment ``delta``; and whether the
    increment had to be computed as ``new_theta - theta`` (then the leaf needs θ).

    Every updated version of θ is named ``new_theta``, so ``theta`` stays the leaf's input.
    """
    final_id = program.outputs["theta"]
    delta = lowering.theta_delta(program)
    views = lowering.statements(program, printer)
    if delta is None:
        views.append(
            lowering.StatementView("# the increment optax adds to θ", "delta = new_theta - theta")
        )
        return views, True
    index = next(i for i, b in enumerate(program.body) if b.id == final_id)
    views[index] = lowering.StatementView(views[index].comment, f"delta = {printer.render(delta)}")
    return views, False


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
    env.filters["as_dtype"] = lambda name: f"jnp.asarray({name}, dtype)"
    return env.from_string(text.read_text())


def generate(program: Program, spec_path: str) -> str:
    """The formatted source of ``generated/jax/<name>.py``."""
    names = lowering.python_names(program)
    names.update({b.id: "new_theta" for b in program.body if b.target == "theta"})
    printer = JaxPrinter(names)
    statements, via_difference = _delta_statements(program, printer)
    needs_theta = via_difference or _step_reads_theta(program)
    states = [python_name(s.name) for s in program.states]
    hypers = lowering.hyper_views(program)
    source = _template().render(
        program=program,
        spec_path=spec_path,
        snake=program.snake_name,
        state_class=f"{program.name}State",
        dunder_all=lowering.dunder_all(
            [program.snake_name, f"{program.name}State", f"{program.snake_name}_update"]
        ),
        hypers=hypers,
        states=states,
        inits=_state_init(program, printer),
        statements=statements,
        needs_theta=needs_theta,
        tree_args=lowering.tuple_items(
            ["updates", *(["params"] if needs_theta else []), *(f"state.{s}" for s in states)]
        ),
        uses_math=lowering.uses_math(statements, hypers),
        math=lowering.docstring_math(program),
        **lowering.signature_parts(program),
    )
    return lowering.format_python(source)
