"""SOAP, AdaDiag, AdaDiag++ and the AdafacDiag family (issue 9) against independent sources.

* SOAP against pytorch_optimizer.SOAP on tall and wide parameters whose gradients share one
  column (row) space, so the rank-deficient statistics' null space carries no gradient and the
  two null-space bases (LAPACK's in the library, the stated one in the spec) cannot matter; the
  power-iteration refreshes (period 3, six in 20 steps) against a NumPy loop of the reference
  implementation and against pytorch_optimizer.SOAP (as it ships: to the float32 of its QR;
  with that cast lifted: to rounding, tall and wide shapes too) and heavyball.SOAP.
* AdaDiag, AdaDiag++, AdafacDiag (with and without momentum, one- and two-sided) against NumPy
  loops of seed 004's formulas (Eqs. 6-12, Algorithm 3) with the SVD every T = 3 steps.
* AdaDiag with P = I is Adam: a numeric check against specs/adam.opt (``optc equiv`` reports the
  extra state P and cannot decide the matrix products).
* Memory: the report's formula and the bytes torch allocates against Table 3 of seed 004.
* Cross-backend agreement with the SVD inside the compared steps (T = 3), on the shapes where
  the full SVD is unique.

Signs: the moments of AdaDiag are not re-rotated when P changes, so the sign of each singular
vector reaches the step; the NumPy loops apply the stated rule (each u's largest-magnitude entry
positive, v_i with u_i's sign), written here with plain NumPy.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import optc
import optc.generated.jax as generated_jax
import optc.generated.torch as generated_torch
from optc.bench import counterparts
from optc.check.properties import property_report
from optc.pipeline import compile_file
from optc.verify import verify
from tests.conftest import SPECS

RNG_SEED = 3


def _signed(u: np.ndarray) -> np.ndarray:
    """Each column times the sign of its largest-magnitude entry (first on ties)."""
    pivots = u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])]
    return np.where(pivots < 0, -1.0, 1.0)


def _svd(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full U and V of g with the stated sign rule (for square and wide g: every u_i has a
    singular value; v_i follows u_i, the remaining columns of V their own rule)."""
    u, _, vh = np.linalg.svd(g, full_matrices=True)
    su = _signed(u)
    v = vh.T
    sv = _signed(v)
    sv[: len(su)] = su[: v.shape[1]]
    return u * su, v * sv


def _torch_run(name: str, hypers: dict, theta0: np.ndarray, grads) -> list[np.ndarray]:
    p = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    opt = getattr(generated_torch, name)([p], **hypers)
    out = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


def _stream(shape, steps, seed=RNG_SEED):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(steps)]


# -- SOAP ---------------------------------------------------------------------------------------

SOAP_HYPERS = {
    "lr": 0.01,
    "beta1": 0.9,
    "beta2": 0.99,
    "shampoo_beta": 0.9,
    "eps": 1e-6,
    "weight_decay": 0.1,
}


def _library_soap(p, h):
    """pytorch_optimizer.SOAP under the mapping of optc.bench.counterparts (the one copy)."""
    return counterparts.counterpart("soap-vs-pytorch_optimizer")[1].build([p], h)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (8, 2)], ids=str)
def test_soap_matches_pytorch_optimizer_where_the_null_space_is_empty(shape):
    rng = np.random.default_rng(RNG_SEED)
    small, large = min(shape), max(shape)
    basis = np.linalg.qr(rng.standard_normal((large, small)))[0]  # the shared column space
    theta0 = rng.standard_normal(shape)
    grads = []
    for _ in range(20):
        c = rng.standard_normal((small, small))
        grads.append(basis @ c if shape[0] > shape[1] else c @ basis.T)
    hypers = {**SOAP_HYPERS, "precondition_frequency": 100}
    got = _torch_run("SOAP", hypers, theta0, grads)
    p = torch.tensor(theta0, requires_grad=True)
    library = _library_soap(p, hypers)
    for step, g in enumerate(grads):
        p.grad = torch.tensor(g)
        library.step()
        # the null rows of the rotated gradient are rounding noise (~1e-16) over eps = 1e-6
        np.testing.assert_allclose(got[step], p.detach().numpy(), rtol=0, atol=1e-9)
    assert np.abs(got[-1] - theta0).max() > 1e-2


