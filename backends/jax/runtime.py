"""What every generated jax module shares: the optax transformation around a spec's leaf step.

A generated module (``generated/jax/<name>.py``) keeps what is specific to its spec: the pure
leaf functions ``<name>_init`` / ``<name>_update`` (the readable ground truth), the state
NamedTuple, the factory's signature and docstring, and a :class:`Spec` describing the hypers.
This module turns that into an ``optax.GradientTransformation``:

- hypers: the factory's keyword (optax's name where the spec declares an optax counterpart,
  ``learning_rate`` for the step size ``lr``) or its spec name (an alias; both at once is an
  error); validated when they are plain numbers; any numeric hyper may be a schedule — a callable
  of optax's 0-based step count, evaluated inside ``update`` (jit-friendly);
- ``mask`` (optax's argument for decay): the decay hyper is 0 where the mask is False;
- the first-moment dtype (optax's ``mu_dtype``);
- options the counterpart must keep fixed (``eps_root = 0``): any other value is an error;
- importing an optax state into the generated NamedTuple and exporting it back.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax


class Hyper(NamedTuple):
    """One hyper of a generated factory."""

    name: str  # the spec's name: the leaf functions' keyword
    keyword: str  # the factory's keyword (optax's name where optax has the optimizer)
    alias: str | None  # the spec name, also accepted when it differs from ``keyword``
    kind: str  # "real" | "int" | "bool"
    valid: Callable[[Any], bool]  # true exactly for a plain number inside the domain
    requirement: str  # "in (0, inf)", for error messages


class Fixed(NamedTuple):
    """An option of the optax counterpart that must keep one value for it to be this spec."""

    keyword: str
    value: float | bool


@dataclass(frozen=True)
class Spec:
    """Everything :func:`transformation` needs from one generated module."""

    name: str  # the optimizer's name (AdamW)
    factory: str  # the factory's name (adamw)
    function: Callable  # the factory itself (its defaults tell given keywords from defaults)
    spec_path: str  # where the spec lives, for error messages
    state_class: type
    count_field: str  # the state field holding optax's step count
    fields: dict[str, str]  # spec state → state field
    init: Callable[..., tuple]  # one leaf's initial states, in spec order
    update: Callable[..., tuple]  # one leaf's step: (delta, *new states)
    hypers: tuple[Hyper, ...]
    reads_theta: bool  # whether update needs params
    decay: str | None = None  # the spec hyper the mask switches off
    mask_keyword: str | None = None  # the factory's keyword for the decay mask
    moment: str | None = None  # the spec state whose dtype ``mu_dtype`` sets
    fixed: tuple[Fixed, ...] = ()
    counterpart: str | None = None  # dotted path of the optax counterpart (optax.adamw)
    tensor_states: tuple[str, ...] = field(default=())  # spec states shaped like θ
    # A step with matrix functions: leaves of one shape are stacked and stepped by one vmapped
    # update (batched Newton-Schulz products and decompositions), as torch's multi-tensor path.
    batch_by_shape: bool = False
    # A step reading across leaves (optc.ir.phases): global states (state fields of their own
    # names, 0-d arrays), their initial values, and rounds of (terms, their names, group values).
    global_states: tuple[str, ...] = ()
    init_globals: Callable[..., dict[str, Any]] | None = None
    global_outputs: dict[str, str] = field(default_factory=dict)
    rounds: tuple[tuple[Callable | None, tuple[str, ...], Callable], ...] = ()
    eval_point: Callable | None = None  # one leaf at the evaluation point (`eval` section)


# -- hypers ---------------------------------------------------------------------------------


def _is_plain_number(value: Any) -> bool:
    """A Python (or NumPy) scalar: checked now. Arrays, tracers and schedules are not."""
    return isinstance(value, (numbers.Number, np.bool_)) and not isinstance(value, jax.Array)


@functools.cache
def _defaults(factory: Callable) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(factory).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def resolve_hypers(
    spec: Spec, given: Mapping[str, Any], aliases: Mapping[str, Any]
) -> dict[str, Any]:
    """Spec hyper → value, from the factory's keywords and the spec-name aliases.

    A keyword counts as given when its value is not the factory's default object itself; an
    alias is given when it is not None. Plain numbers are checked against the spec's domain;
    schedules (callables) and arrays (traced, or from ``optax.inject_hyperparams``) are not.
    """
    defaults = _defaults(spec.function)
    values = {}
    for hyper in spec.hypers:
        value, used = given[hyper.keyword], hyper.keyword
        if hyper.alias is not None and aliases.get(hyper.alias) is not None:
            if value is not defaults.get(hyper.keyword):
                raise ValueError(
                    f"{spec.factory}() got both {hyper.keyword}= and {hyper.alias}= (the spec's "
                    f"name for it): pass one (under optax.inject_hyperparams, {hyper.keyword}=)"
                )
            value, used = aliases[hyper.alias], hyper.alias
        if callable(value):
            if hyper.kind == "bool":
                raise ValueError(f"{used} is a flag: it cannot be a schedule")
        elif _is_plain_number(value) and not hyper.valid(value):
            raise ValueError(f"Invalid {used}: {value!r} ({used} must be {hyper.requirement})")
        values[hyper.name] = value
    return values


def check_fixed(spec: Spec, options: Mapping[str, Any]) -> None:
    """An option the counterpart fixes accepts only that value (traced values are not checked)."""
    for fixed in spec.fixed:
        value = options[fixed.keyword]
        if _is_plain_number(value) and value != fixed.value:
            raise ValueError(
                f"{spec.factory}({fixed.keyword}={value!r}): {spec.name} ({spec.spec_path}) is "
                f"{spec.counterpart} with {fixed.keyword}={fixed.value!r} only; another value is "
                f"another algorithm: use a spec that has {fixed.keyword} as a hyper"
            )


def _at_least(values: Mapping[str, Any], dtype: Any) -> dict[str, Any]:
    """Floating array hypers (a schedule's value, optax.inject_hyperparams' arrays) promoted to
    at least the gradient's dtype: a float32 schedule value must not pull float64 arithmetic
    (``1 - lr * weight_decay``) down to float32, as optax never does (it multiplies updates)."""
    result = dict(values)
    for name, value in values.items():
        if isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating):
            result[name] = value.astype(jnp.promote_types(value.dtype, dtype))
    return result


def at_count(values: Mapping[str, Any], count: jax.Array) -> dict[str, Any]:
    """Hypers at one step: schedules called with optax's 0-based count, as optax does."""
    return {name: value(count) if callable(value) else value for name, value in values.items()}


