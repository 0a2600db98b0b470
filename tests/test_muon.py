"""Matrix values through the norms interface (issue 9, first slice): ``dualize(x, spectral)``
checked numerically against the SVD, ``newton_schulz`` against torch.optim.Muon's and
optax.contrib.muon's iterations, the rule for 0-d and 1-d values, specs/muon.opt across the
backends on tall, wide, square and 4-d parameters, and optax.contrib.muon's conventions
written as a spec and compared with optax at 1e-10 (float64)."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from optax.contrib import _muon as optax_muon

import optc
from optc.backends.hypers import resolve_hypers
from optc.backends.jax import axes as jax_axes
from optc.backends.reference.interpreter import _newton_schulz, _polar
from optc.backends.torch import axes as torch_axes
from optc.check.norms import MUON_COEFFICIENTS, check_spectral
from optc.verify import gradient_stream, initial_params, run_reference, run_torch, verify
from tests.refcases.group_m import _float64_newton_schulz
from tests.test_reference_libraries import _optax_trajectory

SPECS = Path(__file__).resolve().parent.parent / "specs"
SHAPES = ((6, 4), (4, 6), (5, 5), (3, 2, 2, 2))  # tall, wide, square, 4-d


def test_spectral_dualize_is_the_polar_factor():
    """<x, UVᵀ> = ‖x‖_* and ‖UVᵀ‖_2 = 1 (exact SVD as the truth); the Newton-Schulz residual
    of Muon's 5 quintic steps is reported (it is not small: NS5 gives U S' Vᵀ, S' in ~[0.7, 1.2])."""
    for check in check_spectral(SHAPES):
        print(
            f"{check.shape}: pairing {check.pairing:.1e}, unit {check.unit:.1e}, "
            f"NS5 residual vs SVD {check.newton_schulz:.3f}"
        )
        assert check.holds(), check
        assert check.newton_schulz < 0.35, check


def test_more_newton_schulz_steps_of_a_convergent_iteration_reach_the_polar_factor():
    """The cubic iteration (1.5, -0.5, 0) converges to UVᵀ: 40 steps match the SVD."""
    (residual,) = check_spectral(((6, 4),), steps=40, coefficients=(1.5, -0.5, 0.0))
    assert residual.newton_schulz < 1e-8, residual


def test_spectral_dualize_of_vectors_and_scalars_follows_the_matrix_view():
    """A 1-d value of n entries is an n x 1 matrix: its polar factor is x / ‖x‖; a 0-d value is
    1 x 1: sign(x); zero maps to zero; a non-finite entry makes every entry NaN."""
    x = np.array([3.0, -4.0, 0.0])
    np.testing.assert_allclose(_polar(x), x / 5.0, atol=1e-15)
    assert _polar(np.float64(-2.5)) == -1.0
    assert np.all(_polar(np.zeros((3, 2))) == 0.0)
    assert np.all(np.isnan(_polar(np.array([[1.0, np.inf], [0.0, 1.0]]))))
    for x in (np.array([3.0, -4.0, 0.0]), np.array(-2.5), np.zeros((3, 2)), np.ones((0, 3))):
        np.testing.assert_allclose(torch_axes.polar(torch.tensor(x)).numpy(), _polar(x), atol=1e-15)
        np.testing.assert_allclose(
            np.asarray(jax_axes.polar(jnp.asarray(x))), _polar(x), atol=1e-15
        )


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5)], ids=["tall", "wide", "square"])
def test_newton_schulz_is_the_libraries_iteration(shape):
    """newton_schulz(x / max(norm(x), eps), 5, a, b, c) is torch.optim.Muon's iteration (in
    float64) and newton_schulz(x / (norm(x) + eps), ...) optax.contrib.muon's."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    a, b, c = MUON_COEFFICIENTS
    ours_torch = _newton_schulz(x / max(np.linalg.norm(x), 1e-7), 5, a, b, c)
    theirs = _float64_newton_schulz(torch.tensor(x), MUON_COEFFICIENTS, 5, 1e-7).numpy()
    ours_optax = _newton_schulz(x / (np.linalg.norm(x) + 1e-8), 5, a, b, c)
    optax_out = optax_muon.orthogonalize_via_newton_schulz(
        jnp.asarray(x), jnp.asarray(MUON_COEFFICIENTS), 5, eps=1e-8
    )
    print(
        f"{shape}: |ours - torch| {np.abs(ours_torch - theirs).max():.1e}, "
        f"|ours - optax| {np.abs(ours_optax - np.asarray(optax_out)).max():.1e}"
    )
    np.testing.assert_allclose(ours_torch, theirs, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours_optax, np.asarray(optax_out), rtol=0, atol=1e-13)
    for backend in (torch_axes, jax_axes):
        lib = torch if backend is torch_axes else jnp
        got = backend.newton_schulz(lib.asarray(x / max(np.linalg.norm(x), 1e-7)), 5, a, b, c)
        np.testing.assert_allclose(np.asarray(got), ours_torch, rtol=0, atol=1e-13)


def test_muon_agrees_across_backends_on_matrix_views():
    program = optc.load_program(SPECS / "muon.opt")
    report = verify(program, steps=4, shapes=((6, 4), (4, 6), (5, 5), (3, 2, 2, 2), (7,), ()))
    assert report.passed, report.to_json()


# optax.contrib.muon's conventions as a spec: bias-corrected Nesterov momentum, eps outside the
# norm, the scale sqrt(max(1, cols / rows)), decay added before the lr, and the other
# parameters to optax.adamw(nesterov = True) (specs/nadamw.opt) with Muon's eps.
OPTAX_MUON = """optimizer MuonOptax
cite "optax.contrib.muon's conventions (test)"
convention bias_correction "mu debiased by 1 - beta^t, Nesterov form of optax.nadamw"
convention eps "u / (norm(u) + eps) before Newton-Schulz; the AdamW fallback shares it"
convention weight_decay "added to the scaled update before the lr: theta - lr * (s * o + wd * theta)"
use nadamw as adam
hyper lr = 0.02 in (0, inf) "learning rate"
hyper beta = 0.95 in [0, 1) "coefficient of the running average of the gradient"
hyper eps = 1e-8 in (0, inf) "added to the Frobenius norm"
hyper weight_decay = 0 in [0, inf) "decoupled weight decay, multiplied by lr"
state mu = 0
step
  if ndim == 2:
    mu <- ema(mu, g, beta)
    u = beta * mu / (1 - beta^(t + 1)) + (1 - beta) * g / (1 - beta^t)
    o = newton_schulz(u / (norm(u) + eps), 5, 3.4445, -4.7750, 2.0315)
    theta <- theta - lr * (sqrt(max(1, cols / max(rows, 1))) * o + weight_decay * theta)
  else:
    adam(g = g)
