"""Evaluate an IR program with NumPy in float64, one parameter at a time.

This is the language's meaning, written as plainly as possible: no fusion, no in-place updates,
no dtype tricks. When the torch and jax backends disagree, this is the third voice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from optc.backends.axes import layout_shape
from optc.backends.hypers import resolve_hypers
from optc.backends.reference.linalg import MATRIX_OPS, newton_schulz_schedule
from optc.ir.nodes import (
    Binding,
    Const,
    Expr,
    Op,
    Program,
    Var,
    is_parameter,
    switch_coefficient,
    value_shape,
)
from optc.ir.ops import NS_SCHEDULES, OPS, shape_values

Value = np.ndarray | np.float64 | float | bool | int


def _row_axes(x: np.ndarray) -> tuple[int, ...]:
    """The axes of a row's columns in θ's matrix view: all but the first (none for 0-d, 1-d)."""
    return tuple(range(1, np.ndim(x)))


def _col_axes(x: np.ndarray) -> tuple[int, ...]:
    """The axis along a column: the first (none for a 0-d θ, a 1 x 1 matrix)."""
    return (0,) if np.ndim(x) else ()


def _sign(x: Value) -> Value:
    """-1, 0 or 1; ``sign(NaN) = 0``, as ``torch.sign`` (docs/language.md, "Non-finite values")."""
    return np.where(np.isnan(x), 0.0, np.sign(x))[()]


def _matrix(x: np.ndarray) -> np.ndarray:
    """x's matrix view: rows = the first dimension, cols = the product of the others."""
    x = np.asarray(x, dtype=np.float64)
    rows = x.shape[0] if x.ndim else 1
    return x.reshape(rows, int(np.prod(x.shape[1:], dtype=np.int64)))


def _polar(x: np.ndarray) -> np.ndarray:
    """``dualize(x, spectral)``: U Vᵀ of the reduced SVD of x's matrix view, over the singular
    values above max(S) * max(rows, cols) * eps (0 for x = 0); NaN if an entry is not finite."""
    m = _matrix(x)
    if m.size == 0:
        return np.zeros(np.shape(x))
    if not np.all(np.isfinite(m)):
        return np.full(np.shape(x), np.nan)
    u, s, vh = np.linalg.svd(m, full_matrices=False)
    tol = np.max(s) * max(m.shape) * np.finfo(np.float64).eps
    return ((u * (s > tol)) @ vh).reshape(np.shape(x))


def _newton_schulz(x: np.ndarray, steps: Value, a: Value, b: Value, c: Value) -> np.ndarray:
    """``steps`` iterations A = X Xᵀ, B = b A + c A A, X = a X + B X on x's matrix view X,
    transposed while it has more rows than columns (no normalisation: the spec scales x)."""
    m = _matrix(x)
    tall = m.shape[0] > m.shape[1]
    if tall:
        m = m.T
    for _ in range(int(steps)):
        gram = m @ m.T
        m = a * m + (b * gram + c * (gram @ gram)) @ m
    return (m.T if tall else m).reshape(np.shape(x))


