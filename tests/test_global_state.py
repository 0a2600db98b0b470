"""Global state and sums across parameters (``state d: global``, ``total(x)``): the phase split
(optc.ir.phases) against the reference interpreter and closed forms, per-tensor vs global
reductions on parameters of different shapes, checkpoints, and located errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import optc
from optc.diagnostics import SpecError
from optc.ir.phases import Level, plan
from optc.verify import verify

SHAPES = ((), (7,), (6, 3), (2, 3, 2, 2))


def spec(body: str, states: str = "") -> str:
    return (
        'optimizer G\ncite "global state test"\n'
        "hyper lr = 0.1 in (0, inf)\nhyper max_norm = 2 in (0, inf)\n"
        f"{states}\nstep\n{body}\n"
    )


CLIP_GLOBAL = spec(
    "  gnorm = sqrt(total(g^2))\n  theta <- theta - lr * g * min(1, max_norm / gnorm)"
)
CLIP_PER_TENSOR = spec("  theta <- theta - lr * g * min(1, max_norm / norm(g))")


def _grads(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def test_total_sums_over_every_parameter_of_the_group():
    params, grads = _grads(SHAPES, 1), _grads(SHAPES, 2)
    joint = np.sqrt(sum(float((g**2).sum()) for g in grads))
    cls = optc.load(CLIP_GLOBAL, backend="torch")
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.tensor(g)
    cls(tensors, lr=0.1, max_norm=2.0).step()
    for t, p, g in zip(tensors, params, grads, strict=True):
        np.testing.assert_allclose(
            t.detach().numpy(), p - 0.1 * g * min(1, 2.0 / joint), rtol=1e-13
        )
    # the same spec reducing per tensor moves them differently: the split is not per tensor
    per_tensor = [
        p - 0.1 * g * min(1, 2.0 / np.linalg.norm(g.ravel()))
        for p, g in zip(params, grads, strict=True)
    ]
    assert any(
        not np.allclose(t.detach().numpy(), q) for t, q in zip(tensors, per_tensor, strict=True)
    )


def test_jax_total_sums_over_the_whole_tree():
    jax.config.update("jax_enable_x64", True)
    params, grads = _grads(SHAPES, 1), _grads(SHAPES, 2)
    joint = np.sqrt(sum(float((g**2).sum()) for g in grads))
    factory = optc.load(CLIP_GLOBAL, backend="jax")
    tx = factory(learning_rate=0.1, max_norm=2.0)
    tree = [jnp.asarray(p) for p in params]
    updates, _ = tx.update([jnp.asarray(g) for g in grads], tx.init(tree), tree)
    new = optax.apply_updates(tree, updates)
    for x, p, g in zip(new, params, grads, strict=True):
        np.testing.assert_allclose(np.asarray(x), p - 0.1 * g * min(1, 2.0 / joint), rtol=1e-13)


@pytest.mark.parametrize("text", [CLIP_GLOBAL, CLIP_PER_TENSOR], ids=["global", "per-tensor"])
def test_backends_agree_with_the_interpreter(text):
    report = verify(
        optc.load_program(text), steps=4, shapes=SHAPES, grad_modes=("fresh", "inplace")
    )
    assert report.passed, report.failures


GLOBAL_COUNTER = spec(
    "  c <- c + total(numel)\n  s <- s + total(sum(g))\n  theta <- theta - lr * g * c / (c + s^2)",
    states="state c: global = 0\nstate s: global = 1",
)


def test_global_states_are_one_value_per_group_and_checkpointed():
    program = optc.load_program(GLOBAL_COUNTER)
    assert [s.name for s in program.globals] == ["c", "s"]
    report = verify(program, steps=5, shapes=SHAPES, grad_modes=("fresh",))
    assert report.passed, report.failures
    cls = optc.load(GLOBAL_COUNTER, backend="torch")
    tensors = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    opt = cls(tensors)
    for step in range(3):
        for t, g in zip(tensors, _grads(SHAPES, step), strict=True):
            t.grad = torch.tensor(g)
        opt.step()
    group = opt.state_dict()["param_groups"][0]
    assert float(group["c"]) == 3 * sum(int(np.prod(s)) for s in SHAPES)  # numel summed, 3 steps
    resumed = cls([t.detach().clone().requires_grad_() for t in tensors])
    resumed.load_state_dict(opt.state_dict())
    for t, r, g in zip(tensors, resumed.param_groups[0]["params"], _grads(SHAPES, 9), strict=True):
        t.grad, r.grad = torch.tensor(g), torch.tensor(g)
    opt.step()
    resumed.step()
    for t, r in zip(tensors, resumed.param_groups[0]["params"], strict=True):
        assert torch.equal(t, r)
    assert torch.equal(opt.param_groups[0]["s"], resumed.param_groups[0]["s"])


def test_phases_split_at_each_total():
    split = plan(optc.load_program(CLIP_GLOBAL))
    assert [r.index for r in split.rounds] == [1]
    assert split.level["gnorm"] is Level.GROUP and split.phase["gnorm"] == 1
    assert split.level[split.body[-1].id] is Level.PARAM
    assert plan(optc.load_program(CLIP_PER_TENSOR)) is None  # independent parameters


def _error(text: str):
    with pytest.raises(SpecError) as info:
        optc.load_program(text)
    return info.value.diagnostic


def test_a_global_state_cannot_take_a_per_parameter_value():
    err = _error(
        spec("  d <- norm(g)\n  theta <- theta - lr * d * g", states="state d: global = 0")
    )
    assert "global state `d`" in err.message and err.span.line == 7 and "total" in err.hint


def test_a_global_state_starts_from_hypers_only():
    err = _error(spec("  theta <- theta - lr * d * g", states="state d: global = norm(theta)"))
    assert "theta" in err.message and err.span.line == 5


def test_total_of_a_condition_is_a_located_error():
    err = _error(spec("  theta <- theta - lr * total(g > 0) * g"))
    assert "total" in err.message and err.span.line == 7 and err.hint


def test_dot_of_a_sum_keeps_its_parentheses():
    """dot(g, a - b) is sum(g * (a - b)): the operands are those of a product (a printer bug
    found with Prodigy, whose dot(g, theta0 - theta) was spelled sum(g * theta0 - theta))."""
    text = spec("  theta <- theta - lr * dot(g, theta - g) * g")
    theta, g = np.arange(1.0, 5.0), np.array([0.5, -1.0, 2.0, 0.25])
    cls = optc.load(text, backend="torch")
    p = torch.tensor(theta, requires_grad=True)
    p.grad = torch.tensor(g)
    cls([p]).step()
    np.testing.assert_allclose(
        p.detach().numpy(), theta - 0.1 * np.dot(g, theta - g) * g, rtol=1e-14
    )


def test_a_global_settled_in_an_early_round_is_passed_once():
    """A global state updated in round 1 with another total in round 2 (a regression: the
    update function got its value twice as a keyword and did not import)."""
    text = spec(
        "  d <- d + sqrt(total(g^2))\n  m <- m + d * g\n  b = total(m^2)\n"
        "  theta <- theta - lr * b * g",
        states="state m = 0\nstate d: global = 0",
    )
    report = verify(optc.load_program(text), steps=4, shapes=SHAPES, grad_modes=("fresh",))
    assert report.passed, (report.error, report.failures)


def test_blocks_keep_their_conditions_in_a_step_with_totals():
    """Hoisting total(...) rebuilt every statement: a block's statements lost their guards and
    ran every step in torch (a regression)."""
    text = spec(
        "  gn = sqrt(total(g^2))\n  every 3:\n    s <- s + g\n"
        "  theta <- theta - lr * g / (gn + 1) - 0.01 * s",
        states="state s = 0",
    )
    report = verify(optc.load_program(text), steps=6, shapes=SHAPES, grad_modes=("fresh",))
    assert report.passed, (report.error, report.failures)


def test_a_group_value_needing_ieee_math_imports_it():
    """A hyper's power in a group value is spelled with optc.backends.ieee; the group
    function's printer did not pass that on to the module's imports (a regression: NameError
    at the first step, found writing specs/dadaptgd.opt)."""
    text = spec(
        "  a <- a + total(g^2)\n  c <- 1 / (max_norm^2 + a + 1)\n  theta <- theta - lr * c * g",
        states="state a: global = 0\nstate c: global = 0",
    )
    report = verify(optc.load_program(text), steps=4, shapes=SHAPES, grad_modes=("fresh",))
    assert report.passed, (report.error, report.failures)