def _power_step(stat, q, v, axis):
    """One refresh of the reference implementation (Vyas et al.'s soap.py,
    ``get_orthogonal_matrix_qr``), in NumPy: the old basis ordered by its estimated eigenvalues
    diag(qᵀ stat q), descending (a stable argsort), v's axis permuted along, then Q of
    QR(stat q)."""
    order = np.argsort(-np.diag(q.T @ stat @ q), kind="stable")
    return np.linalg.qr(stat @ q[:, order])[0], np.take(v, order, axis=axis)


def _numpy_soap(theta, grads, h, k):
    """Vyas et al.'s SOAP in the reference implementation's order: an exact eigh at step 1, one
    power-iteration step on the steps t >= 2 with (t - 1) % k == 0."""
    rows, cols = theta.shape
    big_l, big_r = np.zeros((rows, rows)), np.zeros((cols, cols))
    ql, qr = np.eye(rows), np.eye(cols)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t, g in enumerate(grads, start=1):
        big_l = h["shampoo_beta"] * big_l + (1 - h["shampoo_beta"]) * g @ g.T
        big_r = h["shampoo_beta"] * big_r + (1 - h["shampoo_beta"]) * g.T @ g
        if t >= 2:
            s = t - 1
            m = h["beta1"] * m + (1 - h["beta1"]) * g
            v = h["beta2"] * v + (1 - h["beta2"]) * (ql.T @ g @ qr) ** 2
            n = ql @ ((ql.T @ m @ qr) / (np.sqrt(v) + h["eps"])) @ qr.T
            theta = theta - h["lr"] * np.sqrt(1 - h["beta2"] ** s) / (1 - h["beta1"] ** s) * n
            theta = theta * (1 - h["lr"] * h["weight_decay"])
        if t == 1:
            ql = np.linalg.eigh(big_l)[1][:, ::-1]
            qr = np.linalg.eigh(big_r)[1][:, ::-1]
        elif (t - 1) % k == 0:
            ql, v = _power_step(big_l, ql, v, 0)
            qr, v = _power_step(big_r, qr, v, 1)
        out.append((theta, v))
    return out


def _library_run(library, p, grads) -> list[tuple[np.ndarray, np.ndarray]]:
    """θ and exp_avg_sq after each step of pytorch_optimizer.SOAP."""
    out = []
    for g in grads:
        p.grad = torch.tensor(g)
        library.step()
        out.append((p.detach().numpy().copy(), library.state[p]["exp_avg_sq"].numpy().copy()))
    return out


def _spec_run(hypers, theta0, grads) -> list[tuple[np.ndarray, np.ndarray]]:
    """θ and v after each step of the generated torch SOAP."""
    p = torch.tensor(theta0, requires_grad=True)
    opt = generated_torch.SOAP([p], **hypers)
    out = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        out.append((p.detach().numpy().copy(), opt.state[p]["v"].numpy().copy()))
    return out


def _deviation(a, b) -> tuple[float, float]:
    """The largest |Δθ| and |Δv| over two runs."""
    return tuple(max(np.abs(x[i] - y[i]).max() for x, y in zip(a, b, strict=True)) for i in (0, 1))


