"""The optax contract of the generated factories.

A factory returns an ``optax.GradientTransformation`` whose updates are added to the params by
``optax.apply_updates``. Users rely on it jitting once, composing with ``optax.chain``, working
under ``optax.inject_hyperparams``, keeping dtypes, and accepting any pytree. Expected values
come from optax itself, from the reference interpreter, or from closed forms.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optc
from optc.backends.reference.interpreter import ReferenceOptimizer

SPECS = Path(__file__).resolve().parent.parent / "specs"
ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.opt") if p.stem != "prelude")

HYPERS = {
    "adam": {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6},
    "adamw": {"lr": 1e-2, "beta1": 0.85, "beta2": 0.99, "eps": 1e-7, "weight_decay": 0.1},
    "lion": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1},
    "sgdmomentum": {"lr": 1e-2, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-2},
    "rprop": {"lr": 1e-2},
    "amsgrad": {"lr": 1e-2},
}
CONTRACT_SPECS = ["adam", "adamw", "lion", "sgdmomentum", "rprop"]


@functools.cache
def factory(spec: str):
    return optc.load(SPECS / f"{spec}.opt", backend="jax")


@functools.cache
def program(spec: str):
    return optc.load_program(SPECS / f"{spec}.opt")


# -- a small regression problem with real gradients ---------------------------------------------


def make_params(dtype=jnp.float64):
    rng = np.random.default_rng(0)
    return {
        "w": jnp.asarray(rng.normal(size=(4, 3)), dtype),
        "b": jnp.asarray(rng.normal(size=(3,)), dtype),
    }


_rng = np.random.default_rng(1)
X = _rng.normal(size=(32, 4))
Y = _rng.normal(size=(32, 3))


def loss_fn(params, k):
    """MSE on one of four mini-batches (k is a traced int, so one trace serves all batches)."""
    x = jax.lax.dynamic_slice_in_dim(jnp.asarray(X, params["w"].dtype), 8 * (k % 4), 8)
    y = jax.lax.dynamic_slice_in_dim(jnp.asarray(Y, params["w"].dtype), 8 * (k % 4), 8)
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def leaves64(tree):
    return [np.asarray(x, np.float64) for x in jax.tree.leaves(tree)]


def assert_trees_close(a, b, rtol=1e-12, atol=1e-12):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(leaves64(a), leaves64(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# -- jit ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
def test_jitted_train_step_traces_once_for_many_steps(spec):
    tx = factory(spec)(**HYPERS[spec])
    traces = []

    @jax.jit
    def train_step(params, state, k):
        traces.append(None)  # a Python side effect: runs only while tracing
        grads = jax.grad(loss_fn)(params, k)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params = make_params()
    state = tx.init(params)
    for k in range(5):
        params, state = train_step(params, state, k)
    assert len(traces) == 1
    assert train_step._cache_size() == 1
    assert int(state.count) == 5


@pytest.mark.parametrize("spec", CONTRACT_SPECS)
def test_jitted_and_eager_updates_agree(spec):
    tx = factory(spec)(**HYPERS[spec])
    params = make_params()
    grads = jax.grad(loss_fn)(params, 0)
    state = tx.init(params)
    eager = tx.update(grads, state, params)
    jitted = jax.jit(tx.update)(grads, state, params)
    assert_trees_close(eager, jitted, rtol=1e-13, atol=1e-15)


# -- composition --------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["adam", "adamw", "lion", "sgdmomentum"])
def test_chain_with_clip_by_global_norm_matches_clipping_by_hand(spec):
    max_norm = 1.0
    chained = optax.chain(optax.clip_by_global_norm(max_norm), factory(spec)(**HYPERS[spec]))
    plain = factory(spec)(**HYPERS[spec])
    params_c = params_p = make_params()
    state_c, state_p = chained.init(params_c), plain.init(params_p)
    clipped_some = False
    for k in range(5):
        grads = jax.tree.map(lambda g: 10.0 * g, jax.grad(loss_fn)(params_c, k))  # norms > 1
        updates, state_c = chained.update(grads, state_c, params_c)
        params_c = optax.apply_updates(params_c, updates)

        grads = jax.tree.map(lambda g: 10.0 * g, jax.grad(loss_fn)(params_p, k))
        norm = np.sqrt(sum(float(np.sum(np.asarray(g) ** 2)) for g in jax.tree.leaves(grads)))
        scale = 1.0 if norm <= max_norm else max_norm / norm  # the global-norm clip, by hand
        clipped_some |= scale < 1.0
        grads = jax.tree.map(lambda g, s=scale: g * s, grads)
        updates, state_p = plain.update(grads, state_p, params_p)
        params_p = optax.apply_updates(params_p, updates)
    assert clipped_some
    assert_trees_close(params_c, params_p, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spec", ["adam", "adamw", "lion", "sgdmomentum"])
def test_inject_hyperparams_equals_plain_factory_and_follows_lr_changes(spec):
    hypers = HYPERS[spec]
    lr1 = hypers["lr"] * 0.3
    # under inject_hyperparams, the factory's own keywords (optax's names: learning_rate, b1...)
    keywords = sys.modules[factory(spec).__module__].HYPER_NAMES
    lr_name = keywords["lr"]
    assert lr_name == "learning_rate"
    injected = optax.inject_hyperparams(factory(spec))(
        **{keywords[name]: value for name, value in hypers.items()}
    )
    plain = factory(spec)(**hypers)
    params_i = params_p = make_params()
    state_i, state_p = injected.init(params_i), plain.init(params_p)
    traces = []

    @jax.jit
    def update(grads, state, params):
        traces.append(None)
        return injected.update(grads, state, params)

    # the reference interpreter, fed the same gradients, with lr changed after step 3
    names = list(params_i)
    ref = ReferenceOptimizer(program(spec), [np.asarray(params_i[n]) for n in names], **hypers)

    for k in range(6):
        if k == 3:
            old = state_i.hyperparams[lr_name]
            state_i.hyperparams[lr_name] = jnp.asarray(lr1, old.dtype)  # same aval: no retrace
            ref.hypers = {**ref.hypers, "lr": lr1}
        grads = jax.grad(loss_fn)(params_i, k)
        updates, state_i = update(grads, state_i, params_i)
        params_i = optax.apply_updates(params_i, updates)
        ref.step([np.asarray(grads[n]) for n in names])
        for n, p in zip(names, ref.params, strict=True):
            np.testing.assert_allclose(np.asarray(params_i[n]), p, rtol=1e-12, atol=1e-14)
        if k < 3:  # same lr: the injected and the plain transformation agree
            updates_p, state_p = plain.update(jax.grad(loss_fn)(params_p, k), state_p, params_p)
            params_p = optax.apply_updates(params_p, updates_p)
            assert_trees_close(params_i, params_p, rtol=1e-13, atol=1e-15)
    assert float(state_i.hyperparams[lr_name]) == lr1
    assert len(traces) == 1  # a new lr value is data, not a new trace


# -- dtypes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32], ids=["bf16", "f32"])
@pytest.mark.parametrize("spec", ["adam", "adamw", "lion", "sgdmomentum", "rprop", "amsgrad"])
def test_updates_params_and_states_keep_the_parameter_dtype(spec, dtype):
    tx = factory(spec)(**HYPERS[spec])
    params = make_params(dtype)
    state = tx.init(params)

    @jax.jit
    def train_step(params, state, k):
        grads = jax.grad(loss_fn)(params, k)
        assert all(g.dtype == dtype for g in jax.tree.leaves(grads))
        updates, state = tx.update(grads, state, params)
        return updates, optax.apply_updates(params, updates), state

    for k in range(3):
        updates, params, new_state = train_step(params, state, k)
        for tree in (updates, params):
            assert all(x.dtype == dtype for x in jax.tree.leaves(tree))
        assert jax.tree.structure(new_state) == jax.tree.structure(state)
        for old, new in zip(jax.tree.leaves(state), jax.tree.leaves(new_state), strict=True):
            assert new.dtype == old.dtype and new.shape == old.shape
        state = new_state
    float_states = [x for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating)]
    assert float_states or spec == "sgd"
    assert all(x.dtype == dtype for x in float_states)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(params))


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_every_spec_keeps_float32_dtype_and_state_structure(spec):
    tx = factory(spec)()
    params = make_params(jnp.float32)
    state = tx.init(params)
    grads = jax.grad(loss_fn)(params, 0)
    updates, new_state = tx.update(grads, state, params)
    assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates))
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    for old, new in zip(jax.tree.leaves(state), jax.tree.leaves(new_state), strict=True):
        assert new.dtype == old.dtype and new.shape == old.shape


# -- pytrees ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["adam", "adamw", "lion", "rprop"])
def test_nested_pytree_with_mixed_shapes_matches_the_reference_per_leaf(spec):
    rng = np.random.default_rng(3)
    params = {
        "dense": {"w": jnp.asarray(rng.normal(size=(3, 4))), "b": jnp.asarray(rng.normal(size=4))},
        "scale": jnp.asarray(rng.normal()),  # a 0-d leaf
        "stack": (jnp.asarray(rng.normal(size=(2, 1, 3))), jnp.asarray(rng.normal(size=5))),
    }
    tx = factory(spec)(**HYPERS[spec])
    state = tx.init(params)
    leaves, treedef = jax.tree.flatten(params)
    ref = ReferenceOptimizer(program(spec), [np.asarray(x) for x in leaves], **HYPERS[spec])
    for _ in range(4):
        grads = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=np.shape(x))), params)
        updates, state = tx.update(grads, state, params)
        assert jax.tree.structure(updates) == treedef
        params = optax.apply_updates(params, updates)
        ref.step([np.asarray(g) for g in jax.tree.leaves(grads)])
        for got, want in zip(jax.tree.leaves(params), ref.params, strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spec", ["adamw", "lion", "sgdmomentum"])
def test_update_without_params_raises_a_clear_error_when_the_step_reads_theta(spec):
    # adamw/lion decay θ, sgdmomentum adds weight_decay·θ to the gradient: the step needs θ
    tx = factory(spec)(**HYPERS[spec])
    params = make_params()
    state = tx.init(params)
    grads = jax.grad(loss_fn)(params, 0)
    with pytest.raises(ValueError, match="params"):
        tx.update(grads, state)
    with pytest.raises(ValueError, match="params"):
        tx.update(grads, state, None)


@pytest.mark.parametrize("spec", ["adam", "amsgrad", "rprop", "momentum"])
def test_update_without_params_works_when_the_step_only_reads_the_gradient(spec):
    # these steps are θ ← θ - f(g, state): optax.apply_updates needs only the increment
    tx = factory(spec)(**HYPERS.get(spec, {}))
    params = make_params()
    state = tx.init(params)
    grads = jax.grad(loss_fn)(params, 0)
    without, state_without = tx.update(grads, state)
    with_params, state_with = tx.update(grads, state, params)
    assert_trees_close(without, with_params, rtol=0, atol=0)
    assert_trees_close(state_without, state_with, rtol=0, atol=0)


def test_empty_pytree_is_accepted():
    tx = factory("adam")()
    state = tx.init({})
    updates, _ = tx.update({}, state, {})
    assert updates == {}


# -- hyper validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name", "value"),
    [
        ("adam", "lr", -1.0),
        ("adam", "beta1", 1.0),
        ("adam", "beta2", -0.1),
        ("adam", "eps", -1.0),
        ("adamw", "weight_decay", -1e-3),
        ("lion", "beta2", 1.5),
        ("sgdmomentum", "dampening", 1.5),
        ("rprop", "eta_plus", 1.0),
        ("rprop", "eta_minus", 0.0),
    ],
)
def test_out_of_domain_hyper_raises_value_error_naming_it(spec, name, value):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        factory(spec)(**{name: value})


# -- agreement with optax -----------------------------------------------------------------------

OPTAX = {
    # optax.adam: mu/nu EMAs, both debiased by 1 - b^t, eps outside the root, -lr scale.
    "adam": (
        "adam",
        {"lr": 3e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6},
        lambda: optax.adam(3e-2, b1=0.8, b2=0.95, eps=1e-6),
    ),
    # optax.adamw: -lr * (adam_update + weight_decay * θ): decoupled decay scaled by lr, which is
    # the spec's θ(1 - lr·wd) followed by the Adam step (convention weight_decay in adamw.opt).
    "adamw": (
        "adamw",
        {"lr": 3e-2, "beta1": 0.85, "beta2": 0.99, "eps": 1e-7, "weight_decay": 0.1},
        lambda: optax.adamw(3e-2, b1=0.85, b2=0.99, eps=1e-7, weight_decay=0.1),
    ),
    # optax.lion: sign(b1·m + (1-b1)·g) + wd·θ scaled by -lr; m ← b2·m + (1-b2)·g.
    "lion": (
        "lion",
        {"lr": 3e-3, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1},
        lambda: optax.lion(3e-3, b1=0.9, b2=0.99, weight_decay=0.1),
    ),
    # optax.sgd(momentum): trace ← g + momentum·trace, step -lr·trace; the spec with dampening 0
    # and no decay is the same (its first-step buf = g equals g + momentum·0).
    "sgdmomentum": (
        "sgdmomentum",
        {"lr": 5e-2, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0},
        lambda: optax.sgd(5e-2, momentum=0.9),
    ),
}


@pytest.mark.parametrize("case", list(OPTAX))
def test_matches_optax_for_20_steps_in_float64(case):
    spec, hypers, build = OPTAX[case]
    ours, theirs = factory(spec)(**hypers), build()

    @jax.jit
    def step(params_a, state_a, params_b, state_b, k):
        grads_a = jax.grad(loss_fn)(params_a, k)
        grads_b = jax.grad(loss_fn)(params_b, k)
        updates_a, state_a = ours.update(grads_a, state_a, params_a)
        updates_b, state_b = theirs.update(grads_b, state_b, params_b)
        return (
            optax.apply_updates(params_a, updates_a),
            state_a,
            optax.apply_updates(params_b, updates_b),
            state_b,
        )

    params_a = params_b = make_params()
    state_a, state_b = ours.init(params_a), theirs.init(params_b)
    for k in range(20):
        params_a, state_a, params_b, state_b = step(params_a, state_a, params_b, state_b, k)
        assert_trees_close(params_a, params_b, rtol=1e-12, atol=1e-13)
    # and the run went somewhere: the parameters moved
    assert not np.allclose(leaves64(params_a)[0], leaves64(make_params())[0])


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_every_spec_keeps_bfloat16_and_follows_float32(spec):
    """bf16 parameters: updates, parameters and float states stay bf16, and two steps land
    where the same steps in float32 (from the same bf16-rounded start) land, to bf16 accuracy."""
    tx = factory(spec)()
    start = jax.tree.map(lambda x: x.astype(jnp.bfloat16), make_params(jnp.float32))
    runs = {}
    for dtype in (jnp.bfloat16, jnp.float32):
        params = jax.tree.map(lambda x, dtype=dtype: x.astype(dtype), start)
        state = tx.init(params)
        for k in range(2):
            grads = jax.tree.map(
                lambda g, dtype=dtype: g.astype(dtype), jax.grad(loss_fn)(start, k)
            )
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        floats = [x for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating)]
        assert all(x.dtype == dtype for x in jax.tree.leaves(params) + floats), spec
        runs[dtype] = params
    low_leaves, high_leaves = (
        jax.tree.leaves(runs[jnp.bfloat16]),
        jax.tree.leaves(runs[jnp.float32]),
    )
    for low, high in zip(low_leaves, high_leaves, strict=True):
        np.testing.assert_allclose(
            np.asarray(low, np.float32), np.asarray(high), rtol=0.05, atol=0.05
        )
