"""Random well-formed step bodies agree across the reference interpreter, torch and jax.

Hypothesis builds spec texts whose step is a random expression tree over ``g``, ``theta``, a
state ``m``, hypers, ``t`` and constants, using every operator and function of the language
(``+ - * / ^``, sqrt, abs, sign, exp, log, min, max, clip, where, if-then-else, and/or/not).
Every division, root and logarithm is built safe by construction (``x / (abs(y) + 1)``,
``sqrt(abs(x) + c)``, ``log(abs(x) + c)``, ``exp(clip(x, -5, 5))``), so the three backends are
compared on finite values, with NaN equal to NaN wherever one does appear.

Each backend is fed the reference's θ and state before every step ("teacher forcing"), so a
one-ulp difference in one step is not amplified by later ones: every step is compared on
identical inputs, float64, rtol 1e-9.
"""

from __future__ import annotations

import os

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import optc
from optc.backends.hypers import resolve_hypers
from optc.backends.reference import interpreter

N = 6  # elements per parameter
STEPS = 4  # t = 1..4, so `if t > 2` takes both branches
RTOL, ATOL = 1e-9, 1e-12

CONSTANTS = ["0.5", "2", "1.5", "3", "0.25", "(-0.5)", "(-2)", "1"]
SCALAR_LEAVES = ["lr", "beta1", "k", "t", *CONSTANTS]
COMPARISONS = ["<", "<=", ">", ">=", "==", "!="]


# -- expression trees ---------------------------------------------------------------------------


@st.composite
def expressions(draw, depth: int, scalar_only: bool = False, local: bool = False):
    """A random expression as spec text; ``scalar_only`` keeps it free of θ-shaped names."""
    tensor_leaves = [] if scalar_only else ["g", "theta", "m", *(["a"] if local else [])]
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(tensor_leaves * 2 + SCALAR_LEAVES))

    def sub(scalar=scalar_only):
        return draw(expressions(depth - 1, scalar, local))

    kind = draw(
        st.sampled_from(
            [
                "arith",
                "arith",
                "div",
                "pow",
                "negpow",
                "neg",
                "sqrt",
                "abs",
                "sign",
                "exp",
                "log",
                "minmax",
                "clip",
                "where",
                "if",
                "logic",
            ]
        )
    )
    if kind == "arith":
        return f"({sub()} {draw(st.sampled_from(['+', '-', '*']))} {sub()})"
    if kind == "div":
        return f"({sub()} / (abs({sub()}) + {draw(st.sampled_from(['1', '0.5', 'lr']))}))"
    if kind == "pow":
        return f"({sub()})^{draw(st.sampled_from(['2', '3']))}"
    if kind == "negpow":  # 1.5, not 1: see the pinned negative-power case
        return f"(abs({sub()}) + 1.5)^(-{draw(st.sampled_from(['1', '2']))})"
    if kind == "neg":
        return f"(-{sub()})"
    if kind == "sqrt":
        return f"sqrt(abs({sub()}) + {draw(st.sampled_from(['0.01', '1']))})"
    if kind == "abs":
        return f"abs({sub()})"
    if kind == "sign":
        return f"sign({sub()})"
    if kind == "exp":
        return f"exp(clip({sub()}, -5, 5))"
    if kind == "log":
        return f"log(abs({sub()}) + {draw(st.sampled_from(['0.01', '1']))})"
    if kind == "minmax":
        return f"{draw(st.sampled_from(['min', 'max']))}({sub()}, {sub()})"
    if kind == "clip":
        return f"clip({sub()}, {sub()}, {sub()})"
    if kind == "where":
        cond = f"{sub()} {draw(st.sampled_from(COMPARISONS))} {sub()}"
        return f"where({cond}, {sub()}, {sub()})"
    if kind == "if":  # the condition must be a scalar: hypers, t and constants only
        cond = f"{sub(True)} {draw(st.sampled_from(COMPARISONS))} {sub(True)}"
        return f"(if {cond} then {sub()} else {sub()})"
    # logic: a compound comparison inside where
    c1 = f"{sub()} {draw(st.sampled_from(COMPARISONS))} {sub()}"
    c2 = f"{sub()} {draw(st.sampled_from(COMPARISONS))} {sub()}"
    cond = draw(st.sampled_from([f"{c1} and {c2}", f"{c1} or {c2}", f"not ({c1})"]))
    return f"where({cond}, {sub()}, {sub()})"


