"""The low-rank and whitening matrix optimizers of issue 9 against NumPy loops of their papers'
formulas, written here in float64 independently of optc (no optc helper computes an expected
value): Dion (Ahn et al. 2025, Algorithm 1) and the Polar Express schedule (Amsel et al. 2025,
Algorithm 1); and GaLore and Dion across the backends with truncated ranks (the library suite
runs the defaults). GaLore's library reference is tests/refcases/group_l.py."""

from __future__ import annotations

import sys

import jax
import numpy as np
import pytest

import optc.generated.jax as generated_jax
import optc.generated.torch as generated_torch
from optc.backends.hypers import resolve_hypers
from optc.pipeline import compile_file
from optc.verify import gradient_stream, initial_params, verify
from tests.conftest import SPECS
from tests.refcases.group_l import MATRICES as LIBRARY_MATRICES
from tests.refcases.group_l import _splus
from tests.test_reference_libraries import _fresh, _optax_trajectory, _torch_trajectory

jax.config.update("jax_enable_x64", True)

MATRICES = ((5, 3), (3, 5), (4, 4), (2, 3, 2))  # tall, wide, square, 3-d (a 2 x 6 view)
STEPS = 20


def _program(stem: str):
    return compile_file(SPECS / f"{stem}.opt", checks=False).program


def _generated_trajectories(stem: str, hypers: dict, shapes, grads) -> dict[str, list]:
    """θ after every step from the committed generated torch class and jax factory (float64)."""
    program = _program(stem)
    values = resolve_hypers(program, hypers)
    params = initial_params(shapes)
    tensors = _fresh(params)
    torch_run = _torch_trajectory(
        getattr(generated_torch, program.name)(tensors, **values), tensors, grads
    )
    factory = getattr(generated_jax, program.snake_name)
    keywords = sys.modules[factory.__module__].HYPER_NAMES  # optax's names: learning_rate...
    jax_run = _optax_trajectory(
        factory(**{keywords[k]: v for k, v in values.items()}), params, grads, jit=True
    )
    return {"torch": torch_run, "jax": jax_run}


def _assert_trajectories(got: dict[str, list], want: list, rtol: float, atol: float) -> float:
    """Compare every backend's θ with the expected one after every step; the largest |Δ|."""
    worst = 0.0
    for backend, run in got.items():
        for step, (got_step, want_step) in enumerate(zip(run, want, strict=True), start=1):
            for got_p, want_p in zip(got_step, want_step, strict=True):
                np.testing.assert_allclose(
                    got_p, want_p, rtol=rtol, atol=atol, err_msg=f"{backend} step {step}"
                )
                if got_p.size:
                    worst = max(worst, float(np.abs(got_p - want_p).max()))
    return worst


# -- Dion ---------------------------------------------------------------------------------------


def _dion_numpy(theta: np.ndarray, grads, lr, mu, rank, eps, weight_decay) -> list[np.ndarray]:
    """Algorithm 1 of Ahn et al. (centralized Dion, one power iteration) on the matrix view,
    rank clamped to min(rank, rows, cols) as microsoft/dion; Q_0 = the top right singular
    vectors of the first gradient (the spec's stated deterministic start, np.linalg.svd)."""
    shape = theta.shape
    x = theta.reshape(shape[0], -1).copy()
    m, n = x.shape
    r = min(rank, m, n)
    momentum = np.zeros_like(x)
    q = np.linalg.svd(grads[0].reshape(m, n))[2][:r].T
    history = []
    for g in grads:
        b = momentum + g.reshape(m, n)  # B_t = M_{t-1} + G_t
        p, _ = np.linalg.qr(b @ q)  # P_t = orthogonalize(B_t Q_{t-1})
        r_mat = b.T @ p  # R_t = B_tᵀ P_t
        momentum = b - (1 - mu) * p @ r_mat.T  # error feedback
        q = r_mat / (np.linalg.norm(r_mat, axis=0, keepdims=True) + eps)  # column-normalize
        x = x * (1 - lr * weight_decay) - lr * np.sqrt(m / n) * p @ q.T
        history.append(x.reshape(shape).copy())
    return history


@pytest.mark.parametrize("rank", [2, 8], ids=["rank2", "rank8-above-min"])
def test_dion_is_the_papers_algorithm(rank):
    hypers = {"lr": 0.02, "mu": 0.9, "rank": rank, "eps": 1e-8, "weight_decay": 0.1}
    grads = gradient_stream(MATRICES, STEPS, seed=3)
    got = _generated_trajectories("dion", hypers, MATRICES, grads)
    per_param = [
        _dion_numpy(theta, [step[i] for step in grads], **hypers)
        for i, theta in enumerate(initial_params(MATRICES))
    ]
    want = [list(step) for step in zip(*per_param, strict=True)]
    worst = _assert_trajectories(got, want, rtol=1e-10, atol=1e-12)
    print(f"Dion rank {rank}: largest |Δθ| vs the NumPy loop over {STEPS} steps {worst:.2e}")


