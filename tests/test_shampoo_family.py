"""ASGO, CASPR, AdaReg and grafted Shampoo (specs/asgo.opt, caspr.opt, adareg.opt,
shampoografted.opt) against independent float64 NumPy/SciPy loops of the papers' formulas, and
Muon's two equivalences (docs/language.md, "Matrix functions"): the spectral dualize map against
a convergent Newton-Schulz iteration, and specs/muon.opt against the same spec with its quintic
Newton-Schulz steps written out by hand with `@`.

The references never call optc: matrix roots come from SciPy's Schur-based
``fractional_matrix_power`` and ``sqrtm`` (optc uses an eigendecomposition), the polar factor
from NumPy's SVD. Each loop is the paper's formula on the stated matrix view (rows = first
dimension, cols = the product of the others; a 1-d parameter of n entries is n x 1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

import optc
from optc.backends.hypers import resolve_hypers
from optc.verify import gradient_stream, initial_params, run_reference, run_torch

SPECS = Path(__file__).resolve().parent.parent / "specs"
MATRICES = ((6, 3), (3, 6), (4, 4), (2, 3, 2, 2))  # tall, wide, square, 4-d
VECTORS = ((7,), ())
STEPS = 12

Reference = Callable[[list[np.ndarray], list[list[np.ndarray]], dict], list[list[np.ndarray]]]


def view(x: np.ndarray) -> np.ndarray:
    """The stated matrix view: rows = first dimension, cols = the rest; 0-d is 1 x 1."""
    return x.reshape(x.shape[0], -1) if x.ndim >= 1 else x.reshape(1, 1)


def damped_root(a: np.ndarray, p: float, eps: float) -> np.ndarray:
    """(A + eps I)^(-1/p) by SciPy's Schur-Pade fractional power (not an eigendecomposition)."""
    root = scipy.linalg.fractional_matrix_power(a + eps * np.eye(len(a)), -1.0 / p)
    return np.real(root)


