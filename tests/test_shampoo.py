"""Shampoo (specs/shampoo.opt): the paper's formulas as an independent NumPy/SciPy loop (both
forms, periodic roots), the β = 0 step along U Vᵀ, the AdamW fallback, and the memory report
against the bytes torch allocates. pytorch_optimizer.Shampoo is compared in
tests/refcases/group_m.py (the sum form on 2-d parameters)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

import optc
from optc.backends.reference.interpreter import ReferenceOptimizer
from optc.check.properties import property_report
from optc.ir.ops import shape_values
from tests.conftest import SPECS

SHAMPOO = SPECS / "shampoo.opt"
SHAPES = ((6, 3), (3, 6), (4, 4), (2, 3, 2))  # tall, wide, square, 3-d (its 2 x 6 view)


def root(a: np.ndarray, eps: float) -> np.ndarray:
    """(A + eps I)^(-1/4) by SciPy's fractional matrix power (Schur based, not eigh)."""
    power = scipy.linalg.fractional_matrix_power(a + eps * np.eye(len(a)), -0.25)
    return np.real(power)


def paper_loop(shape, grads, lr, eps, moving_average, beta, k):
    """Gupta et al. Algorithm 1 (sum) / the moving-average form, roots every k steps from 0."""
    rows = shape[0]
    theta = np.zeros(shape)
    left = np.zeros((rows, rows))
    cols = int(np.prod(shape[1:]))
    right = np.zeros((cols, cols))
    pl, pr = np.zeros_like(left), np.zeros_like(right)
    for t, g in enumerate(grads, start=1):
        m = g.reshape(rows, cols)
        if moving_average:
            left = beta * left + (1 - beta) * m @ m.T
            right = beta * right + (1 - beta) * m.T @ m
        else:
            left, right = left + m @ m.T, right + m.T @ m
        if t % k == 0:
            pl, pr = root(left, eps), root(right, eps)
        theta = theta - lr * (pl @ m @ pr).reshape(shape)
    return theta


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(
    "hypers",
    [
        {"moving_average": False, "precondition_frequency": 1},
        {"moving_average": True, "beta": 0.9, "precondition_frequency": 1},
        {"moving_average": True, "beta": 0.5, "precondition_frequency": 3},
    ],
    ids=["sum", "ema", "ema-every-3"],
)
def test_spec_follows_the_papers_formulas(shape, hypers):
    rng = np.random.default_rng(11)
    grads = [rng.standard_normal(shape) for _ in range(8)]
    hypers = {"lr": 0.05, "eps": 1e-3, **hypers}
    want = paper_loop(
        shape,
        grads,
        hypers["lr"],
        hypers["eps"],
        hypers["moving_average"],
        hypers.get("beta", 0.0),
        hypers["precondition_frequency"],
    )
    program = optc.load_program(SHAMPOO)
    reference = ReferenceOptimizer(program, [np.zeros(shape)], **hypers)
    cls = optc.load(SHAMPOO, backend="torch")
    p = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **hypers)
    for g in grads:
        reference.step([g])
        p.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(reference.params[0], want, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_beta_zero_without_damping_steps_along_u_v_transposed(shape):
    """Randomized numeric check (optc equiv cannot decide it: matrix functions are opaque to
    its symbolic and one-coordinate numeric modes): with beta = 0, L = G Gᵀ and R = Gᵀ G, so
    L^(-1/4) G R^(-1/4) = U S^(-1/2) Uᵀ U S Vᵀ V S^(-1/2) Vᵀ = U Vᵀ; eps = 1e-30 is no damping
    in float64 at these singular values. For a non-square G, G Gᵀ or Gᵀ G has zero eigenvalues
    that rounding makes about 1e-16·‖G‖², whose -1/4 power amplifies G's rounding-level
    components along them: hence 1e-6 of the step (lr = 0.1), not 1e-12."""
    rng = np.random.default_rng(5)
    lr = 0.1
    program = optc.load_program(SHAMPOO)
    for trial in range(5):
        theta, g = rng.standard_normal(shape), rng.standard_normal(shape) * 10.0 ** (trial - 2)
        hypers = {"lr": lr, "eps": 1e-30, "moving_average": True, "beta": 0.0}
        opt = ReferenceOptimizer(program, [theta], **hypers)
        opt.step([g])
        step = (opt.params[0] - theta).reshape(shape[0], -1)
        u, _, vh = np.linalg.svd(g.reshape(shape[0], -1), full_matrices=False)
        np.testing.assert_allclose(step, -lr * u @ vh, rtol=0, atol=1e-6 * lr)


def test_vectors_take_the_adamw_step():
    rng = np.random.default_rng(2)
    g = rng.standard_normal(7)
    cls = optc.load(SHAMPOO, backend="torch")
    p = torch.zeros(7, dtype=torch.float64, requires_grad=True)
    q = torch.zeros(7, dtype=torch.float64, requires_grad=True)
    opt = cls([p], adam_lr=0.01)
    adamw = torch.optim.AdamW([q], lr=0.01, weight_decay=0.01, eps=1e-8)
    for _ in range(3):
        p.grad, q.grad = torch.tensor(g), torch.tensor(g)
        opt.step()
        adamw.step()
    torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (4, 4), (2, 3, 2), (7,)], ids=str)
