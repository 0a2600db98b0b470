"""One semantics for NaN and ±inf (docs/language.md, "Non-finite values").

Every spec runs on parameters and gradients holding NaN and ±inf in a few coordinates (the rest
finite) in torch, jax and the float64 reference: after every step, θ and every state must be NaN,
+inf and -inf in exactly the same coordinates in all three, and agree to float64 tolerance
elsewhere. Each spec runs at its defaults and with every hyper whose domain holds 0 set to 0
(``weight_decay = 0``, ``beta1 = 0``...: the strong zero, ``0 * inf = 0``).

Specs with a ``counterpart torch.optim.X`` line also run next to torch.optim.X itself
(``foreach=False``): an infinite parameter with ``weight_decay = 0`` is left as torch.optim leaves
it, and NaN (and ±inf) gradients give torch.optim's NaN pattern.
"""

from __future__ import annotations

import functools
import importlib
import math

import numpy as np
import pytest
import torch

from optc.backends import ieee as ieee_scalars
from optc.backends.hypers import resolve_hypers
from optc.codegen import build
from optc.pipeline import compile_file, library_specs
from optc.verify import run_jax, run_reference, run_torch, state_keys

SPECS = library_specs()
STEPS = 5
SIZE = 12
RTOL, ATOL = 1e-8, 1e-12
# against torch.optim: NAdam keeps mu_product in float32 (torch.optim's step dtype)
LIBRARY_RTOL = 1e-6
INF, NAN = math.inf, math.nan


def _program(path):
    return compile_file(path, checks=False).program


def _params() -> list[np.ndarray]:
    theta = np.random.default_rng(1).standard_normal(SIZE)
    theta[0], theta[1], theta[2], theta[7] = INF, -INF, NAN, INF
    return [theta]


def _grads() -> list[list[np.ndarray]]:
    rng = np.random.default_rng(0)
    stream = []
    for step in range(STEPS):
        g = rng.standard_normal(SIZE)
        if step == 0:
            g[3], g[7] = NAN, INF  # NaN once; inf on an infinite parameter
        if step == 1:
            g[4] = INF  # inf once
        g[5] = -INF  # -inf every step
        g[6] = NAN  # NaN every step
        stream.append([g])
    return stream


def _zeros(program) -> dict[str, float] | None:
    """Every real hyper whose domain holds 0, set to 0 (None when there is none)."""
    values = {h.name: 0.0 for h in program.hypers if h.kind == "real" and h.contains(0.0)}
    return values or None


VARIANTS = ("defaults", "zeros")


@functools.cache
def _runs(path, variant: str):
    program = _program(path)
    given = {} if variant == "defaults" else _zeros(program)
    if given is None:
        return None
    hypers = resolve_hypers(program, given)
    params, grads = _params(), _grads()
    return program, {
        "reference": run_reference(program, params, grads, hypers),
        "torch": run_torch(program, params, grads, hypers, "float64"),
        "jax": run_jax(program, params, grads, hypers, "float64"),
    }


def _mismatches(got, want, what: str, rtol: float = RTOL) -> list[str]:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    problems = []
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        differ = np.flatnonzero(test(got) != test(want))
        if differ.size:
            problems.append(f"{what}: {name} differs at {differ.tolist()}: {got} vs {want}")
    finite = np.isfinite(got) & np.isfinite(want)
    if not np.allclose(got[finite], want[finite], rtol=rtol, atol=ATOL):
        problems.append(f"{what}: finite values differ: {got} vs {want}")
    return problems


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_backends_agree_on_nan_and_inf(path, backend, variant):
    runs = _runs(path, variant)
    if runs is None:
        pytest.skip("no hyper whose domain holds 0")
    program, histories = runs
    problems = []
    names = ["theta", *(s.name for s in program.states)]
    for t, (got, want) in enumerate(
        zip(histories[backend], histories["reference"], strict=True), start=1
    ):
        for name in names:
            problems += _mismatches(got[0][name], want[0][name], f"step {t} {name}")
    assert not problems, "\n".join(problems[:5])


