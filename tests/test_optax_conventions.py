"""optax's conventions in the generated jax factories (issue 5, items 1, 2, 5, 6 for jax).

Expected values come from optax 0.2.8 itself (its functions, signatures and states) or from the
reference interpreter, never from the generated code's own output. Names expected of each
counterpart are written out here by hand, so a wrong mapping in a spec cannot cancel out.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optc
import optc.generated.jax as generated_jax
from optc.backends.reference.interpreter import ReferenceOptimizer
from optc.pipeline import compile_file

SPECS = Path(__file__).resolve().parent.parent / "specs"
ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.opt") if p.stem != "prelude")
SHAPES = ((5,), (3, 2))


@functools.cache
def program(spec: str):
    return compile_file(SPECS / f"{spec}.opt", checks=False).program


def factory(spec: str):
    return getattr(generated_jax, program(spec).snake_name)


def module(spec: str):
    return sys.modules[factory(spec).__module__]


def params_list(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def grad_stream(steps: int, seed: int = 7) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(steps)]


def run(tx, params, grads, state=None, jit=True):
    """θ after each step and the final state (float64, jitted update unless ``jit=False``)."""
    tree = [jnp.asarray(p) for p in params]
    state = tx.init(tree) if state is None else state
    update = jax.jit(tx.update) if jit else tx.update
    history = []
    for step_grads in grads:
        updates, state = update([jnp.asarray(g) for g in step_grads], state, tree)
        tree = optax.apply_updates(tree, updates)
        history.append([np.asarray(x) for x in tree])
    return history, state, tree


def max_rel(a, b) -> float:
    """max |a - b| / (1e-300 + |b|) over a trajectory: 0.0 is bit-identical."""
    worst = 0.0
    for step_a, step_b in zip(a, b, strict=True):
        for x, y in zip(step_a, step_b, strict=True):
            worst = max(worst, float(np.max(np.abs(x - y) / (1e-300 + np.abs(y)))))
    return worst


# -- the counterparts, written out by hand ------------------------------------------------------


COUNTERPARTS = {
    # spec: (optax function, spec hyper → optax keyword, spec state → optax field, hypers (spec
    # names), extra optax options the spec fixes, rtol of the trajectory)
    "adam": (
        optax.adam,
        {"lr": "learning_rate", "beta1": "b1", "beta2": "b2", "eps": "eps"},
        {"m": "mu", "v": "nu"},
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
        {},
        1e-12,
    ),
    "adamw": (
        optax.adamw,
        {
            "lr": "learning_rate",
            "beta1": "b1",
            "beta2": "b2",
            "eps": "eps",
            "weight_decay": "weight_decay",
        },
        {"m": "mu", "v": "nu"},
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        {},
        1e-12,
    ),
    "nadamdozat": (
        optax.nadam,
        {"lr": "learning_rate", "beta1": "b1", "beta2": "b2", "eps": "eps"},
        {"m": "mu", "v": "nu"},
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
        {},
        1e-12,
    ),
    "nadamw": (
        optax.nadamw,
        {
            "lr": "learning_rate",
            "beta1": "b1",
            "beta2": "b2",
            "eps": "eps",
            "eps_root": "eps_root",
            "weight_decay": "weight_decay",
        },
        {"m": "mu", "v": "nu"},
        {
            "lr": 1e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-6,
            "eps_root": 1e-8,
            "weight_decay": 0.1,
        },
        {},
        1e-12,
    ),
    "lion": (
        optax.lion,
        {"lr": "learning_rate", "beta1": "b1", "beta2": "b2", "weight_decay": "weight_decay"},
        {"m": "mu"},
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1},
        {},
        1e-12,
    ),
    "adadelta": (
        optax.adadelta,
        {"lr": "learning_rate", "rho": "rho", "eps": "eps", "weight_decay": "weight_decay"},
        {"v": "e_g", "u": "e_x"},
        {"lr": 0.5, "rho": 0.8, "eps": 1e-3, "weight_decay": 0.1},
        {},
        1e-12,
    ),
    "rmspropdebiased": (
        optax.rmsprop,
        {"lr": "learning_rate", "beta2": "decay", "eps": "eps"},
        {"v": "nu"},
        {"lr": 1e-2, "beta2": 0.9, "eps": 1e-3},
        {"eps_in_sqrt": False, "bias_correction": True},
        1e-12,
    ),
    "madgrad": (
        optax.contrib.madgrad,
        {
            "lr": "learning_rate",
            "momentum": "momentum",
            "eps": "eps",
            "weight_decay": "weight_decay",
        },
        {"theta0": "x0", "s": "s", "nu": "grad_sum_sq"},
        {"lr": 1e-2, "momentum": 0.8, "eps": 1e-4, "weight_decay": 0.1},
        {},
        1e-5,  # optax takes sqrt of the int32 count, which jax computes in float32
    ),
    "novograd": (
        optax.novograd,
        {
            "lr": "learning_rate",
            "beta1": "b1",
            "beta2": "b2",
            "eps": "eps",
            "weight_decay": "weight_decay",
        },
        {"m": "mu", "nu": "nu"},
        {"lr": 0.05, "beta1": 0.8, "beta2": 0.6, "eps": 1e-3, "weight_decay": 0.1},
        {},
        1e-10,
    ),
    "adamaxw": (
        optax.adamaxw,
        {
            "lr": "learning_rate",
            "beta1": "b1",
            "beta2": "b2",
            "eps": "eps",
            "weight_decay": "weight_decay",
        },
        {"m": "mu", "u": "nu"},
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        {},
        1e-12,
    ),
    "fromage": (
        optax.fromage,
        {"lr": "learning_rate", "min_norm": "min_norm"},
        {},
        {"lr": 0.05, "min_norm": 3.0},
        {},
        1e-10,
    ),
    "lamb": (
        optax.lamb,
        {
            "lr": "learning_rate",
            "beta1": "b1",
            "beta2": "b2",
            "eps": "eps",
            "weight_decay": "weight_decay",
        },
        {"m": "mu", "v": "nu"},
        {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        {},
        1e-10,
    ),
}


def optax_tx(spec: str, **overrides):
    function, names, _, hypers, extra, _ = COUNTERPARTS[spec]
    values = {**hypers, **overrides}
    return function(**{names[k]: v for k, v in values.items()}, **extra)


def test_every_optax_counterpart_is_declared_and_nothing_else():
    declared = {
        spec: program(spec).counterpart("jax").library
        for spec in ALL_SPECS
        if program(spec).counterpart("jax") is not None
    }
    assert set(declared) == set(COUNTERPARTS)
    for spec, library in declared.items():
        function = optax
        for part in library.split(".")[1:]:
            function = getattr(function, part)
        assert function is COUNTERPARTS[spec][0], spec


@pytest.mark.parametrize("spec", list(COUNTERPARTS))
def test_keywords_and_state_fields_are_optax_names(spec):
    function, names, fields, *_ = COUNTERPARTS[spec]
    mod = module(spec)
    hyper_names, state_fields = mod.HYPER_NAMES, mod.STATE_FIELDS
    assert hyper_names == names
    assert state_fields == fields
    ours = inspect.signature(factory(spec)).parameters
    theirs = inspect.signature(function).parameters
    for keyword in names.values():
        assert keyword in ours and keyword in theirs
    # the spec names stay accepted: keyword-only aliases
    for name, keyword in names.items():
        if name != keyword:
            assert ours[name].kind is inspect.Parameter.KEYWORD_ONLY
    # optax's positional order, and keyword-only where optax's are
    shared = [n for n in theirs if n in ours]
    assert [n for n in ours if n in theirs] == shared
    for name in shared:
        keyword_only = theirs[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert (ours[name].kind is inspect.Parameter.KEYWORD_ONLY) == keyword_only, name
    # the state: the step count and the optax fields, with optax's spelling
    state = factory(spec)().init([jnp.zeros(s) for s in SHAPES])
    assert state._fields == ("count", *fields.values())
    optax_fields = set()
    for node in jax.tree.leaves(
        optax_tx(spec).init([jnp.zeros(s) for s in SHAPES]),
        is_leaf=lambda x: isinstance(x, tuple) and hasattr(x, "_fields"),
    ):
        optax_fields |= set(getattr(node, "_fields", ()))
    assert set(fields.values()) <= optax_fields


@pytest.mark.parametrize("spec", list(COUNTERPARTS))
def test_defaults_equal_optax_or_the_docstring_says_how_they_differ(spec):
    function = COUNTERPARTS[spec][0]
    ours = inspect.signature(factory(spec)).parameters
    theirs = inspect.signature(function).parameters
    doc = factory(spec).__doc__
    differences = doc[doc.index("Differences from it:") : doc.index("Returns:")]
    for name, param in theirs.items():
        if name not in ours:  # an optax option the spec does not have: listed as not accepted
            assert f"``{name}``" in differences and "not accepted" in differences, name
            continue
        same = param.default is not inspect.Parameter.empty and (
            ours[name].default == param.default or ours[name].default is param.default
        )
        assert same == (f"``{name}``" not in differences), (name, ours[name].default)


def test_positional_call_as_optax():
    ours = generated_jax.adamw(3e-2, 0.85, 0.99, 1e-7, 0.0, None, 0.1)
    theirs = optax.adamw(3e-2, 0.85, 0.99, 1e-7, 0.0, None, 0.1)
    got, _, _ = run(ours, params_list(), grad_stream(6))
    want, _, _ = run(theirs, params_list(), grad_stream(6))
    assert max_rel(got, want) < 1e-12


@pytest.mark.parametrize("spec", list(COUNTERPARTS))
def test_matches_optax_with_optax_keywords(spec):
    _, names, _, hypers, _, rtol = COUNTERPARTS[spec]
    ours = factory(spec)(**{names[k]: v for k, v in hypers.items()})
    got, _, _ = run(ours, params_list(), grad_stream(20))
    want, _, _ = run(optax_tx(spec), params_list(), grad_stream(20))
    assert max_rel(got, want) < rtol


# -- learning_rate, aliases, schedules ----------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_learning_rate_is_the_step_size_of_every_spec(spec):
    prog = program(spec)
    if not any(h.name == "lr" for h in prog.hypers):
        pytest.skip("no lr")
    lr = next(h for h in prog.hypers if h.name == "lr").default * 0.5
    assert module(spec).HYPER_NAMES["lr"] == "learning_rate"
    assert "learning_rate" in inspect.signature(factory(spec)).parameters
    grads = grad_stream(3)
    ref = ReferenceOptimizer(prog, params_list(), lr=lr)
    want = []
    for step_grads in grads:
        ref.step(step_grads)
        want.append([p.copy() for p in ref.params])
    for kwargs in ({"learning_rate": lr}, {"lr": lr}):
        got, _, _ = run(factory(spec)(**kwargs), params_list(), grads, jit=False)  # 42 specs
        for got_step, want_step in zip(got, want, strict=True):
            for x, y in zip(got_step, want_step, strict=True):
                np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="both learning_rate= and lr="):
        factory(spec)(learning_rate=lr, lr=lr)


def test_both_a_keyword_and_its_alias_is_an_error_even_at_the_default_value():
    with pytest.raises(ValueError, match="b1= and beta1="):
        generated_jax.adam(b1=0.9 + 0.0, beta1=0.8)  # b1 given explicitly, equal to the default


def _schedule(peak):
    return optax.warmup_cosine_decay_schedule(0.0, peak, 5, 20, end_value=peak * 0.1)


@pytest.mark.parametrize(
    ("spec", "theirs", "ours"),
    [
        ("adam", lambda s: optax.adam(s, b1=0.8, b2=0.95), {"b1": 0.8, "b2": 0.95}),
        (
            "adamw",
            lambda s: optax.adamw(s, b1=0.8, weight_decay=0.1),
            {"b1": 0.8, "weight_decay": 0.1},
        ),
        (
            "lion",
            lambda s: optax.lion(s, b1=0.8, weight_decay=0.1),
            {"b1": 0.8, "weight_decay": 0.1},
        ),
        ("sgd", lambda s: optax.sgd(s), {}),
        ("sgdmomentum", lambda s: optax.sgd(s, momentum=0.8), {"momentum": 0.8}),
        ("sgdnesterov", lambda s: optax.sgd(s, momentum=0.8, nesterov=True), {"momentum": 0.8}),
    ],
)
def test_learning_rate_schedules_match_optax(spec, theirs, ours):
    schedule = _schedule(0.05)
    grads = grad_stream(20)
    got, _, _ = run(factory(spec)(learning_rate=schedule, **ours), params_list(), grads)
    want, _, _ = run(theirs(schedule), params_list(), grads)
    # adam/adamw: optax multiplies the unit step by -lr, the spec writes -lr * m_hat / (...):
    # a few roundings apart (measured <= 6e-16). lion and the sgd family: the same arithmetic,
    # bit-identical.
    exact = spec in ("lion", "sgd", "sgdmomentum", "sgdnesterov")
    assert max_rel(got, want) <= (0.0 if exact else 1e-13)


@pytest.mark.parametrize(
    ("spec", "hyper", "keyword"),
    [
        ("adam", "beta1", "b1"),
        ("rmsprop", "alpha", "alpha"),
        ("adamw", "weight_decay", "weight_decay"),
    ],
)
def test_any_real_hyper_may_be_a_schedule(spec, hyper, keyword):
    """Beyond optax: a schedule for a hyper optax takes as a plain number; optax's 0-based count."""
    values = {"beta1": [0.5, 0.9], "alpha": [0.8, 0.99], "weight_decay": [0.0, 0.2]}[hyper]

    def schedule(count):
        return jnp.where(count < 3, values[0], values[1])

    prog = program(spec)
    grads = grad_stream(6)
    ref = ReferenceOptimizer(prog, params_list(), lr=1e-2)
    want = []
    for k, step_grads in enumerate(grads):
        ref.hypers = {**ref.hypers, hyper: values[0] if k < 3 else values[1]}
        ref.step(step_grads)
        want.append([p.copy() for p in ref.params])
    traces = []
    tx = factory(spec)(learning_rate=1e-2, **{keyword: schedule})
    params = [jnp.asarray(p) for p in params_list()]
    state = tx.init(params)

    @jax.jit
    def step(params, state, grads):
        traces.append(None)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for step_grads, want_step in zip(grads, want, strict=True):
        params, state = step(params, state, [jnp.asarray(g) for g in step_grads])
        for x, y in zip(params, want_step, strict=True):
            np.testing.assert_allclose(np.asarray(x), y, rtol=1e-11, atol=1e-13)
    assert len(traces) == 1