# -- the transformation -----------------------------------------------------------------------


def _leaf_mask(mask: Any, updates: Any, treedef: Any) -> list[Any]:
    """The mask (a tree of bools, a prefix of the updates' tree, or a callable of the updates,
    as optax.masked) as one bool per leaf of ``updates``."""
    tree = mask(updates) if callable(mask) else mask
    broadcast = jax.tree.map(lambda m, sub: jax.tree.map(lambda _: m, sub), tree, updates)
    return treedef.flatten_up_to(broadcast)


def _masked(value: Any, keep: Any) -> Any:
    if isinstance(keep, (bool, np.bool_)):
        return value if keep else 0.0
    return jnp.where(keep, value, 0.0)


def transformation(
    spec: Spec,
    given: Mapping[str, Any],
    aliases: Mapping[str, Any],
    options: Mapping[str, Any],
) -> optax.GradientTransformation:
    """The optax transformation of one generated factory call."""
    values = resolve_hypers(spec, given, aliases)
    check_fixed(spec, options)
    mask = options.get(spec.mask_keyword) if spec.mask_keyword else None
    moment_dtype = options.get("mu_dtype") if spec.moment else None
    count_field = spec.count_field
    fields = [spec.fields[name] for name in spec.fields]
    dtypes = {spec.fields[spec.moment]: moment_dtype} if moment_dtype is not None else {}

    def init_fn(params: optax.Params) -> Any:
        hypers = at_count(values, jnp.zeros([], jnp.int32))
        leaves, treedef = jax.tree.flatten(params)
        per_leaf = [spec.init(theta, **hypers) for theta in leaves]
        columns = list(zip(*per_leaf, strict=True)) or [()] * len(fields)
        trees = {
            name: treedef.unflatten([jnp.asarray(x, dtypes.get(name)) for x in column])
            for name, column in zip(fields, columns, strict=True)
        }
        shared = {}
        if spec.global_states:
            dtype = jnp.result_type(*leaves) if leaves else jnp.float32
            shared = {k: jnp.asarray(v, dtype) for k, v in spec.init_globals(**hypers).items()}
        return spec.state_class(**{count_field: jnp.zeros([], jnp.int32)}, **trees, **shared)

    def update_fn(
        updates: optax.Updates, state: Any, params: optax.Params | None = None
    ) -> tuple[optax.Updates, Any]:
        if spec.reads_theta and params is None:
            raise ValueError(
                f"{spec.factory} reads the parameters: call update(grads, state, params)"
            )
        count = getattr(state, count_field)
        hypers = at_count(values, count)
        t = optax.safe_increment(count)
        treedef = jax.tree.structure(updates)
        trees = [updates, *([params] if spec.reads_theta else [])]
        trees += [getattr(state, name) for name in fields]
        columns = [treedef.flatten_up_to(tree) for tree in trees]
        keep = _leaf_mask(mask, updates, treedef) if mask is not None else None
        leaves = list(zip(*columns, strict=True))
        shared = _round_values(spec, state, leaves, t, hypers)
        if spec.batch_by_shape and keep is None and _batches_here():
            results = _batched_updates(spec.update, leaves, t, hypers, shared)
        else:
            results = []
            for i, leaf in enumerate(leaves):
                leaf_hypers = _at_least(hypers, leaf[0].dtype)
                if keep is not None:
                    leaf_hypers = {**hypers, spec.decay: _masked(hypers[spec.decay], keep[i])}
                results.append(spec.update(*leaf, t=t, **leaf_hypers, **shared))
        outputs = list(zip(*results, strict=True)) or [()] * (len(fields) + 1)
        olds = columns[len(columns) - len(fields) :]
        new = {
            name: treedef.unflatten(
                [jnp.asarray(x, old.dtype) for x, old in zip(xs, old_leaves, strict=True)]
            )
            for name, xs, old_leaves in zip(fields, outputs[1:], olds, strict=True)
        }
        delta = treedef.unflatten(list(outputs[0]))
        settled = {
            name: jnp.asarray(shared[value], getattr(state, name).dtype)
            for name, value in spec.global_outputs.items()
        }
        kept = {name: getattr(state, name) for name in spec.global_states if name not in settled}
        return delta, spec.state_class(**{count_field: t}, **new, **settled, **kept)

    return optax.GradientTransformation(init_fn, update_fn)


