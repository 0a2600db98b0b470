"""Composition: `use SPEC [as A]` and `A(g = EXPR)` run another spec's step inside a spec.
The composed specs against independent compositions (the used spec's own generated optimizer,
optax chains), name rules, and located errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import optc
from optc.diagnostics import SpecError
from optc.verify import gradient_stream, initial_params

SPECS = Path(__file__).resolve().parent.parent / "specs"
SHAPES = ((7,), (4, 3))


def test_a_run_is_the_used_spec_step():
    """`use adam` + `adam()` moves θ exactly as the Adam spec's own optimizer (same hypers)."""
    composed = 'optimizer OnlyAdam\ncite "x"\nuse adam\nstep\n  adam()\n'
    ours = optc.load(composed, backend="torch")
    adam = optc.load(SPECS / "adam.opt", backend="torch")
    a = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    b = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    opt_a, opt_b = ours(a, lr=0.01, beta1=0.8), adam(b, lr=0.01, beta1=0.8)
    for grads in gradient_stream(SHAPES, 5):
        for x, y, g in zip(a, b, grads, strict=True):
            x.grad, y.grad = torch.tensor(g), torch.tensor(g)
        opt_a.step()
        opt_b.step()
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
        assert torch.equal(opt_a.state[x]["m"], opt_b.state[y]["exp_avg"])


def test_grafting_has_the_magnitude_of_one_step_and_the_direction_of_the_other():
    """AdaGraft's first step, from numpy: ‖SGD step‖ · Adam step / ‖Adam step‖ per tensor."""
    cls = optc.load(SPECS / "adagraft.opt", backend="torch")
    theta, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -0.4])
    p = torch.tensor(theta, requires_grad=True)
    p.grad = torch.tensor(g)
    cls([p], magnitude_lr=0.1, direction_lr=0.01).step()
    sgd = -0.1 * g  # momentum buffer starts at g
    adam = -0.01 * g / (np.abs(g) + 1e-8)  # debiased moments on step 1
    want = theta + np.linalg.norm(sgd) * adam / np.linalg.norm(adam)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-13)


def test_aliased_names_are_prefixed_and_plain_ones_kept():
    program = optc.load_program(SPECS / "adagraft.opt")
    hypers = {h.name for h in program.hypers}
    assert {"magnitude_lr", "magnitude_momentum", "direction_lr", "direction_beta1"} <= hypers
    assert {s.name for s in program.states} == {"magnitude_buf", "direction_m", "direction_v"}
    assert "direction.eps" in program.conventions
    program = optc.load_program(SPECS / "lookaheadadam.opt")
    assert {"lr", "beta1", "beta2", "eps", "k", "alpha"} == {h.name for h in program.hypers}


def _error(text: str):
    with pytest.raises(SpecError) as info:
        optc.load_program(text)
    return info.value.diagnostic


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        ("use nosuchspec\nstep\n  theta <- theta", 3, "no spec `nosuchspec`"),
        ("step\n  adam()", 4, "no `use adam`"),
        ("use adam\nhyper lr = 1 in (0, inf)\nstep\n  adam()", 3, "already has"),
        ("use adam\nstep\n  adam(lr = 2)", 5, "takes the gradient only"),
        ("use adam\nuse adam\nstep\n  adam()", 4, "duplicate"),
    ],
)
def test_composition_errors_are_located(lines, line, words):
    err = _error(f'optimizer C\ncite "x"\n{lines}\n')
    assert words in err.message and err.span.line == line and err.hint
