"""Before any timing: every candidate must compute the generated torch step's updates.

Each candidate takes ``steps`` steps from the same parameters with a different gradient each step
(with one fixed gradient the debiased moments are exactly g and g^2 whatever the betas, so a
single step or a constant gradient could not tell beta1 from beta2), and its parameter change of
every step must be allclose to the generated torch step's, in float32."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optc.bench import jax_side, torch_side
from optc.bench.workload import Workload

RTOL = 1e-3  # of the parameter change of a step
ATOL_LR = 1e-4  # absolute tolerance, as a fraction of lr
# The parameter change is read off float32 parameters, each rounded to its ulp: allow a few ulps
# of |theta| (a step's change is ~lr, far above this, so a wrong hyper still shows).
ULPS = 4

# Hypers under which a wrong mapping of any one of them shows: beta1 and beta2 far apart, eps of
# the gradients' size, weight decay comparable to the Adam term. Used on a small workload with
# gradients scaled to GRAD_SCALE, besides the benchmark's own hypers on the benchmark's workload.
PROBE_HYPERS = {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.5}
PROBE_GRAD_SCALE = 1e-3


class MismatchError(AssertionError):
    """A candidate does not compute the generated step's update: the benchmark would compare
    different algorithms."""


def _compare(
    ref: list[np.ndarray], got: list[np.ndarray], theta: list[np.ndarray], atol: float
) -> float:
    """The worst |got - ref| / (atol + RTOL * |ref| + ULPS * ulp(theta)), ``ref`` and ``got``
    being parameter changes from ``theta``; above 1 fails np.allclose with that tolerance."""
    worst = 0.0
    for r, g, t in zip(ref, got, theta, strict=True):
        if g.shape != r.shape or not np.all(np.isfinite(g)):
            return float("inf")
        tol = atol + RTOL * np.abs(r) + ULPS * np.spacing(np.abs(t))
        worst = max(worst, float(np.max(np.abs(g - r) / tol, initial=0.0)))
    return worst


def check_agreement(
    workload: Workload,
    hypers: Mapping[str, float],
    torch_generated: type,
    jax_generated: Callable,
    *,
    steps: int = 3,
    grad_scale: float = 1.0,
    torch_mapping: Callable[[Mapping[str, float]], dict[str, Any]] = torch_side.torch_adamw_kwargs,
    optax_mapping: Callable[[Mapping[str, float]], dict[str, Any]] = jax_side.optax_adamw_kwargs,
) -> dict[str, Any]:
    """Step all candidates side by side; raise MismatchError on the first disagreement.

    Returns the worst error of each candidate (in units of the tolerance: <= 1 passes) and the
    candidates that cannot run here, with the reason.
    """
    params = workload.params()
    dev = torch_side.device()
    truns, unavailable = torch_side.make_runs(torch_generated, hypers, params, dev, torch_mapping)
    jruns = {
        f"jax {name}": jax_side.Run(tx, params, donate=False)
        for name, tx in jax_side.transforms(jax_generated, hypers, optax_mapping).items()
    }
    runs: dict[str, Any] = {f"torch {n}": r for n, r in truns.items()} | jruns
    unavailable = {f"torch {n}": why for n, why in unavailable.items()}
    reference = "torch generated"
    atol = ATOL_LR * hypers["lr"]
    worst = dict.fromkeys(runs, 0.0)
    before = {name: params for name in runs}
    for step in range(steps):
        grads = workload.grads(step, grad_scale)
        tgrads, jgrads = torch_side.grads_on(grads, dev), jax_side.put(grads)
        theta = before[reference]
        deltas = {}
        for name, run in list(runs.items()):
            run.set_grads(jgrads if name.startswith("jax") else tgrads)
            try:
                run.step()
            except (RuntimeError, NotImplementedError) as e:
                if name == reference:
                    raise
                unavailable[name] = f"{type(e).__name__}: {e}"
                del runs[name], worst[name]
                continue
            after = run.numpy_params()
            deltas[name] = [a - b for a, b in zip(after, before[name], strict=True)]
            before[name] = after
        for name in runs:
            err = _compare(deltas[reference], deltas[name], theta, atol)
            worst[name] = max(worst[name], err)
            if err > 1.0:
                raise MismatchError(
                    f"{name} disagrees with the generated torch AdamW at step {step + 1} "
                    f"(hypers {dict(hypers)}): error {err:.3g} x tolerance "
                    f"(rtol {RTOL}, atol {atol:.3g} + {ULPS} ulps of theta on each step's parameter "
                    "change)"
                )
    return {
        "reference": reference,
        "steps": steps,
        "rtol": RTOL,
        "atol": atol,
        "ulps_of_theta": ULPS,
        "hypers": dict(hypers),
        "workload": workload.describe(),
        "worst_error_in_tolerances": worst,
        "unavailable": unavailable,
        "passed": True,
    }
