"""Learning-rate schedules of specs/prelude.opt (catalogue #113: warmup, linear, cosine, WSD,
WSD-S) against optax.schedules and torch.optim.lr_scheduler, and their composition with both.

Each schedule is compiled inside a probe spec (``theta <- theta - SCHEDULE(t - 1, ...) * g``)
and read back from the reference interpreter, the torch backend and the jax backend, all in
float64, over whole runs: t = 1, the end of the warmup, the start of the decay, the last step of
the schedule and beyond it. The expected values come from optax's schedules evaluated at the
count n = t - 1 (optax counts the updates already done) and from the lr a torch LR scheduler
gives step t when stepped after ``optimizer.step()`` (its ``last_epoch`` is t - 1 then), or from
closed forms written here; never from optc.
"""

from __future__ import annotations

import math
import warnings

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch.optim import lr_scheduler

import optc
from optc.backends.reference.interpreter import ReferenceOptimizer
from optc.generated.jax import adamwcosine, sgdwsd, sgdwsds
from optc.generated.torch import SGDWSD, SGDWSDS, AdamWCosine
from optc.pipeline import compile_text
from optc.verify import verify

STEPS = 24  # every probe runs t = 1 .. STEPS, past the end of every schedule below
TOL = 1e-12  # float64


def probe(expr: str) -> str:
    return f'optimizer Probe\ncite "schedule probe"\nstep\n  theta <- theta - ({expr}) * g\n'


def reference_factors(expr: str, steps: int = STEPS) -> np.ndarray:
    """The schedule at t = 1 .. steps by the float64 reference interpreter (θ reset to 0, g = 1)."""
    ref = ReferenceOptimizer(compile_text(probe(expr)).program, [np.zeros(())])
    out = []
    for _ in range(steps):
        ref.params = [np.zeros(())]
        ref.step([np.ones(())])
        out.append(-float(ref.params[0]))
    return np.array(out)


def torch_factors(expr: str, steps: int = STEPS) -> np.ndarray:
    """The schedule at t = 1 .. steps by the generated torch optimizer (θ reset to 0, g = 1)."""
    cls = optc.load(probe(expr), backend="torch")
    p = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = cls([p])
    out = []
    for _ in range(steps):
        with torch.no_grad():
            p.zero_()
        p.grad = torch.ones_like(p)
        opt.step()
        out.append(-p.item())
    return np.array(out)


def jax_factors(expr: str, steps: int = STEPS) -> np.ndarray:
    """The schedule at t = 1 .. steps by the generated jax transformation (g = 1)."""
    tx = optc.load(probe(expr), backend="jax")()
    params = jnp.zeros((), dtype=jnp.float64)
    state = tx.init(params)
    out = []
    for _ in range(steps):
        updates, state = tx.update(jnp.ones((), dtype=jnp.float64), state, params)
        out.append(-float(updates))
    return np.array(out)


def optax_values(schedule, steps: int = STEPS, count=int) -> np.ndarray:
    """optax's value for step t = 1 .. steps: the schedule at its count n = t - 1 (a Python int,
    or ``count=jnp.int32`` for the value optax's own transformations see: their count is int32,
    which makes linear_schedule's count / transition_steps a float32)."""
    return np.array([float(schedule(count(n))) for n in range(steps)])


def torch_lrs(make_scheduler, steps: int = STEPS, base_lr: float = 1.0) -> np.ndarray:
    """The lr torch.optim gives step t = 1 .. steps under a scheduler stepped after each
    ``optimizer.step()`` (the documented loop)."""
    p = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's deprecation chatter about epoch=
        scheduler = make_scheduler(opt)
        out = []
        for _ in range(steps):
            out.append(opt.param_groups[0]["lr"])
            p.grad = torch.zeros_like(p)
            opt.step()
            scheduler.step()
    return np.array(out)


def lambda_lr(f):
    """A LambdaLR of ``f`` (an optax schedule or any callable of the count), as Python floats."""
    return lambda opt: lr_scheduler.LambdaLR(opt, lambda n: float(f(n)))


def wsd_optax(warmup: int, decay: int, total: int, cooldown) -> optax.Schedule:
    """WSD from optax pieces: linear warmup from 0, constant 1, then ``cooldown`` from 1."""
    return optax.join_schedules(
        [optax.linear_schedule(0.0, 1.0, warmup), optax.constant_schedule(1.0), cooldown],
        [warmup, total - decay],
    )