_OPS: dict[str, Callable[..., Value]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": np.float_power,  # float64 throughout: IEEE 754 for integer operands too
    "neg": np.negative,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": _sign,
    "exp": np.exp,
    "log": np.log,
    "cos": np.cos,
    "sin": np.sin,
    "floor": np.floor,
    "mod": np.mod,
    "min": np.minimum,
    "max": np.maximum,
    "clip": lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "ne": np.not_equal,
    "and": np.logical_and,
    "or": np.logical_or,
    "not": np.logical_not,
    "where": np.where,
    "ifelse": lambda c, a, b: a if c else b,
    "norm2": lambda x: np.sqrt(np.sum(np.square(x))),
    "norm1": lambda x: np.sum(np.abs(x)),
    "norminf": lambda x: np.max(np.abs(x), initial=0.0),
    "rms": lambda x: np.sqrt(np.mean(np.square(x))),
    "mean": np.mean,
    "sum": np.sum,
    "maxof": lambda x: np.max(x, initial=-np.inf),
    "minof": lambda x: np.min(x, initial=np.inf),
    "dot": lambda a, b: np.sum(np.multiply(a, b)),
    "count": lambda mask: np.float64(np.count_nonzero(mask)),
    # one number per row / column, kept as a size-1 axis so it broadcasts against θ
    "row_mean": lambda x: np.mean(x, axis=_row_axes(x), keepdims=True),
    "row_sum": lambda x: np.sum(x, axis=_row_axes(x), keepdims=True),
    "row_max": lambda x: np.max(x, axis=_row_axes(x), keepdims=True, initial=-np.inf),
    "col_mean": lambda x: np.mean(x, axis=_col_axes(x), keepdims=True),
    "col_sum": lambda x: np.sum(x, axis=_col_axes(x), keepdims=True),
    "col_max": lambda x: np.max(x, axis=_col_axes(x), keepdims=True, initial=-np.inf),
    "polar": _polar,
    "newton_schulz": _newton_schulz,
    **MATRIX_OPS,
    **{
        f"ns_{name}": functools.partial(newton_schulz_schedule, name, matrix=_matrix)
        for name in NS_SCHEDULES
    },
    "as_matrix": _matrix,
    "as_param": None,  # needs θ's shape: evaluated by `evaluate` itself
    "total": None,  # reads every parameter: evaluated by `evaluate` itself
}
assert set(_OPS) == set(OPS), "the reference interpreter must implement every IR op"


def evaluate(
    expr: Expr, env: Mapping[str, Value], group: Sequence[Mapping[str, Value]] = ()
) -> Value:
    """The value of an IR expression, given values for the names it reads.

    ``group``: the environments of every parameter of the group at the same statement, which
    ``total(x)`` sums over (``env`` is one of them).
    """
    if isinstance(expr, Const):
        return expr.value if isinstance(expr.value, bool) else np.float64(expr.value)
    if isinstance(expr, Var):
        return env[expr.name]
    assert isinstance(expr, Op)
    if expr.op == "ifelse":  # evaluate only the branch taken, as the backends do
        cond, then, orelse = expr.args
        return evaluate(then if evaluate(cond, env, group) else orelse, env, group)
    if expr.op == "as_param":  # a 2-d result of θ's dimensions, in θ's layout
        value = evaluate(expr.args[0], env, group)
        return np.reshape(value, layout_shape(np.asarray(env["theta"]), expr.type.shape.value))
    if expr.op == "total":
        with np.errstate(all="ignore"):
            return np.float64(sum(np.sum(evaluate(expr.args[0], other, group)) for other in group))
    args = [evaluate(arg, env, group) for arg in expr.args]
    with np.errstate(all="ignore"):
        if switch_coefficient(expr) is not None:
            # a hyper coefficient equal to 0 switches its θ term off, whatever θ holds
            scalar = args[1] if is_parameter(expr.args[0]) else args[0]
            return np.where(np.equal(scalar, 0), 0.0, np.multiply(*args))
        return _OPS[expr.op](*args)


def init_state(program: Program, theta: np.ndarray, hypers: Mapping[str, Any]) -> dict[str, Any]:
    """The initial state of one parameter: the states allocated for its dimensions."""
    theta = np.asarray(theta, dtype=np.float64)
    env = {**hypers, "theta": theta, **shape_values(theta.shape)}
    state = {}
    for s in program.states:
        if s.where is not None and not evaluate(s.where, env):
            continue
        value = evaluate(s.init, env)
        shape = value_shape(s.shape, theta.shape, s.dims, hypers)
        state[s.name] = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
    return state


def init_globals(program: Program, hypers: Mapping[str, Any]) -> dict[str, np.float64]:
    """The initial values of the group's global states."""
    return {s.name: np.float64(evaluate(s.init, hypers)) for s in program.globals}


