"""Per-tensor reductions (norm, rms, mean, sum, max, min, dot, count) and the parameter's
dimensions (numel, ndim, rows, cols): every backend against the reference interpreter on 0-d to
4-d parameters, closed forms from independent arithmetic, the checks, and located errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import optc
from optc.ir.ops import shape_values
from optc.render.latex import latex_aligned
from optc.verify import verify

SPECS = Path(__file__).resolve().parent.parent / "specs"
SHAPES = ((), (7,), (6, 3), (3, 6), (2, 3, 2, 2))


def spec(body: str, states: str = "", extra: str = "") -> str:
    return (
        f'optimizer R\ncite "reductions test"\nconvention eps "added"\n'
        f"hyper lr = 0.1 in (0, inf)\nhyper eps = 1e-3 in (0, inf)\n{extra}\n{states}\nstep\n{body}\n"
    )


REDUCED = {
    "norm": "norm(g)",
    "norm1": "norm(g, 1)",
    "norm2": "norm(g, 2)",
    "norminf": "norm(g, inf)",
    "rms": "rms(g)",
    "mean": "mean(g)",
    "sum": "sum(g)",
    "max": "max(g)",
    "min": "min(g)",
    "dot": "dot(g, theta)",
    "count": "count(g > 0)",
    "dims": "(rows * cols + numel) / (1 + ndim)",
}


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_backends_agree_with_the_reference_on_every_shape(name):
    """The reduction feeds both a scalar state and θ, on 0-d, 1-d, 2-d and 4-d parameters."""
    text = spec(
        f"  s <- 0.5 * s + {REDUCED[name]}\n  theta <- theta - lr * g / (abs(s) + 1)",
        states="state s : scalar = 0",
    )
    report = verify(optc.load_program(text), steps=4, shapes=SHAPES)
    assert report.passed, report.to_json()


@pytest.mark.parametrize(
    ("expression", "numpy"),
    [
        ("norm(g)", lambda g, th: np.linalg.norm(g.ravel())),
        ("norm(g, 1)", lambda g, th: np.abs(g).sum()),
        ("norm(g, inf)", lambda g, th: np.abs(g).max()),
        ("rms(g)", lambda g, th: math.sqrt((g**2).mean())),
        ("mean(g)", lambda g, th: g.mean()),
        ("sum(g)", lambda g, th: g.sum()),
        ("max(g)", lambda g, th: g.max()),
        ("min(g)", lambda g, th: g.min()),
        ("dot(g, theta)", lambda g, th: float(g.ravel() @ th.ravel())),
        ("count(g > 0)", lambda g, th: float((g > 0).sum())),
    ],
)
def test_torch_reduction_equals_numpy(expression, numpy):
    """Independent arithmetic: NumPy's own norm/mean/... on the same gradient."""
    text = spec(f"  s <- {expression}\n  theta <- theta - lr * g", states="state s : scalar = 0")
    cls = optc.load(text, backend="torch")
    rng = np.random.default_rng(0)
    theta0, g = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    p = torch.nn.Parameter(torch.tensor(theta0))
    opt = cls([p])
    p.grad = torch.tensor(g)
    opt.step()
    assert opt.state[p]["s"].item() == pytest.approx(numpy(g, theta0), rel=1e-12)


@pytest.mark.parametrize("shape", [(), (5,), (4, 3), (2, 3, 4), (0, 3)])
def test_dimensions_follow_the_stated_rule(shape):
    assert shape_values(shape) == {
        "numel": int(np.prod(shape)),
        "ndim": len(shape),
        "rows": shape[0] if shape else 1,
        "cols": int(np.prod(shape[1:])),
    }
    text = spec(
        "  a <- numel\n  b <- ndim\n  c <- rows\n  d <- cols\n  theta <- theta - lr * g",
        states="state a : scalar = 0\nstate b : scalar = 0\nstate c : scalar = 0\nstate d : scalar = 0",
    )
    cls = optc.load(text, backend="torch")
    p = torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64))
    opt = cls([p])
    p.grad = torch.ones_like(p)
    opt.step()
    got = {
        k: opt.state[p][s].item()
        for k, s in zip(("numel", "ndim", "rows", "cols"), "abcd", strict=True)
    }
    assert got == shape_values(shape)


