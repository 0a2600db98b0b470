"""Matrix values (docs/language.md, "Matrix values"): symbolic dimensions and their located
errors, the matrix functions against closed forms and properties computed here with NumPy
(never with optc's own helpers), the stated sign and order rules in all three backends, empty
and non-finite inputs, the Newton-Schulz schedules, the memory report against bytes torch
allocates, and one spec using every function cross-checked torch / jax / reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import optc
from optc.backends.jax import linalg as jax_linalg
from optc.backends.reference.linalg import MATRIX_OPS
from optc.backends.torch import linalg as torch_linalg
from optc.check.properties import property_report
from optc.diagnostics import SpecError
from optc.ir.ops import NS_SCHEDULES, shape_values
from optc.verify import verify

jax.config.update("jax_enable_x64", True)

HYPERS = (
    'hyper lr = 0.1 in (0, inf) "learning rate"\n'
    'hyper eps = 1e-6 in (0, inf) "damping of the inverse roots"\n'
    'hyper rank = 2 in int [1, inf) "rank of the projector"\n'
    'hyper width = 0.5 in (0, inf) "a real hyper"\n'
    'convention eps "added to the eigenvalues"\n'
)


def spec(body: str, states: str = "") -> str:
    return f'optimizer MatrixProbe\ncite "matrix value test"\n{HYPERS}{states}\nstep\n{body}\n'


def error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        optc.load_program(text)
    return info.value


# -- located errors ---------------------------------------------------------------------------


def test_matmul_with_different_inner_dimensions_is_a_located_error():
    err = error(spec("  x = g @ L\n  theta <- theta - lr * g", "state L: rows x rows = 0"))
    assert "`@` of [rows, cols] by [rows, rows]: inner dimensions cols and rows differ" in str(err)
    assert err.diagnostic.span.line == 10 and err.diagnostic.span.col == 7
    assert "transpose(" in err.diagnostic.hint
    rendered = err.render()
    assert "^" in rendered and "x = g @ L" in rendered


def test_elementwise_mixing_of_matrix_kinds_is_a_located_error_with_a_hint():
    err = error(spec("  theta <- theta - lr * (L * g)", "state L: rows x rows = 0"))
    assert "[rows, rows] and [rows, cols] differ in their second dimension" in str(err)
    assert "diag(r) @ A" in err.diagnostic.hint
    assert err.diagnostic.span.line == 10


def test_inv_root_of_a_non_square_value_is_a_located_error():
    err = error(spec("  theta <- theta - lr * inv_root(g, 4, eps)"))
    assert "takes a square matrix; this argument is [rows, cols]" in str(err)
    assert "G @ transpose(G)" in err.diagnostic.hint
    assert (err.diagnostic.span.line, err.diagnostic.span.col) == (
        10,
        25,
    )  # the call (g, a name, has no span of its own)


@pytest.mark.parametrize("k", ["width", "3", "t", "norm(g)"])
def test_svd_rank_must_be_an_int_hyper(k):
    err = error(
        spec(f"  P <- svd_u(g, {k})\n  theta <- theta - lr * g", "state P: rows x rank = 0")
    )
    assert "a dimension is `rows`, `cols` or an int hyper" in str(err)
    assert err.diagnostic.span.line == 10


def test_matrix_state_shape_errors_are_located():
    err = error(spec("  theta <- theta - lr * g", "state L: rows x ranks = 0"))
    assert "the dimension `ranks` is not rows, cols, 1 or an int hyper" in str(err)
    assert "rank" in err.diagnostic.hint and err.diagnostic.span.line == 8
    err = error(spec("  theta <- theta - lr * g", "state L: rows x rows = eye(cols)"))
    assert "state `L` is [rows, rows], but starts from a [cols, cols] value" in str(err)
    err = error(
        spec("  L <- transpose(g) @ g\n  theta <- theta - lr * g", "state L: rows x rows = 0")
    )
    assert "state `L` is [rows, rows], but is assigned a [cols, cols] value" in str(err)
    err = error(spec("  L <- 0\n  theta <- theta - lr * g", "state L: rows x rows = 0"))
    assert "`0 * L`" in err.diagnostic.hint
    err = error(spec("  theta <- g @ transpose(g)"))
    assert "θ is [rows, cols], but is assigned a [rows, rows] value" in str(err)


def test_a_matrix_initial_value_needs_declared_dimensions():
    err = error(spec("  theta <- theta - lr * g", "state L = eye(rows)"))
    assert "declare its dimensions" in err.diagnostic.hint and "rows x rows" in err.diagnostic.hint


def test_x_stays_a_name_and_rows_cols_stay_dimensions():
    program = optc.load_program(
        spec("  x = g * 2\n  theta <- theta - lr * x * rows / max(cols, 1)")
    )
    assert program.outputs["theta"]


# -- the functions against NumPy closed forms ---------------------------------------------------

BACKENDS = {
    "reference": lambda name, *args: MATRIX_OPS[name](*args),
    "torch": lambda name, x, *rest: getattr(torch_linalg, name)(torch.tensor(x), *rest).numpy(),
    "jax": lambda name, x, *rest: np.asarray(getattr(jax_linalg, name)(jnp.asarray(x), *rest)),
}
RNG = np.random.default_rng(7)


def symmetric(n: int) -> np.ndarray:
    a = RNG.standard_normal((n, n))
    return a + a.T


def largest_entry_positive(v: np.ndarray) -> bool:
    """The stated sign rule, checked column by column with plain Python."""
    for j in range(v.shape[1]):
        column = list(v[:, j])
        magnitudes = [abs(x) for x in column]
        if column and column[magnitudes.index(max(magnitudes))] < 0:
            return False
    return True


@pytest.mark.parametrize("backend", BACKENDS)
def test_eigh_is_descending_signed_and_reconstructs(backend):
    a = symmetric(5)
    vecs, vals = BACKENDS[backend]("eigvecs", a), BACKENDS[backend]("eigvals", a)
    assert vals.shape == (5, 1) and vecs.shape == (5, 5)
    want = np.sort(np.linalg.eigvalsh(a))[::-1]  # NumPy's eigenvalues, sorted here
    np.testing.assert_allclose(vals[:, 0], want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a @ vecs, vecs * vals[:, 0], atol=1e-11)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(5), atol=1e-12)
    assert largest_entry_positive(vecs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inv_root_is_the_damped_inverse_root(backend):
    b = RNG.standard_normal((4, 6))
    a, eps = b @ b.T, 1e-3
    root = BACKENDS[backend]("inv_root", a, 4, eps)
    # (A + eps I)^(-1/4) raised to the 4th power times (A + eps I) is I (A is PSD: no clipping)
    np.testing.assert_allclose(
        np.linalg.matrix_power(root, 4) @ (a + eps * np.eye(4)), np.eye(4), atol=1e-9
    )
    np.testing.assert_allclose(root, root.T, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (4, 4), (7, 1), (1, 1)], ids=str)
def test_svd_k_vectors_values_and_signs(backend, shape):
    x = RNG.standard_normal(shape)
    k = min(shape)
    u = BACKENDS[backend]("svd_u_k", x, k)
    v = BACKENDS[backend]("svd_v_k", x, k)
    s = BACKENDS[backend]("svd_s_k", x, k)
    assert u.shape == (shape[0], k) and v.shape == (shape[1], k) and s.shape == (k, 1)
    np.testing.assert_allclose(s[:, 0], np.linalg.svd(x, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose((u * s[:, 0]) @ v.T, x, atol=1e-12)  # U S Vᵀ = x: v follows u
    np.testing.assert_allclose(u.T @ u, np.eye(k), atol=1e-12)
    assert largest_entry_positive(u)


@pytest.mark.parametrize("backend", BACKENDS)
def test_svd_k_beyond_the_rank_pads_zero_columns(backend):
    x = RNG.standard_normal((5, 2))
    u = BACKENDS[backend]("svd_u_k", x, 4)
    assert u.shape == (5, 4)
    np.testing.assert_allclose(u[:, :2].T @ u[:, :2], np.eye(2), atol=1e-12)
    np.testing.assert_array_equal(u[:, 2:], 0)  # not the full SVD's arbitrary null space
    np.testing.assert_array_equal(BACKENDS[backend]("svd_v_k", x.T, 4)[:, 2:], 0)  # wide x
    s = BACKENDS[backend]("svd_s_k", x, 4)
    np.testing.assert_array_equal(s[2:], 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(6, 3), (4, 4), (3, 6)], ids=str)
def test_qr_has_a_nonnegative_diagonal_of_r(backend, shape):
    a = RNG.standard_normal(shape)
    q = BACKENDS[backend]("qr", a)
    assert q.shape == shape
    n = min(shape)
    r = q[:, :n].T @ a  # R = Qᵀ A
    np.testing.assert_allclose(np.tril(r[:, :n], -1), 0, atol=1e-12)
    assert np.all(np.diag(r) >= 0)
    np.testing.assert_allclose(q[:, :n] @ r, a, atol=1e-12)
    np.testing.assert_array_equal(q[:, n:], 0)  # a wide A's extra columns


@pytest.mark.parametrize("backend", BACKENDS)
def test_diag_and_trace(backend):
    a = RNG.standard_normal((3, 3))
    np.testing.assert_array_equal(BACKENDS[backend]("diag", a)[:, 0], np.diag(a))
    np.testing.assert_array_equal(BACKENDS[backend]("diag", a[:, :1]), np.diag(a[:, 0]))
    np.testing.assert_array_equal(BACKENDS[backend]("diag", a[:1, :]), np.diag(a[0]))
    assert float(BACKENDS[backend]("trace", a)) == pytest.approx(np.trace(a), rel=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_non_finite_inputs(backend):
    run = BACKENDS[backend]
    assert run("eigvecs", np.zeros((0, 0))).shape == (0, 0)
    assert run("inv_root", np.zeros((0, 0)), 4, 1e-6).shape == (0, 0)
    assert run("svd_u_k", np.zeros((0, 3)), 2).shape == (0, 2)
    assert run("svd_v_k", np.zeros((0, 3)), 2).shape == (3, 2)
    assert run("qr", np.zeros((0, 3))).shape == (0, 3)
    bad = symmetric(3)
    bad[1, 2] = np.nan
    assert np.isnan(run("inv_root", bad, 4, 1e-6)).all()
    assert np.isnan(run("eigvecs", bad)).all()
    bad[1, 2] = np.inf
    assert np.isnan(run("svd_u_k", bad, 2)).all()


def test_decompositions_of_bf16_values_run_in_float32_and_cast_back():
    b = RNG.standard_normal((4, 8))
    a = torch.tensor(b @ b.T + np.eye(4), dtype=torch.bfloat16)
    root = torch_linalg.inv_root(a, 2, 0.0)
    assert root.dtype == torch.bfloat16
    exact = a.double().numpy()  # the bf16 values, exactly: A^(-1/2) A^(-1/2) A = I
    product = root.double().numpy() @ root.double().numpy() @ exact
    np.testing.assert_allclose(product, np.eye(4), atol=3e-2)  # bf16 output rounding only


def test_polar_express_table_is_the_papers_with_its_safety_factor():
    raw_first = (8.28721201814563, -23.595886519098837, 17.300387312530933)
    a, b, c = NS_SCHEDULES["polar_express"][0]
    assert (a, b, c) == pytest.approx(
        (raw_first[0] / 1.01, raw_first[1] / 1.01**3, raw_first[2] / 1.01**5), rel=1e-15
    )
    assert NS_SCHEDULES["polar_express"][-1] == (1.875, -1.25, 0.375)
    assert len(NS_SCHEDULES["polar_express"]) == 8


@pytest.mark.parametrize("schedule, steps, tol", [("polar_express", 8, 2e-3), ("cubic", 40, 1e-6)])
def test_newton_schulz_schedules_converge_to_the_polar_factor(schedule, steps, tol):
    x = RNG.standard_normal((12, 5))
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    scaled = x / (np.linalg.norm(x) * 1.01)
    program = optc.load_program(spec(f"  theta <- newton_schulz(g, {steps}, {schedule})"))
    from optc.backends.reference.interpreter import init_state, step

    hypers = {"lr": 0.1, "eps": 1e-6, "rank": 2, "width": 0.5}
    got, _ = step(program, np.zeros_like(x), scaled, init_state(program, x, hypers), 1, hypers)
    assert np.abs(got - u @ vh).max() < tol
    torch_got = getattr(torch_linalg, f"ns_{schedule}")(torch.tensor(scaled), steps).numpy()
    jax_got = np.asarray(getattr(jax_linalg, f"ns_{schedule}")(jnp.asarray(scaled), steps))
    np.testing.assert_allclose(torch_got, got, atol=1e-12)
    np.testing.assert_allclose(jax_got, got, atol=1e-12)


# -- memory -----------------------------------------------------------------------------------

MEMORY_SPEC = spec(
    "  L <- L + g @ transpose(g)\n  R <- R + transpose(g) @ g\n  P <- svd_u(g, rank)\n"
    "  s <- svd_s(g, rank)\n"
    "  theta <- theta - lr * (inv_root(L, 4, eps) @ g @ inv_root(R, 4, eps) + P @ (transpose(P) @ g))",
    "state L: rows x rows = 0\nstate R: cols x cols = eye(cols)\nstate P: rows x rank = 0\n"
    "state s: rank x 1 = 0\nstate m = 0",
)


def test_memory_report_gives_matrix_states_as_symbols():
    report = property_report(optc.load_program(MEMORY_SPEC), budget=5)
    assert report.memory == "numel + rows² + cols² + rows·rank + rank"


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (4, 4), (7,), (2, 3, 2), ()], ids=str)
def test_torch_state_bytes_equal_the_memory_formula(shape):
    cls = optc.load(MEMORY_SPEC, backend="torch")
    p = torch.zeros(shape, dtype=torch.float32, requires_grad=True)
    opt = cls([p], rank=2)
    p.grad = torch.ones(shape)
    opt.step()
    n = shape_values(shape)
    rows, cols, rank = n["rows"], n["cols"], 2
    formula = n["numel"] + rows**2 + cols**2 + rows * rank + rank  # the report's symbols
    allocated = sum(
        v.numel() * v.element_size()
        for k, v in opt.state[p].items()
        if k != "step" and torch.is_tensor(v)
    )
    assert allocated == formula * 4


# -- every function in a spec, three backends --------------------------------------------------


def test_a_spec_using_the_matrix_functions_agrees_across_backends():
    text = spec(
        "  L <- 0.9 * L + g @ transpose(g)\n"
        "  Q <- eigvecs(L + diag(row_sum(g)))\n"
        "  P <- qr(svd_v(g, rank)) / sqrt(col_sum(svd_v(g, rank)^2) + 1)\n"
        "  w = eigvals(L)\n"
        "  a = diag(L) + w + diag(Q)\n"
        "  o = newton_schulz(g / (norm(g) * 1.01 + 1e-7), 5, polar_express)\n"
        "  d = g @ newton_schulz(P, 3, cubic) @ transpose(P)\n"
        "  e = diag(w) @ g + trace(Q) * g\n"
        "  theta <- theta - lr * (a * g + o + d + e + inv_root(L, 4, eps) @ g)",
        "state L: rows x rows = eye(rows)\nstate Q: rows x rows = 0\nstate P: cols x rank = 0",
    )
    report = verify(optc.load_program(text), steps=3, grad_modes=("fresh",))
    assert report.passed, report.failures


# -- null spaces of rank-deficient Gram matrices ------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(6, 3), (12, 2), (5, 1)], ids=str)
def test_eigvecs_of_a_rank_deficient_gram_fix_the_null_space_basis(backend, shape):
    """The null-space columns are the eigenvectors of diag(1..n) compressed to the null space
    (docs/language.md, "Matrix values"), built here independently: N from NumPy's SVD, then
    eigh(Nᵀ D N), sorted descending, with the largest entry of each column positive."""
    g = RNG.standard_normal(shape)
    gram = g @ g.T
    n, r = shape[0], shape[1]
    null = np.linalg.svd(g)[0][:, r:]  # an orthonormal basis of the null space of g gᵀ
    values, vectors = np.linalg.eigh(null.T @ np.diag(np.arange(1.0, n + 1)) @ null)
    want = (null @ vectors)[:, np.argsort(-values)]
    want = want * np.array([np.sign(c[np.argmax(np.abs(c))]) for c in want.T])
    got = BACKENDS[backend]("eigvecs", gram)
    np.testing.assert_allclose(got[:, r:], want, atol=1e-10)
    np.testing.assert_allclose(got.T @ got, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(
        gram @ got[:, :r], got[:, :r] * np.linalg.eigvalsh(gram)[::-1][:r], atol=1e-10
    )


# -- sort_perm: the permutation sorting a column descending -------------------------------------


def numpy_sort_perm(d: np.ndarray) -> np.ndarray:
    """The stated rule built independently: NumPy's stable argsort of the negated keys, with NaN
    mapped above +inf (a key below -inf after negation), as columns of the identity."""
    keys = -d[:, 0]
    order = np.lexsort(
        (np.arange(len(keys)), np.where(np.isnan(keys), -np.inf, keys), ~np.isnan(keys))
    )
    return np.eye(len(keys))[:, order]


SORT_KEYS = {
    "random": RNG.standard_normal((7, 1)),
    "ties": np.array([[1.0], [3.0], [1.0], [3.0], [-2.0], [3.0]]),
    "non-finite": np.array([[0.5], [np.nan], [np.inf], [-np.inf], [np.nan], [np.inf], [2.0]]),
    "one": np.array([[4.0]]),
}


@pytest.mark.parametrize("keys", SORT_KEYS, ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sort_perm_is_the_stable_descending_argsort_with_nan_largest(backend, keys):
    d = SORT_KEYS[keys]
    p = BACKENDS[backend]("sort_perm", d)
    assert p.dtype == d.dtype
    np.testing.assert_array_equal(p, numpy_sort_perm(d))


def test_sort_perm_independent_builder_matches_argsort_on_distinct_finite_keys():
    """The NumPy builder above is the library's argsort where no rule is needed."""
    d = RNG.standard_normal((9, 1))
    np.testing.assert_array_equal(numpy_sort_perm(d), np.eye(9)[:, np.argsort(-d[:, 0])])