def test_the_inputs_are_not_all_finite():
    """The harness feeds what it says: NaN and ±inf in θ and g, and they reach the results."""
    theta, g = _params()[0], np.stack([s[0] for s in _grads()])
    assert np.isnan(theta).any() and np.isinf(theta).any()
    assert np.isnan(g).any() and np.isposinf(g).any() and np.isneginf(g).any()
    _, histories = _runs(SPECS[0], "defaults")
    final = histories["reference"][-1][0]["theta"]
    assert np.isfinite(final).sum() >= SIZE - 8 and not np.isfinite(final).all()


# -- against torch.optim ------------------------------------------------------------------------

TORCH_SPECS = [
    p for p in SPECS if (c := _program(p).counterpart("torch")) and c.library.startswith("torch.")
]


def _torch_optim(program):
    counterpart = program.counterpart("torch")
    module, _, name = counterpart.library.rpartition(".")
    return getattr(importlib.import_module(module), name), counterpart


def _torch_keywords(program, counterpart) -> dict:
    """The spec's defaults (weight_decay = 0) as torch.optim keyword arguments."""
    values = resolve_hypers(program, {"weight_decay": 0.0} if _has(program, "weight_decay") else {})
    keywords, tuples = {}, {}
    for hyper in program.hypers:
        key, index = counterpart.library_name(hyper.name)
        if index is None:
            keywords[key] = values[hyper.name]
        else:
            tuples.setdefault(key, {})[index] = values[hyper.name]
    keywords.update({k: tuple(v[i] for i in sorted(v)) for k, v in tuples.items()})
    keywords.update(counterpart.fixed)
    return keywords


def _has(program, hyper: str) -> bool:
    return any(h.name == hyper for h in program.hypers)


def _side_by_side(path, theta: np.ndarray, grads: list[np.ndarray]) -> list[str]:
    program = _program(path)
    library, counterpart = _torch_optim(program)
    keywords = _torch_keywords(program, counterpart)
    ours_class = build(program, "torch")
    keys = state_keys(ours_class)
    ours_p = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    theirs_p = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    ours = ours_class([ours_p], **keywords)
    theirs = library([theirs_p], **keywords, foreach=False)
    problems = []
    for t, g in enumerate(grads, start=1):
        ours_p.grad = torch.tensor(g, dtype=torch.float64)
        theirs_p.grad = torch.tensor(g, dtype=torch.float64)
        ours.step()
        theirs.step()
        problems += _mismatches(ours_p.detach(), theirs_p.detach(), f"step {t} theta", LIBRARY_RTOL)
        for state in program.states:
            key = keys.get(state.name, state.name)
            mine, its = ours.state[ours_p].get(key), theirs.state[theirs_p].get(key)
            if isinstance(mine, torch.Tensor) and isinstance(its, torch.Tensor):
                problems += _mismatches(mine, its, f"step {t} {key}", LIBRARY_RTOL)
    return problems


@pytest.mark.parametrize("path", TORCH_SPECS, ids=lambda p: p.stem)
def test_infinite_parameter_as_torch_optim_leaves_it(path):
    """weight_decay = 0 leaves ±inf (and NaN) parameters as torch.optim does: no 0 * inf."""
    theta = np.random.default_rng(3).standard_normal(SIZE)
    theta[0], theta[1], theta[2] = INF, -INF, NAN
    grads = [np.random.default_rng(10 + t).standard_normal(SIZE) for t in range(STEPS)]
    problems = _side_by_side(path, theta, grads)
    assert not problems, "\n".join(problems[:5])


@pytest.mark.parametrize("path", TORCH_SPECS, ids=lambda p: p.stem)
def test_nan_gradients_as_torch_optim(path):
    """NaN gradients (once, from some step on, every step) give torch.optim's NaN pattern in θ
    and every state, step by step (Rprop included: sign(NaN) = 0 freezes the coordinate)."""
    theta = np.random.default_rng(4).standard_normal(SIZE)
    grads = []
    for t in range(STEPS):
        g = np.random.default_rng(20 + t).standard_normal(SIZE)
        g[6] = NAN
        if t == 0:
            g[3] = NAN
        if t >= 2:
            g[0] = NAN
        grads.append(g)
    problems = _side_by_side(path, theta, grads)
    assert not problems, "\n".join(problems[:5])