def test_normalized_sgd_moves_each_tensor_by_exactly_lr():
    """Closed form: Δθ = -lr g/‖g‖, so ‖Δθ‖ = lr per tensor; a zero gradient does not move."""
    cls = optc.load(SPECS / "normalizedsgd.opt", backend="torch")
    rng = np.random.default_rng(1)
    params = [torch.nn.Parameter(torch.tensor(rng.standard_normal(s))) for s in ((3, 4), (5,))]
    zero = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = cls([*params, zero], lr=0.25)
    before = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.tensor(rng.standard_normal(tuple(p.shape)) * 1e3)
    zero.grad = torch.zeros(3, dtype=torch.float64)
    opt.step()
    for p, b in zip(params, before, strict=True):
        assert torch.linalg.vector_norm(p.detach() - b).item() == pytest.approx(0.25, rel=1e-12)
    assert torch.equal(zero.detach(), torch.ones(3, dtype=torch.float64))


def test_adagrad_norm_matches_its_closed_form_on_a_constant_gradient():
    """r_k = k‖g‖², θ_k = θ_0 - lr g Σ_j 1/sqrt(j‖g‖² + eps)."""
    cls = optc.load(SPECS / "adagradnorm.opt", backend="torch")
    g = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)
    p = torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.float64))
    opt = cls([p], lr=0.1, eps=1e-3)
    sq = float((g**2).sum())
    for _ in range(5):
        p.grad = g.clone()
        opt.step()
    expected = -0.1 * g * sum(1 / math.sqrt(j * sq + 1e-3) for j in range(1, 6))
    torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=0)
    assert opt.state[p]["r"].item() == pytest.approx(5 * sq, rel=1e-12)


def test_unguarded_division_by_a_norm_is_a_warning_and_a_guarded_one_is_proved_safe():
    with pytest.warns(optc.OptcWarning, match=r"division by `norm\(g\)` may fail: norm\(g\) = 0"):
        optc.load(spec("  theta <- theta - lr * g / norm(g)"), backend="torch")
    for safe in (
        "g / (norm(g) + eps)",
        "where(norm(g) > 0, g / norm(g), 0)",
        "g / sqrt(rms(g)^2 + eps)",
    ):
        compiled = optc.pipeline.compile_text(spec(f"  theta <- theta - lr * {safe}"))
        assert not compiled.warnings, (safe, compiled.warnings)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  theta <- theta - lr * norm(lr) * g",
            "reduces a θ-shaped value, but this argument is a scalar",
        ),
        ("  theta <- theta - lr * norm(g, 3) * g", "an optional order 1, 2 or inf"),
        ("  theta <- theta - lr * count(g) * g", "`count(mask)` needs a condition (a mask) here"),
        ("  theta <- theta - lr * dot(g) * g", "`dot` takes 2 arguments, got 1"),
        ("  theta <- theta - lr * sum(g > 0) * g", "`sum(x)` needs a number here"),
    ],
)
def test_misused_reductions_are_located_errors(body, message):
    with pytest.raises(optc.SpecError) as err:
        optc.load_program(spec(body))
    text = str(err.value)
    assert message in text and "<spec>:" in text and "^" in text


def test_reductions_and_dimensions_cannot_be_redeclared():
    for line in ("hyper rows = 1 in (0, inf)", "state sum = 0", "hyper norm = 1 in (0, inf)"):
        with pytest.raises(optc.SpecError, match=r"built in|name of a function"):
            optc.load_program(spec("  theta <- theta - lr * g", extra=line))


def test_latex_of_reductions():
    program = optc.load_program(
        spec("  theta <- theta - lr * g / (norm(g) + norm(g, inf) + dot(g, theta) + rms(g) + eps)")
    )
    text = latex_aligned(program)
    for piece in (
        r"\left\lVert g \right\rVert_{2}",
        r"\left\lVert g \right\rVert_{\infty}",
        r"\left\langle g, \theta \right\rangle",
        r"\operatorname{rms}\left(g\right)",
    ):
        assert piece in text