@pytest.mark.parametrize(
    ("keys", "order"), [("ties", [1, 3, 5, 0, 2, 4]), ("non-finite", [1, 4, 2, 5, 6, 0, 3])]
)
def test_sort_perm_independent_builder_states_the_tie_and_nan_rule(keys, order):
    """Worked by hand: equal keys keep their order; NaN above +inf, NaNs in their order."""
    np.testing.assert_array_equal(np.argmax(numpy_sort_perm(SORT_KEYS[keys]), axis=0), order)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sort_perm_of_an_empty_column_and_of_bf16_keys(backend):
    assert BACKENDS[backend]("sort_perm", np.zeros((0, 1))).shape == (0, 0)
    keys = torch.tensor([[1.0], [3.0], [1.0], [2.0]], dtype=torch.bfloat16)
    p = torch_linalg.sort_perm(keys)
    assert p.dtype == torch.bfloat16
    np.testing.assert_array_equal(p.double().numpy(), numpy_sort_perm(keys.double().numpy()))


@pytest.mark.parametrize(
    ("argument", "shown", "col"),
    [("L", "[rows, rows]", 8), ("g", "[rows, cols]", 8), ("col_sum(g)", "[1, cols]", 18)],
)
def test_sort_perm_of_a_non_column_is_a_located_error(argument, shown, col):
    """At the argument where it has a span of its own, else at the call (a name has none)."""
    states = "state L: rows x rows = 0\nstate P: rows x rows = 0"
    err = error(spec(f"  P <- sort_perm({argument})\n  theta <- theta - lr * g", states))
    assert f"`sort_perm(d)` takes a column [n, 1]; this argument is {shown}" in str(err)
    assert "diag(transpose(Q) @ L @ Q)" in err.diagnostic.hint
    assert (err.diagnostic.span.line, err.diagnostic.span.col) == (11, col)
    assert "^" in err.render()


def test_a_spec_reordering_by_sort_perm_agrees_across_backends():
    text = spec(
        "  L <- 0.9 * L + g @ transpose(g)\n"
        "  P = sort_perm(diag(L))\n"
        "  PC = sort_perm(transpose(col_sum(g)))\n"
        "  Q <- qr(L @ Q @ P)\n"
        "  theta <- theta - lr * (transpose(P) @ g @ PC + Q @ g)",
        "state L: rows x rows = eye(rows)\nstate Q: rows x rows = eye(rows)",
    )
    report = verify(optc.load_program(text), steps=3, grad_modes=("fresh",))
    assert report.passed, report.failures