# jaxlib 0.10.2's CPU eigh (and the other LAPACK kernels) splits a batch over the intra-op
# thread pool and waits for it from a thread of that same pool: two batched eighs running at
# once (SOAP's L and R) deadlock a 2-thread pool (gdb: both tf_XLAEigen threads blocked in
# jax::ParallelBatchMap under lapack_ssyevd_ffi, the step never returns). Batching serves
# accelerators (docs/benchmarks.md: no CPU gain), so on CPU the leaves are stepped one by one.
BATCH_ON_CPU = False


def _batches_here() -> bool:
    return BATCH_ON_CPU or jax.default_backend() != "cpu"


def _batched_updates(
    update: Callable[..., tuple], leaves: list[tuple], t: Any, hypers: Mapping[str, Any], shared
) -> list[tuple]:
    """``update`` of every leaf, in leaf order: one ``jax.vmap`` per group of leaves whose
    arrays (gradient, parameter, states) share shapes and dtypes, a plain call for a leaf alone."""
    groups: dict[tuple, list[int]] = {}
    for i, leaf in enumerate(leaves):
        key = tuple((jnp.shape(x), jnp.result_type(x)) for x in leaf)
        groups.setdefault(key, []).append(i)
    results: list[tuple] = [()] * len(leaves)
    for indices in groups.values():
        first = leaves[indices[0]]
        step = functools.partial(update, t=t, **_at_least(hypers, first[0].dtype), **shared)
        if len(indices) == 1:
            results[indices[0]] = step(*first)
            continue
        columns = zip(*(leaves[i] for i in indices), strict=True)
        batched = jax.vmap(step)(*(jnp.stack(column) for column in columns))
        for k, i in enumerate(indices):
            results[i] = tuple(value[k] for value in batched)
    return results


