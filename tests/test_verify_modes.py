"""optc verify's gradient modes catch optimizers whose state shares storage with θ or g.

A hand-written torch optimizer that keeps ``p.grad`` itself as its previous gradient is right on
fresh gradient tensors and wrong as soon as the tensor is reused (``inplace``) or changed after
``step()`` (``mutated``); its ``clone()`` twin is right in every mode. The two small specs here
(heavy ball ``prev <- theta``, previous gradient ``g_prev <- g``) are the forms that alias in a
naive backend: the generated torch code must pass every mode.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optc
from optc.backends.hypers import resolve_hypers
from optc.verify import (
    GRAD_MODES,
    gradient_stream,
    initial_params,
    run_reference,
    run_torch,
    verify,
)

HEAVY_BALL = """optimizer HeavyBall
cite "Polyak, Some methods of speeding up the convergence of iteration methods, 1964"
hyper lr = 0.1 in (0, inf)
hyper momentum = 0.9 in [0, 1)
state prev = theta
step
  d = theta - prev
  prev <- theta
  theta <- theta - lr * g + momentum * d
"""

GRAD_PREV = """optimizer GradPrev
cite "the average of this and the previous gradient (a test of gradient aliasing)"
hyper lr = 0.1 in (0, inf)
state g_prev = 0
step
  theta <- theta - lr * (g + g_prev) / 2
  g_prev <- g
"""


def _two_gradient_optimizer(keep_clone: bool) -> type:
    class TwoGradient(torch.optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, {"lr": lr})

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    state = self.state[p]
                    prev = state.get("g_prev", torch.zeros_like(p))
                    p.sub_(group["lr"] * (p.grad + prev) / 2)
                    state["g_prev"] = p.grad.clone() if keep_clone else p.grad  # the bug: alias

    return TwoGradient


def _deviation(program, optimizer_class, grad_mode: str) -> float:
    shapes = ((3,), (2, 2))
    params, grads = initial_params(shapes), gradient_stream(shapes, 4)
    hypers = resolve_hypers(program, None)
    want = run_reference(program, params, grads, hypers)
    got = run_torch(program, params, grads, hypers, "float64", grad_mode, optimizer_class)
    return max(
        float(np.nanmax(np.abs(g[k] - w[k]))) if not np.isnan(g[k]).any() else np.inf
        for gs, ws in zip(got, want, strict=True)
        for g, w in zip(gs, ws, strict=True)
        for k in w
    )


@pytest.mark.parametrize("grad_mode", GRAD_MODES)
def test_modes_catch_a_state_aliasing_the_gradient(grad_mode):
    program = optc.load_program(GRAD_PREV)
    aliasing = _deviation(program, _two_gradient_optimizer(keep_clone=False), grad_mode)
    honest = _deviation(program, _two_gradient_optimizer(keep_clone=True), grad_mode)
    assert honest < 1e-12
    if grad_mode == "fresh":
        assert aliasing < 1e-12  # fresh tensors every step hide the bug ...
    else:
        assert aliasing > 1e-3  # ... reusing or changing the gradient tensor shows it


def test_inplace_mode_reuses_one_gradient_tensor_and_mutated_poisons_it():
    program = optc.load_program(GRAD_PREV)
    seen: dict[str, list] = {"inplace": [], "mutated": []}

    class Spy(_two_gradient_optimizer(keep_clone=True)):
        mode = ""

        def step(self):
            p = self.param_groups[0]["params"][0]
            assert not torch.isnan(p.grad).any()  # the next gradient is written before step()
            seen[self.mode].append(p.grad)
            super().step()

    for mode in seen:
        Spy.mode = mode
        _deviation(program, Spy, mode)
    inplace, mutated = seen["inplace"], seen["mutated"]
    assert all(g is inplace[0] for g in inplace)
    assert len({id(g) for g in mutated}) == len(mutated)
    assert all(torch.isnan(g).all() for g in mutated)  # overwritten after each step()


@pytest.mark.parametrize("spec", [HEAVY_BALL, GRAD_PREV], ids=["heavy_ball", "g_prev"])
@pytest.mark.parametrize("grad_mode", GRAD_MODES)
def test_aliasing_forms_verify_in_every_mode(spec, grad_mode):
    program = optc.load_program(spec)
    report = verify(program, steps=5, backends=("torch",), grad_modes=(grad_mode,))
    assert report.passed, [
        f"{d.dtype} {d.value}: |Δ| = {d.max_abs:.3e} at step {d.worst_step}"
        for d in report.failures
    ]


def test_jax_runs_fresh_gradients_only():
    program = optc.load_program(GRAD_PREV)
    report = verify(program, steps=2, dtypes=("float64",), backends=("jax",), grad_modes=GRAD_MODES)
    assert report.passed
    assert {d.grad_mode for d in report.deviations} == {"fresh"}
    with pytest.raises(ValueError, match="unknown gradient mode"):
        verify(program, steps=1, grad_modes=("sideways",))
