"""Axis reductions (``row_mean`` ... ``col_max``) and per-row / per-column state (``: rows``,
``: cols``): every backend against the reference interpreter on every verify shape, closed forms
from NumPy on θ's matrix view, located shape errors, the memory report, checkpoints, complex and
bf16 parameters (docs/language.md, "Axis reductions and factored state")."""

from __future__ import annotations

import io
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import optc
from optc.backends.reference.interpreter import init_state, step
from optc.check.properties import property_report
from optc.diagnostics import SpecError
from optc.ir.nodes import Shape, value_shape
from optc.ir.ops import AXIS_REDUCTIONS, shape_values
from optc.pipeline import compile_file
from optc.verify import SHAPES, verify
from tests.conftest import SPECS

jax.config.update("jax_enable_x64", True)


def spec(body: str, states: str = "") -> str:
    return (
        'optimizer AxisProbe\ncite "axis reduction test"\n'
        'hyper lr = 0.1 in (0, inf) "learning rate"\n'
        f"{states}\nstep\n{body}\n"
    )


def matrix(x: np.ndarray) -> np.ndarray:
    """θ's matrix view: rows = the first dimension, cols = the product of the others."""
    values = shape_values(x.shape)
    return np.reshape(x, (values["rows"], values["cols"]))


# The largest entry of an empty row or column is -inf (docs/language.md).
CLOSED = {
    "row_mean": lambda m: m.mean(axis=1),
    "row_sum": lambda m: m.sum(axis=1),
    "row_max": lambda m: m.max(axis=1, initial=-np.inf),
    "col_mean": lambda m: m.mean(axis=0),
    "col_sum": lambda m: m.sum(axis=0),
    "col_max": lambda m: m.max(axis=0, initial=-np.inf),
}


@pytest.mark.parametrize("op", sorted(AXIS_REDUCTIONS))
def test_each_axis_reduction_agrees_across_backends(op):
    kind = AXIS_REDUCTIONS[op]
    text = spec(
        f"  s <- {op}(g * theta + g^2)\n  theta <- theta - lr * g * s / (1 + mean(abs(s)))",
        states=f"state s: {kind} = 0",
    )
    report = verify(optc.load_program(text), steps=4, grad_modes=("fresh", "inplace"))
    assert report.passed, report.failures()


@pytest.mark.parametrize("op", sorted(AXIS_REDUCTIONS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_axis_reductions_are_the_matrix_views_rows_and_columns(op, shape):
    kind = AXIS_REDUCTIONS[op]
    program = optc.load_program(
        spec(f"  s <- {op}(g)\n  theta <- theta - lr * g", states=f"state s: {kind} = 0")
    )
    rng = np.random.default_rng(3)
    theta, g = rng.standard_normal(shape), rng.standard_normal(shape)
    _, state = step(program, theta, g, init_state(program, theta, {"lr": 0.1}), 1, {"lr": 0.1})
    got = state["s"]
    assert got.shape == value_shape(Shape.ROWS if kind == "rows" else Shape.COLS, shape)
    np.testing.assert_allclose(got.reshape(-1), CLOSED[op](matrix(g)), rtol=1e-14)
    values = shape_values(shape)
    assert got.size == values[kind]


def test_rows_times_cols_is_the_outer_product_and_mean_reduces_them():
    program = optc.load_program(
        spec(
            "  r <- row_sum(g)\n  c <- col_max(g)\n  x = r * c\n"
            "  theta <- theta - lr * (x + mean(r) + sum(c))",
            states="state r: rows = 0\nstate c: cols = 0",
        )
    )
    for shape in SHAPES:
        rng = np.random.default_rng(5)
        theta, g = rng.standard_normal(shape), rng.standard_normal(shape)
        new, _ = step(program, theta, g, init_state(program, theta, {}), 1, {"lr": 0.1})
        m = matrix(g)
        r, c = m.sum(axis=1), m.max(axis=0, initial=-np.inf)
        want = matrix(theta) - 0.1 * (np.outer(r, c) + r.mean() + c.sum())
        np.testing.assert_allclose(matrix(new), want, rtol=1e-13)
    assert verify(program, steps=3).passed


def test_a_scalar_fills_a_per_row_state_and_a_per_row_value_fills_theta():
    text = spec(
        "  r <- if t == 1 then 0 else row_max(g)\n  c <- 2\n  theta <- theta - lr * r - c",
        states="state r: rows = 1\nstate c: cols = lr",
    )
    assert verify(optc.load_program(text), steps=3).passed


def _error(text: str):
    with pytest.raises(SpecError) as info:
        optc.load_program(text)
    return info.value.diagnostic


def test_a_rows_state_given_a_theta_shaped_value_is_a_located_error():
    err = _error(spec("  r <- g^2\n  theta <- theta - lr * r", states="state r: rows = 0"))
    assert "one number per row" in err.message and "θ-shaped" in err.message
    assert err.span.line == 6 and err.span.col == 8 and "row_mean" in err.hint


def test_a_rows_state_given_a_per_column_value_is_a_located_error():
    err = _error(spec("  r <- col_mean(g)\n  theta <- theta - lr * r", states="state r: rows = 0"))
    assert "per-column" in err.message and err.span.line == 6


def test_reducing_a_per_row_value_along_rows_is_a_located_error():
    err = _error(
        spec(
            "  r <- row_mean(g)\n  s = row_sum(r)\n  theta <- theta - lr * s",
            states="state r: rows = 0",
        )
    )
    assert "already one number per row" in err.message and err.span.line == 7
    assert "mean(x)" in err.hint


def test_an_axis_reduction_of_a_scalar_or_a_mask_is_a_located_error():
    assert "a scalar" in _error(spec("  theta <- theta - lr * row_mean(lr)")).message
    assert "condition" in _error(spec("  theta <- theta - lr * col_sum(g > 0)")).message


def test_a_rows_state_cannot_start_from_theta():
    err = _error(spec("  theta <- theta - lr * r", states="state r: rows = theta"))
    assert "starts from a θ-shaped value" in err.message and "row_mean(theta)" in err.hint


def test_rows_and_cols_stay_names_in_expressions():
    program = optc.load_program(
        spec("  r <- r\n  theta <- theta - lr * g * rows / cols", states="state r: rows = rows")
    )
    assert program.states[0].shape is Shape.ROWS


def test_memory_report_counts_factored_state_as_rows_plus_cols():
    assert property_report(compile_file(SPECS / "adafactor.opt").program).memory == "rows + cols"
    assert property_report(compile_file(SPECS / "sm3.opt").program).memory == (
        "numel + rows + cols"
    )
    assert property_report(compile_file(SPECS / "nero.opt").program).memory == "rows + 1"


def test_axis_reductions_of_non_negative_values_are_proved_non_negative():
    # r, c >= 0 through row_max / col_max, so sqrt(acc + eps) is safe; Nero's neuron norms
    for name in ("sm3", "nero", "adafactor"):
        assert compile_file(SPECS / f"{name}.opt").warnings == [], name


ADAFACTOR = {"lr": 0.05, "weight_decay": 0.1}
SHAPES_2D = ((), (7,), (6, 3), (2, 3, 2, 2))


def _torch_run(cls, tensors, steps, seed=0, optimizer=None):
    optimizer = optimizer or cls(tensors, **ADAFACTOR)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in tensors:
            p.grad = torch.tensor(rng.standard_normal(p.shape), dtype=p.dtype)
        optimizer.step()
    return optimizer


def test_torch_state_shapes_and_checkpoint_round_trip():
    from optc.generated.torch import Adafactor

    params = [torch.randn(s, dtype=torch.float64) for s in SHAPES_2D]
    a = [p.clone().requires_grad_() for p in params]
    opt = _torch_run(Adafactor, a, 3)
    for p, shape in zip(a, SHAPES_2D, strict=True):
        assert opt.state[p]["r"].shape == value_shape(Shape.ROWS, shape)
        assert opt.state[p]["c"].shape == value_shape(Shape.COLS, shape)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    b = [p.detach().clone().requires_grad_() for p in a]
    resumed = Adafactor(b, **ADAFACTOR)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer))
    _torch_run(Adafactor, a, 2, seed=9, optimizer=opt)
    _torch_run(Adafactor, b, 2, seed=9, optimizer=resumed)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
        assert resumed.state[y]["r"].shape == opt.state[x]["r"].shape