def test_validation_is_skipped_for_schedules_and_done_for_numbers():
    generated_jax.adam(learning_rate=lambda count: -1.0)  # a callable is not checked
    with pytest.raises(ValueError, match=r"Invalid learning_rate: -1\.0"):
        generated_jax.adam(learning_rate=-1.0)
    with pytest.raises(ValueError, match=r"Invalid beta1: 1\.0"):
        generated_jax.adam(beta1=1.0)  # the message names the keyword the caller used
    with pytest.raises(ValueError, match=r"Invalid b1: 1\.0"):
        generated_jax.adam(b1=1.0)


# -- options the counterpart fixes, mask, mu_dtype ----------------------------------------------


@pytest.mark.parametrize(
    ("spec", "option", "bad"),
    [
        ("adam", "eps_root", 1e-8),
        ("adam", "nesterov", True),
        ("adamw", "eps_root", 1e-8),
        ("nadamdozat", "nesterov", False),
        ("rmspropdebiased", "eps_in_sqrt", True),
        ("rmspropdebiased", "bias_correction", False),
    ],
)
def test_an_option_the_spec_fixes_accepts_only_that_value(spec, option, bad):
    good = inspect.signature(factory(spec)).parameters[option].default
    factory(spec)(**{option: good})
    with pytest.raises(ValueError, match=rf"specs/{spec}\.opt.*{option}"):
        factory(spec)(**{option: bad})


