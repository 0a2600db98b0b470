"""Parameter-class dispatch: one optimizer object serving a whole model, one rule for matrices
and another for the rest (`if ndim >= 2:` around two used specs' steps). Each parameter moves
exactly as its rule's own optimizer moves it, and a small MLP trains in both backends."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import optc

SPECS = Path(__file__).resolve().parent.parent / "specs"

DISPATCH = """optimizer LionForMatrices
cite "dispatch test: Lion (Chen et al., 2023) for matrices, Adam (Kingma & Ba, 2015) for the rest"
use lion as matrix
use adam as vector
step
  if ndim >= 2:
    matrix()
  else:
    vector()
"""
HYPERS = {"matrix_lr": 3e-3, "vector_lr": 3e-2}


def _mlp(seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
    ).double()


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4))
    y = np.sin(x @ np.array([1.0, -2.0, 0.5, 1.5]))[:, None]
    return torch.tensor(x), torch.tensor(y)


def test_each_parameter_class_moves_by_its_own_rule():
    """The same model stepped by Lion on its matrices and Adam on the rest (two optimizers,
    the specs' own) moves exactly as under the one dispatching optimizer. All three take the
    readable path (a spec whose blocks test the parameter's dimensions has no foreach path, and
    the foreach ops round differently), so the comparison can be exact."""
    model, reference = _mlp(), _mlp()
    opt = optc.load(DISPATCH, backend="torch")(model.parameters(), **HYPERS, foreach=False)
    lion = optc.load(SPECS / "lion.opt", backend="torch")
    adam = optc.load(SPECS / "adam.opt", backend="torch")
    matrices = [p for p in reference.parameters() if p.ndim >= 2]
    by_matrix = lion(matrices, lr=HYPERS["matrix_lr"], foreach=False)
    vectors = [p for p in reference.parameters() if p.ndim < 2]
    by_vector = adam(vectors, lr=HYPERS["vector_lr"], foreach=False)
    x, y = _data()
    for _ in range(5):
        for net in (model, reference):
            net.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
        by_matrix.step()
        by_vector.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_small_mlp_trains_in_both_backends():
    x, y = _data()
    model = _mlp()
    opt = optc.load(DISPATCH, backend="torch")(model.parameters(), **HYPERS)
    start = float(torch.nn.functional.mse_loss(model(x), y))
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * start

    jax.config.update("jax_enable_x64", True)
    params = {name: jnp.asarray(p.detach().numpy()) for name, p in _mlp().named_parameters()}
    xs, ys = jnp.asarray(x.numpy()), jnp.asarray(y.numpy())

    def loss_fn(p):
        hidden = jnp.tanh(xs @ p["0.weight"].T + p["0.bias"])
        return jnp.mean((hidden @ p["2.weight"].T + p["2.bias"] - ys) ** 2)

    tx = optc.load(DISPATCH, backend="jax")(matrix_lr=3e-3, vector_lr=3e-2)
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        updates, state = tx.update(jax.grad(loss_fn)(params), state, params)
        return optax.apply_updates(params, updates), state

    first = float(loss_fn(params))
    for _ in range(300):
        params, state = step(params, state)
    assert float(loss_fn(params)) < 0.5 * first
