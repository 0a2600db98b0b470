"""Specs reproduce well-kept libraries (torch.optim, optax, pytorch_optimizer) in float64.

The cases and their hyper/convention mappings live in tests/refcases/. Each case runs the
committed generated code (optc.generated.torch / optc.generated.jax) and the library side by
side for at least 20 steps on one gradient stream, comparing θ after every step.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import optc.generated.jax as generated_jax
import optc.generated.torch as generated_torch
from optc.backends.hypers import resolve_hypers
from optc.pipeline import compile_file
from optc.verify import gradient_stream, initial_params
from tests.conftest import SPECS
from tests.refcases import (
    group_a,
    group_b,
    group_c,
    group_f,
    group_g,
    group_h,
    group_l,
    group_m,
    group_p,
    group_q,
    group_r,
    group_s,
)

CASES = (
    group_a.CASES
    + group_b.CASES
    + group_c.CASES
    + group_f.CASES
    + group_g.CASES
    + group_h.CASES
    + group_l.CASES
    + group_m.CASES
    + group_p.CASES
    + group_q.CASES
    + group_r.CASES
    + group_s.CASES
)
SHAPES = ((7,), (4, 3), (2, 3, 2))


def _torch_trajectory(optimizer, tensors, grads) -> list[list[np.ndarray]]:
    history = []
    for step_grads in grads:
        for tensor, g in zip(tensors, step_grads, strict=True):
            tensor.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        history.append([t.detach().numpy().copy() for t in tensors])
    return history


def _optax_trajectory(transformation, params, grads, jit=False) -> list[list[np.ndarray]]:
    """θ after every step; ``jit`` compiles ``update`` once (matrix specs run op by op for
    minutes otherwise), as a training loop would."""
    tree = [jnp.asarray(p, dtype=jnp.float64) for p in params]
    state = transformation.init(tree)
    update = jax.jit(transformation.update) if jit else transformation.update
    history = []
    for step_grads in grads:
        g_tree = [jnp.asarray(g, dtype=jnp.float64) for g in step_grads]
        updates, state = update(g_tree, state, tree)
        tree = optax.apply_updates(tree, updates)
        history.append([np.asarray(x) for x in tree])
    return history


def _fresh(params):
    return [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label())
def test_spec_reproduces_library(case):
    assert case.steps >= 20
    program = compile_file(SPECS / f"{case.spec}.opt", checks=False).program
    hypers = resolve_hypers(program, case.hypers)
    shapes = case.shapes or SHAPES
    params = initial_params(shapes)
    grads = gradient_stream(shapes, case.steps, seed=7)
    if case.library == "optax":
        factory = getattr(generated_jax, program.snake_name)
        keywords = sys.modules[factory.__module__].HYPER_NAMES  # optax's names: learning_rate...
        ours = factory(**{keywords[name]: value for name, value in hypers.items()})
        want = _optax_trajectory(case.build(hypers), params, grads)
        got = _optax_trajectory(ours, params, grads)
    else:
        ours_tensors, lib_tensors = _fresh(params), _fresh(params)
        ours = getattr(generated_torch, program.name)(ours_tensors, **hypers)
        got = _torch_trajectory(ours, ours_tensors, grads)
        want = _torch_trajectory(case.build(lib_tensors, hypers), lib_tensors, grads)
    for step, (got_step, want_step) in enumerate(zip(got, want, strict=True), start=1):
        for got_p, want_p in zip(got_step, want_step, strict=True):
            np.testing.assert_allclose(
                got_p, want_p, rtol=case.rtol, atol=case.atol, err_msg=f"step {step}: {case.note}"
            )


def test_every_case_moves_the_parameters():
    """A case whose hypers leave θ unchanged would pass vacuously; none does."""
    for case in CASES:
        program = compile_file(SPECS / f"{case.spec}.opt", checks=False).program
        hypers = resolve_hypers(program, case.hypers)
        shapes = case.shapes or SHAPES
        params = initial_params(shapes)
        tensors = _fresh(params)
        optimizer = getattr(generated_torch, program.name)(tensors, **hypers)
        _torch_trajectory(optimizer, tensors, gradient_stream(shapes, 3, seed=7))
        moved = max(
            float(np.abs(t.detach().numpy() - p).max())
            for t, p in zip(tensors, params, strict=True)
        )
        assert moved > 1e-6, case.label()
