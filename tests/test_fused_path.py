"""The fused path (``fused=True``) against the readable one, the ground truth.

Every spec runs both paths side by side as a user would: two param groups with different
learning rates, parameters of 0 to 4 dimensions (an empty one and a non-contiguous one among
them), one gradient tensor per parameter reused in place across steps, and an lr changed
mid-run. The kernels run eagerly for every spec (this checks the generated split into
``<name>_scalars`` / ``<name>_kernel``); a set of specs covering each kind of step (blocks,
global state, per-row values, evaluation points, a state copied from θ) also runs compiled,
which checks torch.compile's handling of it. Expected values come from ``<name>_update``
through the readable path, never from the fused path itself.
"""

from __future__ import annotations

import functools
import io
import shutil

import pytest
import torch

import optc
from optc.backends.torch.runtime import SpecOptimizer
from tests.conftest import SPECS

ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.opt") if p.stem != "prelude")
SHAPES = ((), (7,), (4, 3), (2, 3, 2, 2), (0, 3))
# Hypers under which the default six steps take both sides of each block.
BRANCHES = {"bemaadam": {"burn_in": 2, "update_freq": 2}, "lookaheadadam": {"k": 2}}
COMPILED = (
    "adamw",  # plain elementwise
    "lion",
    "heavyball",  # prev <- theta: a state's new value is θ's old one
    "adafactor",  # per-row and per-column states, a branch on ndim
    "sgdp",  # row sums
    "prodigy",  # global state and sums across parameters
    "sgdschedulefree",  # eval / train sections
    "bemaadam",  # blocks on t and hypers
    "adamwcosine",  # a schedule of t
)


@functools.cache
def optimizer_class(spec: str) -> type[torch.optim.Optimizer]:
    return optc.load(SPECS / f"{spec}.opt", backend="torch")


def _params(dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, dtype=dtype, generator=gen) for s in SHAPES]
    params.append(torch.randn(3, 5, dtype=dtype, generator=gen).t())  # non-contiguous leaf
    return params


def _run(spec: str, fused: bool, dtype: torch.dtype, steps: int = 6, **flags):
    """Params, optimizer and state after ``steps`` steps on one seeded gradient stream."""
    params = _params(dtype)
    cls = optimizer_class(spec)
    first = {"params": params[:3]}
    second = {"params": params[3:]}
    defaults = cls(params[:1]).defaults
    if "lr" in defaults:
        second["lr"] = defaults["lr"] / 2
    opt = cls([first, second], fused=fused, **flags, **BRANCHES.get(spec, {}))
    grads = [torch.zeros_like(p) for p in params]
    for p, grad in zip(params, grads, strict=True):
        p.grad = grad  # the same tensor every step, refilled in place as accumulation does
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        for grad in grads:
            grad.copy_(torch.randn(grad.shape, dtype=dtype, generator=gen))
        opt.step()
        if step == 2:
            for group in opt.param_groups:
                if "lr" in group:
                    group["lr"] = group["lr"] * 0.5
    return params, opt


def _assert_same_run(spec, dtype, rtol, atol, **flags):
    expected, readable = _run(spec, fused=False, dtype=dtype, foreach=False, **flags)
    actual, fused = _run(spec, fused=True, dtype=dtype, **flags)
    for p, q in zip(expected, actual, strict=True):
        torch.testing.assert_close(q, p, rtol=rtol, atol=atol, equal_nan=True)
        for key, value in readable.state[p].items():
            torch.testing.assert_close(
                fused.state[q][key], value, rtol=rtol, atol=atol, equal_nan=True, msg=key
            )


# torch.compile on CPU builds C++: without a compiler only the eager kernel tests can run.
needs_compiler = pytest.mark.skipif(
    not (shutil.which("g++") or shutil.which("c++")), reason="torch.compile needs a C++ compiler"
)


@pytest.fixture
def eager_kernels(monkeypatch):
    """The fused path with its kernels run eagerly (no compilation)."""
    monkeypatch.setattr(SpecOptimizer, "compile_fused", False)


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_fused_kernels_equal_the_readable_update(spec, eager_kernels):
    _assert_same_run(spec, torch.float64, rtol=1e-13, atol=1e-300)
    _assert_same_run(spec, torch.float32, rtol=1e-6, atol=1e-7, maximize=True)


