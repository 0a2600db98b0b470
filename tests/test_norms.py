"""Norms as objects: dualize maps proved right symbolically, the proof able to fail, the
steepest-descent one-liners equal to the hand-written methods, the matrix norms' maps checked
numerically against NumPy, and misuse as located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import optc
from optc.check import norms
from optc.equiv.decide import equivalent
from optc.ir import build
from optc.ir.ops import MATRIX_NORM_NAMES, NORM_NAMES, VECTOR_NORM_NAMES
from optc.verify import verify

SPECS = Path(__file__).resolve().parent.parent / "specs"


def spec(body: str, name: str = "D", extra: str = "") -> str:
    return f'optimizer {name}\ncite "dualize test"\nhyper lr = 0.1 in (0, inf)\n{extra}\nstep\n{body}\n'


@pytest.mark.parametrize("scaled", [False, True], ids=["plain", "scaled"])
@pytest.mark.parametrize("norm", VECTOR_NORM_NAMES)
def test_every_dualize_map_is_proved(norm, scaled):
    proof = norms.prove_dualize(norm, scaled)
    assert proof.pairing and proof.unit, proof


def test_the_proof_fails_for_a_wrong_map(monkeypatch):
    """A map that is not the steepest-descent direction (sign(x) under l2) is caught."""
    real = build.dualize_expr
    monkeypatch.setattr(
        norms, "dualize_expr", lambda norm, x, span, scale=None: real("linf", x, span, scale)
    )
    proof = norms.prove_dualize("l2")
    assert not proof.proved


@pytest.mark.parametrize("norm", MATRIX_NORM_NAMES)
def test_every_matrix_dualize_map_is_checked_against_numpy(norm):
    """<x, dualize(x)> = ‖x‖_* and ‖dualize(x)‖ = 1, plain and scaled by 3, on tall, wide,
    square and 4-d values; the norms and duals written independently with NumPy's SVD and
    row / column norms (optc.check.norms._matrix_norms)."""
    for check in norms.check_matrix_norm(norm):
        print(f"{check.norm} {check.shape}: pairing {check.pairing:.1e}, unit {check.unit:.1e}")
        assert check.holds(), check


@pytest.mark.parametrize(("norm", "impostor"), [("row_l2", "col_l2"), ("rms_to_rms", "spectral")])
def test_the_matrix_check_fails_for_a_wrong_map(monkeypatch, norm, impostor):
    """Normalizing columns under the row norm, or dropping the sqrt(rows / cols) factor, is
    caught on the non-square shapes."""
    real = build.dualize_expr
    monkeypatch.setattr(
        norms, "dualize_expr", lambda _norm, x, span, scale=None: real(impostor, x, span, scale)
    )
    assert not all(check.holds() for check in norms.check_matrix_norm(norm))


def test_the_matrix_maps_by_hand():
    """Closed forms on a 2 x 3 matrix: rows and columns normalized, sqrt(2/3) U Vᵀ, sign."""
    import numpy as np

    from optc.backends.reference.interpreter import evaluate
    from optc.ir.nodes import REAL_TENSOR, Role, Var

    x = np.array([[3.0, 0.0, -4.0], [0.0, 0.0, 0.0]])
    g = Var("g", Role.INPUT, REAL_TENSOR)
    env = {"g": x, "rows": 2, "cols": 3}

    def run(norm):
        return evaluate(build.dualize_expr(norm, g, None), env)

    np.testing.assert_allclose(run("row_l2"), [[0.6, 0.0, -0.8], [0.0, 0.0, 0.0]], atol=1e-15)
    np.testing.assert_allclose(run("col_l2"), [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]], atol=1e-15)
    np.testing.assert_allclose(run("l1_to_linf"), np.sign(x), atol=0)
    # rank one: U Vᵀ = e1 (0.6, 0, -0.8); scaled by sqrt(rows / cols)
    want = np.sqrt(2 / 3) * np.array([[0.6, 0.0, -0.8], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(run("rms_to_rms"), want, atol=1e-15)


def test_a_norm_divided_by_a_scale_is_the_scaled_norm():
    """`dualize(g, l2 / 4)` is `dualize(g, 0.25 * l2)`: four times the unit direction."""
    divided = optc.load_program(spec("  theta <- theta - lr * dualize(g, l2 / 4)", "Divided"))
    written = optc.load_program(spec("  theta <- theta - lr * 4 * dualize(g, l2)", "Written"))
    report = verify(divided, steps=2, shapes=((6, 3),))
    assert report.passed, report.to_json()
    assert equivalent(divided, written, {}).equal is True


def test_a_number_beside_a_per_tensor_scalar_in_a_choice():
    """`if flag then norm(g) else lr` is a per-tensor scalar either way (the torch backend used
    to call a missing helper for the number's branch)."""
    text = spec(
        "  s = if flag then norm(g) else lr\n  theta <- theta - s * g",
        "Choice",
        "hyper flag = false in bool",
    )
    for flag in (False, True):
        report = verify(
            optc.load_program(text), steps=2, shapes=((), (4, 3)), hypers={"flag": flag}
        )
        assert report.passed, report.to_json()


@pytest.mark.parametrize("norm", NORM_NAMES)
def test_dualize_agrees_across_backends(norm):
    text = spec(f"  theta <- theta - lr * dualize(g, {norm}) - lr * dualize(g, 3 * {norm})")
    report = verify(optc.load_program(text), steps=3, shapes=((), (7,), (6, 3), (2, 3, 2, 2)))
    assert report.passed, report.to_json()


def test_signsgd_is_steepest_descent_under_linf():
    steepest = optc.load_program(spec("  theta <- theta - lr * dualize(g, linf)", "Steepest"))
    signsgd = optc.load_program(SPECS / "signsgd.opt")
    result = equivalent(signsgd, steepest, {"weight_decay": "0"})
    assert result.equal is True, result.to_json()


def test_normalized_sgd_is_steepest_descent_under_l2():
    written_out = optc.load_program(
        spec("  theta <- theta - lr * where(norm(g) > 0, g / norm(g), 0)", "WrittenOut")
    )
    result = equivalent(optc.load_program(SPECS / "normalizedsgd.opt"), written_out, {})
    assert result.equal is True, result.to_json()


def test_l2_and_linf_are_never_claimed_equal():
    """In the checks' one-coordinate model g/‖g‖ and sign(g) coincide, yet on vectors they
    differ: a reduction has no value there, so the symbolic verdict is never "equal"; the
    randomized array fallback then finds them different on a vector (a counterexample)."""
    a = optc.load_program(spec("  theta <- theta - lr * dualize(g, l2)", "A"))
    b = optc.load_program(spec("  theta <- theta - lr * dualize(g, linf)", "B"))
    result = equivalent(a, b, {})
    assert result.equal is False, result.to_json()
    assert result.compared["theta"].startswith("undecided")
    assert result.compared["theta on random arrays"].startswith("differs")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  theta <- theta - lr * dualize(g, l3)", "the second argument of `dualize` is a norm"),
        ("  theta <- theta - lr * dualize(g)", "`dualize` takes 2 arguments, got 1"),
        ("  theta <- theta - lr * dualize(lr, l2)", "this argument is not one"),
        ("  theta <- theta - lr * dualize(g, g * l2)", "a norm's scale must be a number"),
    ],
)
def test_misused_dualize_is_a_located_error(body, message):
    with pytest.raises(optc.SpecError) as err:
        optc.load_program(spec(body))
    assert message in str(err.value) and "^" in str(err.value)


def test_norm_names_are_reserved():
    with pytest.raises(optc.SpecError, match="is the name of a norm"):
        optc.load_program(spec("  theta <- theta - lr * g", extra="hyper l2 = 1 in (0, inf)"))
