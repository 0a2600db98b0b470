"""D-Adaptation's dual-averaging and gradient-descent versions (catalogue #95, 000 section 7.1,
Algorithm 1 and the GD version of Defazio & Mishchenko 2023) against a hand-written NumPy loop.

No library ships these two. The loop below is written from the paper's formulas, not from the
specs: it keeps the whole history (every g_i, d_i, gamma_i / lambda_i, s_i and x_i) and forms each
sum of the estimate and of the output point from it, on the concatenation of all parameters (the
norms and inner products run over the whole group). The gradients depend on the iterate (a
noisy quadratic), so a wrong step changes every later gradient. θ, d and the output point (the
weighted average, through ``eval()`` / ``<name>_eval_params``) are compared after every step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import optc

SPECS = Path(__file__).resolve().parent.parent / "specs"
SHAPES = ((7,), (4, 3), (2, 3, 2))
STEPS = 20
SIZES = [int(np.prod(s)) for s in SHAPES]


def _problem(seed: int = 3):
    rng = np.random.default_rng(seed)
    n = sum(SIZES)
    x0 = rng.standard_normal(n)
    curvature = rng.uniform(0.5, 2.0, n)
    centre = 3.0 * rng.standard_normal(n)
    noise = 0.3 * rng.standard_normal((STEPS, n))

    def grad(x: np.ndarray, k: int) -> np.ndarray:
        return curvature * (x - centre) + noise[k]

    return x0, grad


def _split(flat: np.ndarray) -> list[np.ndarray]:
    parts = np.split(flat, np.cumsum(SIZES)[:-1])
    return [p.reshape(s) for p, s in zip(parts, SHAPES, strict=True)]


def _flat(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def paper_dual_averaging(d0: float, option: int):
    """Algorithm 1: s_{k+1} = s_k + d_k g_k, gamma_{k+1} = 1 / sqrt(sum_{i<=k} ||g_i||^2)
    (gamma_0 = 1 / ||g_0||), d_hat by option I or II, x_{k+1} = x_0 - gamma_{k+1} s_{k+1};
    output sum_{i<=k} d_i x_i / sum_{i<=k} d_i. Returns per step (x_{k+1}, d_{k+1}, output)."""
    x0, grad = _problem()
    xs, ds, gs, ss, gammas = [x0], [d0], [], [np.zeros_like(x0)], []
    out = []
    for k in range(STEPS):
        g = grad(xs[k], k)
        gs.append(g)
        if k == 0:
            gammas.append(1 / np.linalg.norm(g))
        s_next = ss[k] + ds[k] * g
        gamma_next = 1 / np.sqrt(sum(gi @ gi for gi in gs))
        if option == 1:
            subtracted = sum(gammas[i] * ds[i] ** 2 * (gs[i] @ gs[i]) for i in range(k + 1))
            d_hat = (gamma_next * (s_next @ s_next) - subtracted) / (2 * np.linalg.norm(s_next))
        else:
            numerator = sum(ds[i] * gammas[i] * (gs[i] @ ss[i]) for i in range(k + 1))
            d_hat = numerator / np.linalg.norm(s_next)
        ss.append(s_next)
        gammas.append(gamma_next)
        ds.append(max(ds[k], d_hat))
        xs.append(x0 - gamma_next * s_next)
        weights = np.array(ds[: k + 1])
        out.append(
            (xs[-1], ds[-1], (weights[:, None] * np.array(xs[: k + 1])).sum(0) / weights.sum())
        )
    return out


def paper_gradient_descent(d0: float, G: float):
    """GD version: lambda_k = d_k / sqrt(G^2 + sum_{i<=k} ||g_i||^2), s_{k+1} = s_k + lambda_k g_k,
    d_hat = (||s_{k+1}||^2 - sum_{i<=k} lambda_i^2 ||g_i||^2) / (2 ||s_{k+1}||),
    x_{k+1} = x_k - lambda_k g_k; output sum_{i<=k} lambda_i x_i / sum_{i<=k} lambda_i."""
    x0, grad = _problem()
    xs, ds, gs, lams = [x0], [d0], [], []
    s = np.zeros_like(x0)
    out = []
    for k in range(STEPS):
        g = grad(xs[k], k)
        gs.append(g)
        lams.append(ds[k] / np.sqrt(G**2 + sum(gi @ gi for gi in gs)))
        s = s + lams[k] * g
        subtracted = sum(lams[i] ** 2 * (gs[i] @ gs[i]) for i in range(k + 1))
        d_hat = (s @ s - subtracted) / (2 * np.linalg.norm(s))
        ds.append(max(ds[k], d_hat))
        xs.append(xs[k] - lams[k] * g)
        weights = np.array(lams)
        out.append(
            (xs[-1], ds[-1], (weights[:, None] * np.array(xs[: k + 1])).sum(0) / weights.sum())
        )
    return out


def _torch_run(spec: str, hypers: dict):
    cls = optc.load(SPECS / f"{spec}.opt", backend="torch")
    x0, grad = _problem()
    tensors = [torch.tensor(p, requires_grad=True) for p in _split(x0)]
    opt = cls(tensors, **hypers)
    out = []
    for k in range(STEPS):
        g = grad(_flat(t.detach().numpy() for t in tensors), k)
        for t, gk in zip(tensors, _split(g), strict=True):
            t.grad = torch.tensor(gk)
        opt.step()
        x = _flat(t.detach().numpy() for t in tensors)
        opt.eval()
        point = _flat(t.detach().numpy() for t in tensors)
        opt.train()
        out.append((x, float(opt.param_groups[0]["d"]), point))
    return out


def _jax_run(spec: str, hypers: dict):
    factory = optc.load(SPECS / f"{spec}.opt", backend="jax")
    module = sys.modules[factory.__module__]
    given = {module.HYPER_NAMES[k]: v for k, v in hypers.items()}
    tx = factory(**given)
    eval_params = getattr(module, f"{factory.__name__}_eval_params")
    x0, grad = _problem()
    tree = [jnp.asarray(p) for p in _split(x0)]
    state = tx.init(tree)
    out = []
    for k in range(STEPS):
        g = grad(_flat(tree), k)
        updates, state = tx.update([jnp.asarray(gk) for gk in _split(g)], state, tree)
        tree = [p + u for p, u in zip(tree, updates, strict=True)]
        out.append((_flat(tree), float(state.d), _flat(eval_params(state, tree, **given))))
    return out


def _compare(got, want, d0):
    worst = 0.0
    for step, ((x, d, point), (x_w, d_w, point_w)) in enumerate(zip(got, want, strict=True), 1):
        for a, b, what in (
            (x, x_w, "theta"),
            (np.array([d]), np.array([d_w]), "d"),
            (point, point_w, "output point"),
        ):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step} {what}")
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))))
    assert want[-1][1] > 2 * d0, "d never grew: the estimate is not exercised"
    print(f"max relative deviation {worst:.2e}")
    return worst


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("option", [1, 2])
def test_dual_averaging_equals_the_paper_loop(backend, option):
    jax.config.update("jax_enable_x64", True)
    hypers = {"d0": 1e-3, "option": option}
    run = _torch_run if backend == "torch" else _jax_run
    _compare(run("dadaptdualaveraging", hypers), paper_dual_averaging(1e-3, option), 1e-3)


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("G", [0.0, 5.0])
def test_gradient_descent_equals_the_paper_loop(backend, G):
    jax.config.update("jax_enable_x64", True)
    hypers = {"d0": 1e-3, "G": G}
    run = _torch_run if backend == "torch" else _jax_run
    _compare(run("dadaptgd", hypers), paper_gradient_descent(1e-3, G), 1e-3)


def test_the_two_options_differ():
    """Option II's numerator is at least option I's (the paper): the runs are not the same."""
    one, two = paper_dual_averaging(1e-3, 1), paper_dual_averaging(1e-3, 2)
    assert two[-1][1] >= one[-1][1]
    assert not np.allclose(one[-1][0], two[-1][0])
