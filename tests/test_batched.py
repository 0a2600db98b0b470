"""The matrix optimizers' batching by shape (optc.backends.torch.batched, and the jax runtime's
``_batched_updates``): parameters of one shape stacked and stepped by one vmapped update. It
must take the steps the per-parameter loop (torch ``foreach=False``, jax without batching: the
paths verified against the reference and the libraries) takes."""

from __future__ import annotations

import dataclasses
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from optc.backends.jax import runtime
from optc.backends.torch import batched
from optc.pipeline import library_specs

# three same-shape matrices, two of their transpose, an N-d one, vectors and a scalar
SHAPES = [(6, 4)] * 3 + [(4, 6)] * 2 + [(2, 3, 2), (5,), (5,), ()]


def _classes():
    classes = {}
    for path in library_specs():
        module = importlib.import_module(f"optc.generated.torch.{path.stem}")
        cls = next(
            getattr(module, n) for n in module.__all__ if isinstance(getattr(module, n), type)
        )
        if cls.batch_by_shape:
            classes[path.stem] = cls
    return classes


CLASSES = _classes()


def test_every_matrix_spec_without_a_foreach_kernel_batches():
    assert {"muon", "soap", "shampoo", "dion", "galore", "adadiag"} <= set(CLASSES)
    assert all(cls.foreach_kernel is None for cls in CLASSES.values())


def _run(cls, foreach: bool | None, steps: int = 12) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = [
        torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True) for s in SHAPES
    ]
    opt = cls(params, foreach=foreach)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64)
        opt.step()
    return [p.detach() for p in params] + [
        v for p in params for k, v in sorted(opt.state[p].items()) if k != "step"
    ]


@pytest.mark.parametrize("spec", sorted(CLASSES))
def test_the_batched_path_takes_the_loops_steps(spec, monkeypatch):
    calls = []
    vmap = torch.func.vmap
    monkeypatch.setattr(torch.func, "vmap", lambda f, *a, **k: calls.append(f) or vmap(f, *a, **k))
    got = _run(CLASSES[spec], foreach=None)
    assert calls, "the default path did not batch"
    monkeypatch.setattr(batched, "apply", None)  # the loop must not reach it
    want = _run(CLASSES[spec], foreach=False)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12, equal_nan=True)


def _jax_modules():
    modules = {}
    for path in library_specs():
        module = importlib.import_module(f"optc.generated.jax.{path.stem}")
        if module._SPEC.batch_by_shape:
            modules[path.stem] = module
    return modules


JAX_MODULES = _jax_modules()


def _run_jax(module, steps: int = 6) -> list[np.ndarray]:
    gen = np.random.default_rng(0)
    params = [jnp.asarray(gen.standard_normal(s)) for s in SHAPES]
    tx = getattr(module, module._SPEC.factory)()
    state = tx.init(params)
    update = jax.jit(tx.update)
    for _ in range(steps):
        grads = [jnp.asarray(gen.standard_normal(s)) for s in SHAPES]
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return [np.asarray(x) for x in jax.tree.leaves((params, state))]


@pytest.mark.parametrize("spec", sorted(JAX_MODULES))
def test_jax_batches_leaves_of_one_shape_as_its_loop_steps(spec, monkeypatch):
    # forced on CPU, where jaxlib's batched LAPACK kernels can deadlock on large batches
    # (backends/jax/runtime.py, BATCH_ON_CPU); these shapes are small enough to run inline
    monkeypatch.setattr(runtime, "BATCH_ON_CPU", True)
    calls = []
    original = runtime._batched_updates
    monkeypatch.setattr(runtime, "_batched_updates", lambda *a: calls.append(1) or original(*a))
    module = JAX_MODULES[spec]
    batched_run = _run_jax(module)
    assert calls, "the update did not batch"
    monkeypatch.setattr(module, "_SPEC", dataclasses.replace(module._SPEC, batch_by_shape=False))
    for got, want in zip(batched_run, _run_jax(module), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