@pytest.mark.parametrize(
    "stem, hypers",
    [
        ("dion", {"rank": 2}),
        ("galore", {"rank": 2, "update_proj_gap": 3}),
        ("galore", {"rank": 1, "update_proj_gap": 2}),
        ("splus", {"inverse_steps": 8}),
    ],
    ids=["dion-rank2", "galore-rank2-gap3", "galore-rank1-gap2", "splus-refresh-at-8"],
)
def test_truncated_ranks_agree_across_backends(stem, hypers):
    """The library suite verifies the defaults (ranks above most test shapes' min(rows, cols),
    SPlus's first refresh at t = 100); truncated ranks and refreshes within the 10 steps are
    verified here. SPlus refreshes at t = 8, when every test shape's L and R have full rank
    (the 2 x 12 view's R needs 6 gradients): eigenvectors of a repeated eigenvalue differ
    between backends, and the sign of the rotated momentum does not forgive that."""
    report = verify(_program(stem), steps=10, grad_modes=("fresh",), hypers=hypers)
    assert report.passed, report.failures


# -- Polar Express ------------------------------------------------------------------------------

# Copied from the listing of Algorithm 1 in Amsel, Persson, Musco & Gower, "The Polar Express",
# arXiv:2505.16932 (page 2), not from optc.ir.ops.NS_SCHEDULES: the degree-5 triples, then the
# paper's safety factor applied to all but the last, which repeats.
PAPER_TRIPLES = [
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
]
PAPER_TRIPLES = [(a / 1.01, b / 1.01**3, c / 1.01**5) for a, b, c in PAPER_TRIPLES[:-1]] + [
    PAPER_TRIPLES[-1]
]


def _odd_polynomial_iteration(g: np.ndarray, triples, steps: int, norm_scale: float) -> np.ndarray:
    """The paper's PolarExpress function in float64 NumPy: transpose a tall matrix, divide by
    norm * norm_scale + 1e-7, then X <- a X + (b A + c A²) X with A = X Xᵀ."""
    x = g.reshape(g.shape[0], -1)
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    x = x / (np.linalg.norm(x) * norm_scale + 1e-7)
    for k in range(steps):
        a, b, c = triples[min(k, len(triples) - 1)]
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).reshape(g.shape)


def _spectral_error(x: np.ndarray, g: np.ndarray) -> float:
    """‖x − UVᵀ‖₂ on the matrix view, UVᵀ from NumPy's SVD of g."""
    u, _, vh = np.linalg.svd(g.reshape(g.shape[0], -1), full_matrices=False)
    return float(np.linalg.norm(x.reshape(u.shape[0], -1) - u @ vh, 2))