def step_group(
    program: Program,
    thetas: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    states: Sequence[Mapping[str, Any]],
    globals_: Mapping[str, Any],
    t: int,
    hypers: Mapping[str, Any],
) -> tuple[list[np.ndarray], list[dict[str, Any]], dict[str, np.float64]]:
    """One step of a group of parameters: each statement runs for every parameter before the
    next one (the language's meaning of ``total``). Returns new θs, states and global states;
    the inputs are untouched."""
    absent = {s.name: None for s in program.states}  # unallocated: merges pass None on
    envs: list[dict[str, Value]] = [
        {
            **hypers,
            **globals_,
            **absent,
            **state,
            "theta": theta,
            "g": g,
            "t": t,
            **shape_values(np.shape(theta)),
        }
        for theta, g, state in zip(thetas, grads, states, strict=True)
    ]
    for binding in program.body:
        runs = [_runs(binding, env) for env in envs]
        values = [
            evaluate(binding.expr, env, envs) if run else None
            for env, run in zip(envs, runs, strict=True)
        ]
        for env, run, value in zip(envs, runs, values, strict=True):
            if run:  # a statement of a block not taken leaves no value
                env[binding.id] = value
    new_thetas, new_states = [], []
    for theta, env in zip(thetas, envs, strict=True):
        new_thetas.append(np.broadcast_to(_final(program, "theta", env), theta.shape).copy())
        new_states.append(
            {
                s.name: np.broadcast_to(
                    _final(program, s.name, env),
                    value_shape(s.shape, theta.shape, s.dims, hypers),
                ).copy()
                for s in program.states
                if env[s.name] is not None
            }
        )
    last = envs[0] if envs else dict(globals_)
    new_globals = {s.name: np.float64(_final(program, s.name, last)) for s in program.globals}
    return new_thetas, new_states, new_globals


def step(
    program: Program,
    theta: np.ndarray,
    g: np.ndarray,
    state: Mapping[str, Any],
    t: int,
    hypers: Mapping[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:
    """One step of one parameter of a program without global state (inputs untouched)."""
    if program.globals:
        raise ValueError(f"{program.name} keeps global state: step its parameters with step_group")
    thetas, states, _ = step_group(program, [theta], [g], [state], {}, t, hypers)
    return thetas[0], states[0]


def section_point(
    program: Program,
    kind: str,
    theta: np.ndarray,
    state: Mapping[str, Any],
    globals_: Mapping[str, Any],
    t: int,
    hypers: Mapping[str, Any],
) -> np.ndarray:
    """θ moved by the ``eval`` or ``train`` section (the evaluation point, or back from it)."""
    env: dict[str, Value] = {**hypers, **globals_, **state, "theta": theta, "t": t}
    env.update(shape_values(np.shape(theta)))
    for binding in program.sections[kind]:
        env[binding.id] = evaluate(binding.expr, env)
    value = np.asarray(env[program.section_outputs[kind]], dtype=np.float64)
    return np.broadcast_to(value, np.shape(theta)).copy()


def _runs(binding: Binding, env: Mapping[str, Value]) -> bool:
    """Whether the statement's blocks are taken (their conditions read t, hypers, dimensions)."""
    return all(bool(evaluate(g.cond, env)) == g.taken for g in binding.guards)


def _final(program: Program, name: str, env: Mapping[str, Value]) -> np.ndarray:
    return np.asarray(env[program.outputs.get(name, name)], dtype=np.float64)


class ReferenceOptimizer:
    """A list of float64 parameters stepped by the interpreter (the harness's third backend)."""

    def __init__(self, program: Program, params: list[np.ndarray], **hypers: Any) -> None:
        self.program = program
        self.hypers = resolve_hypers(program, hypers)
        self.params = [np.asarray(p, dtype=np.float64).copy() for p in params]
        self.state = [init_state(program, p, self.hypers) for p in self.params]
        self.globals = init_globals(program, self.hypers)
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        grads = [np.asarray(g, dtype=np.float64) for g in grads]
        self.params, self.state, self.globals = step_group(
            self.program, self.params, grads, self.state, self.globals, self.t, self.hypers
        )