def wsd_sqrt_closed(n: int, warmup: int, decay: int, total: int, end: float) -> float:
    """WSD with the 1 - sqrt(x) cooldown (Hägele et al. 2024), written out."""
    if n < warmup:
        return n / warmup
    x = min(max((n - (total - decay)) / decay, 0.0), 1.0)
    return end + (1 - end) * (1 - math.sqrt(x))


def wsds_optax(warmup: int, checkpoints: tuple[int, ...], decay: int, end: float) -> optax.Schedule:
    """WSD-S from optax pieces: warmup, then before each checkpoint a linear cooldown over
    ``decay`` steps that ends at the checkpoint, and back to 1 right after it."""
    pieces = [optax.linear_schedule(0.0, 1.0, warmup), optax.constant_schedule(1.0)]
    boundaries = [warmup]
    for c in checkpoints:
        pieces += [optax.linear_schedule(1.0, end, decay), optax.constant_schedule(1.0)]
        boundaries += [c - decay, c + 1]
    return optax.join_schedules(pieces, boundaries)


def _wsds_torch(opt, cooldowns: int, milestones: list[int]):
    """WSD-S as torch schedulers: warmup over 2 steps, then `cooldowns` times a constant phase
    and a linear cooldown to 0.2 over 3 steps, then constant (the milestones say where)."""
    return lr_scheduler.SequentialLR(
        opt,
        [lr_scheduler.LambdaLR(opt, lambda n: n / 2)]
        + [
            scheduler
            for _ in range(cooldowns)
            for scheduler in (
                lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0),
                lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.2, total_iters=3),
            )
        ]
        + [lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)],
        milestones=milestones,
    )