@needs_compiler
@pytest.mark.parametrize("spec", COMPILED)
def test_compiled_fused_path_equals_the_readable_update(spec):
    _assert_same_run(spec, torch.float64, rtol=1e-12, atol=1e-14)


@needs_compiler
def test_compiled_fused_path_in_float32_bfloat16_and_complex():
    for dtype, rtol, atol in ((torch.float32, 1e-5, 1e-6), (torch.bfloat16, 1.6e-2, 1e-3)):
        _assert_same_run("adamw", dtype, rtol, atol)
    gen = torch.Generator().manual_seed(2)
    z0 = torch.randn(3, 2, dtype=torch.complex128, generator=gen)
    z, r = z0.clone(), z0.clone()
    opt_fused = optimizer_class("adamw")([z], fused=True)
    opt_readable = optimizer_class("adamw")([r])
    for _ in range(4):
        grad = torch.randn(3, 2, dtype=torch.complex128, generator=gen)
        z.grad, r.grad = grad.clone(), grad.clone()
        opt_fused.step()
        opt_readable.step()
    torch.testing.assert_close(z, r, rtol=1e-12, atol=1e-14)


@needs_compiler
def test_lr_scheduler_and_steps_do_not_recompile():
    counters = torch._dynamo.utils.counters
    params = _params(torch.float32, seed=3)
    opt = optimizer_class("adamw")(params, lr=1e-2, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.9**step)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    scheduler.step()
    graphs = counters["stats"]["unique_graphs"]
    for _ in range(5):
        opt.step()
        scheduler.step()
    assert counters["stats"]["unique_graphs"] == graphs
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.9**6)


@needs_compiler
@pytest.mark.parametrize("direction", ["fused_to_readable", "readable_to_fused"])
def test_checkpoint_moves_between_paths(direction):
    """A state_dict saved on one path loads into the other and continues identically."""
    first_fused = direction == "fused_to_readable"
    params_a = _params(torch.float64, seed=4)
    opt_a = optimizer_class("adamw")(params_a, fused=first_fused, weight_decay=0.1)
    gen = torch.Generator().manual_seed(5)
    grads = [
        [torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in params_a] for _ in range(6)
    ]
    for step_grads in grads[:3]:
        for p, grad in zip(params_a, step_grads, strict=True):
            p.grad = grad.clone()
        opt_a.step()
    params_b = [p.detach().clone() for p in params_a]
    opt_b = optimizer_class("adamw")(params_b, fused=not first_fused, weight_decay=0.1)
    saved = io.BytesIO()
    torch.save(opt_a.state_dict(), saved)
    saved.seek(0)
    opt_b.load_state_dict(torch.load(saved))
    # As in torch.optim, a loaded group keeps the saved flags: choose the path again.
    opt_b.param_groups[0]["fused"] = not first_fused
    for step_grads in grads[3:]:
        for p, q, grad in zip(params_a, params_b, step_grads, strict=True):
            p.grad, q.grad = grad.clone(), grad.clone()
        opt_a.step()
        opt_b.step()
    for p, q in zip(params_a, params_b, strict=True):
        torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-14)


def test_a_choice_between_a_number_and_a_hyper_is_a_0d_tensor_in_the_kernel(eager_kernels):
    """Regression (specs/splus.opt's step size): `if ndim >= 2 then 2 / max(rows + cols, 1)
    else c` chooses between a Python number and a hyper the kernel receives as a tensor; the
    kernel filled the number through a `scalar_shape` helper that does not exist (ImportError
    on import of the generated module). The number branch is now a 0-d tensor."""
    cls = optc.load(
        'optimizer ScalarChoice\ncite "regression test of the fused kernels"\n'
        'hyper lr = 0.1 in (0, inf) "learning rate"\n'
        'hyper c = 0.5 in (0, inf) "factor of lr for parameters of fewer than 2 dimensions"\n'
        "step\n  size = lr * (if ndim >= 2 then 2 / max(rows + cols, 1) else c)\n"
        "  theta <- theta - size * g\n",
        backend="torch",
    )
    for fused in (False, True):
        params = [torch.ones(4, 3, dtype=torch.float64), torch.ones(5, dtype=torch.float64)]
        for p in params:
            p.grad = torch.ones_like(p)
        cls(params, fused=fused).step()
        torch.testing.assert_close(params[0], torch.full((4, 3), 1 - 0.1 * 2 / 7).double())
        torch.testing.assert_close(params[1], torch.full((5,), 1 - 0.1 * 0.5).double())
