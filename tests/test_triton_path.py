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

import triton
import triton.language as tl

import optc
from optc.backends.torch import chunks, triton_ieee
from optc.backends.torch.runtime import SpecOptimizer
from optc.generated.torch import AdamW
from optc.regen import generated_dir
from tests import test_fused_path
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


# Kernels covering every helper, runtime blocks and filled states: compiled for an H100.
GPU_COMPILED = ("adamw", "bemaadam", "acclip", "adabound", "lion", "adopt")


@outer
@pytest.mark.parametrize("spec", GPU_COMPILED)
def test_kernel_compiles_for_a_gpu_without_one(spec):
    """Triton's compiler down to a cubin for sm_90 (no GPU needed): what the interpreter does
    not check (types across runtime blocks, constexpr globals), for bfloat16 θ and float32
    states, without FMA contraction; division and square root are the IEEE-rounded ones."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    module = __import__(f"optc.generated.triton.{spec}", fromlist=["_"])
    function = getattr(module, f"{spec}_triton")
    pointers, constexprs = function.arg_names[:4], function.arg_names[4:]
    values = [1024, tl.float32, tl.bfloat16, *[tl.float32] * (len(constexprs) - 3)]
    source = ASTSource(
        fn=function,
        signature={**dict.fromkeys(pointers[:3], "*i64"), pointers[3]: "*fp32"}
        | dict.fromkeys(constexprs, "constexpr"),
        constexprs={(4 + i,): value for i, value in enumerate(values)},
    )
    compiled = triton.compile(
        source, target=GPUTarget("cuda", 90, 32), options={"enable_fp_fusion": False}
    )
    ptx = compiled.asm["ptx"]
    assert compiled.asm["cubin"] and "div.full.f32" not in ptx and "sqrt.approx" not in ptx
    assert "fma.rn.f32" not in ptx


@interpreted
def test_the_library_has_kernels_for_the_elementwise_specs():
    assert len(TRITON_SPECS) == 49
    assert AdamW.triton_kernel == "optc.generated.triton.adamw:adamw_triton"


@interpreted
@pytest.mark.parametrize("spec", TRITON_SPECS)
def test_triton_kernel_equals_the_readable_update(spec):
    _assert_same_run(spec, torch.float64, rtol=1e-12, atol=1e-14)
    _assert_same_run(spec, torch.float32, rtol=1e-6, atol=1e-7, maximize=True)


# Names the Triton module uses itself, taken by a spec (compiled in memory by optc.load).
HOSTILE = """optimizer Triton
cite "x"
hyper BLOCK = 0.5 in [0, 1)
hyper mask = 2 in [0, inf)
hyper triton = 1 in [0, inf)
hyper s0 = 0.1 in (0, inf)
state index = 0
state chunk = 1
state ieee = 0
step
  index <- BLOCK * index + g
  chunk <- chunk * 0.9 + mask * triton
  ieee <- max(ieee, abs(g))
  theta <- theta - s0 * index / (sqrt(ieee) + chunk)
"""


@interpreted
def test_spec_names_that_the_triton_module_uses_itself(monkeypatch):
    cls = optc.load(HOSTILE)
    assert cls.triton_kernel == "optc_loaded_triton_triton:triton_triton"
    monkeypatch.setattr(test_fused_path, "optimizer_class", lambda spec: cls)
    _assert_same_run("triton", torch.float64, rtol=1e-12, atol=1e-14)
    # `tl` must be triton.language itself (the interpreter reads `tl.constexpr` literally)
    assert optc.load(HOSTILE.replace("s0", "tl")).triton_kernel is None


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


@triton.jit
def _helpers(x_ptr, y_ptr, out_ptr, N: tl.constexpr):
    """Each helper of triton_ieee on N pairs (x, y), one row of ``out`` per helper."""
    i = tl.arange(0, N)
    x, y = tl.load(x_ptr + i), tl.load(y_ptr + i)
    tl.store(out_ptr + i, triton_ieee.pow(x, y))
    tl.store(out_ptr + N + i, triton_ieee.div(x, y))
    tl.store(out_ptr + 2 * N + i, triton_ieee.mod(x, y))
    tl.store(out_ptr + 3 * N + i, triton_ieee.minimum(x, y))
    tl.store(out_ptr + 4 * N + i, triton_ieee.maximum(x, y))
    tl.store(out_ptr + 5 * N + i, triton_ieee.clip(x, y, 1.0))
    tl.store(out_ptr + 6 * N + i, triton_ieee.sign(x))
    tl.store(out_ptr + 7 * N + i, triton_ieee.sqrt(x))


@interpreted
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_helpers_compute_what_torch_does_on_special_values(dtype):
    special = [-torch.inf, -2.5, -2, -1, -0.5, 0, 0.5, 1, 2, 3, torch.inf, torch.nan]
    x, y = torch.meshgrid(torch.tensor(special, dtype=dtype), torch.tensor(special, dtype=dtype))
    n = 256  # a power of two, as tl.arange wants; the pairs repeat
    x, y = x.flatten().repeat(2)[:n].contiguous(), y.flatten().repeat(2)[:n].contiguous()
    out = torch.empty(8, n, dtype=dtype)
    _helpers[(1,)](x, y, out, n)
    expected = [
        torch.pow(x, y),
        x / y,
        torch.remainder(x, y),
        torch.minimum(x, y),
        torch.maximum(x, y),
        torch.clamp(x, y, torch.ones_like(y)),
        torch.sign(x),
        torch.sqrt(x),
    ]
    for name, actual, want in zip(
        ("pow", "div", "mod", "minimum", "maximum", "clip", "sign", "sqrt"),
        out,
        expected,
        strict=True,
    ):
        torch.testing.assert_close(actual, want, rtol=1e-6, atol=0, equal_nan=True, msg=name)
