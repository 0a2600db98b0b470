"""Cross-backend verification: torch, jax and the reference interpreter on one gradient stream.

Every backend starts from the same parameters and receives the same gradients; after every step
θ and every state are compared with the float64 reference. The deviation of a value is
``max |x - ref| / (atol + rtol * |ref|)`` — at most 1 passes — with tolerances per dtype.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from optc.backends.hypers import resolve_hypers
from optc.backends.pyexpr import python_name
from optc.backends.reference.interpreter import init_state, step
from optc.codegen import build
from optc.ir.nodes import Program

SHAPES: tuple[tuple[int, ...], ...] = ((), (7,), (6, 3), (3, 6), (2, 3, 2, 2))
# (rtol, atol) against the float64 reference.
TOLERANCES = {"float64": (1e-9, 1e-12), "float32": (2e-4, 2e-6)}


@dataclass
class Deviation:
    backend: str
    dtype: str
    value: str  # "theta" or a state name
    max_abs: float = 0.0
    max_scaled: float = 0.0  # ≤ 1 passes
    worst_step: int = 0


@dataclass
class VerifyReport:
    spec: str
    steps: int
    deviations: list[Deviation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(d.max_scaled <= 1.0 for d in self.deviations)

    def largest(self, dtype: str) -> float:
        return max((d.max_abs for d in self.deviations if d.dtype == dtype), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "steps": self.steps,
            "passed": self.passed,
            "tolerances": {k: {"rtol": r, "atol": a} for k, (r, a) in TOLERANCES.items()},
            "deviations": [asdict(d) for d in self.deviations],
        }


def gradient_stream(shapes, steps: int, seed: int = 0) -> list[list[np.ndarray]]:
    """Reproducible gradients: one list (one array per shape) per step."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape) for shape in shapes] for _ in range(steps)]


def initial_params(shapes, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def run_reference(program: Program, params, grads, hypers) -> list[list[dict[str, np.ndarray]]]:
    """Per step, per parameter: {"theta": ..., state: ...} after the step."""
    thetas = [p.copy() for p in params]
    states = [init_state(program, p, hypers) for p in thetas]
    history = []
    for t, step_grads in enumerate(grads, start=1):
        snapshot = []
        for i, g in enumerate(step_grads):
            thetas[i], states[i] = step(program, thetas[i], g, states[i], t, hypers)
            snapshot.append({"theta": thetas[i], **states[i]})
        history.append(snapshot)
    return history


def run_torch(
    program: Program, params, grads, hypers, dtype: str
) -> list[list[dict[str, np.ndarray]]]:
    import torch

    optimizer_class = build(program, "torch")
    tensors = [torch.tensor(p, dtype=getattr(torch, dtype), requires_grad=True) for p in params]
    optimizer = optimizer_class(tensors, **_keywords(hypers))
    history = []
    for step_grads in grads:
        for tensor, g in zip(tensors, step_grads, strict=True):
            tensor.grad = torch.tensor(g, dtype=tensor.dtype)
        optimizer.step()
        history.append(
            [
                {
                    "theta": tensor.detach().double().numpy().copy(),
                    **{s.name: _numpy(optimizer.state[tensor][s.name]) for s in program.states},
                }
                for tensor in tensors
            ]
        )
    return history


def _numpy(value) -> np.ndarray:
    return value.detach().double().cpu().numpy().copy()


def run_jax(
    program: Program, params, grads, hypers, dtype: str
) -> list[list[dict[str, np.ndarray]]]:
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    factory = build(program, "jax")
    transformation = factory(**_keywords(hypers))
    tree = [jnp.asarray(p, dtype=dtype) for p in params]
    state = transformation.init(tree)
    update = jax.jit(transformation.update)
    history = []
    for step_grads in grads:
        g_tree = [jnp.asarray(g, dtype=dtype) for g in step_grads]
        updates, state = update(g_tree, state, tree)
        tree = optax.apply_updates(tree, updates)
        history.append(
            [
                {
                    "theta": np.asarray(tree[i], dtype=np.float64),
                    **{
                        s.name: np.asarray(getattr(state, python_name(s.name))[i], dtype=np.float64)
                        for s in program.states
                    },
                }
                for i in range(len(tree))
            ]
        )
    return history


def _keywords(hypers: dict[str, Any]) -> dict[str, Any]:
    """Spec hyper names as the generated code's keyword arguments (``lambda`` → ``lambda_``)."""
    return {python_name(name): value for name, value in hypers.items()}


def verify(
    program: Program,
    steps: int = 10,
    dtypes: tuple[str, ...] = ("float64", "float32"),
    backends: tuple[str, ...] = ("torch", "jax"),
    hypers: dict[str, Any] | None = None,
    shapes: tuple[tuple[int, ...], ...] = SHAPES,
) -> VerifyReport:
    """Run each backend in each dtype against the float64 reference; collect the deviations."""
    values = resolve_hypers(program, hypers)
    params = initial_params(shapes)
    grads = gradient_stream(shapes, steps)
    reference = run_reference(program, params, grads, values)
    runners = {"torch": run_torch, "jax": run_jax}
    report = VerifyReport(program.name, steps)
    for backend in backends:
        for dtype in dtypes:
            history = runners[backend](program, params, grads, values, dtype)
            rtol, atol = TOLERANCES[dtype]
            for name in ["theta", *(s.name for s in program.states)]:
                deviation = Deviation(backend, dtype, name)
                for t, (got, want) in enumerate(zip(history, reference, strict=True), start=1):
                    for got_p, want_p in zip(got, want, strict=True):
                        _accumulate(deviation, got_p[name], want_p[name], rtol, atol, t)
                report.deviations.append(deviation)
    return report


def _accumulate(dev: Deviation, got, want, rtol: float, atol: float, t: int) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    both_nan = np.isnan(got) & np.isnan(want)
    error = np.where(both_nan, 0.0, np.abs(got - want))
    error = np.where(np.isnan(error), np.inf, error)
    scaled = error / (atol + rtol * np.abs(np.nan_to_num(want)))
    if error.size and error.max() > dev.max_abs:
        dev.max_abs = float(error.max())
    if scaled.size and scaled.max() > dev.max_scaled:
        dev.max_scaled, dev.worst_step = float(scaled.max()), t