@st.composite
def specs(draw):
    """(spec text, hyper overrides)."""
    a = draw(expressions(3))
    m = draw(expressions(3, local=True))
    rule = draw(expressions(3, local=True))
    # `m` is a tensor state: its new value must be θ-shaped whatever the random tree turned out
    # to be (a scalar-only tree is mixed with g; the pinned cases at the end cover the rest)
    m_update = draw(st.sampled_from([f"{m} + 0 * g", f"lerp(m, {m}, beta1)", f"m + g * ({m})"]))
    theta_update = draw(
        st.sampled_from(
            [
                f"theta - lr * ({rule})",
                f"theta + {rule} * lr",
                f"({rule}) * theta + g",
                "theta - lr * a",
            ]
        )
    )
    init = draw(st.sampled_from(["0", "0.5 * theta", "theta", "lr"]))
    second_local = draw(st.booleans())
    lines = [
        "optimizer Rand",
        'cite "hypothesis-generated step"',
        'convention bias_correction "none: beta1 is a free mixing weight here"',
        "hyper lr    = 0.1 in (0, inf)",
        "hyper beta1 = 0.5 in [0, 1)",
        "hyper k     = 0.5 in (-inf, inf)",
        f"state m = {init}",
        "step",
        f"  a = {a}",
        f"  m <- {m_update}",
        *(
            [f"  b = {draw(expressions(2, local=True))}", "  m <- m + 0 * b"]
            if second_local
            else []
        ),
        f"  theta <- {theta_update}",
    ]
    hypers = {
        "lr": draw(st.sampled_from([0.01, 0.1, 0.7])),
        "beta1": draw(st.sampled_from([0.0, 0.3, 0.9])),
        "k": draw(st.sampled_from([-1.5, 0.0, 0.5, 2.0])),
    }
    return "\n".join(lines) + "\n", hypers


# -- running one backend on the reference's inputs ----------------------------------------------


def close(actual, expected, where: str) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, np.float64),
        expected,
        rtol=RTOL,
        atol=ATOL,
        equal_nan=True,
        err_msg=where,
    )


def _torch_step(cls, hypers, theta, g, state, t):
    p = torch.nn.Parameter(torch.tensor(theta))
    opt = cls([p], **hypers)
    if t > 1:  # from step 2 on, start from the reference's state
        opt.state[p]["step"] = t - 1
        opt.state[p].update({name: torch.tensor(value) for name, value in state.items()})
    p.grad = torch.tensor(g)
    opt.step()
    return p.detach().numpy(), {name: opt.state[p][name] for name in state}


def _jax_step(factory, hypers, theta, g, state, t):
    tx = factory(**hypers)
    opt_state = tx.init(jnp.asarray(theta))
    if t > 1:
        opt_state = opt_state._replace(
            count=jnp.asarray(t - 1, jnp.int32),
            **{name: jnp.asarray(value) for name, value in state.items()},
        )
    updates, opt_state = tx.update(jnp.asarray(g), opt_state, jnp.asarray(theta))
    new_state = {name: getattr(opt_state, name) for name in state}
    return np.asarray(jnp.asarray(theta) + updates), new_state


def assert_backends_agree(text: str, hypers: dict, seed: int, steps: int = STEPS) -> None:
    """Torch and jax reproduce the reference interpreter on every step, from the same inputs."""
    program = optc.load_program(text)
    backends = (
        (_torch_step, optc.load(text, backend="torch")),
        (_jax_step, optc.load(text, backend="jax")),
    )
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-2, 2, N)
    resolved = resolve_hypers(program, hypers)
    state = interpreter.init_state(program, theta, resolved)
    for t in range(1, steps + 1):
        g = rng.uniform(-2, 2, N)
        g[0] = 0.0  # sign(0), comparisons with 0
        want_theta, want_state = interpreter.step(program, theta, g, state, t, resolved)
        for run, backend in backends:
            got_theta, got_state = run(backend, hypers, theta, g, state, t)
            where = f"{run.__name__} at t={t}\n{text}"
            close(got_theta, want_theta, where)
            for name, value in got_state.items():
                assert np.shape(value) == np.shape(want_state[name]), f"state {name}: {where}"
                close(value, want_state[name], f"state {name}: {where}")
        theta, state = want_theta, want_state