@pytest.mark.parametrize("shape", [(4, 4), (5, 5), (8, 8)], ids=str)
def test_soap_power_iteration_refresh_matches_a_numpy_loop_and_pytorch_optimizer(shape):
    """Period 3 over 20 steps: the eigh at step 1 and six power-iteration refreshes (t = 4, 7,
    ..., 19). Against the NumPy loop (float64 throughout) to rounding; against
    pytorch_optimizer.SOAP to the float32 of its QR (``power_iter.to(torch.float32)``, even
    for float64 parameters). Measured: |Δθ| <= 2.7e-8, |Δv| <= 1.2e-7 (8 x 8), θ moving by
    ~0.2; 4e-16 with that cast lifted (the next test)."""
    theta0, grads = _stream(shape, 20)
    hypers = {**SOAP_HYPERS, "precondition_frequency": 3}
    got = _spec_run(hypers, theta0, grads)
    theta_dev, v_dev = _deviation(got, _numpy_soap(theta0, grads, hypers, 3))
    assert theta_dev < 1e-12 and v_dev < 1e-12
    p = torch.tensor(theta0, requires_grad=True)
    theta_dev, v_dev = _deviation(got, _library_run(_library_soap(p, hypers), p, grads))
    assert theta_dev < 1e-7 and v_dev < 5e-7
    assert np.abs(got[-1][0] - theta0).max() > 0.05


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6), (8, 2)], ids=str)
def test_soap_matches_pytorch_optimizer_over_refreshes_with_its_qr_in_float64(shape, monkeypatch):
    """With the library's float32 cast before its QR lifted (its module's ``torch.float32``
    read as float64), the spec equals pytorch_optimizer.SOAP to rounding over six refreshes,
    also on tall and wide parameters whose gradients share one column (row) space: their
    statistics stay rank-deficient, and a float32 QR leaks ~1e-7 of the gradient into the null
    rows, where it is not small against eps = 1e-6 (measured 3e-3 with the cast; 1.1e-11
    without)."""
    import pytorch_optimizer.optimizer.soap as library_module

    names = {k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")}
    monkeypatch.setattr(
        library_module, "torch", SimpleNamespace(**{**names, "float32": torch.float64})
    )
    rng = np.random.default_rng(RNG_SEED)
    small, large = min(shape), max(shape)
    basis = np.linalg.qr(rng.standard_normal((large, small)))[0]  # the shared column space
    theta0 = rng.standard_normal(shape)
    coefficients = [rng.standard_normal((small, small)) for _ in range(20)]
    grads = [basis @ c if shape[0] > shape[1] else c @ basis.T for c in coefficients]
    hypers = {**SOAP_HYPERS, "precondition_frequency": 3}
    p = torch.tensor(theta0, requires_grad=True)
    library = _library_run(_library_soap(p, hypers), p, grads)
    theta_dev, _ = _deviation(_spec_run(hypers, theta0, grads), library)
    assert theta_dev < 1e-10


@pytest.mark.parametrize("shape", [(4, 4), (5, 5)], ids=str)
def test_soap_matches_heavyball_without_weight_decay_over_refreshes(shape, monkeypatch):
    """heavyball 3.2.1's SOAP(merge_dims=False, precondition_1d=False, storage_dtype="float64")
    with weight_decay = 0 (heavyball decays before the step, the spec after it, as
    pytorch_optimizer) and a negligible eps (heavyball adds it to sqrt(v_hat), the spec to
    sqrt(v) before the bias correction): its statistics start at the first outer product and
    its shampoo_beta is debiased, which scales L and R but neither their eigenvectors nor the
    power step's Q. Its refresh is the same power-iteration step written otherwise: m kept in
    the rotated basis and re-rotated (equal to the spec's m in the original basis), the sorted
    Q's columns scattered back to the old order instead of v permuted (the same pairing of
    columns and v), and the basis lifted by max(eps, 64 n ε) max|eig| before the QR (1e-12
    relative here). Its schedule refreshes on steps t = k, 2k, ... (a cumulative probability
    of 1/k per step), one step before pytorch_optimizer and the spec (t = k + 1, ...): its
    ``precond_schedule`` is given the spec's steps here. Measured over 20 steps, period 3 (six
    refreshes): |Δθ| <= 8.1e-9, θ moving by ~0.1 (2.4e-9 before the first refresh: a residual
    not traced to one term)."""
    import heavyball

    monkeypatch.setattr(heavyball.utils, "compile_mode", None)
    theta0, grads = _stream(shape, 20)
    hypers = {**SOAP_HYPERS, "weight_decay": 0.0, "eps": 1e-12, "precondition_frequency": 3}
    got = _spec_run(hypers, theta0, grads)
    p = torch.nn.Parameter(torch.tensor(theta0))
    library = counterparts.counterpart("soap-vs-heavyball")[1].build(
        [p], hypers, storage_dtype="float64", compile_step=False, multi_tensor=False
    )
    library.precond_schedule = lambda step: float(step >= 2 and (step - 1) % 3 == 0)
    for step, g in enumerate(grads):
        p.grad = torch.tensor(g)
        library.step()
        np.testing.assert_allclose(p.detach().numpy(), got[step][0], rtol=0, atol=3e-8)


# -- AdaDiag, AdaDiag++, AdafacDiag: NumPy loops of seed 004 -------------------------------------


def _numpy_adadiag(theta, grads, h, two_sided):
    rows, cols = theta.shape
    p, q = np.eye(rows), np.eye(cols)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t, g in enumerate(grads, start=1):
        if t % h["precondition_frequency"] == 0:
            u, right = _svd(g)
            p, q = u, (right if two_sided else q)
        gt = p.T @ g @ q
        theta = theta * (1 - h["lr"] * h["weight_decay"])
        m = h["beta1"] * m + (1 - h["beta1"]) * gt
        v = h["beta2"] * v + (1 - h["beta2"]) * gt**2
        m_hat, v_hat = m / (1 - h["beta1"] ** t), v / (1 - h["beta2"] ** t)
        theta = theta - h["lr"] * p @ (m_hat / (np.sqrt(v_hat) + h["eps"])) @ q.T
        out.append(theta)
    return out


def _numpy_adafacdiag(theta, grads, h, two_sided, momentum):
    rows, cols = theta.shape
    p, q = np.eye(rows), np.eye(cols)
    r, c, big_m = np.zeros(rows), np.zeros(cols), np.zeros_like(theta)
    out = []
    for t, g in enumerate(grads, start=1):
        if t % h["precondition_frequency"] == 0:
            u, right = _svd(g)
            p, q = u, (right if two_sided else q)
        gt = p.T @ g @ q
        w = t ** h["beta2_decay"]  # 1 - hat beta2_t
        r = (1 - w) * r + w * (gt**2 + h["eps1"]).sum(axis=1)
        c = (1 - w) * c + w * (gt**2 + h["eps1"]).sum(axis=0)
        u_t = gt / np.sqrt(np.outer(r, c) / r.sum())
        u_t = u_t / max(1.0, np.sqrt(np.mean(u_t**2)) / h["d"])
        theta = theta * (1 - h["lr"] * h["weight_decay"])
        if momentum:
            big_m = h["beta1"] * big_m + (1 - h["beta1"]) * u_t
            u_t = big_m
        theta = theta - h["lr"] * p @ u_t @ q.T
        out.append(theta)
    return out


ADA = {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1}
ADAFAC = {"lr": 0.01, "beta2_decay": -0.8, "eps1": 1e-30, "d": 1.0, "weight_decay": 0.1}
# (class, two-sided, momentum, hypers); one-sided ones also run wide shapes (P is unique there)
ROTATED = {
    "AdaDiag": (False, None, ADA),
    "AdaDiagPlusPlus": (True, None, ADA),
    "AdafacDiag": (False, False, ADAFAC),
    "AdafacDiagMomentum": (False, True, {**ADAFAC, "beta1": 0.9}),
    "AdafacDiagPlusPlus": (True, False, ADAFAC),
    "AdafacDiagPlusPlusMomentum": (True, True, {**ADAFAC, "beta1": 0.9}),
}


def _shapes(name: str) -> list[tuple[int, int]]:
    two_sided = ROTATED[name][0]
    return [(4, 4), (5, 5)] if two_sided else [(4, 4), (3, 5), (2, 6)]


@pytest.mark.parametrize(
    "name, shape", [(n, s) for n in ROTATED for s in _shapes(n)], ids=lambda x: str(x)
)
def test_rotated_specs_match_numpy_loops_of_the_paper(name, shape):
    two_sided, momentum, base = ROTATED[name]
    hypers = {**base, "precondition_frequency": 3}
    theta0, grads = _stream(shape, 12)
    got = _torch_run(name, hypers, theta0, grads)
    if momentum is None:
        want = _numpy_adadiag(theta0, grads, hypers, two_sided)
    else:
        want = _numpy_adafacdiag(theta0, grads, hypers, two_sided, momentum)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # the SVD steps (3, 6, 9, 12) rotated something: identity P would be another trajectory
    assert np.abs(got[-1] - theta0).max() > 1e-2


@pytest.mark.parametrize("name", ["AdaDiag", "AdaDiagPlusPlus"])
def test_adadiag_with_p_equal_identity_is_adam(name):
    """With the SVD period beyond the run, P (and Q) stay I and the step is specs/adam.opt's,
    to rounding: products with an identity are exact, and only the order of lr * (m_hat / d)
    against Adam's (lr * m_hat) / d differs (one ulp). ``optc equiv`` cannot decide it (it
    reports the extra state P; the matrix products are opaque to it), hence the numeric check
    on random shapes and hypers."""
    rng = np.random.default_rng(11)
    for shape in [(4, 3), (3, 5), (7,), (2, 3, 2), ()]:
        hypers = {
            "lr": float(rng.uniform(1e-3, 1e-1)),
            "beta1": float(rng.uniform(0.5, 0.95)),
            "beta2": float(rng.uniform(0.9, 0.999)),
            "eps": float(10 ** rng.uniform(-8, -3)),
        }
        theta0 = rng.standard_normal(shape)
        grads = [rng.standard_normal(shape) for _ in range(30)]
        got = _torch_run(name, {**hypers, "precondition_frequency": 10**6}, theta0, grads)
        want = _torch_run("Adam", hypers, theta0, grads)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-16)


