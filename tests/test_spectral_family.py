"""The spectral family without a library reference (catalogue #31, #59, #67-#69, #109, #110,
#112, #126) against independent NumPy loops of the papers' formulas, in float64.

Each loop is written here from the paper (SVD via ``np.linalg.svd``, Newton-Schulz as the
papers print it) on the matrix view (rows = first dimension, cols = the product of the others),
and the generated torch optimizer runs the same gradients; θ must agree after every step. The
closed forms are checked too: a Frank-Wolfe / SCG iterate stays in its norm ball, MuonH keeps
‖θ‖_F at its initial value, the cubic Newton-Schulz iteration of specs/muoncubic.opt reaches the
exact polar factor.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import optc.generated.torch as generated_torch
from optc.backends.hypers import resolve_hypers
from optc.pipeline import compile_file
from optc.verify import gradient_stream, initial_params
from tests.conftest import SPECS
from tests.test_reference_libraries import _fresh, _torch_trajectory

SHAPES = ((5, 3), (3, 5), (4, 4), (3, 2, 2, 2))  # tall, wide, square, 4-d
STEPS = 20
Loop = Callable[[list[np.ndarray], list[list[np.ndarray]], dict], list[list[np.ndarray]]]


def _matrix(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


def _svd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(U Vᵀ in x's shape, singular values) of x's matrix view."""
    u, s, vt = np.linalg.svd(_matrix(x), full_matrices=False)
    return (u @ vt).reshape(x.shape), s


def _polar(x: np.ndarray) -> np.ndarray:
    return _svd(x)[0]


def _nuclear(x: np.ndarray) -> float:
    return float(_svd(x)[1].sum())


def _newton_schulz(x: np.ndarray, steps: int, a: float, b: float, c: float) -> np.ndarray:
    """X <- a X + b (X Xᵀ) X + c (X Xᵀ)² X on the wide orientation (Jordan et al.)."""
    m = _matrix(x)
    tall = m.shape[0] > m.shape[1]
    m = m.T if tall else m
    for _ in range(int(steps)):
        gram = m @ m.T
        m = a * m + (b * gram + c * gram @ gram) @ m
    return (m.T if tall else m).reshape(x.shape)


def _run(spec: str, hypers: dict, loop: Loop, shapes=SHAPES, params=None):
    """θ after every step from the generated torch optimizer and from ``loop``."""
    program = compile_file(SPECS / f"{spec}.opt", checks=False).program
    h = resolve_hypers(program, hypers)
    params = initial_params(shapes) if params is None else params
    grads = gradient_stream(shapes, STEPS, seed=7)
    tensors = _fresh(params)
    got = _torch_trajectory(getattr(generated_torch, program.name)(tensors, **h), tensors, grads)
    want = loop([p.copy() for p in params], grads, h)
    worst = max(
        float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))
        for gs, ws in zip(got, want, strict=True)
        for a, b in zip(gs, ws, strict=True)
    )
    print(f"{spec} {hypers}: max relative |torch - NumPy loop| over {STEPS} steps {worst:.1e}")
    assert worst < 1e-12
    return got


def _per_param(step: Callable[..., np.ndarray]) -> Loop:
    """A loop of ``step(theta, g, state, t, h) -> theta`` for each parameter (state: a dict)."""

    def loop(thetas, grads, h):
        states = [{} for _ in thetas]
        history = []
        for t, step_grads in enumerate(grads, start=1):
            thetas = [
                step(th, g, s, t, h) for th, g, s in zip(thetas, step_grads, states, strict=True)
            ]
            history.append([th.copy() for th in thetas])
        return history

    return loop


def _ema(state: dict, key: str, x: np.ndarray, beta: float) -> np.ndarray:
    state[key] = beta * state.get(key, np.zeros_like(x)) + (1 - beta) * x
    return state[key]


# -- PolarGrad, PolarMuon, Polar-first (Lau, Long & Su 2025): U H = polar(x), tr(H) = Σσ


def _polargrad(th, g, s, t, h):
    return th - h["lr"] * _nuclear(g) * _polar(g)


def _polarmuon(th, g, s, t, h):
    m = _ema(s, "m", g, h["beta"])
    return th - h["lr"] * (_nuclear(m) * _polar(m) + h["weight_decay"] * th)


def _polarfirst(th, g, s, t, h):
    m = _ema(s, "m", _polar(g), h["beta"])
    return th - h["lr"] * (_nuclear(g) * m + h["weight_decay"] * th)


@pytest.mark.parametrize(
    ("spec", "hypers", "step"),
    [
        ("polargrad", {"lr": 0.01}, _polargrad),
        ("polarmuon", {"lr": 0.01, "beta": 0.8, "weight_decay": 0.1}, _polarmuon),
        ("polarfirst", {"lr": 0.01, "beta": 0.8, "weight_decay": 0.1}, _polarfirst),
    ],
)
def test_polar_family_matches_the_papers_formulas(spec, hypers, step):
    _run(spec, hypers, _per_param(step))


# -- conditional gradient: Frank-Wolfe, SCG / uSCG (Pethick et al. 2025)

_DIRECTIONS = {
    0: lambda x: x / np.linalg.norm(x) if np.any(x) else np.zeros_like(x),  # l2 ball
    1: np.sign,  # l_inf ball
    2: _polar,  # spectral ball
}
_BALL_NORMS = {
    0: lambda x: np.linalg.norm(x),
    1: lambda x: np.abs(x).max(),
    2: lambda x: np.linalg.svd(_matrix(x), compute_uv=False).max(),
}


def _frankwolfe(th, g, s, t, h):
    gamma = 2 / (t + 1) if h["open_loop"] else h["lr"]
    return (1 - gamma) * th - gamma * h["radius"] * _DIRECTIONS[h["lmo"]](g)