def test_weight_decay_zero_is_exercised():
    """Every torch.optim counterpart with weight decay is run with weight_decay = 0."""
    with_decay = [p.stem for p in TORCH_SPECS if _has(_program(p), "weight_decay")]
    assert {"sgd", "rmsprop", "adagrad", "adadelta", "radam", "nadam", "adamax"} <= set(with_decay)


# -- the scalar semantics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "args", "want"),
    [
        ("sqrt", (-1.0,), NAN),
        ("sqrt", (INF,), INF),
        ("log", (0.0,), -INF),
        ("log", (-1.0,), NAN),
        ("exp", (1000.0,), INF),
        ("pow", (-8.0, 1 / 3), NAN),
        ("pow", (0.0, -1.0), INF),
        ("pow", (-0.0, -1.0), -INF),
        ("pow", (10.0, 400.0), INF),
        ("pow", (-10.0, 401.0), -INF),
        ("pow", (NAN, 0.0), 1.0),
        ("div", (1.0, 0.0), INF),
        ("div", (-1.0, 0.0), -INF),
        ("div", (1.0, -0.0), -INF),
        ("div", (0.0, 0.0), NAN),
        ("minimum", (NAN, 1.0), NAN),
        ("minimum", (1.0, NAN), NAN),
        ("maximum", (1.0, NAN), NAN),
        ("clip", (5.0, 2.0, 1.0), 1.0),
        ("clip", (NAN, 0.0, 1.0), NAN),
        ("sign", (NAN,), 0),
        ("sign", (-INF,), -1),
    ],
)
def test_scalar_math_is_ieee_and_never_raises(function, args, want):
    """Plain-number math in generated torch code agrees with NumPy (the reference) and jax."""
    got = getattr(ieee_scalars, function)(*args)
    assert (math.isnan(got) and math.isnan(want)) or got == want
    if function in ("sqrt", "log", "exp", "pow", "div"):
        with np.errstate(all="ignore"):
            numpy = {"pow": np.float_power, "div": np.divide}.get(function) or getattr(np, function)
            reference = float(numpy(*(np.float64(a) for a in args)))
        assert (math.isnan(reference) and math.isnan(got)) or reference == got


@pytest.mark.parametrize(
    ("expression", "hyper"),
    [
        ("sqrt(c - 1)", "0.5"),
        ("log(c - 0.5)", "0.5"),
        ("(c - 1)^0.5", "0.5"),
        ("1 / (c - 0.5)", "0.5"),
        ("2^(c * 1e4)", "0.5"),
        ("min(sqrt(c - 1), 1)", "0.5"),
        ("sign(sqrt(c - 1))", "0.5"),
    ],
)
def test_out_of_domain_scalars_agree(expression, hyper):
    """Scalar math outside its domain never raises: NaN, or ±inf at a pole, in all three."""
    source = f"""optimizer Domain
cite "optc non-finite tests"
hyper lr = 1e-3 in (0, inf) "learning rate"
hyper c = {hyper} in [0, 1] "a coefficient"
step
  theta <- theta - lr * {expression} * g
"""
    import warnings

    from optc.pipeline import compile_text

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = compile_text(source, "domain.opt", checks=False).program
    hypers = resolve_hypers(program, {})
    params, grads = [np.linspace(-1, 1, 5)], [[np.linspace(1, 2, 5)]]
    want = run_reference(program, params, grads, hypers)[0][0]["theta"]
    for runner in (run_torch, run_jax):
        got = runner(program, params, grads, hypers, "float64")[0][0]["theta"]
        assert not _mismatches(got, want, runner.__name__), (runner.__name__, got, want)