# -- memory -------------------------------------------------------------------------------------

# Table 3 of seed 004 (optimizer states, m <= n; "AdafacDiag w/o m." read as m² + m + n, errata)
# and SOAP's states (Vyas et al., Algorithm: L, R, Q_L, Q_R, M, V).
TABLE_3 = {
    "adadiag": ("2·numel; ndim >= 2: rows²", lambda m, n: m * m + 2 * m * n),
    "adadiagplusplus": ("2·numel; ndim >= 2: rows² + cols²", lambda m, n: (m + n) ** 2),
    "adafacdiag": ("rows + cols; ndim >= 2: rows²", lambda m, n: m * m + m + n),
    "adafacdiagmomentum": (
        "numel + rows + cols; ndim >= 2: rows²",
        lambda m, n: m * m + m * n + m + n,
    ),
    "adafacdiagplusplus": (
        "rows + cols; ndim >= 2: rows² + cols²",
        lambda m, n: m * m + n * n + m + n,
    ),
    "adafacdiagplusplusmomentum": (
        "numel + rows + cols; ndim >= 2: rows² + cols²",
        lambda m, n: m * m + n * n + m * n + m + n,
    ),
    "soap": (
        "2·numel; ndim >= 2: 2·rows² + 2·cols²",
        lambda m, n: 2 * m * m + 2 * n * n + 2 * m * n,
    ),
}