def test_complex_parameters_use_the_real_views_matrix():
    from optc.generated.torch import Adafactor

    z = torch.randn(4, 3, dtype=torch.complex128, requires_grad=True)
    real = torch.view_as_real(z.detach()).clone().requires_grad_()  # (4, 3, 2): 4 x 6
    opt_z, opt_r = Adafactor([z], **ADAFACTOR), Adafactor([real], **ADAFACTOR)
    rng = np.random.default_rng(1)
    for _ in range(3):
        g = torch.tensor(rng.standard_normal((4, 3, 2)))
        z.grad, real.grad = torch.view_as_complex(g.clone()), g.clone()
        opt_z.step()
        opt_r.step()
    torch.testing.assert_close(torch.view_as_real(z.detach()), real.detach(), rtol=0, atol=0)
    assert opt_z.state[z]["r"].shape == (4, 1, 1) and not opt_z.state[z]["r"].is_complex()
    assert opt_z.state[z]["c"].shape == (1, 3, 2)


def test_bf16_parameters_keep_bf16_factored_state():
    from optc.generated.torch import Adafactor

    p = torch.randn(6, 3, dtype=torch.bfloat16, requires_grad=True)
    opt = _torch_run(Adafactor, [p], 2)
    assert opt.state[p]["r"].dtype == torch.bfloat16 and opt.state[p]["r"].shape == (6, 1)
    assert torch.isfinite(p).all()


def test_jax_state_holds_per_row_and_per_column_arrays():
    from optc.generated.jax import adafactor

    tree = {f"p{i}": jnp.ones(s) for i, s in enumerate(SHAPES_2D)}
    tx = adafactor(learning_rate=0.05)
    state = tx.init(tree)
    grads = jax.tree.map(lambda x: 0.5 * x, tree)
    _, state = jax.jit(tx.update)(grads, state, tree)
    for i, shape in enumerate(SHAPES_2D):
        assert state.r[f"p{i}"].shape == value_shape(Shape.ROWS, shape)
        assert state.c[f"p{i}"].shape == value_shape(Shape.COLS, shape)
        n = shape_values(shape)
        assert state.r[f"p{i}"].size + state.c[f"p{i}"].size == n["rows"] + n["cols"]
        # g = 0.5: every row and column mean of g^2 is 0.25 after the first step (weight 1)
        np.testing.assert_allclose(state.r[f"p{i}"], 0.25)
        assert math.isclose(float(jnp.mean(state.c[f"p{i}"])), 0.25)


def test_per_row_and_per_column_states_inside_statement_blocks():
    text = spec(
        "  if t == 1:\n    r <- row_mean(g^2)\n  else:\n    r <- 0.5 * r + 0.5 * row_mean(g^2)\n"
        "  every 2:\n    c <- col_max(abs(g))\n"
        "  if ndim > 1:\n    theta <- theta - lr * g / sqrt(r * c + 1)\n"
        "  else:\n    theta <- theta - lr * g",
        states="state r: rows = 0\nstate c: cols = 1",
    )
    assert verify(optc.load_program(text), steps=4, grad_modes=("fresh", "inplace")).passed
