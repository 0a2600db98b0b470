"""Cross-backend verification: torch, jax and the reference interpreter on one gradient stream.

Every backend starts from the same parameters and receives the same gradients; after every step
θ and every state are compared with the float64 reference. The deviation of a value is
``max |x - ref| / (atol + rtol * |ref|)`` — at most 1 passes — with tolerances per dtype.
A matrix state ([rows, rows], [cols, rank]...: a 2-d array, not θ-shaped) is compared
normwise, ``max |x - ref| / (atol + rtol * max |ref|)`` with ``MATRIX_TOLERANCES``: a matrix
function is accurate relative to the matrix's size, not entry by entry (an off-diagonal entry
near 0 of an inverse root carries the rounding of the whole eigendecomposition), as LAPACK's
error bounds are stated; and in float32 its error grows with the condition number of what it
decomposes (Shampoo's 12 x 12 statistic of a (2, 3, 2, 2) parameter, at the step it reaches
full rank, has condition 7e4: its inverse fourth root differs from float64's by 2e-3 of its
largest entry, in torch and jax alike). θ is always compared entry by entry (``TOLERANCES``).

Gradient modes say how the torch backend receives each step's gradient (jax arrays are
immutable, so jax runs ``fresh`` only):

- ``fresh``: a new ``p.grad`` tensor every step;
- ``inplace``: every step's gradient is written into the same ``p.grad`` tensor in place, as
  ``zero_grad(set_to_none=False)`` followed by ``backward()`` (and gradient accumulation) do;
- ``mutated``: a new ``p.grad`` each step, overwritten with NaN right after ``step()`` — before
  the states are read and before the next step — so a state that shares storage with the
  gradient, or an optimizer that reads an old gradient later, shows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optc.backends.hypers import resolve_hypers
from optc.backends.reference.interpreter import init_globals, init_state, step_group
from optc.codegen import build
from optc.ir.nodes import Program, Shape, State

SHAPES: tuple[tuple[int, ...], ...] = ((), (7,), (6, 3), (3, 6), (4, 4), (2, 3, 2, 2), (0, 3))
# (rtol, atol) against the float64 reference.
TOLERANCES = {"float64": (1e-9, 1e-12), "float32": (2e-4, 2e-6)}
# (rtol, atol) of matrix states, normwise (see the module note).
MATRIX_TOLERANCES = {"float64": (1e-9, 1e-12), "float32": (1e-2, 1e-5)}
GRAD_MODES: tuple[str, ...] = ("fresh", "inplace", "mutated")
# The gradient modes each backend can be run in (jax arrays cannot be written in place).
BACKEND_GRAD_MODES = {"torch": GRAD_MODES, "jax": ("fresh",)}


@dataclass
class Deviation:
    backend: str
    dtype: str
    value: str  # "theta" or a state name
    max_abs: float = 0.0
    max_scaled: float = 0.0  # ≤ 1 passes
    worst_step: int = 0
    grad_mode: str = "fresh"


@dataclass
class VerifyReport:
    spec: str
    steps: int
    deviations: list[Deviation] = field(default_factory=list)
    grad_modes: tuple[str, ...] = ("fresh",)
    file: str | None = None
    error: str | None = None  # a backend that could not run at all (compile or runtime error)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and all(d.max_scaled <= 1.0 for d in self.deviations)

    @property
    def failures(self) -> list[Deviation]:
        return [d for d in self.deviations if not d.max_scaled <= 1.0]

    def largest(self, dtype: str, grad_mode: str | None = None) -> float:
        return max(
            (
                d.max_abs
                for d in self.deviations
                if d.dtype == dtype and grad_mode in (None, d.grad_mode)
            ),
            default=0.0,
        )

    def mode_passed(self, grad_mode: str) -> bool:
        return self.error is None and all(
            d.max_scaled <= 1.0 for d in self.deviations if d.grad_mode == grad_mode
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "steps": self.steps,
            "passed": self.passed,
            "tolerances": {k: {"rtol": r, "atol": a} for k, (r, a) in TOLERANCES.items()},
            "deviations": [asdict(d) for d in self.deviations],
            "grad_modes": list(self.grad_modes),
            "file": self.file,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


def gradient_stream(shapes, steps: int, seed: int = 0) -> list[list[np.ndarray]]:
    """Reproducible gradients: one list (one array per shape) per step."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape) for shape in shapes] for _ in range(steps)]