# name: (prelude call with n = t - 1, optax schedule, torch scheduler or None, steps torch covers)
CASES = {
    "constant": (
        "constant_schedule(t - 1, 0.3)",
        optax.constant_schedule(0.3),
        lambda opt: lr_scheduler.ConstantLR(opt, factor=0.3, total_iters=10**9),
        STEPS,
    ),
    "linear_up": (
        "linear_schedule(t - 1, 0.2, 0.9, 7)",
        optax.linear_schedule(0.2, 0.9, 7),
        lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.2, end_factor=0.9, total_iters=7),
        STEPS,
    ),
    "linear_zero_steps": (
        "linear_schedule(t - 1, 0.4, 0.9, 0)",
        optax.linear_schedule(0.4, 0.9, 0),
        None,
        0,
    ),
    "linear_warmup": (
        "linear_warmup(t - 1, 0.1, 1, 5)",
        optax.warmup_constant_schedule(0.1, 1.0, 5),
        lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=5),
        STEPS,
    ),
    "linear_warmup_from_0": (
        "linear_warmup(t - 1, 0, 2.5, 4)",
        optax.warmup_constant_schedule(0.0, 2.5, 4),
        lambda opt: lr_scheduler.LambdaLR(opt, lambda n: 2.5 * min(n / 4, 1.0)),
        STEPS,
    ),
    "linear_warmup_none": (
        "linear_warmup(t - 1, 0, 1, 0)",
        # optax.warmup_constant_schedule(0, 1, 0) is linear_schedule(0, 1, 0): 0 at every step;
        # the prelude's warmup_steps = 0 is no warmup, as optax's warmup-cosine join does it
        optax.join_schedules(
            [optax.linear_schedule(0.0, 1.0, 0), optax.constant_schedule(1.0)], [0]
        ),
        None,
        0,
    ),
    "linear_decay": (
        "linear_decay(t - 1, 1, 0.05, 9)",
        optax.linear_schedule(1.0, 0.05, 9),
        lambda opt: lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.05, total_iters=9),
        STEPS,
    ),
    "cosine_decay": (
        "cosine_decay(t - 1, 1, 12, 0.1)",
        optax.cosine_decay_schedule(1.0, 12, alpha=0.1),
        lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=0.1),
        13,  # torch's cosine rises again after T_max; optax and the prelude stay at alpha
    ),
    "cosine_decay_value": (
        "cosine_decay(t - 1, 3.5, 17, 0)",
        optax.cosine_decay_schedule(3.5, 17),
        None,
        0,
    ),
    "warmup_cosine": (
        "warmup_cosine(t - 1, 0.1, 1, 4, 15, 0.05)",
        optax.warmup_cosine_decay_schedule(0.1, 1.0, 4, 15, 0.05),
        lambda opt: lr_scheduler.SequentialLR(
            opt,
            [
                lr_scheduler.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=4),
                lr_scheduler.CosineAnnealingLR(opt, T_max=11, eta_min=0.05),
            ],
            milestones=[4],
        ),
        16,
    ),
    "warmup_cosine_from_0": (
        "warmup_cosine(t - 1, 0, 2, 6, 20, 0)",
        optax.warmup_cosine_decay_schedule(0.0, 2.0, 6, 20),
        None,
        0,
    ),
    "wsd_linear": (
        "wsd_linear(t - 1, 3, 5, 16, 0.1)",
        wsd_optax(3, 5, 16, optax.linear_schedule(1.0, 0.1, 5)),
        lambda opt: lr_scheduler.SequentialLR(
            opt,
            [
                lr_scheduler.LambdaLR(opt, lambda n: n / 3),
                lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0),
                lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=5),
            ],
            milestones=[3, 11],
        ),
        STEPS,
    ),
    "wsd_cosine": (
        "wsd_cosine(t - 1, 3, 6, 18, 0.2)",
        wsd_optax(3, 6, 18, optax.cosine_decay_schedule(1.0, 6, alpha=0.2)),
        lambda opt: lr_scheduler.SequentialLR(
            opt,
            [
                lr_scheduler.LambdaLR(opt, lambda n: n / 3),
                lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0),
                lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.2),
            ],
            milestones=[3, 12],
        ),
        19,
    ),
    "wsd_sqrt": (
        "wsd_sqrt(t - 1, 2, 8, 17, 0)",
        wsd_optax(2, 8, 17, lambda c: 1 - jnp.sqrt(jnp.minimum(c / 8, 1.0))),
        lambda opt: lr_scheduler.LambdaLR(opt, lambda n: wsd_sqrt_closed(n, 2, 8, 17, 0.0)),
        STEPS,
    ),
    "wsd_no_warmup": (
        "wsd_linear(t - 1, 0, 4, 10, 0)",
        optax.join_schedules(
            [optax.constant_schedule(1.0), optax.linear_schedule(1.0, 0.0, 4)], [6]
        ),
        None,
        0,
    ),
    "wsds_listed": (
        "linear_warmup(t - 1, 0, 1, 2) * min(wsds_cooldown(t - 1, 8, 3, 0.2), "
        "min(wsds_cooldown(t - 1, 14, 3, 0.2), wsds_cooldown(t - 1, 20, 3, 0.2)))",
        wsds_optax(2, (8, 14, 20), 3, 0.2),
        lambda opt: _wsds_torch(opt, 3, [2, 5, 9, 11, 15, 17, 21]),
        STEPS,
    ),
    "wsds_periodic": (
        "wsds(t - 1, 2, 6, 3, 0.2)",
        wsds_optax(2, (6, 12, 18, 24), 3, 0.2),
        lambda opt: _wsds_torch(opt, 4, [2, 3, 7, 9, 13, 15, 19, 21, 25]),
        STEPS,
    ),
    "wsds_no_warmup": (
        "wsds(t - 1, 0, 5, 4, 0)",
        wsds_optax(0, (5, 10, 15, 20, 25), 4, 0.0),
        None,
        0,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_schedule_equals_optax_in_every_backend(name):
    expr, schedule, _, _ = CASES[name]
    want = optax_values(schedule)
    for got in (reference_factors(expr), torch_factors(expr), jax_factors(expr)):
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case[2] is not None])
def test_schedule_equals_torch_lr_scheduler(name):
    expr, _, make_scheduler, covered = CASES[name]
    want = torch_lrs(make_scheduler)[:covered]
    np.testing.assert_allclose(reference_factors(expr)[:covered], want, rtol=TOL, atol=TOL)


def test_boundaries_are_where_the_libraries_put_them():
    """Spot values, by hand: step t uses the schedule at n = t - 1."""
    wc = reference_factors("warmup_cosine(t - 1, 0, 1, 4, 12, 0.1)", 14)
    assert wc[0] == 0  # t = 1: optax's count 0, the warmup's start
    assert wc[4] == 1  # t = 5: n = warmup_steps, the peak
    assert abs(wc[8] - (0.1 + 0.9 * 0.5)) < 1e-15  # halfway through the cosine
    assert abs(wc[12] - 0.1) < 1e-15 and abs(wc[13] - 0.1) < 1e-15  # n = total and beyond
    wsd = reference_factors("wsd_linear(t - 1, 2, 4, 10, 0)", 12)
    np.testing.assert_allclose(wsd, [0, 0.5, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0, 0], atol=1e-15)
    # the thesis' formula eta_t / eta_max = t / T_w (t 1-based) is the same def at n = t
    thesis = reference_factors("wsd_linear(t, 2, 4, 10, 0)", 3)
    np.testing.assert_allclose(thesis, [0.5, 1, 1], atol=1e-15)


