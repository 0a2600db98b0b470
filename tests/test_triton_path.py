"""The Triton fused path against the readable one, under ``TRITON_INTERPRET=1`` on the CPU.

Every spec with a generated Triton kernel runs the runs of tests/test_fused_path.py (two param
groups with different learning rates, parameters of 0 to 4 dimensions with an empty and a
non-contiguous one, a reused gradient tensor, an lr changed mid-run, maximize in float32)
with ``fused=True`` forced onto the Triton kernel, and must agree with the readable
``<name>_update``: the same statements in registers, float64 and float32. bfloat16 parameters
are computed in float32 (each step: load, compute in float32, store rounded) and one launch
covers a param group. The interpreter runs the kernels as NumPy code, so the tensors are tiny;
what a GPU would add (compilation, timing) is not tested here. The module reruns itself in a
subprocess with ``TRITON_INTERPRET=1`` (see ``INTERPRETED``); in the outer pytest it also
checks that CPU users keep the compiled path and that importing optc imports no triton.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")

from optc.backends.torch import chunks
from optc.backends.torch.runtime import SpecOptimizer
from optc.generated.torch import AdamW
from optc.regen import generated_dir
from tests.test_fused_path import _assert_same_run, _run

TRITON_SPECS = sorted(
    p.stem for p in (generated_dir() / "triton").glob("*.py") if p.stem != "__init__"
)


# triton.jit decides interpreted or compiled when a function is decorated, triton's own
# library included, so TRITON_INTERPRET must be set before triton is imported at all: the tests
# run in a pytest of their own (test_the_triton_path_under_the_interpreter), leaving this one
# and the other tests' triton untouched.
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
interpreted = pytest.mark.skipif(not INTERPRETED, reason="runs in a TRITON_INTERPRET=1 subprocess")
outer = pytest.mark.skipif(INTERPRETED, reason="runs in the pytest that starts this one")


@outer
def test_the_triton_path_under_the_interpreter():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"],
        env={**os.environ, "TRITON_INTERPRET": "1"},
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


@pytest.fixture(scope="module", autouse=True)
def triton_on_cpu():
    """fused=True on CPU tensors takes the Triton path (interpreted) in this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SpecOptimizer, "triton_on_cpu", True)
        yield


@outer
def test_cpu_users_keep_the_compiled_path_and_optc_needs_no_triton(monkeypatch):
    monkeypatch.setattr(SpecOptimizer, "triton_on_cpu", False)
    monkeypatch.setattr(SpecOptimizer, "compile_fused", False)  # the eager form of that path
    monkeypatch.setattr(chunks, "step", lambda *args: pytest.fail("the Triton path ran"))
    _assert_same_run("adamw", torch.float32, rtol=1e-6, atol=1e-7)
    code = "import sys, optc.generated.torch, optc.generated.triton; print('triton' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@interpreted
def test_the_library_has_kernels_for_the_elementwise_specs():
    assert len(TRITON_SPECS) == 49
    assert AdamW.triton_kernel == "optc.generated.triton.adamw:adamw_triton"


@interpreted
@pytest.mark.parametrize("spec", TRITON_SPECS)
def test_triton_kernel_equals_the_readable_update(spec):
    _assert_same_run(spec, torch.float64, rtol=1e-12, atol=1e-14)
    _assert_same_run(spec, torch.float32, rtol=1e-6, atol=1e-7, maximize=True)


@interpreted
def test_one_launch_per_param_group_and_step(monkeypatch):
    launches = []
    launch = chunks._launch
    monkeypatch.setattr(chunks, "_launch", lambda *a: launches.append(len(a[1])) or launch(*a))
    _run("adamw", fused=True, dtype=torch.float32, steps=3)
    assert launches == [3, 3] * 3  # two groups of three parameters each, three steps


@interpreted
def test_library_module_kernel_and_bfloat16_parameters_in_float32():
    """The committed generated/triton module (imported, not compiled in memory) on bfloat16 θ
    and states: each step is the float32 update of the stored values, rounded once (to 1 ulp:
    the interpreter rounds bfloat16 stores toward zero, a GPU to nearest)."""
    gen = torch.Generator().manual_seed(4)
    params = [torch.randn(s, generator=gen).bfloat16() for s in ((), (5,), (3, 4), (0,))]
    opt = AdamW(params, lr=1e-2, weight_decay=0.1, fused=True)
    hypers = opt.group_hypers(opt.param_groups[0])
    for t in range(1, 5):
        expected = []
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen).bfloat16()
            state = opt.state[p]
            states = [
                state[key].float() if state else p.float() * 0 for key in AdamW.state_keys.values()
            ]
            expected.append(AdamW.update_state(p.float(), p.grad.float(), *states, t=t, **hypers))
        opt.step()
        for p, (theta, m, v) in zip(params, expected, strict=True):
            assert p.dtype == opt.state[p]["exp_avg"].dtype == torch.bfloat16
            for actual, want in (
                (p, theta),
                (opt.state[p]["exp_avg"], m),
                (opt.state[p]["exp_avg_sq"], v),
            ):
                torch.testing.assert_close(actual.float(), want, rtol=2**-7, atol=1e-30)