@settings(
    max_examples=int(os.environ.get("OPTC_PROPERTY_EXAMPLES", 40)),
    deadline=None,
    # the same programs on every run, so a failure reproduces; OPTC_PROPERTY_EXAMPLES=500 explores
    derandomize="OPTC_PROPERTY_EXAMPLES" not in os.environ,
    # each example compiles two backends: shrinking a failure could take minutes, so the default
    # run reports the failing program as generated; exploring runs also shrink it
    phases=[Phase.explicit, Phase.generate]
    + ([Phase.shrink] if "OPTC_PROPERTY_EXAMPLES" in os.environ else []),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_random_step_bodies_agree_across_reference_torch_and_jax(spec, seed):
    text, hypers = spec
    assert_backends_agree(text, hypers, seed)


# -- pinned programs: minimal forms of failures the generator found -----------------------------

HEADER = """\
optimizer Pinned
cite "a minimal program"
hyper lr = 0.1 in (0, inf)
hyper k  = 0.5 in (-inf, inf)
"""

PINNED = {
    # a tensor state assigned an expression of hypers and t only must stay θ-shaped (torch kept a
    # Python float, jax a 0-d array: the next step's torch.sqrt(m) failed, jax retraced)
    "tensor-state-assigned-a-scalar": "state m = 0\nstep\n"
    "  theta <- theta - lr * sqrt(m) * g\n  m <- lr * t\n",
    # `if` with a θ-shaped branch and a scalar branch is θ-shaped whichever branch is taken
    "if-taking-its-scalar-branch-under-abs": "state m = 0\nstep\n  m <- g\n"
    "  theta <- theta - lr * abs(if t > 1 then g else lr)\n",
    "if-taking-its-scalar-branch-under-min": "state m = 0\nstep\n  m <- g\n"
    "  theta <- theta - lr * min(if t > 1 then g else 2, 1)\n",
    "where-with-scalar-condition-under-sqrt": "state m = 0\nstep\n  m <- g\n"
    "  theta <- theta - lr * sqrt(abs(where(t > 1, g, lr)))\n",
    # and/or/not combining a scalar and an elementwise comparison
    "or-of-scalar-and-tensor-comparisons": "state m = 0\nstep\n  m <- g\n"
    "  theta <- theta - lr * where(lr > 1 or g > 0, g, 0)\n",
    "and-not-of-scalar-and-tensor-comparisons": "state m = 0\nstep\n  m <- g\n"
    "  theta <- theta - lr * where(not (lr > 1) and g > 0, g, 0)\n",
    # integer literals are real numbers: max(1, 2)^(-1) = 0.5
    "negative-power-of-a-constant-expression": "state m = 0\nstep\n  m <- g\n"
    "  theta <- theta - lr * max(1, 2)^(-1) * m\n",
    # a step without state that reads only g
    "stateless-step-reading-only-the-gradient": "step\n  theta <- theta - lr * g\n",
    # where/if inside arithmetic, through the compile-time checks
    "where-times-a-hyper": "state m = 0\nstep\n  m <- g\n"
    "  theta <- theta - lr * where(g < theta, g, theta)\n",
    "sign-and-clip-of-scalars": "state m = 0\nstep\n  m <- g * sign(k - t) + clip(t, 1.5, 2.5)\n"
    "  theta <- theta - lr * m\n",
}


@pytest.mark.parametrize("case", list(PINNED))
def test_pinned_program_agrees_across_reference_torch_and_jax(case):
    assert_backends_agree(HEADER + PINNED[case], {"lr": 0.1, "k": 0.5}, seed=0)


def test_pinned_tensor_state_assigned_a_scalar_has_the_closed_form_value():
    # θ moves by lr·sqrt(m_prev)·g; m = lr·t: after step 2, m = 0.2 and θ = θ0 - 0.1·sqrt(0.1)·g
    text = HEADER + PINNED["tensor-state-assigned-a-scalar"]
    theta0 = np.array([1.0, 2.0, 3.0])
    g = np.array([0.5, -1.0, 2.0])
    p = torch.nn.Parameter(torch.tensor(theta0))
    opt = optc.load(text, backend="torch")([p], lr=0.1)
    tx = optc.load(text, backend="jax")(lr=0.1)
    params = jnp.asarray(theta0)
    state = tx.init(params)
    for _ in (1, 2):
        p.grad = torch.tensor(g)
        opt.step()
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = params + updates
    want = theta0 - 0.1 * np.sqrt(0.1) * g
    for got, m in ((p.detach().numpy(), opt.state[p]["m"]), (np.asarray(params), state.m)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert np.shape(m) == (3,)
        np.testing.assert_allclose(np.asarray(m), [0.2, 0.2, 0.2], rtol=1e-12)