def initial_params(shapes, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def run_reference(program: Program, params, grads, hypers) -> list[list[dict[str, np.ndarray]]]:
    """Per step, per parameter: {"theta": ..., state: ..., global state: ...} after the step."""
    thetas = [p.copy() for p in params]
    states = [init_state(program, p, hypers) for p in thetas]
    shared = init_globals(program, hypers)
    history = []
    for t, step_grads in enumerate(grads, start=1):
        thetas, states, shared = step_group(program, thetas, step_grads, states, shared, t, hypers)
        history.append(
            [
                {"theta": th, **{s.name: st.get(s.name) for s in program.states}, **shared}
                for th, st in zip(thetas, states, strict=True)
            ]
        )
    return history


def run_torch(
    program: Program,
    params,
    grads,
    hypers,
    dtype: str,
    grad_mode: str = "fresh",
    optimizer_class: type | None = None,
) -> list[list[dict[str, np.ndarray]]]:
    """Run the torch backend; ``grad_mode`` says how each step's gradient is handed over."""
    import torch

    if grad_mode not in GRAD_MODES:
        raise ValueError(f"unknown gradient mode {grad_mode!r}; one of {', '.join(GRAD_MODES)}")
    optimizer_class = optimizer_class or build(program, "torch")
    keys = state_keys(optimizer_class)
    tensors = [torch.tensor(p, dtype=getattr(torch, dtype), requires_grad=True) for p in params]
    optimizer = optimizer_class(tensors, **_keywords(hypers))
    history = []
    for step_grads in grads:
        for tensor, g in zip(tensors, step_grads, strict=True):
            new = torch.tensor(g, dtype=tensor.dtype)
            if grad_mode == "inplace" and tensor.grad is not None:
                tensor.grad.zero_()  # zero_grad(set_to_none=False), then backward() accumulates
                tensor.grad.add_(new)
            else:
                tensor.grad = new
        optimizer.step()
        if grad_mode == "mutated":
            for tensor in tensors:
                tensor.grad.fill_(float("nan"))
        history.append(
            [
                {
                    "theta": tensor.detach().double().numpy().copy(),
                    **{
                        s.name: _numpy(optimizer.state[tensor].get(keys.get(s.name, s.name)))
                        for s in program.states
                    },
                    **{
                        s.name: _numpy(optimizer.param_groups[0][keys.get(s.name, s.name)])
                        for s in program.globals
                    },
                }
                for tensor in tensors
            ]
        )
    return history


def state_keys(optimizer_class: type) -> dict[str, str]:
    """Spec state → key in ``optimizer.state[p]`` (the spec name unless the class renames it,
    in ``STATE_KEYS`` or the runtime's ``state_keys``)."""
    keys = getattr(optimizer_class, "STATE_KEYS", None) or getattr(
        optimizer_class, "state_keys", None
    )
    return dict(keys or {})


def state_fields(factory: Callable) -> dict[str, str]:
    """Spec state → field of the jax state NamedTuple (the spec name unless the module renames
    it)."""
    module = sys.modules.get(getattr(factory, "__module__", ""), None)
    return dict(getattr(module, "STATE_FIELDS", None) or {})


def _numpy(value) -> np.ndarray | None:
    """A torch state as float64 NumPy; None for a state the parameter does not have."""
    return None if value is None else value.detach().double().cpu().numpy().copy()


def run_jax(
    program: Program,
    params,
    grads,
    hypers,
    dtype: str,
    grad_mode: str = "fresh",
    factory: Callable | None = None,
) -> list[list[dict[str, np.ndarray]]]:
    import jax
    import jax.numpy as jnp
    import optax

    if grad_mode != "fresh":
        raise ValueError(f"jax arrays are immutable: gradient mode {grad_mode!r} does not apply")
    jax.config.update("jax_enable_x64", True)
    factory = factory or build(program, "jax")
    fields = state_fields(factory)
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
                        s.name: _allocated(s, _state_field(state, fields.get(s.name, s.name))[i])
                        for s in program.states
                    },
                    **{
                        s.name: np.asarray(
                            _state_field(state, fields.get(s.name, s.name)), dtype=np.float64
                        )
                        for s in program.globals
                    },
                }
                for i in range(len(tree))
            ]
        )
    return history


def _allocated(state: State, value) -> np.ndarray | None:
    """A jax state leaf as float64 NumPy; None for the empty array of an unallocated one."""
    value = np.asarray(value, dtype=np.float64)
    return None if state.where is not None and value.shape == (0,) else value


def _state_field(state, name: str):
    """A field of the optimizer's state NamedTuple, also when wrapped (``inner_state``)."""
    while not hasattr(state, name) and hasattr(state, "inner_state"):
        state = state.inner_state
    return getattr(state, name)


def _keywords(hypers: dict[str, Any]) -> dict[str, Any]:
    """The generated code's keyword arguments: the spec's hyper names, exactly."""
    return dict(hypers)