def _scg(th, g, s, t, h):
    m = _ema(s, "m", g, h["beta"])
    shrink = 1 - h["lr"] if h["constrained"] else 1.0
    return shrink * th - h["lr"] * h["radius"] * _DIRECTIONS[h["lmo"]](m)


def _inside(params, lmo, radius):
    """The initial parameters scaled into the ball of radius ``radius`` (at half of it)."""
    return [0.5 * radius * p / _BALL_NORMS[lmo](p) for p in params]


@pytest.mark.parametrize("open_loop", [False, True], ids=["lr", "open-loop"])
@pytest.mark.parametrize("lmo", [0, 1, 2], ids=["l2", "linf", "spectral"])
def test_frank_wolfe_matches_and_stays_in_the_ball(lmo, open_loop):
    h = {"lr": 0.1, "radius": 2.0, "lmo": lmo, "open_loop": open_loop}
    params = _inside(initial_params(SHAPES), lmo, h["radius"])
    got = _run("frankwolfe", h, _per_param(_frankwolfe), params=params)
    worst = max(_BALL_NORMS[lmo](th) for step in got for th in step)
    assert worst <= h["radius"] * (1 + 1e-12), worst


@pytest.mark.parametrize("constrained", [True, False], ids=["SCG", "uSCG"])
@pytest.mark.parametrize("lmo", [0, 1, 2], ids=["l2", "linf", "spectral"])
def test_scg_matches_the_papers_formulas(lmo, constrained):
    h = {"lr": 0.1, "beta": 0.7, "radius": 1.5, "lmo": lmo, "constrained": constrained}
    params = _inside(initial_params(SHAPES), lmo, h["radius"])
    got = _run("scg", h, _per_param(_scg), params=params)
    if constrained:  # a convex combination of points of the ball
        worst = max(_BALL_NORMS[lmo](th) for step in got for th in step)
        assert worst <= h["radius"] * (1 + 1e-12), worst


# -- Gluon (Riabinin et al. 2025): RMS->RMS ball, p_t = ‖g‖_* / (L0 + L1 ‖g‖_*)


def _gluon(th, g, s, t, h):
    m = _ema(s, "m", g, h["beta"])
    rows, cols = _matrix(g).shape
    factor = np.sqrt(rows / cols)  # ‖·‖_RMS→RMS = sqrt(cols / rows) ‖·‖_2: its LMO and dual
    dual = factor * _nuclear(g)
    p = dual / (h["L0"] + h["L1"] * dual) if h["adaptive"] else h["lr"] / (t + 1) ** 0.75
    return th - p * factor * _polar(m)


@pytest.mark.parametrize("adaptive", [True, False], ids=["L0-L1", "decaying"])
def test_gluon_matches_the_papers_formulas(adaptive):
    h = {"L0": 2.0, "L1": 0.5, "beta": 0.8, "adaptive": adaptive, "lr": 0.05}
    _run("gluon", h, _per_param(_gluon), shapes=(*SHAPES, (7,)))


# -- DASGO (An et al. 2025): one number per column, diag(gᵀ g)


def _dasgo(th, g, s, t, h):
    m = _ema(s, "m", g, h["beta1"])
    v = _ema(s, "v", (_matrix(g) ** 2).sum(axis=0), h["beta2"])
    return th - h["lr"] * (_matrix(m) / np.sqrt(v + h["eps"])).reshape(th.shape)


def test_dasgo_matches_the_papers_formulas():
    _run("dasgo", {"lr": 0.01, "beta1": 0.8, "beta2": 0.9, "eps": 1e-6}, _per_param(_dasgo))


# -- MuonH (Ren et al. 2026; the genealogy's Eq. 11): W <- R Normalize(W - lr R Normalize(O))

QUINTIC = (3.4445, -4.7750, 2.0315)


def _muonh(th, g, s, t, h):
    radius = s.setdefault("radius", np.linalg.norm(th))  # ‖W_0‖_F
    mu = h["momentum"]
    buf = _ema(s, "buf", g, mu)
    u = g + mu * (buf - g) if h["nesterov"] else buf
    o = _newton_schulz(u / max(np.linalg.norm(u), h["eps"]), h["ns_steps"], *QUINTIC)
    w = th - h["lr"] * radius * o / np.linalg.norm(o)
    return radius * w / np.linalg.norm(w)


@pytest.mark.parametrize("nesterov", [True, False])
def test_muonh_matches_and_keeps_the_norm(nesterov):
    h = {"lr": 0.1, "momentum": 0.9, "nesterov": nesterov}
    params = initial_params(SHAPES)
    got = _run("muonh", h, _per_param(_muonh), params=params)
    for step in got:
        for th, p in zip(step, params, strict=True):
            assert abs(np.linalg.norm(th) / np.linalg.norm(p) - 1) < 1e-14


# -- MuonCubic (#59): the convergent cubic iteration reaches U Vᵀ


def test_cubic_newton_schulz_reaches_the_polar_factor():
    """1.5 X - 0.5 X Xᵀ X from X / ‖X‖_F: after 40 steps U Vᵀ to 1e-12 (the exact SVD);
    Muon's quintic triple stays about 0.2 away."""
    rng = np.random.default_rng(3)
    for shape in SHAPES:
        x = rng.standard_normal(shape)
        unit = x / np.linalg.norm(x)
        cubic = np.abs(_newton_schulz(unit, 40, 1.5, -0.5, 0.0) - _polar(x)).max()
        quintic = np.abs(_newton_schulz(unit, 5, *QUINTIC) - _polar(x)).max()
        print(f"{shape}: cubic(40) {cubic:.1e}, quintic NS5 {quintic:.2f}")
        assert cubic < 1e-12 and quintic > 1e-2