class AdamW:
    """torch.optim.AdamW's update for one parameter (the fallback of non-matrix parameters)."""

    def __init__(self, h: dict, prefix: str, shape: tuple[int, ...], decoupled: bool = True):
        self.h = {k: h[prefix + k] for k in ("lr", "beta1", "beta2", "eps")}
        self.wd = h[prefix + "weight_decay"] if decoupled else 0.0
        self.m, self.v = np.zeros(shape), np.zeros(shape)

    def step(self, theta: np.ndarray, g: np.ndarray, t: int) -> np.ndarray:
        """The new parameter after step t."""
        lr, b1, b2, eps = (self.h[k] for k in ("lr", "beta1", "beta2", "eps"))
        theta = theta * (1 - lr * self.wd)
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        m_hat, v_hat = self.m / (1 - b1**t), self.v / (1 - b2**t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def per_parameter(update: Callable[[np.ndarray, list[np.ndarray]], list[np.ndarray]]) -> Reference:
    """A reference over the parameter list from one parameter's loop ``update(theta0, grads)``."""

    def run(params, grads, h):
        per_param = [update(p, [gs[i] for gs in grads], h) for i, p in enumerate(params)]
        return [[traj[t] for traj in per_param] for t in range(len(grads))]

    return run


@per_parameter
def asgo(theta, grads, h):
    """An et al. Algorithm 1: V += G Gᵀ, Λ = V^(1/2) + eps I, W -= lr Λ⁻¹ G (AdamW on vectors)."""
    out, fallback, v = [], AdamW(h, "adam_", theta.shape), None
    for t, g in enumerate(grads, start=1):
        if theta.ndim < 2:
            theta = fallback.step(theta, g, t)
        else:
            gm = view(g)
            v = gm @ gm.T if v is None else v + gm @ gm.T
            lam = np.real(scipy.linalg.sqrtm(v)) + h["eps"] * np.eye(len(v))
            theta = theta - h["lr"] * np.linalg.solve(lam, gm).reshape(theta.shape)
        out.append(theta)
    return out


@per_parameter
def caspr(theta, grads, h):
    """Duvvuri et al.: J = L~^(-1/4) G + G R~^(-1/4), W -= lr (L~^(-1/4) J + J R~^(-1/4))."""
    out, fallback, left, right = [], AdamW(h, "adam_", theta.shape), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        if theta.ndim < 2:
            theta = fallback.step(theta, g, t)
        else:
            gm = view(g)
            left, right = left + gm @ gm.T, right + gm.T @ gm
            pl, pr = damped_root(left, 4, h["eps"]), damped_root(right, 4, h["eps"])
            j = pl @ gm + gm @ pr
            theta = theta - h["lr"] * (pl @ j + j @ pr).reshape(theta.shape)
        out.append(theta)
    return out


@per_parameter
def adareg(theta, grads, h):
    """Gupta et al. 2017: r += g gᵀ over the matrix view's columns, theta -= lr (r + eps I)^(-1/root) g."""
    out, r = [], 0.0
    for g in grads:
        gm = view(g)
        r = r + gm @ gm.T
        theta = theta - h["lr"] * (damped_root(r, h["root"], h["eps"]) @ gm).reshape(theta.shape)
        out.append(theta)
    return out


@per_parameter
def shampoo_grafted(theta, grads, h):
    """Shampoo's sum form, roots refreshed at t = 1, 1 + k, ...; the step rescaled per tensor to
    the Frobenius norm of Adam's step from the same theta (Agarwal et al.'s grafting)."""
    out, adam = [], AdamW(h, "graft_", theta.shape, decoupled=False)
    left = right = pl = pr = 0.0
    for t, g in enumerate(grads, start=1):
        adam_step = adam.step(theta, g, t) - theta
        if theta.ndim < 2:
            theta = theta + h["lr"] * adam_step
        else:
            gm = view(g)
            left, right = left + gm @ gm.T, right + gm.T @ gm
            if (t - 1) % h["precondition_frequency"] == 0:
                pl, pr = damped_root(left, 4, h["eps"]), damped_root(right, 4, h["eps"])
            direction = (pl @ gm @ pr).reshape(theta.shape)
            scale = np.linalg.norm(adam_step) / np.linalg.norm(direction)
            theta = theta - h["lr"] * scale * direction
        out.append(theta)
    return out


CASES = {
    "asgo": (asgo, {"lr": 0.05, "eps": 1e-4}, MATRICES + VECTORS),
    "caspr": (caspr, {"lr": 0.05, "eps": 1e-3}, MATRICES + VECTORS),
    "adareg": (adareg, {"lr": 0.1, "root": 2, "eps": 1e-4}, MATRICES + VECTORS),
    "adareg-ons": (adareg, {"lr": 0.1, "root": 1, "eps": 0.1}, MATRICES + VECTORS),
    "shampoografted": (
        shampoo_grafted,
        {"precondition_frequency": 3, "eps": 1e-3, "lr": 0.5, "graft_lr": 0.01},
        MATRICES + VECTORS,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_spec_matches_the_papers_formulas_in_float64(case):
    """θ after every one of 12 steps: the reference interpreter and the torch backend (float64)
    against the independent loop, on tall, wide, square, 4-d, 1-d and 0-d parameters."""
    loop, hypers, shapes = CASES[case]
    program = optc.load_program(SPECS / f"{case.split('-')[0]}.opt")
    values = resolve_hypers(program, hypers)
    params, grads = initial_params(shapes), gradient_stream(shapes, STEPS, seed=3)
    want = loop(params, grads, values)
    for backend, got in (
        ("reference", run_reference(program, params, grads, values)),
        ("torch", run_torch(program, params, grads, values, "float64")),
    ):
        worst = max(
            float(np.abs(g["theta"] - w).max(initial=0.0))
            for got_t, want_t in zip(got, want, strict=True)
            for g, w in zip(got_t, want_t, strict=True)
        )
        print(f"{case} {backend}: max |theta - paper loop| over {STEPS} steps = {worst:.1e}")
        assert worst < 1e-10, (case, backend, worst)