@pytest.mark.parametrize("spec", ["adamw", "lion", "nadamw"])
@pytest.mark.parametrize("kind", ["tree", "callable"])
def test_mask_matches_optax(spec, kind):
    mask = [True, False] if kind == "tree" else (lambda tree: [x.ndim > 1 for x in tree])
    function, names, _, hypers, extra, rtol = COUNTERPARTS[spec]
    ours = factory(spec)(**hypers, mask=mask)
    got, _, _ = run(ours, params_list(), grad_stream(10))
    theirs = function(**{names[k]: v for k, v in hypers.items()}, **extra, mask=mask)
    want, _, _ = run(theirs, params_list(), grad_stream(10))
    assert max_rel(got, want) < rtol
    unmasked, _, _ = run(optax_tx(spec), params_list(), grad_stream(10))
    assert max_rel(got, unmasked) > 1e-6  # the mask changed something


def test_mask_beyond_optax_matches_the_reference_with_decay_off_where_false():
    """sgdmomentum has no optax counterpart; its mask zeroes weight_decay on masked leaves."""
    prog = program("sgdmomentum")
    hypers = {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1}
    grads = grad_stream(5)
    p0, p1 = params_list()
    decayed = ReferenceOptimizer(prog, [p0], **hypers)
    plain = ReferenceOptimizer(prog, [p1], **{**hypers, "weight_decay": 0.0})
    got, _, _ = run(generated_jax.sgdmomentum(**hypers, mask=[True, False]), params_list(), grads)
    for got_step, step_grads in zip(got, grads, strict=True):
        decayed.step([step_grads[0]])
        plain.step([step_grads[1]])
        np.testing.assert_allclose(got_step[0], decayed.params[0], rtol=1e-12)
        np.testing.assert_allclose(got_step[1], plain.params[0], rtol=1e-12)