"""


def test_optax_contrib_muon_written_as_a_spec():
    shapes = ((5, 3), (3, 5), (4, 4), (7,))
    h = {"lr": 0.02, "beta": 0.9, "eps": 1e-8, "weight_decay": 0.1}
    adam = {"adam_lr": 0.02, "adam_beta1": 0.8, "adam_beta2": 0.95, "adam_eps": 1e-8}
    factory = optc.load(OPTAX_MUON, backend="jax")
    ours = factory(**h, **adam, adam_weight_decay=0.0)
    theirs = optax.contrib.muon(
        h["lr"],
        beta=h["beta"],
        eps=h["eps"],
        weight_decay=h["weight_decay"],
        adam_b1=adam["adam_beta1"],
        adam_b2=adam["adam_beta2"],
    )
    params = initial_params(shapes)
    grads = gradient_stream(shapes, 20, seed=7)
    got = _optax_trajectory(ours, params, grads, jit=True)
    want = _optax_trajectory(theirs, params, grads, jit=True)
    worst = max(
        float(np.abs(a - b).max())
        for gs, ws in zip(got, want, strict=True)
        for a, b in zip(gs, ws, strict=True)
    )
    print(f"max |spec - optax.contrib.muon| over 20 steps: {worst:.1e}")
    for got_step, want_step in zip(got, want, strict=True):
        for a, b in zip(got_step, want_step, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("newton_schulz(g, 2.5, 1, 0, 0)", "whole number"),
        ("newton_schulz(row_mean(g), 5, 1, 0, 0)", "not θ-shaped"),
        ("newton_schulz(g, 5, g, 0, 0)", "must be a number"),
        ("newton_schulz(g, 5, 1, 0)", "takes 5 arguments"),
    ],
)
def test_matrix_function_misuse_is_a_located_error(call, message):
    text = f'optimizer E\ncite "misuse"\nhyper lr = 0.1 in (0, inf)\nstep\n  theta <- theta - lr * {call}\n'
    with pytest.raises(optc.SpecError, match=message) as err:
        optc.load_program(text)
    assert err.value.diagnostic.span.line == 5


# -- equivalences (issue 9 item 5) -------------------------------------------------------------
# specs/muon.opt with its Newton-Schulz line replaced: a randomized numeric check (seeded random
# parameters and gradients, float64), not a proof; `optc equiv` sees matrix functions as opaque.
NS_LINE = "    o = newton_schulz(u / max(norm(u), eps), ns_steps, ns_a, ns_b, ns_c)\n"
EQUIV_SHAPES = ((6, 4), (4, 6), (5, 5), (9, 3), (3, 2, 2, 2), (7,))


def _muon_variant(name: str, orthogonalization: str) -> optc.Program:
    """specs/muon.opt with the Newton-Schulz line replaced by ``orthogonalization``."""
    text = (SPECS / "muon.opt").read_text(encoding="utf-8")
    assert NS_LINE in text
    return optc.load_program(
        text.replace(NS_LINE, orthogonalization).replace("optimizer Muon", f"optimizer {name}")
    )


def _by_hand(steps: int) -> str:
    """Quintic Newton-Schulz written out with `@`: X = a X + (b A + c A A) X, A = X Xᵀ (never
    transposed to the smaller side: X Xᵀ X = X (Xᵀ X), so it is the same map)."""
    lines = ["    x0 = u / max(norm(u), eps)\n"]
    for k in range(1, steps + 1):
        lines.append(f"    a{k} = x{k - 1} @ transpose(x{k - 1})\n")
        lines.append(
            f"    x{k} = ns_a * x{k - 1} + (ns_b * a{k} + ns_c * (a{k} @ a{k})) @ x{k - 1}\n"
        )
    return "".join(lines) + f"    o = x{steps}\n"


def _largest_theta_gap(a: optc.Program, b: optc.Program, hypers: dict, steps: int) -> float:
    """max |θ_a - θ_b| over every step and parameter, both run by the float64 reference."""
    params = initial_params(EQUIV_SHAPES, seed=11)
    grads = gradient_stream(EQUIV_SHAPES, steps, seed=12)
    run_a = run_reference(a, params, grads, resolve_hypers(a, hypers))
    run_b = run_reference(b, params, grads, resolve_hypers(b, hypers))
    return max(
        float(np.abs(x["theta"] - y["theta"]).max())
        for step_a, step_b in zip(run_a, run_b, strict=True)
        for x, y in zip(step_a, step_b, strict=True)
    )


def test_muon_equals_its_newton_schulz_written_by_hand():
    """specs/muon.opt (built-in newton_schulz, 5 quintic steps, transposed while rows > cols)
    and the same spec with the 5 steps written with `@`: θ agrees at every one of 10 steps on
    tall, wide, square, 4-d and 1-d parameters, in the reference and in torch (float64)."""
    spec = optc.load_program(SPECS / "muon.opt")
    by_hand = _muon_variant("MuonByHand", _by_hand(5))
    gap = _largest_theta_gap(spec, by_hand, {"lr": 0.05}, steps=10)
    params = initial_params(EQUIV_SHAPES, seed=11)
    grads = gradient_stream(EQUIV_SHAPES, 10, seed=12)
    values = resolve_hypers(spec, {"lr": 0.05})
    torch_gap = max(
        float(np.abs(x["theta"] - y["theta"]).max())
        for step_a, step_b in zip(
            run_torch(spec, params, grads, values, "float64"),
            run_torch(by_hand, params, grads, values, "float64"),
            strict=True,
        )
        for x, y in zip(step_a, step_b, strict=True)
    )
    print(f"max |θ(muon.opt) - θ(by hand)|: reference {gap:.1e}, torch float64 {torch_gap:.1e}")
    assert gap < 1e-13 and torch_gap < 1e-13


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (12, 3)], ids=str)
def test_cubic_newton_schulz_reaches_the_svd_polar_factor(shape):
    """On random tall, wide and square matrices, 30 cubic steps from x / norm(x) equal NumPy's
    U Vᵀ to 1e-12, in the reference and both backends (float64)."""
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    scaled = x / np.linalg.norm(x)
    ours = _newton_schulz(scaled, 30, 1.5, -0.5, 0.0)
    gaps = {
        "reference": np.abs(ours - u @ vh).max(),
        "torch": np.abs(
            torch_axes.newton_schulz(torch.tensor(scaled), 30, 1.5, -0.5, 0.0).numpy() - u @ vh
        ).max(),
        "jax": np.abs(
            np.asarray(jax_axes.newton_schulz(jnp.asarray(scaled), 30, 1.5, -0.5, 0.0)) - u @ vh
        ).max(),
    }
    print(f"{shape}: " + ", ".join(f"{k} {v:.1e}" for k, v in gaps.items()))
    assert max(gaps.values()) < 1e-12


def test_spectral_dualize_is_muon_with_a_convergent_newton_schulz():
    """Muon with `dualize(u, spectral)` (the SVD polar factor) against Muon with
    `newton_schulz(u / max(norm(u), eps), 30, cubic)`: θ equal to 1e-12 at each of 10 steps;
    with 12 cubic steps they differ by more than 1e-6 (the smallest singular values of
    u / norm(u) grow by only 1.5 per step), so the agreement is the iteration's convergence."""
    polar = _muon_variant("MuonPolar", "    o = dualize(u, spectral)\n")
    gaps = {}
    for steps in (30, 12):
        cubic = _muon_variant(
            "MuonCubic", f"    o = newton_schulz(u / max(norm(u), eps), {steps}, cubic)\n"
        )
        gaps[steps] = _largest_theta_gap(polar, cubic, {"lr": 0.05}, steps=10)
        print(
            f"max |θ(dualize) - θ(cubic NS, {steps} steps)| over 10 Muon steps: {gaps[steps]:.1e}"
        )
    assert gaps[30] < 1e-12 and gaps[12] > 1e-6
