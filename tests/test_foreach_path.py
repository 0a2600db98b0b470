"""The multi-tensor path (``foreach=True``) against the readable one, the ground truth.

Every spec runs both paths side by side as in tests/test_fused_path.py: two param groups with
different learning rates, parameters of 0 to 4 dimensions (an empty one and a non-contiguous
one among them), one gradient tensor per parameter reused in place across steps, an lr changed
mid-run, in float64 and in float32 under ``maximize``. Expected values come from
``<name>_update`` through the readable path, never from the foreach path itself.
"""

from __future__ import annotations

import pytest
import torch

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