@pytest.mark.parametrize("spec", ["adam", "adamw", "lion"])
def test_mu_dtype_matches_optax(spec):
    function, names, fields, hypers, extra, _ = COUNTERPARTS[spec]
    params = [jnp.asarray(p, jnp.float32) for p in params_list()]
    ours = factory(spec)(**hypers, mu_dtype=jnp.bfloat16)
    theirs = function(**{names[k]: v for k, v in hypers.items()}, **extra, mu_dtype=jnp.bfloat16)
    state_a, state_b = ours.init(params), theirs.init(params)
    assert all(x.dtype == jnp.bfloat16 for x in state_a.mu)
    tree_a = tree_b = params
    for step_grads in grad_stream(6):
        g = [jnp.asarray(x, jnp.float32) for x in step_grads]
        updates_a, state_a = ours.update(g, state_a, tree_a)
        updates_b, state_b = theirs.update(g, state_b, tree_b)
        tree_a = optax.apply_updates(tree_a, updates_a)
        tree_b = optax.apply_updates(tree_b, updates_b)
    assert all(x.dtype == jnp.bfloat16 for x in state_a.mu)
    if "v" in fields:
        assert all(x.dtype == jnp.float32 for x in state_a.nu)
    for a, b in zip(tree_a, tree_b, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    for a, b in zip(state_a.mu, state_b[0].mu, strict=True):
        np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


# -- optax states in and out --------------------------------------------------------------------


def _continue(spec, ours_first: bool, like_schedule: bool = False):
    """Train 5 steps with one library, hand the state over, train 5 more; and the run that
    stays in optax throughout (the truth)."""
    function, names, _, hypers, extra, _ = COUNTERPARTS[spec]
    mod = module(spec)
    snake = program(spec).snake_name
    lr = _schedule(hypers["lr"]) if like_schedule else hypers["lr"]
    theirs = function(**{names[k]: v for k, v in {**hypers, "lr": lr}.items()}, **extra)
    ours = factory(spec)(**{**hypers, "lr": lr})
    grads = grad_stream(10)
    truth, _, _ = run(theirs, params_list(), grads)
    if ours_first:
        first, state, tree = run(ours, params_list(), grads[:5])
        like = theirs.init([jnp.asarray(p) for p in params_list()])
        handed = getattr(mod, f"{snake}_to_optax")(state, like=like)
        assert jax.tree.structure(handed) == jax.tree.structure(like)
        second, _, _ = run(theirs, [np.asarray(x) for x in tree], grads[5:], state=handed)
    else:
        first, state, tree = run(theirs, params_list(), grads[:5])
        no_count = ("adadelta", "fromage")  # no count in their states
        count = 5 if spec in no_count and not like_schedule else None
        handed = getattr(mod, f"{snake}_from_optax")(state, count=count)
        assert isinstance(handed, getattr(mod, f"{program(spec).name}State"))
        second, _, _ = run(ours, [np.asarray(x) for x in tree], grads[5:], state=handed)
    return first + second, truth


@pytest.mark.parametrize("spec", list(COUNTERPARTS))
@pytest.mark.parametrize("direction", ["optax-then-optc", "optc-then-optax"])
def test_optax_state_hand_over_continues_as_optax_does(spec, direction):
    rtol = COUNTERPARTS[spec][5]
    got, truth = _continue(spec, ours_first=direction == "optc-then-optax")
    assert max_rel(got, truth) < rtol


@pytest.mark.parametrize("spec", ["adamw", "lion", "adadelta"])
def test_optax_state_hand_over_with_a_schedule(spec):
    for ours_first in (False, True):
        got, truth = _continue(spec, ours_first=ours_first, like_schedule=True)
        assert max_rel(got, truth) < 1e-12


def test_state_export_round_trips_and_fills_every_count():
    tx = generated_jax.adamw(learning_rate=1e-2)
    params = [jnp.asarray(p) for p in params_list()]
    state = tx.init(params)
    for step_grads in grad_stream(3):
        _, state = tx.update([jnp.asarray(g) for g in step_grads], state, params)
    like = optax.adamw(_schedule(1e-2), mask=[True, False]).init(params)
    exported = generated_jax.adamw.__globals__["adamw_to_optax"](state, like=like)

    def namedtuples(node):
        if isinstance(node, tuple):
            if hasattr(node, "_fields"):
                yield node
            for child in node:
                yield from namedtuples(child)

    counts = [node.count for node in namedtuples(exported) if "count" in node._fields]
    assert len(counts) == 2 and all(int(c) == 3 for c in counts)  # adam's and the schedule's
    back = generated_jax.adamw.__globals__["adamw_from_optax"](exported)
    assert jax.tree.structure(back) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match=r"not a state of optax\.adamw"):
        generated_jax.adamw.__globals__["adamw_from_optax"](optax.sgd(0.1).init(params))
    with pytest.raises(ValueError, match="count="):
        generated_jax.adadelta.__globals__["adadelta_from_optax"](optax.adadelta(0.1).init(params))


