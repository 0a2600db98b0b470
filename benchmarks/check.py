"""The agreement check's tolerances: before any timing, every implementation of a spec must
compute the readable path's updates (``suite.check_spec``).

Each implementation takes a few steps from the same parameters with a different gradient each step
(with one fixed gradient the debiased moments are exactly g and g^2 whatever the betas, so a
single step or a constant gradient could not tell beta1 from beta2), and its parameter change of
every step must be allclose to the readable path's, in float32."""

from __future__ import annotations

import numpy as np

RTOL = 1e-3  # of the parameter change of a step
ATOL_LR = 1e-4  # absolute tolerance, as a fraction of lr
# A library that computes in a lower precision on purpose states wider ones for itself
# (``Counterpart.check_rtol``, ``check_atol_lr``: torch.optim.Muon's bfloat16 Newton-Schulz).
# The parameter change is read off float32 parameters, each rounded to its ulp: allow a few ulps
# of |theta| (a step's change is ~lr, far above this, so a wrong hyper still shows).
ULPS = 4


class MismatchError(AssertionError):
    """An implementation does not compute the readable path's update: the benchmark would compare
    different algorithms."""


def compare(
    ref: list[np.ndarray],
    got: list[np.ndarray],
    theta: list[np.ndarray],
    atol: float,
    steps: int = 1,
    rtol: float = RTOL,
) -> float:
    """The worst |got - ref| / (steps * (atol + ULPS * ulp(theta)) + rtol * |ref|), ``ref`` and
    ``got`` being parameter changes from ``theta`` over ``steps`` steps (each step's rounding
    adds up); above 1 fails np.allclose with that tolerance."""
    worst = 0.0
    for r, g, t in zip(ref, got, theta, strict=True):
        if g.shape != r.shape or not np.all(np.isfinite(g)):
            return float("inf")
        tol = steps * (atol + ULPS * np.spacing(np.abs(t))) + rtol * np.abs(r)
        worst = max(worst, float(np.max(np.abs(g - r) / tol, initial=0.0)))
    return worst
