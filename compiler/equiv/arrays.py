"""The randomized fallback of ``optc equiv`` on arrays: both specs stepped by the reference
interpreter (NumPy, float64) from the same random parameters and gradients, θ compared.

The symbolic comparison reasons about one coordinate; a matrix function (``inv_root``,
``dualize(x, spectral)``, ``@``) or a reduction mixes coordinates, so there it can only say
*undecided*. This fallback runs the real step on whole arrays of several shapes (tall, wide,
square, N-d, vectors and scalars) and reports the largest relative deviation of θ. It is
evidence, never a proof: agreement is reported as "equal on random arrays (not proved)".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from optc.backends.hypers import resolve_hypers
from optc.backends.reference.interpreter import ReferenceOptimizer
from optc.ir.nodes import Program

SHAPES = ((6, 3), (3, 6), (4, 4), (2, 3, 2), (7,), ())
STEPS = 3
TRIALS = 3
RTOL = 1e-6  # relative to the largest |θ| of the step: matrix functions round differently


@dataclass(frozen=True)
class ArrayVerdict:
    """How far θ of the two specs drifts apart on random arrays."""

    equal: bool
    deviation: float  # the largest |θ_a - θ_b| / max(1, |θ_a|) seen
    shape: tuple[int, ...]  # where it was largest
    trials: int

    def text(self) -> str:
        where = f"largest at shape {self.shape}" if self.deviation else "no deviation"
        verdict = "equal" if self.equal else "differs"
        return (
            f"{verdict} on random arrays: {self.trials} runs of {STEPS} steps on shapes "
            f"{', '.join(map(str, SHAPES))}, max relative |Δθ| = {self.deviation:.1e} "
            f"({where}; tolerance {RTOL:g}; randomized, not proved)"
        )


def hyper_values(a: Program, b: Program, binds: Mapping[str, str]) -> tuple[dict, dict]:
    """Each spec's hypers: its defaults, a hyper both declare taking a's value, and b's bound
    hypers their expression evaluated over a's values."""
    values_a, values_b = resolve_hypers(a, {}), resolve_hypers(b, {})
    local = {name: sympy.sympify(value) for name, value in values_a.items()}
    bound = {
        name: _number(sympy.parse_expr(text, local_dict=local)) for name, text in binds.items()
    }
    hypers_a = {**values_a, **{k: v for k, v in bound.items() if k in values_a}}
    hypers_b = {**values_b, **{k: v for k, v in hypers_a.items() if k in values_b}}
    hypers_b.update({k: v for k, v in bound.items() if k in values_b})
    return hypers_a, hypers_b


def _number(value: Any) -> bool | int | float:
    value = sympy.sympify(value)
    if isinstance(value, sympy.logic.boolalg.BooleanAtom):
        return bool(value)
    return int(value) if value.is_integer else float(value)


def compare_on_arrays(a: Program, b: Program, binds: Mapping[str, str]) -> ArrayVerdict:
    """Step both specs on the same random streams and compare θ after every step."""
    hypers_a, hypers_b = hyper_values(a, b, binds)
    rng = np.random.default_rng(0)
    worst, where = 0.0, ()
    for _ in range(TRIALS):
        for shape in SHAPES:
            theta = rng.standard_normal(shape)
            grads = [rng.standard_normal(shape) for _ in range(STEPS)]
            deviation = _run_pair(a, b, hypers_a, hypers_b, theta, grads)
            if not deviation <= worst:  # NaN counts as the worst
                worst, where = deviation, shape
    return ArrayVerdict(bool(worst <= RTOL), worst, where, TRIALS)


def _run_pair(
    a: Program, b: Program, ha: dict[str, Any], hb: dict[str, Any], theta, grads
) -> float:
    left, right = ReferenceOptimizer(a, [theta], **ha), ReferenceOptimizer(b, [theta], **hb)
    worst = 0.0
    for g in grads:
        left.step([g])
        right.step([g])
        x, y = left.params[0], right.params[0]
        if x.size:
            scale = max(1.0, float(np.max(np.abs(x))))
            worst = max(worst, float(np.max(np.abs(x - y))) / scale)
            if np.isnan(x - y).any():
                return float("nan")
    return worst