def eval_params(spec: Spec, state: Any, params: Any, hypers: Mapping[str, Any]) -> Any:
    """The parameters at the evaluation point of the spec's ``eval`` section (schedule-free's
    x, an average), from the transformation's state and the training parameters; ``hypers``:
    the factory keywords given to it (their defaults otherwise)."""
    defaults = _defaults(spec.function)
    unknown = sorted(set(hypers) - set(defaults))
    if unknown:
        raise TypeError(f"{spec.factory}_eval_params() got an unexpected keyword {unknown[0]!r}")
    count = getattr(state, spec.count_field)
    values = at_count(resolve_hypers(spec, {**defaults, **hypers}, {}), count)
    shared = {name: getattr(state, name) for name in spec.global_states}
    treedef = jax.tree.structure(params)
    trees = [params, *(getattr(state, spec.fields[name]) for name in spec.fields)]
    columns = [treedef.flatten_up_to(tree) for tree in trees]
    leaves = [
        spec.eval_point(*leaf, t=count, **_at_least(values, leaf[0].dtype), **shared)
        for leaf in zip(*columns, strict=True)
    ]
    return treedef.unflatten(leaves)


def cond(pred: Any, then: Callable[[], tuple], orelse: Callable[[], tuple]) -> tuple:
    """``jax.lax.cond`` for a spec's block: the branches may leave values of different dtypes
    (a bf16 state kept, or recomputed in float32), so both are cast to their common type, as the
    straight-line code would promote them; the transformation casts states back at the end."""
    shapes = [jax.eval_shape(branch) for branch in (then, orelse)]
    dtypes = [jnp.result_type(a.dtype, b.dtype) for a, b in zip(*shapes, strict=True)]

    def cast(branch: Callable[[], tuple]) -> Callable[[], tuple]:
        return lambda: tuple(jnp.asarray(x, d) for x, d in zip(branch(), dtypes, strict=True))

    return jax.lax.cond(pred, cast(then), cast(orelse))


def _round_values(spec: Spec, state: Any, leaves: list, t: Any, hypers: Mapping[str, Any]):
    """The global states at step entry and the values computed once for the whole tree: each
    round sums its terms over the leaves, then computes its group values (optc.ir.phases)."""
    values = {name: getattr(state, name) for name in spec.global_states}
    for partials, names, group_values in spec.rounds:
        terms = [
            partials(*leaf, t=t, **_at_least(hypers, leaf[0].dtype), **values)
            for leaf in (leaves if partials is not None else ())
        ]
        columns = zip(*terms, strict=True) if terms else [[jnp.zeros([])]] * len(names)
        sums = [sum(column[1:], column[0]) for column in columns]
        values.update(zip(names, sums, strict=True))
        values.update(group_values(t=t, **hypers, **values))
    return values


# -- optax states ---------------------------------------------------------------------------

_CONTAINER_FIELDS = ("inner_state", "inner_states")