def test_memory_report_matches_the_bytes_torch_allocates(shape):
    report = property_report(optc.load_program(SHAMPOO), budget=5)
    # L, R, PL, PR for matrices; AdamW's m, v for the rest, and nothing else on either
    assert report.memory == "ndim >= 2: 2·rows² + 2·cols²; ndim < 2: 2·numel"
    cls = optc.load(SHAMPOO, backend="torch")
    p = torch.zeros(shape, requires_grad=True)
    opt = cls([p])
    p.grad = torch.ones(shape)
    opt.step()
    n = shape_values(shape)
    formula = 2 * n["rows"] ** 2 + 2 * n["cols"] ** 2 if len(shape) >= 2 else 2 * n["numel"]
    allocated = sum(
        v.numel() * v.element_size()
        for key, v in opt.state[p].items()
        if key != "step" and torch.is_tensor(v)
    )
    assert allocated == formula * p.element_size()


POLAR_ADAMW = """optimizer PolarAdamW
cite "the exact polar factor U Vᵀ for matrices, AdamW for the rest"
use adamw as adam
hyper lr = 1e-3 in (0, inf) "learning rate"
step
  if ndim >= 2:
    theta <- theta - SCALE * lr * dualize(g, spectral)
  else:
    adam()
"""
BETA_ZERO = {"moving_average": "True", "beta": "0", "eps": "1e-30", "precondition_frequency": "1"}


def test_optc_equiv_says_beta_zero_shampoo_steps_along_u_v_transposed_on_random_arrays():
    """`optc equiv` cannot decide it one coordinate at a time (matrix functions are opaque
    there); its randomized array fallback runs both specs on random arrays and says so."""
    from optc.equiv.decide import equivalent

    polar = optc.load_program(POLAR_ADAMW.replace("SCALE", "1"))
    result = equivalent(polar, optc.load_program(SHAMPOO), BETA_ZERO)
    assert result.equal is None  # undecided: evidence, not a proof
    assert result.compared["theta on random arrays"].startswith("equal on random arrays")
    assert "randomized, not proved" in result.compared["theta on random arrays"]
    assert set(result.ignored["Shampoo"]) == {"L", "R", "PL", "PR"}  # memoryless at beta = 0

    doubled = optc.load_program(POLAR_ADAMW.replace("SCALE", "2"))
    result = equivalent(doubled, optc.load_program(SHAMPOO), BETA_ZERO)
    assert result.equal is False
    assert result.compared["theta on random arrays"].startswith("differs on random arrays")
