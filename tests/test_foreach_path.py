"""The multi-tensor path (``foreach=True``) against the readable one, the ground truth.

Every spec runs both paths side by side as in tests/test_fused_path.py: two param groups with
different learning rates, parameters of 0 to 4 dimensions (an empty one and a non-contiguous
one among them), one gradient tensor per parameter reused in place across steps, an lr changed
mid-run, in float64 and in float32 under ``maximize``. Expected values come from
``<name>_update`` through the readable path, never from the foreach path itself.
"""

from __future__ import annotations

import io

import pytest
import torch

import optc
from optc.backends.torch.runtime import SpecOptimizer
from tests.test_fused_path import ALL_SPECS, BRANCHES, _params, optimizer_class


def _run(spec: str, dtype: torch.dtype, steps: int = 6, **flags):
    """Params, optimizer and state after ``steps`` steps on one seeded gradient stream; the
    gradients are accumulated into tensors kept across steps (``zero_grad(set_to_none=False)``)
    and the lr is halved by a scheduler after step 3."""
    params = [p.requires_grad_() for p in _params(dtype)]
    cls = optimizer_class(spec)
    first, second = {"params": params[:3]}, {"params": params[3:]}
    defaults = cls(params[:1]).defaults
    if "lr" in defaults:
        second["lr"] = defaults["lr"] / 2
    opt = cls([first, second], **flags, **BRANCHES.get(spec, {}))
    scheduler = (
        torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5) if "lr" in defaults else None
    )
    gen = torch.Generator().manual_seed(1)
    for p in params:
        p.grad = torch.zeros_like(p)
    for _ in range(steps):
        opt.zero_grad(set_to_none=False)
        for p in params:
            p.grad.add_(torch.randn(p.shape, dtype=dtype, generator=gen))
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return params, opt


def _assert_same_run(spec, dtype, rtol, atol, **flags):
    expected, readable = _run(spec, dtype, foreach=False, **flags)
    actual, multi = _run(spec, dtype, foreach=True, **flags)
    for p, q in zip(expected, actual, strict=True):
        torch.testing.assert_close(q, p, rtol=rtol, atol=atol, equal_nan=True)
        for key, value in readable.state[p].items():
            torch.testing.assert_close(
                multi.state[q][key], value, rtol=rtol, atol=atol, equal_nan=True, msg=key
            )


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_foreach_path_equals_the_readable_update(spec):
    _assert_same_run(spec, torch.float64, rtol=1e-13, atol=1e-15)
    _assert_same_run(spec, torch.float32, rtol=1e-5, atol=1e-6, maximize=True)


LOW_PRECISION = ("adamw", "lion", "nadam", "lamb")  # elementwise, lerp, a scalar state, norms