def _is_namedtuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def _walk(node: Any):
    """The NamedTuples of an optax state, outer first: chains (tuples), wrappers' inner states."""
    if _is_namedtuple(node):
        yield node
        for name in node._fields:
            child = getattr(node, name)
            if name in _CONTAINER_FIELDS or _is_namedtuple(child):
                yield from _walk(child)
    elif isinstance(node, (tuple, list)):
        for child in node:
            yield from _walk(child)
    elif isinstance(node, dict):
        for child in node.values():
            yield from _walk(child)


def library(spec: Spec) -> Callable[..., optax.GradientTransformation]:
    """The optax counterpart's factory (``optax.contrib.madgrad``...)."""
    if spec.counterpart is None:
        raise ValueError(f"{spec.name} declares no optax counterpart ({spec.spec_path})")
    module, _, name = spec.counterpart.rpartition(".")
    return getattr(importlib.import_module(module), name)


def from_optax(spec: Spec, optax_state: Any, count: Any = None) -> Any:
    """The counterpart's state (as its ``init``/``update`` return it, chains and wrappers
    included) as the generated NamedTuple. ``count`` (optax's step count, 0 before the first
    step) is read from the state; pass it where the optax state has none (optax.adadelta)."""
    wanted = dict(spec.fields)  # spec state → our field; the optax field is STATE_FIELDS' value
    nodes = list(_walk(optax_state))
    found: dict[str, Any] = {}
    owner = None
    for node in nodes:
        for name, field_name in wanted.items():
            if field_name in node._fields and name not in found:
                found[name] = getattr(node, field_name)
                owner = owner or node
    missing = [spec.fields[name] for name in wanted if name not in found]
    if missing:
        raise ValueError(
            f"not a state of {spec.counterpart}: no field {', '.join(missing)} in {optax_state!r:.200}"
        )
    if count is None:
        counts = [
            node.count for node in ([owner] if owner else []) + nodes if "count" in node._fields
        ]
        if not counts:
            raise ValueError(
                f"this state of {spec.counterpart} has no step count: pass count= (the number of "
                "steps taken)"
            )
        count = counts[0]
    return spec.state_class(
        **{spec.count_field: jnp.asarray(count, jnp.int32)},
        **{spec.fields[name]: value for name, value in found.items()},
    )


def to_optax(spec: Spec, state: Any, like: Any = None, params: Any = None) -> Any:
    """The generated state in the counterpart's structure.

    ``like``: an optax state to fill (e.g. ``optax.adamw(schedule, mask=...).init(params)``,
    whose chain differs with its options); by default the state of the counterpart built with
    its fixed options, initialised on ``params`` (or on a θ-shaped state of ``state``). Every
    field named as a spec state is replaced, and every ``count`` gets the step count.
    """
    if like is None:
        if params is None:
            if not spec.tensor_states:
                raise ValueError("pass params= or like= (an optax state to fill)")
            params = getattr(state, spec.fields[spec.tensor_states[0]])
        options = {fixed.keyword: fixed.value for fixed in spec.fixed}
        like = library(spec)(learning_rate=1.0, **options).init(params)
    ours = {spec.fields[name]: getattr(state, spec.fields[name]) for name in spec.fields}
    count = getattr(state, spec.count_field)
    filled: set[str] = set()

    def fill(node: Any) -> Any:
        if _is_namedtuple(node):
            changes = {}
            for name in node._fields:
                child = getattr(node, name)
                if name in ours:
                    changes[name] = ours[name]
                    filled.add(name)
                elif name == "count":
                    changes[name] = jnp.asarray(count, jnp.asarray(child).dtype)
                elif name in _CONTAINER_FIELDS or _is_namedtuple(child):
                    changes[name] = fill(child)
            return node._replace(**changes)
        if isinstance(node, (tuple, list)):
            return type(node)(fill(child) for child in node)
        return node

    result = fill(like)
    if set(ours) - filled:
        raise ValueError(
            f"the optax state has no field {', '.join(sorted(set(ours) - filled))}: "
            f"is it a state of {spec.counterpart}?"
        )
    return result