@pytest.mark.parametrize("spec", list(TABLE_3))
def test_memory_report_and_allocated_bytes_follow_table_3(spec):
    report, table = TABLE_3[spec]
    program = compile_file(SPECS / f"{spec}.opt", checks=False).program
    assert property_report(program, budget=5).memory == report
    cls = getattr(generated_torch, program.name)
    for m, n in [(3, 5), (4, 4), (2, 6), (1, 8)]:
        p = torch.zeros((m, n), dtype=torch.float32, requires_grad=True)
        opt = cls([p])
        p.grad = torch.ones((m, n))
        opt.step()
        allocated = sum(
            v.numel() * v.element_size()
            for k, v in opt.state[p].items()
            if k != "step" and torch.is_tensor(v)
        )
        assert allocated == table(m, n) * 4, (spec, m, n)


# -- across backends with the SVD inside the compared steps --------------------------------------


@pytest.mark.parametrize(
    "spec", ["adadiag", "adadiagplusplus", "adafacdiagplusplusmomentum", "soap"]
)
def test_rotated_specs_agree_across_backends_with_frequent_svds(spec):
    """T = 3 puts SVDs at steps 3, 6, 9 of the 10 compared (SOAP's power-iteration refreshes
    at 4, 7, 10, with sort_perm); one-sided specs also run wide shapes (all of P is unique
    there), two-sided ones square shapes only (a non-square full SVD has a null-space block no
    rule fixes). SOAP runs the wide shapes too: its statistics are full-rank from step 2 on."""
    program = compile_file(SPECS / f"{spec}.opt", checks=False).program
    shapes = ((4, 4), (5, 5), (7,)) + (((3, 5), (2, 6)) if "plusplus" not in spec else ())
    report = verify(program, steps=10, hypers={"precondition_frequency": 3}, shapes=shapes)
    assert report.passed, [(d.backend, d.dtype, d.value, d.max_abs) for d in report.failures]


def test_generated_jax_soap_matches_torch_on_a_tall_parameter():
    """The null-space rule makes SOAP's rank-deficient first statistics agree across backends."""
    import jax.numpy as jnp
    import optax

    theta0, grads = _stream((6, 3), 12)
    hypers = {**SOAP_HYPERS, "precondition_frequency": 3}
    got = _torch_run("SOAP", hypers, theta0, grads)
    tx = generated_jax.soap(**{("learning_rate" if k == "lr" else k): v for k, v in hypers.items()})
    params = jnp.asarray(theta0)
    state = tx.init(params)
    for step, g in enumerate(grads):
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(np.asarray(params), got[step], rtol=1e-9, atol=1e-12)


def test_soap_spec_file_loads_for_both_backends():
    assert optc.load(SPECS / "soap.opt", backend="torch").__name__ == "SOAP"