@pytest.mark.parametrize("spec", LOW_PRECISION)
def test_foreach_path_in_bfloat16_and_complex(spec):
    _assert_same_run(spec, torch.bfloat16, rtol=1.6e-2, atol=1e-2)
    gen = torch.Generator().manual_seed(2)
    z0 = torch.randn(3, 2, dtype=torch.complex128, generator=gen)
    z, r = z0.clone().requires_grad_(), z0.clone().requires_grad_()
    opt_foreach = optimizer_class(spec)([z], foreach=True)
    opt_readable = optimizer_class(spec)([r], foreach=False)
    for _ in range(4):
        grad = torch.randn(3, 2, dtype=torch.complex128, generator=gen)
        z.grad, r.grad = grad.clone(), grad.clone()
        opt_foreach.step()
        opt_readable.step()
    torch.testing.assert_close(z, r, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("spec", ["adamw", "radam", "nadam"])
def test_parameters_at_different_steps_in_one_group(spec):
    """A parameter without a gradient does not step: the group then holds several t."""

    def run(foreach):
        params = [p.requires_grad_() for p in _params(torch.float64, seed=6)]
        opt = optimizer_class(spec)(params, foreach=foreach)
        gen = torch.Generator().manual_seed(7)
        for step in range(5):
            for k, p in enumerate(params):
                grad = torch.randn(p.shape, dtype=p.dtype, generator=gen)
                p.grad = None if (k % 2 and step < 2) else grad
            opt.step()
        return params, opt

    expected, _ = run(False)
    actual, multi = run(True)
    assert {int(s["step"]) for s in multi.state.values()} == {3, 5}
    for p, q in zip(expected, actual, strict=True):
        torch.testing.assert_close(q, p, rtol=1e-13, atol=1e-15)


def test_flags_choose_the_path(monkeypatch):
    cls = optimizer_class("adamw")
    params = _params(torch.float32)
    with pytest.raises(ValueError, match="`fused` and `foreach` cannot be `True` together"):
        cls(params, foreach=True, fused=True)
    calls = []
    monkeypatch.setattr(cls, "foreach_kernel", staticmethod(lambda *a, **k: calls.append(a)))
    for p in params:
        p.grad = torch.ones_like(p)
    cls(params, foreach=False).step()
    assert len(calls) == 0
    cls(params).step()  # foreach=None, the default: the multi-tensor path, as on CUDA in torch
    assert len(calls) == 1
    cls(params, foreach=True).step()
    assert len(calls) == 2


PATHS = {"readable": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


@pytest.mark.parametrize(
    ("saved_on", "loaded_on"),
    [("foreach", "readable"), ("readable", "foreach"), ("foreach", "fused"), ("fused", "foreach")],
)
@pytest.mark.parametrize("spec", ["adamw", "nadam"])
def test_checkpoint_moves_between_paths(spec, saved_on, loaded_on, monkeypatch):
    """A state_dict saved on one path loads into another and continues as one run would."""
    monkeypatch.setattr(SpecOptimizer, "compile_fused", False)  # the fused kernels, eagerly
    cls = optimizer_class(spec)
    gen = torch.Generator().manual_seed(5)
    start = _params(torch.float64, seed=4)
    grads = [[torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in start] for _ in range(6)]

    def train(params, opt, steps):
        for step_grads in steps:
            for p, grad in zip(params, step_grads, strict=True):
                p.grad = grad.clone()
            opt.step()

    reference = [p.clone() for p in start]
    train(reference, cls(reference, weight_decay=0.1, foreach=False), grads)
    first = [p.clone() for p in start]
    opt_first = cls(first, weight_decay=0.1, **PATHS[saved_on])
    train(first, opt_first, grads[:3])
    saved = io.BytesIO()
    torch.save(opt_first.state_dict(), saved)
    saved.seek(0)
    second = [p.detach().clone() for p in first]
    opt_second = cls(second, weight_decay=0.1, **PATHS[loaded_on])
    opt_second.load_state_dict(torch.load(saved))
    opt_second.param_groups[0].update({"foreach": None, "fused": None, **PATHS[loaded_on]})
    train(second, opt_second, grads[3:])
    for p, q in zip(reference, second, strict=True):
        torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-14)


def test_views_of_a_state_are_not_written_in_place():
    """``diag(L)``, ``transpose(...)`` and the matrix view of θ are views in torch: the foreach
    path must not add into them in place (it once added ``w`` into L's diagonal)."""
    from tests.test_matrix_values import spec as matrix_spec

    text = matrix_spec(
        "  L <- 0.9 * L + g @ transpose(g)\n"
        "  a = diag(L) + eigvals(L)\n"
        "  b = transpose(transpose(g)) + g\n"
        "  theta <- theta - lr * (a * g + b)",
        "state L: rows x rows = eye(rows)",
    )
    cls = optc.load(text)
    finals = {}
    for foreach in (False, True):
        torch.manual_seed(0)
        p = torch.nn.Parameter(torch.randn(6, 3, dtype=torch.float64))
        opt = cls([p], foreach=foreach)
        for _ in range(3):
            p.grad = torch.randn(6, 3, dtype=torch.float64)
            opt.step()
        finals[foreach] = (p.detach().clone(), opt.state[p]["L"].clone())
    torch.testing.assert_close(finals[True], finals[False], rtol=1e-13, atol=1e-15)
