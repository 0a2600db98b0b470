"""Evaluate an IR program with NumPy in float64, one parameter at a time.

This is the language's meaning, written as plainly as possible: no fusion, no in-place updates,
no dtype tricks. When the torch and jax backends disagree, this is the third voice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optc.backends.hypers import resolve_hypers
from optc.ir.nodes import Const, Expr, Op, Program, Shape, Var, is_parameter, switch_coefficient
from optc.ir.ops import OPS, shape_values

Value = np.ndarray | np.float64 | float | bool | int


def _sign(x: Value) -> Value:
    """-1, 0 or 1; ``sign(NaN) = 0``, as ``torch.sign`` (docs/language.md, "Non-finite values")."""
    return np.where(np.isnan(x), 0.0, np.sign(x))[()]


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
}
assert set(_OPS) == set(OPS), "the reference interpreter must implement every IR op"


def evaluate(expr: Expr, env: Mapping[str, Value]) -> Value:
    """The value of an IR expression, given values for the names it reads."""
    if isinstance(expr, Const):
        return expr.value if isinstance(expr.value, bool) else np.float64(expr.value)
    if isinstance(expr, Var):
        return env[expr.name]
    assert isinstance(expr, Op)
    if expr.op == "ifelse":  # evaluate only the branch taken, as the backends do
        cond, then, orelse = expr.args
        return evaluate(then if evaluate(cond, env) else orelse, env)
    args = [evaluate(arg, env) for arg in expr.args]
    with np.errstate(all="ignore"):
        if switch_coefficient(expr) is not None:
            # a hyper coefficient equal to 0 switches its θ term off, whatever θ holds
            scalar = args[1] if is_parameter(expr.args[0]) else args[0]
            return np.where(np.equal(scalar, 0), 0.0, np.multiply(*args))
        return _OPS[expr.op](*args)


def init_state(program: Program, theta: np.ndarray, hypers: Mapping[str, Any]) -> dict[str, Any]:
    """The initial state of one parameter."""
    theta = np.asarray(theta, dtype=np.float64)
    env = {**hypers, "theta": theta, **shape_values(theta.shape)}
    state = {}
    for s in program.states:
        value = evaluate(s.init, env)
        shape = () if s.shape is Shape.SCALAR else theta.shape
        state[s.name] = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
    return state


def step(
    program: Program,
    theta: np.ndarray,
    g: np.ndarray,
    state: Mapping[str, Any],
    t: int,
    hypers: Mapping[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:
    """One step of one parameter: returns the new θ and the new state (inputs untouched)."""
    env: dict[str, Value] = {**hypers, **state, "theta": theta, "g": g, "t": t}
    env.update(shape_values(np.shape(theta)))
    for binding in program.body:
        env[binding.id] = evaluate(binding.expr, env)
    new_theta = np.asarray(env[program.outputs["theta"]], dtype=np.float64)
    new_state = {}
    for s in program.states:
        value = env[program.outputs.get(s.name, s.name)]
        shape = () if s.shape is Shape.SCALAR else theta.shape
        new_state[s.name] = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
    return np.broadcast_to(new_theta, theta.shape).copy(), new_state


class ReferenceOptimizer:
    """A list of float64 parameters stepped by the interpreter (the harness's third backend)."""

    def __init__(self, program: Program, params: list[np.ndarray], **hypers: Any) -> None:
        self.program = program
        self.hypers = resolve_hypers(program, hypers)
        self.params = [np.asarray(p, dtype=np.float64).copy() for p in params]
        self.state = [init_state(program, p, self.hypers) for p in self.params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        for i, g in enumerate(grads):
            self.params[i], self.state[i] = step(
                self.program,
                self.params[i],
                np.asarray(g, dtype=np.float64),
                self.state[i],
                self.t,
                self.hypers,
            )
