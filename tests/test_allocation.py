"""State allocation by parameter class (optc.ir.allocation): a state exists only on the
parameters whose step uses it, the same in torch (no key), jax (an empty array) and the NumPy
reference (no entry), and the bytes equal the libraries' (torch.optim.Muon keeps one buffer
per matrix, not AdamW's two moments as well)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import optc
from optc.backends.reference.interpreter import init_state
from optc.check.properties import property_report
from optc.pipeline import compile_file, library_specs
from optc.render.spec import spec_text
from optc.verify import gradient_stream, initial_params, run_jax, run_reference, run_torch

NESTED = """optimizer Nested
cite "a test"
hyper lr = 0.1 in (0, inf)
hyper k = 2 in int [1, inf)
state a = 0
state b = 0
state c = 0
state d = 0
state e = 0
state f = 0
state h = 0
state w = 0
step
  if ndim >= 2:
    a <- a + g
    theta <- theta - lr * a
    if rows < cols:
      b <- b + g
      theta <- theta - lr * b
    w <- w + g
  else:
    c <- c + g
    theta <- theta - lr * c
    w <- w - g
  if ndim >= 2 and mod(t, k) == 0:
    d <- d + g
    theta <- theta - lr * d
  if mod(t, k) == 0:
    e <- e + g
  x = if numel > 4 then f else g
  f <- f + 1
  theta <- theta - lr * (x + e + (if ndim >= 2 then h else 0))
"""


def _where(program) -> dict[str, str | None]:
    return {s.name: s.where and spec_text(s.where, program) for s in program.states}


def test_the_condition_is_the_blocks_around_each_use():
    program = optc.load_program(NESTED)
    assert _where(program) == {
        "a": "ndim >= 2",
        "b": "ndim >= 2 and rows < cols",
        "c": "ndim < 2",  # the else of a dimension block: its negation
        "d": "ndim >= 2",  # the dimension conjunct of a mixed condition
        "e": None,  # a condition on t alone says nothing about the parameter
        "f": None,  # read under numel > 4, but written everywhere
        "h": "ndim >= 2",  # the branch of `if c then a else b` on dimensions that reads it
        "w": None,  # both branches of a dimension block: every parameter
    }
    assert property_report(program, budget=1).memory == (
        "3·numel; ndim >= 2: 3·numel; ndim >= 2 and rows < cols: numel; ndim < 2: numel"
    )


SHAPES = ((3, 5), (5, 3), (2, 3, 2), (6,), ())


def _conditional_specs() -> list[str]:
    return sorted(
        path.stem
        for path in library_specs()
        if any(s.where is not None for s in compile_file(path, checks=False).program.states)
    )


CONDITIONAL = _conditional_specs()


def test_the_dispatching_specs_allocate_by_class():
    # every spec of the library that dispatches matrices and other parameters to different
    # steps; a spec that stopped allocating conditionally would drop out of this list
    assert len(CONDITIONAL) >= 20
    assert {"muon", "shampoo", "galore", "adadiag", "dion"} <= set(CONDITIONAL)


@pytest.mark.parametrize("spec", CONDITIONAL)
def test_torch_jax_and_the_reference_allocate_the_same_states(spec):
    program = compile_file(optc.pipeline.library_dir() / f"{spec}.opt", checks=False).program
    params, grads = initial_params(SHAPES), gradient_stream(SHAPES, 2)
    values = {h.name: h.default for h in program.hypers}
    expected = [set(init_state(program, p, values)) for p in params]
    assert expected[0] != expected[3]  # a matrix and a vector hold different states
    for backend, run in (("torch", run_torch), ("jax", run_jax), ("reference", None)):
        if run is None:
            history = run_reference(program, params, grads, values)
        else:
            history = run(program, params, grads, values, "float64")
        for want, got in zip(expected, history[-1], strict=True):
            held = {name for name, value in got.items() if value is not None} - {"theta"}
            assert held == want, (backend, want, held)


def test_muon_keeps_the_state_bytes_of_torch_optim_muon_on_matrices():
    muon = optc.load(optc.pipeline.library_dir() / "muon.opt", backend="torch")
    ours, theirs = torch.zeros(8, 4, requires_grad=True), torch.zeros(8, 4, requires_grad=True)
    bias = torch.zeros(8, requires_grad=True)
    opt, library = muon([ours, bias]), torch.optim.Muon([theirs])
    for p in (ours, theirs, bias):
        p.grad = torch.randn(p.shape)
    opt.step()
    library.step()

    def nbytes(state):
        return sum(v.nbytes for k, v in state.items() if k != "step" and torch.is_tensor(v))

    assert nbytes(opt.state[ours]) == nbytes(library.state[theirs]) == 8 * 4 * 4
    assert set(opt.state[ours]) == {"step", "buf"}
    assert set(opt.state[bias]) == {"step", "adam_m", "adam_v"}  # AdamW's fallback
    assert opt.state_dict()["state"][1]["adam_m"].shape == (8,)


def test_jax_keeps_an_empty_array_where_a_state_is_not_allocated():
    muon = optc.load(optc.pipeline.library_dir() / "muon.opt", backend="jax")
    state = muon().init({"w": jnp.zeros((8, 4)), "b": jnp.zeros(8)})
    assert state.buf["w"].shape == (8, 4) and state.buf["b"].shape == (0,)
    assert state.adam_m["w"].shape == (0,) and state.adam_m["b"].shape == (8,)
    np.testing.assert_array_equal(state.adam_v["b"], np.zeros(8))


@pytest.mark.parametrize("spec", CONDITIONAL)
def test_jax_init_allocates_the_same_under_jit(spec):
    # the conditions are Python bools on the leaf's dimensions, also while jit traces init
    factory = optc.load(optc.pipeline.library_dir() / f"{spec}.opt", backend="jax")
    params = [jnp.ones(s) for s in SHAPES]
    eager, traced = factory().init(params), jax.jit(factory().init)(params)
    assert jax.tree.map(jnp.shape, eager) == jax.tree.map(jnp.shape, traced)