# -- no aliasing: donation ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["adan", "rprop", "adamw"])
def test_donated_state_and_gradients_give_the_same_step(spec):
    """jax arrays are immutable, so a state never aliases θ or g; a jitted update that donates
    its state and gradient buffers (donate_argnums) runs and steps as the plain one."""
    tx = factory(spec)()
    params = [jnp.asarray(p) for p in params_list()]
    plain = jax.jit(tx.update)
    donated = jax.jit(tx.update, donate_argnums=(0, 1))
    state_a = state_b = tx.init(params)
    for step_grads in grad_stream(4):
        updates_a, state_a = plain([jnp.asarray(g) for g in step_grads], state_a, params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CPU: "donated buffers were not usable"
            updates_b, state_b = donated([jnp.asarray(g) for g in step_grads], state_b, params)
        for a, b in zip(
            jax.tree.leaves((updates_a, state_a)),
            jax.tree.leaves((updates_b, state_b)),
            strict=True,
        ):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# -- names: a spec's names are public and exact --------------------------------------------------

CLASH = """
optimizer Clash
cite "optc tests: hyper and state names that the generated module also uses"
hyper lr      = 0.05 in (0, inf)
hyper delta   = 0.5  in (0, 1)
hyper dtype   = 0.9  in [0, 1)
hyper math    = 2    in (0, inf)
hyper np      = 0.1  in [0, 1)
hyper jnp     = 0.3  in (0, inf)
hyper optax   = 1    in (0, inf)
hyper updates = 0.2  in [0, inf)
hyper state   = 0.7  in (0, 1)
hyper params  = 1e-3 in (0, inf)
hyper t_      = 3    in (0, inf)
state init_fn = 0
state hypers = 0
state zip    = 1
step
  init_fn <- dtype * init_fn + (1 - dtype) * g
  hypers <- state * hypers + g^2
  zip <- zip * (1 - np) + jnp * abs(g)
  new_theta = lr * (delta * init_fn + updates * sign(g)) / (sqrt(hypers) + params)
  theta <- theta - new_theta - optax * 1e-3 * zip / (math + t_)
"""


def test_colliding_names_stay_public_and_exact():
    make = optc.load(CLASH, backend="jax")
    mod = sys.modules[make.__module__]
    keywords = inspect.signature(make).parameters
    spec_hypers = [
        "delta",
        "dtype",
        "math",
        "np",
        "jnp",
        "optax",
        "updates",
        "state",
        "params",
        "t_",
    ]
    for name in spec_hypers:
        assert name in keywords and keywords[name].kind is not inspect.Parameter.KEYWORD_ONLY
    assert "learning_rate" in keywords and "lr" in keywords
    hyper_names, state_fields = mod.HYPER_NAMES, mod.STATE_FIELDS
    assert hyper_names == {"lr": "learning_rate", **{n: n for n in spec_hypers}}
    assert state_fields == {"init_fn": "init_fn", "hypers": "hypers", "zip": "zip"}
    values = {
        "delta": 0.4,
        "dtype": 0.8,
        "math": 3.0,
        "np": 0.2,
        "jnp": 0.5,
        "optax": 2.0,
        "updates": 0.3,
        "state": 0.6,
        "params": 1e-2,
        "t_": 2.0,
    }
    tx = make(learning_rate=0.03, **values)
    state = tx.init([jnp.zeros(s) for s in SHAPES])
    step_field = next(f for f in state._fields if f not in mod.STATE_FIELDS.values())
    assert step_field == "count"  # the step count, as optax names it
    prog = optc.load_program(CLASH)
    ref = ReferenceOptimizer(prog, params_list())  # its own keyword `params` is a hyper here
    ref.hypers = {**ref.hypers, **values, "lr": 0.03}
    grads = grad_stream(4)
    got, state, _ = run(tx, params_list(), grads)
    for got_step, step_grads in zip(got, grads, strict=True):
        ref.step(step_grads)
        for x, y in zip(got_step, ref.params, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
    assert int(getattr(state, step_field)) == 4
    for name in ("init_fn", "hypers", "zip"):
        for x, ref_state in zip(getattr(state, name), ref.state, strict=True):
            np.testing.assert_allclose(np.asarray(x), ref_state[name], rtol=1e-12, atol=1e-14)


CLASH2 = """
optimizer Clash2
cite "optc tests: names of the generated module's own globals and builtins"
convention weight_decay "decoupled and scaled by lr"
hyper lr            = 0.05 in (0, inf)
hyper Clash2State   = 0.5  in (0, 1)
hyper clash2_update = 0.9  in [0, 1)
hyper runtime       = 2    in (0, inf)
hyper _SPEC         = 0.1  in [0, 1)
hyper jax           = 0.3  in (0, inf)
hyper NamedTuple    = 0.2  in [0, inf)
hyper float         = 0.7  in (0, 1)
hyper mask          = 0.5  in (0, inf)
hyper weight_decay  = 0.1  in [0, inf)
state x_dtype    = 0
state isinstance = 1
step
  x_dtype <- clash2_update * x_dtype + (1 - clash2_update) * g
  isinstance <- isinstance * float + abs(g) * max(2 * 3, 1)
  theta <- theta * (1 - lr * weight_decay) - lr * (Clash2State * x_dtype + _SPEC * sign(g)) \\
           / (jax + NamedTuple) - 1e-3 * isinstance / (runtime + mask)
"""


def test_names_of_module_globals_and_builtins_stay_public():
    make = optc.load(CLASH2, backend="jax")
    mod = sys.modules[make.__module__]
    names = [h.name for h in optc.load_program(CLASH2).hypers if h.name != "lr"]
    assert all(n in inspect.signature(make).parameters for n in names)
    hyper_names = mod.HYPER_NAMES
    assert hyper_names == {"lr": "learning_rate", **{n: n for n in names}}
    # `mask` is the spec's hyper here, so the decay mask option is not offered
    assert inspect.signature(make).parameters["mask"].default == 0.5
    ref = ReferenceOptimizer(optc.load_program(CLASH2), params_list())
    grads = grad_stream(4)
    got, _, _ = run(make(), params_list(), grads)
    for got_step, step_grads in zip(got, grads, strict=True):
        ref.step(step_grads)
        for x, y in zip(got_step, ref.params, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