def test_cos_pi_is_cos():
    x = np.linspace(0, 1, 1001)
    text = 'optimizer Probe\ncite "cos probe"\nstep\n  theta <- theta - cos_pi(g)\n'
    ref = ReferenceOptimizer(compile_text(text).program, [np.zeros_like(x)])
    ref.step([x])
    np.testing.assert_allclose(-ref.params[0], np.cos(np.pi * x), rtol=0, atol=4e-16)


# --- the library specs -------------------------------------------------------------------------


def run_torch_spec(cls, steps: int, grads, scheduler=None, **hypers) -> list[np.ndarray]:
    """θ after each step of a generated torch optimizer on one float64 parameter."""
    p = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    opt = cls([p], **hypers)
    sched = scheduler(opt) if scheduler else None
    out = []
    for t in range(steps):
        p.grad = torch.tensor(grads[t], dtype=torch.float64)
        opt.step()
        if sched:
            sched.step()
        out.append(p.detach().numpy().copy())
    return out


GRADS = np.random.default_rng(0).normal(size=(STEPS, 3))


@pytest.mark.parametrize(
    "shape, cooldown",
    [
        (0, optax.linear_schedule(1.0, 0.1, 5)),
        (1, optax.cosine_decay_schedule(1.0, 5, alpha=0.1)),
        (2, lambda c: 0.1 + 0.9 * (1 - jnp.sqrt(jnp.minimum(c / 5, 1.0)))),
    ],
)
def test_sgdwsd_steps_by_the_wsd_factor(shape, cooldown):
    """SGDWSD's step t is lr * WSD(t - 1) * g, WSD built from optax's pieces."""
    hypers = dict(lr=0.1, warmup_steps=3, decay_steps=5, total_steps=15, end_factor=0.1)
    factor = optax_values(wsd_optax(3, 5, 15, cooldown))
    thetas = run_torch_spec(SGDWSD, STEPS, GRADS, decay_shape=shape, **hypers)
    steps = -np.diff(np.vstack([[0.5, -1.0, 2.0], *thetas]), axis=0)
    np.testing.assert_allclose(steps, 0.1 * factor[:, None] * GRADS, rtol=TOL, atol=TOL)
    # jax and the reference agree with torch over the same whole run, all three branches
    report = verify(
        compile_text((optc.pipeline.library_dir() / "sgdwsd.opt").read_text()).program,
        steps=STEPS,
        dtypes=("float64",),
        hypers={**hypers, "decay_shape": shape},
    )
    assert report.passed, report.failures


def test_sgdwsds_steps_by_the_wsds_factor():
    hypers = dict(
        lr=0.1,
        warmup_steps=2,
        period=6,
        decay_steps=3,
        end_factor=0.2,
    )
    factor = optax_values(wsds_optax(2, (6, 12, 18, 24), 3, 0.2))
    thetas = run_torch_spec(SGDWSDS, STEPS, GRADS, **hypers)
    steps = -np.diff(np.vstack([[0.5, -1.0, 2.0], *thetas]), axis=0)
    np.testing.assert_allclose(steps, 0.1 * factor[:, None] * GRADS, rtol=TOL, atol=TOL)
    report = verify(
        compile_text((optc.pipeline.library_dir() / "sgdwsds.opt").read_text()).program,
        steps=STEPS,
        dtypes=("float64",),
        hypers=hypers,
    )
    assert report.passed, report.failures