@pytest.mark.parametrize("steps", [5, 9])
def test_polar_express_step_is_the_papers_iteration(steps):
    """With momentum 0, no Nesterov and no decay, a step moves θ by lr · scale · PolarExpress(g)."""
    shapes = ((12, 5), (5, 12), (6, 6), (3, 2, 4))
    hypers = {"lr": 1.0, "weight_decay": 0.0, "momentum": 0.0, "nesterov": False}
    hypers["ns_steps"] = steps
    grads = gradient_stream(shapes, 1, seed=11)
    got = _generated_trajectories("muonpolarexpress", hypers, shapes, grads)
    want = []
    for theta, g in zip(initial_params(shapes), grads[0], strict=True):
        scale = np.sqrt(max(1.0, theta.shape[0] / (theta.size // theta.shape[0])))
        want.append(theta - scale * _odd_polynomial_iteration(g, PAPER_TRIPLES, steps, 1.01))
    worst = _assert_trajectories(got, [want], rtol=1e-10, atol=1e-12)
    print(f"Polar Express, {steps} steps: largest |Δθ| vs the paper's loop {worst:.2e}")


def test_polar_express_is_closer_to_the_polar_factor_than_quintic_ns5():
    """After 5 steps the Polar Express schedule is nearer UVᵀ (spectral norm) than Muon's
    quintic triple (3.4445, -4.7750, 2.0315) from x / (norm(x) + 1e-7), on Gaussian matrices."""
    rng = np.random.default_rng(5)
    for shape in ((32, 8), (8, 32), (16, 16), (64, 20)):
        g = rng.standard_normal(shape)
        polar = _spectral_error(_odd_polynomial_iteration(g, PAPER_TRIPLES, 5, 1.01), g)
        quintic = _spectral_error(
            _odd_polynomial_iteration(g, [(3.4445, -4.7750, 2.0315)], 5, 1.0), g
        )
        print(f"{shape}: ‖X − UVᵀ‖₂ Polar Express {polar:.3f}, quintic NS5 {quintic:.3f}")
        assert polar < quintic


# -- SPlus ------------------------------------------------------------------------------------


def test_splus_eval_point_is_the_libraries_debiased_average():
    """eval() moves θ to theta_ema / (1 - ema_rate^t) as pytorch_optimizer.SPlus.eval() does
    (its first-step refresh patched out, its float32 eigendecomposition: float32's accuracy);
    train() restores the training weights in both."""
    program = _program("splus")
    hypers = resolve_hypers(program, {"lr": 0.1, "ema_rate": 0.9, "inverse_steps": 3})
    shapes = (*LIBRARY_MATRICES, (7,))
    params = initial_params(shapes)
    ours, theirs = _fresh(params), _fresh(params)
    ours_opt = getattr(generated_torch, program.name)(ours, **hypers)
    grads = gradient_stream(shapes, 7, seed=2)
    _torch_trajectory(ours_opt, ours, grads)
    library = _splus(theirs, hypers)
    trained = _torch_trajectory(library, theirs, grads)[-1]
    ours_opt.eval()
    library.eval()
    for mine, lib in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.detach().numpy(), lib.detach().numpy(), atol=1e-6)
    ours_opt.train()
    for mine, want in zip(ours, trained, strict=True):
        np.testing.assert_allclose(mine.detach().numpy(), want, atol=1e-6)


# -- COSMOS -----------------------------------------------------------------------------------


def _quintic_ns5(x: np.ndarray) -> np.ndarray:
    """The official code's zeropower_via_newtonschulz5 (5 steps) in float64: x / (norm + 1e-7),
    transposed while tall, X <- a X + b (X Xᵀ) X + c (X Xᵀ)(X Xᵀ) X."""
    y = x / (np.linalg.norm(x) + 1e-7)
    tall = y.shape[0] > y.shape[1]
    y = y.T if tall else y
    for _ in range(5):
        a_mat = y @ y.T
        b_mat = a_mat @ y
        y = 3.4445 * y - 4.7750 * b_mat + 2.0315 * a_mat @ b_mat
    return y.T if tall else y


def _cosmos_numpy(theta, grads, lr, beta1, beta2, eps, lr_ratio, rank, weight_decay):
    """COSMOS_optim.py's matrix branch (github.com/lliu606/COSMOS), transcribed to NumPy float64
    for rank < min(rows, cols); P from NumPy's SVD of gᵀ g (the step is sign-invariant)."""
    x = theta.reshape(theta.shape[0], -1).copy()
    rows, cols = x.shape
    m = np.zeros_like(x)
    v = np.zeros((rows, rank))
    history = []
    for step, g in enumerate(grads, start=1):
        g = g.reshape(rows, cols)
        bc1 = (1 - beta1**step) / (1 - beta1)
        bc2 = 1 - beta2**step
        m = beta1 * m + g
        if step == 1:
            p = np.linalg.svd(g.T @ g)[0][:, :rank]
            gg = (p.T @ g.T) @ (g @ p) * (1 - beta2)
        else:
            old = p.T
            p = np.linalg.qr(beta2 * p @ gg + (1 - beta2) * g.T @ (g @ p))[0]
            turn = old @ p
            gg = beta2 * turn.T @ gg @ turn + (1 - beta2) * (g @ p).T @ (g @ p)
        scale = np.sqrt(rows * cols)
        v = beta2 * v + (1 - beta2) * (g @ p) ** 2
        u = (g + beta1 * m) / (1 + beta1 * bc1)
        t = u @ p
        t1 = (t / (np.sqrt(v) / np.sqrt(bc2) + eps)) @ p.T
        o = _quintic_ns5(u - t @ p.T)
        t1 = t1 + scale * 0.2 * o / (np.linalg.norm(o) + eps)
        x = x * (1 - lr * weight_decay) - scale * lr_ratio * lr * t1 / (np.linalg.norm(t1) + eps)
        history.append(x.reshape(theta.shape).copy())
    return history


@pytest.mark.parametrize("rank", [1, 2])
def test_cosmos_is_the_official_algorithm(rank):
    hypers = {"lr": 0.01, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "lr_ratio": 0.1}
    hypers |= {"rank": rank, "weight_decay": 0.1}
    shapes = ((6, 4), (4, 6), (5, 5), (3, 2, 3))
    grads = gradient_stream(shapes, STEPS, seed=4)
    got = _generated_trajectories("cosmos", hypers, shapes, grads)
    per_param = [
        _cosmos_numpy(theta, [step[i] for step in grads], **hypers)
        for i, theta in enumerate(initial_params(shapes))
    ]
    want = [list(step) for step in zip(*per_param, strict=True)]
    worst = _assert_trajectories(got, want, rtol=1e-9, atol=1e-11)
    print(f"COSMOS rank {rank}: largest |Δθ| vs the official loop over {STEPS} steps {worst:.2e}")
