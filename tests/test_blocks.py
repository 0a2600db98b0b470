"""Statement blocks: `if COND:` / `else:` on t, hypers and the parameter's dimensions, and
`every K:` for periodic work. Every backend against the interpreter (torch branches in Python,
jax with lax.cond under jit), closed forms, nesting, scoping and located errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optc
from optc.diagnostics import SpecError
from optc.verify import verify

SHAPES = ((), (7,), (6, 3), (2, 3, 2, 2))


def spec(body: str, states: str = "") -> str:
    return (
        'optimizer B\ncite "blocks test"\nhyper lr = 0.1 in (0, inf)\n'
        f"hyper k = 3 in int [1, inf)\n{states}\nstep\n{body}\n"
    )


PERIODIC = spec(
    "  m <- m + g\n  every k:\n    theta <- theta - lr * m\n    m <- 0 * m\n  theta <- theta - 0.01 * g",
    states="state m = 0",
)
NESTED = spec(
    "  if ndim >= 2:\n"
    "    if t > 2:\n      theta <- theta - lr * g\n    else:\n      u = 2 * g\n      theta <- theta - lr * u\n"
    "  else:\n    u = sign(g)\n    theta <- theta - lr * u\n"
    "  every k:\n    s <- s + 1\n  theta <- theta - 0.001 * s * g",
    states="state s: scalar = 0",
)


@pytest.mark.parametrize("text", [PERIODIC, NESTED], ids=["every", "nested"])
def test_backends_agree_with_the_interpreter(text):
    report = verify(
        optc.load_program(text), steps=7, shapes=SHAPES, grad_modes=("fresh", "inplace")
    )
    assert report.passed, report.failures


def test_every_k_runs_at_steps_k_2k_3k():
    """Closed form: m sums the gradients since the last sync; θ moves by lr * m at t = 3, 6."""
    cls = optc.load(PERIODIC, backend="torch")
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = cls([p], lr=0.1, k=3)
    want, m = np.zeros(2), np.zeros(2)
    for t in range(1, 8):
        g = np.array([t, -2.0 * t])
        p.grad = torch.tensor(g)
        opt.step()
        m += g
        if t % 3 == 0:
            want -= 0.1 * m
            m[:] = 0
        want -= 0.01 * g
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-14)
        np.testing.assert_allclose(opt.state[p]["m"].numpy(), m, rtol=1e-14)


def test_torch_branches_in_python_and_jax_with_lax_cond():
    program = optc.load_program(PERIODIC)
    from optc.backends.jax.codegen import generate as jax_source
    from optc.backends.torch.codegen import generate as torch_source

    assert "if t % k == 0:" in torch_source(program, "x")
    jax_code = jax_source(program, "x")
    assert "= runtime.cond(jnp.mod(t, k) == 0, _block_1_then, _block_1_else)" in jax_code
    assert "jnp.where(jnp.mod(t, k)" not in jax_code  # the branch not taken does no work


def test_jax_blocks_compile_once_under_jit():
    """A traced condition (every k on t) is a lax.cond: one trace serves every step."""
    import jax
    import jax.numpy as jnp

    factory = optc.load(PERIODIC, backend="jax")
    tx = factory(learning_rate=0.1, k=3)
    traces = []

    def update(g, state, params):
        traces.append(1)
        return tx.update(g, state, params)

    step = jax.jit(update)
    params = [jnp.ones(3)]
    state = tx.init(params)
    for t in range(1, 7):
        updates, state = step([jnp.full(3, float(t))], state, params)
        params = [p + u for p, u in zip(params, updates, strict=True)]
    assert len(traces) == 1


def _error(text: str):
    with pytest.raises(SpecError) as info:
        optc.load_program(text)
    return info.value.diagnostic


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("  every k:\n    theta <- theta - lr * g\n      m <- g", 9, "indented unlike"),
        ("  else:\n    theta <- theta - lr * g", 7, "without an `if`"),
        ("  every k:\n  theta <- theta - lr * g", 7, "without statements"),
        ("  every k:\n    theta <- theta - lr * g\n  else:\n    theta <- theta", 9, "no `else`"),
        ("  if norm(g) > 1:\n    theta <- theta - lr * g", 7, "may read t, hypers"),
        ("  if m > 0:\n    theta <- theta - lr * g", 7, "comparison of scalars"),
        ("  every g:\n    theta <- theta - lr * g", 7, "number of steps"),
        ("  if t > 1:\n    u = g\n  theta <- theta - lr * u", 9, "`u`"),
    ],
)
def test_malformed_blocks_are_located_errors(body, line, words):
    err = _error(spec(body, states="state m = 0"))
    assert words in err.message and err.span.line == line and err.hint


def test_a_local_of_a_block_ends_with_it():
    err = _error(spec("  if t > 1:\n    u = g\n  theta <- theta - lr * u"))
    assert "inside a block" in err.hint and "line 8" in err.hint


def test_totals_and_global_states_stay_outside_blocks():
    text = spec(
        "  every k:\n    d <- d + total(g^2)\n  theta <- theta - lr * d * g",
        states="state d: global = 0",
    )
    err = _error(text)
    assert "inside an `if`/`every` block" in err.message and err.span.line == 8


def test_a_block_may_read_theta_after_its_last_update():
    """jax writes θ's last update as an increment; a block reading θ after it needs θ's value
    (a regression: `new_theta` was never assigned)."""
    text = spec("  theta <- theta - lr * g\n  if t <= k:\n    a <- theta", states="state a = theta")
    report = verify(optc.load_program(text), steps=5, shapes=SHAPES, grad_modes=("fresh",))
    assert report.passed, (report.error, report.failures)
