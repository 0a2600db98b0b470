"""The evaluation point (`eval` / `train` sections): schedule-free's x, ASGD's average,
Lookahead's slow weights. torch's ``opt.eval()`` / ``opt.train()`` and jax's
``<name>_eval_params`` against the reference interpreter and schedulefree; the modes in
checkpoints; stepping in eval mode is an error."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import schedulefree
import torch

import optc
from optc.backends.hypers import resolve_hypers
from optc.backends.reference.interpreter import ReferenceOptimizer, section_point
from optc.verify import gradient_stream, initial_params

SPECS = Path(__file__).resolve().parent.parent / "specs"
SHAPES = ((), (7,), (4, 3), (2, 3, 2))
EVAL_SPECS = [
    "adamwschedulefree",
    "asgd",
    "bemaadam",
    "lookaheadadam",
    "sgdschedulefree",
    "splus",
]
HYPERS = {
    "adamwschedulefree": {
        "lr": 0.05,
        "beta1": 0.8,
        "warmup_steps": 3,
        "weight_decay": 0.1,
        "r": 0.5,
    },
    "asgd": {"lr": 0.05, "t0": 3.0, "lambd": 0.01},
    "bemaadam": {"lr": 0.01, "burn_in": 2, "update_freq": 2},
    "lookaheadadam": {"lr": 0.01, "k": 3, "alpha": 0.4},
    "splus": {"lr": 0.05, "ema_rate": 0.9, "inverse_steps": 3},
    "sgdschedulefree": {
        "lr": 0.05,
        "momentum": 0.8,
        "warmup_steps": 3,
        "weight_decay": 0.1,
        "r": 0.5,
    },
}


def _reference(spec: str, steps: int):
    program = optc.load_program(SPECS / f"{spec}.opt")
    ref = ReferenceOptimizer(program, initial_params(SHAPES), **HYPERS[spec])
    for grads in gradient_stream(SHAPES, steps, seed=5):
        ref.step(grads)
    points = [
        section_point(program, "eval", theta, state, ref.globals, ref.t, ref.hypers)
        for theta, state in zip(ref.params, ref.state, strict=True)
    ]
    return ref, points


def _torch(spec: str, steps: int):
    cls = optc.load(SPECS / f"{spec}.opt", backend="torch")
    tensors = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    opt = cls(tensors, **HYPERS[spec])
    for grads in gradient_stream(SHAPES, steps, seed=5):
        for t, g in zip(tensors, grads, strict=True):
            t.grad = torch.tensor(g)
        opt.step()
    return opt, tensors


@pytest.mark.parametrize("spec", EVAL_SPECS)
def test_torch_eval_moves_to_the_reference_point_and_train_comes_back(spec):
    _, points = _reference(spec, 7)
    opt, tensors = _torch(spec, 7)
    training = [t.detach().clone() for t in tensors]
    opt.eval()
    for t, want in zip(tensors, points, strict=True):
        np.testing.assert_allclose(t.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    opt.eval()  # idempotent
    for t, want in zip(tensors, points, strict=True):
        np.testing.assert_allclose(t.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match="train"):
        opt.step()
    opt.train()
    for t, before in zip(tensors, training, strict=True):
        torch.testing.assert_close(t.detach(), before, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spec", EVAL_SPECS)
def test_jax_eval_params_equal_the_reference_point(spec):
    jax.config.update("jax_enable_x64", True)
    _, points = _reference(spec, 7)
    module_factory = optc.load(SPECS / f"{spec}.opt", backend="jax")
    import sys

    module = sys.modules[module_factory.__module__]
    keywords = module.HYPER_NAMES
    given = {keywords[k]: v for k, v in HYPERS[spec].items()}
    tx = module_factory(**given)
    tree = [jnp.asarray(p) for p in initial_params(SHAPES)]
    state = tx.init(tree)
    for grads in gradient_stream(SHAPES, 7, seed=5):
        updates, state = tx.update([jnp.asarray(g) for g in grads], state, tree)
        tree = [p + u for p, u in zip(tree, updates, strict=True)]
    got = getattr(module, f"{module_factory.__name__}_eval_params")(state, tree, **given)
    for x, want in zip(got, points, strict=True):
        np.testing.assert_allclose(np.asarray(x), want, rtol=1e-12, atol=1e-14)


def test_eval_mode_survives_a_checkpoint():
    opt, tensors = _torch("asgd", 5)
    opt.eval()
    saved = opt.state_dict()
    assert saved["param_groups"][0]["train_mode"] is False
    cls = type(opt)
    copies = [t.detach().clone().requires_grad_() for t in tensors]
    resumed = cls(copies, **HYPERS["asgd"])
    resumed.load_state_dict(saved)
    resumed.train()
    opt.train()
    for a, b in zip(tensors, copies, strict=True):
        assert torch.equal(a, b)


def _schedulefree(params, h):
    opt = schedulefree.AdamWScheduleFree(
        params,
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        eps=h["eps"],
        weight_decay=h["weight_decay"],
        warmup_steps=h["warmup_steps"],
        r=h["r"],
        weight_lr_power=h["weight_lr_power"],
        foreach=False,
    )
    opt.train()  # schedulefree starts in eval mode
    return opt


def test_schedule_free_adamw_equals_schedulefree_in_both_modes():
    """Trajectory (y), base sequence z, the evaluation point x after eval(), and y again after
    train(): schedulefree.AdamWScheduleFree in float64, 12 steps, warmup and r > 0."""
    program = optc.load_program(SPECS / "adamwschedulefree.opt")
    h = resolve_hypers(program, HYPERS["adamwschedulefree"])
    cls = optc.load(SPECS / "adamwschedulefree.opt", backend="torch")
    ours = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    theirs = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    opt, lib = cls(ours, **h), _schedulefree(theirs, h)
    for grads in gradient_stream(SHAPES, 12, seed=5):
        for a, b, g in zip(ours, theirs, grads, strict=True):
            a.grad, b.grad = (
                torch.tensor(g),
                torch.tensor(g),
            )  # schedulefree divides its grad in place
        opt.step()
        lib.step()
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(opt.state[a]["z"], lib.state[b]["z"], rtol=1e-10, atol=1e-12)
    for switch in ("eval", "train"):
        getattr(opt, switch)()
        getattr(lib, switch)()
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