ADAMW = dict(betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
WC = dict(warmup_steps=4, total_steps=15, end_factor=0.05)


def wc_optax(peak: float = 1.0) -> optax.Schedule:
    """optax's warmup-cosine at a float64 count (its int32 count would make it a float32)."""
    schedule = optax.warmup_cosine_decay_schedule(0.0, peak, 4, 15, 0.05 * peak)
    return lambda count: schedule(jnp.asarray(count, dtype=jnp.float64))


def test_adamwcosine_is_adamw_under_the_warmup_cosine_schedule():
    """torch.optim.AdamW with LambdaLR(optax's warmup-cosine) and optax.adamw with that schedule."""
    want = run_torch_spec(
        torch.optim.AdamW, STEPS, GRADS, lr=0.01, scheduler=lambda_lr(wc_optax()), **ADAMW
    )
    got = run_torch_spec(AdamWCosine, STEPS, GRADS, lr=0.01, **ADAMW, **WC)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    params = jnp.array([0.5, -1.0, 2.0])
    tx = adamwcosine(learning_rate=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, **WC)
    ref = optax.adamw(wc_optax(0.01), b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.1)
    assert_same_optax_run(tx, ref, params)


def assert_same_optax_run(tx, ref, params):
    s, r = tx.init(params), ref.init(params)
    p, q = params, params
    for g in GRADS:
        u, s = tx.update(jnp.asarray(g), s, p)
        v, r = ref.update(jnp.asarray(g), r, q)
        p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-10, atol=1e-12)


# --- composition: a library schedule on top of the spec's own factor ---------------------------


def outer_torch(opt):
    return lr_scheduler.LinearLR(opt, start_factor=0.5, end_factor=1.0, total_iters=6)


def outer_optax(base: float) -> optax.Schedule:
    return optax.linear_schedule(0.5 * base, base, 6)


def test_torch_scheduler_composes_with_the_spec_factor():
    """Under a torch LR scheduler, step t of SGDWSD is lr_torch(t) * factor(t) * g."""
    hypers = dict(warmup_steps=3, decay_steps=5, total_steps=15, end_factor=0.1, decay_shape=0)
    lr_torch = torch_lrs(outer_torch, base_lr=0.1)
    factor = optax_values(wsd_optax(3, 5, 15, optax.linear_schedule(1.0, 0.1, 5)))
    thetas = run_torch_spec(SGDWSD, STEPS, GRADS, lr=0.1, scheduler=outer_torch, **hypers)
    steps = -np.diff(np.vstack([[0.5, -1.0, 2.0], *thetas]), axis=0)
    np.testing.assert_allclose(steps, (lr_torch * factor)[:, None] * GRADS, rtol=TOL, atol=TOL)
    # and AdamWCosine under it is torch.optim.AdamW with the product of both schedules
    product = torch_lrs(outer_torch, STEPS + 1) * optax_values(wc_optax(), STEPS + 1)
    want = run_torch_spec(
        torch.optim.AdamW, STEPS, GRADS, lr=0.01, scheduler=lambda_lr(lambda n: product[n]), **ADAMW
    )
    got = run_torch_spec(AdamWCosine, STEPS, GRADS, lr=0.01, scheduler=outer_torch, **ADAMW, **WC)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_optax_schedule_composes_with_the_spec_factor():
    """An optax schedule as learning_rate: step t of sgdwsd is schedule(t - 1) * factor(t) * g,
    and adamwcosine is optax.adamw under the product of both schedules."""
    hypers = dict(warmup_steps=3, decay_steps=5, total_steps=15, end_factor=0.1, decay_shape=0)
    tx = sgdwsd(learning_rate=outer_optax(0.1), **hypers)
    factor = optax_values(wsd_optax(3, 5, 15, optax.linear_schedule(1.0, 0.1, 5)))
    lr = optax_values(outer_optax(0.1), count=jnp.int32)
    params = jnp.array([0.5, -1.0, 2.0])
    state = tx.init(params)
    for t, g in enumerate(GRADS):
        updates, state = tx.update(jnp.asarray(g), state, params)
        np.testing.assert_allclose(np.asarray(updates), -lr[t] * factor[t] * g, rtol=TOL, atol=TOL)
    wsds = sgdwsds(
        learning_rate=outer_optax(0.1),
        warmup_steps=2,
        period=6,
        decay_steps=3,
        end_factor=0.2,
    )
    factor = optax_values(wsds_optax(2, (6, 12, 18, 24), 3, 0.2))
    state = wsds.init(params)
    for t, g in enumerate(GRADS):
        updates, state = wsds.update(jnp.asarray(g), state, params)
        np.testing.assert_allclose(np.asarray(updates), -lr[t] * factor[t] * g, rtol=TOL, atol=TOL)
    outer, inner = outer_optax(0.01), wc_optax()
    tx = adamwcosine(learning_rate=outer, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, **WC)
    ref = optax.adamw(lambda n: outer(n) * inner(n), b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.1)
    assert_same_optax_run(tx, ref, params)
