"""cos, sin, floor and mod: every backend against the reference interpreter and numpy, Python's
sign convention for mod, non-finite inputs, and constant folding that cannot fail silently."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import optc
from optc.backends import ieee
from optc.diagnostics import SpecError
from optc.verify import verify

SHAPES = ((), (7,), (6, 3), (2, 3, 2, 2))


def spec(expression: str) -> str:
    return (
        'optimizer F\ncite "functions test"\nhyper lr = 0.1 in (0, inf)\n'
        f"hyper k = 3 in int [1, 100]\nstep\n  c = {expression}\n  theta <- theta - lr * c\n"
    )


CASES = {
    "cos(g)": lambda g, t: np.cos(g),
    "sin(g * 3)": lambda g, t: np.sin(g * 3),
    "floor(g * 2)": lambda g, t: np.floor(g * 2),
    "mod(g, 0.7)": lambda g, t: np.mod(g, 0.7),
    "mod(-g, 0.7)": lambda g, t: np.mod(-g, 0.7),
    "mod(t, k) * g": lambda g, t: (t % 3) * g,
    "cos(3.141592653589793 * t / 8) * g": lambda g, t: np.cos(np.pi * t / 8) * g,
}


@pytest.mark.parametrize("expression", CASES)
def test_backends_agree_with_the_reference(expression):
    report = verify(optc.load_program(spec(expression)), steps=3, shapes=SHAPES)
    assert report.passed, report.failures


@pytest.mark.parametrize("expression", CASES)
def test_torch_equals_numpy(expression):
    cls = optc.load(spec(expression), backend="torch")
    rng = np.random.default_rng(3)
    theta, g = rng.standard_normal(9), rng.standard_normal(9)
    p = torch.tensor(theta, requires_grad=True)
    p.grad = torch.tensor(g)
    cls([p]).step()
    want = theta - 0.1 * np.broadcast_to(CASES[expression](g, 1), theta.shape)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-14, atol=1e-15)


def test_mod_takes_the_sign_of_the_divisor_everywhere():
    for x, y in [(5.5, 2.0), (-5.5, 2.0), (5.5, -2.0), (-5.5, -2.0)]:
        want = x - y * math.floor(x / y)
        assert ieee.mod(x, y) == want == float(np.mod(x, y))
        assert float(torch.remainder(torch.tensor(x), y)) == want


def test_scalar_functions_never_raise_on_non_finite_values():
    assert math.isnan(ieee.cos(math.inf)) and math.isnan(ieee.sin(-math.inf))
    assert ieee.floor(-math.inf) == -math.inf and math.isnan(ieee.floor(math.nan))
    assert math.isnan(ieee.mod(1.0, 0.0))


def test_constant_cos_of_inf_is_a_located_error():
    with pytest.raises(SpecError) as info:
        optc.load_program(spec("cos(inf) * g"))
    assert info.value.diagnostic.span.line == 6 and info.value.diagnostic.hint