def verify(
    program: Program,
    steps: int = 10,
    dtypes: tuple[str, ...] = ("float64", "float32"),
    backends: tuple[str, ...] = ("torch", "jax"),
    hypers: dict[str, Any] | None = None,
    shapes: tuple[tuple[int, ...], ...] = SHAPES,
    grad_modes: tuple[str, ...] = ("fresh",),
) -> VerifyReport:
    """Run each backend in each dtype and gradient mode against the float64 reference.

    A gradient mode a backend does not have (jax: ``inplace``, ``mutated``) is skipped for it.
    """
    unknown = [m for m in grad_modes if m not in GRAD_MODES]
    if unknown:
        raise ValueError(f"unknown gradient mode {unknown[0]!r}; one of {', '.join(GRAD_MODES)}")
    started = time.perf_counter()
    values = resolve_hypers(program, hypers)
    params = initial_params(shapes)
    grads = gradient_stream(shapes, steps)
    reference = run_reference(program, params, grads, values)
    runners = {"torch": run_torch, "jax": run_jax}
    report = VerifyReport(program.name, steps, grad_modes=tuple(grad_modes), file=program.file)
    for backend in backends:
        built = build(program, backend)  # once per backend, shared by every dtype and mode
        extra = {"optimizer_class": built} if backend == "torch" else {"factory": built}
        for mode in grad_modes:
            if mode not in BACKEND_GRAD_MODES[backend]:
                continue
            for dtype in dtypes:
                history = runners[backend](program, params, grads, values, dtype, mode, **extra)
                matrices = {s.name for s in program.states if s.shape is Shape.MATRIX}
                for name in ["theta", *(s.name for s in [*program.states, *program.globals])]:
                    normwise = name in matrices
                    rtol, atol = (MATRIX_TOLERANCES if normwise else TOLERANCES)[dtype]
                    deviation = Deviation(backend, dtype, name, grad_mode=mode)
                    for t, (got, want) in enumerate(zip(history, reference, strict=True), start=1):
                        for got_p, want_p in zip(got, want, strict=True):
                            if got_p[name] is None or want_p[name] is None:
                                _allocation(deviation, got_p[name], want_p[name], t)
                                continue
                            args = (got_p[name], want_p[name], rtol, atol, t, normwise)
                            _accumulate(deviation, *args)
                    report.deviations.append(deviation)
    report.seconds = time.perf_counter() - started
    return report


def verify_specs(
    specs: Iterable[Path | Program],
    on_start: Callable[[Program], None] | None = None,
    **options: Any,
) -> Iterator[tuple[Path | Program, VerifyReport]]:
    """Verify specs one after another, yielding each report as soon as it is done.

    ``specs`` are paths (compiled here) or programs; ``on_start`` is called with each program
    before its runs begin; ``options`` go to :func:`verify`. A spec that does not compile raises
    its ``SpecError``; a backend that fails to build or run gives a failed report carrying the
    error, and the next spec is verified.
    """
    from optc.pipeline import compile_file

    for spec in specs:
        program = compile_file(spec, checks=False).program if isinstance(spec, Path) else spec
        if on_start is not None:
            on_start(program)
        started = time.perf_counter()
        try:
            report = verify(program, **options)
        except Exception as err:  # generated code that does not build or crashes: a finding
            report = VerifyReport(
                program.name,
                options.get("steps", 10),
                grad_modes=tuple(options.get("grad_modes", ("fresh",))),
                file=program.file,
                error=f"{type(err).__name__}: {_first_line(err)}",
            )
            report.seconds = time.perf_counter() - started
        yield spec, report


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "(no message)"


def _allocation(dev: Deviation, got, want, t: int) -> None:
    """A state allocated by one side only fails (nothing to compare where neither has it)."""
    if (got is None) != (want is None):
        dev.max_abs = dev.max_scaled = float("inf")
        dev.worst_step = dev.worst_step or t


def _accumulate(
    dev: Deviation, got, want, rtol: float, atol: float, t: int, normwise: bool = False
) -> None:
    """Fold one comparison into ``dev``; ``normwise``: relative to the largest entry of ``want``
    (matrix states), else entry by entry."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))  # equal infinities included
    with np.errstate(invalid="ignore"):  # inf - inf where they differ: counted as inf below
        error = np.where(same, 0.0, np.abs(got - want))
    error = np.where(np.isnan(error), np.inf, error)
    size = np.abs(np.nan_to_num(want))
    if normwise and size.size:
        size = np.full_like(size, size.max())
    scaled = error / (atol + rtol * size)
    if error.size and error.max() > dev.max_abs:
        dev.max_abs = float(error.max())
    if scaled.size and scaled.max() > dev.max_scaled:
        dev.max_scaled, dev.worst_step = float(scaled.max()), t
