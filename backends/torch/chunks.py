"""The Triton fused path: every parameter of a param group updated by one kernel launch.

A spec with an elementwise step has a generated Triton kernel (``generated/triton/<name>.py``,
see :mod:`optc.backends.torch.triton_kernel`) that updates one ``BLOCK`` of one parameter per
program. This module launches it over a *chunk table*: one row ``(tensor, first element)``
per block of every parameter, plus per-tensor arrays of element counts and of the addresses of
θ, the gradient and each state. So one launch covers a whole param group (per step count and
dtype combination, which pick the kernel's per-step scalars and its element types) however
many tensors it has: the launch count does not grow with the number of parameters.

The tables are cached by the sizes and addresses they describe: the optimizer's buffers and
the parameters keep their storage from step to step, so a loop whose gradients stay in place
sends only the per-step scalars to the device (gradients set to None by ``zero_grad`` come
back at new addresses: the address table, 8 bytes an operand, is sent again). A non-contiguous operand is staged through a
contiguous copy (written back after the launch for θ and the states).

On CUDA ``fused=True`` takes this path when the spec has a kernel and triton is installed;
on the CPU only with :attr:`SpecOptimizer.triton_on_cpu` set (the tests run the kernels under
``TRITON_INTERPRET=1``), since the compiled C++ loop is the CPU's fast path.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

BLOCK = 1024  # elements per program
# The element types the kernels take, by the name of their triton.language dtype.
_TYPES = {
    t: str(t).removeprefix("torch.")
    for t in (torch.float32, torch.float64, torch.float16, torch.bfloat16)
}

# Sources of kernels compiled in memory (optc.load), by module name: executed on first use.
_SOURCES: dict[str, str] = {}

Member = tuple[torch.Tensor, torch.Tensor, Sequence[torch.Tensor], int]  # θ, g, states, t


def register(module_name: str, source: str) -> None:
    """Make a generated Triton module that exists only as text importable by :func:`kernel`."""
    _SOURCES[module_name] = source
    kernel.cache_clear()


def usable(members: Sequence[Member], on_cpu: bool) -> bool:
    """Whether the Triton path can run these parameters: all on CUDA (or on the CPU when
    asked), of float types the kernels take, and triton installed."""
    operands = [x for theta, grad, states, _ in members for x in (theta, grad, *states)]
    return (
        all(x.is_cuda or (on_cpu and x.device.type == "cpu") for x in operands)
        and all(x.dtype in _TYPES for x in operands)
        and importlib.util.find_spec("triton") is not None
    )


@functools.cache
def kernel(reference: str) -> Any:
    """The jit function ``"module:function"`` names, importing triton on first use."""
    module_name, function = reference.split(":")
    source = _SOURCES.get(module_name)
    if source is not None:
        from optc.codegen import load_module

        module = load_module(source, module_name)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, function)


def step(
    reference: str,
    members: Sequence[Member],
    scalars_at: Callable[..., Mapping[str, Any]],
) -> None:
    """One step of a param group: one launch per (step count, device, element types).

    ``scalars_at(t=...)`` is the spec's ``<name>_scalars`` with the group's hypers bound."""
    buckets: dict[tuple, list[Member]] = {}
    for member in members:
        theta, grad, states, t = member
        key = (t, theta.device, *(x.dtype for x in (theta, grad, *states)))
        buckets.setdefault(key, []).append(member)
    for (t, *_), bucket in buckets.items():
        _launch(kernel(reference), bucket, scalars_at(t=t))


def _launch(function: Any, members: Sequence[Member], values: Mapping[str, Any]) -> None:
    """One launch over ``members`` (one device and one dtype per operand)."""
    import triton.language as tl

    theta = members[0][0]
    rows = [(theta, grad, *states) for theta, grad, states, _ in members]
    staged = [tuple(_contiguous(x) for x in row) for row in rows]
    sizes = tuple(row[0].numel() for row in staged)
    if sum(sizes) == 0:
        return
    compute = torch.float64 if theta.dtype == torch.float64 else torch.float32
    scalars = torch.tensor([float(v) for v in values.values()], dtype=compute, device=theta.device)
    addresses = tuple(x.data_ptr() for row in staged for x in row)
    chunks = _chunk_table(sizes, theta.device)
    # Triton launches on the current CUDA device: make it the parameters' one.
    on_device = torch.cuda.device(theta.device) if theta.is_cuda else contextlib.nullcontext()
    with on_device:
        function[(chunks.shape[0],)](
            chunks,
            _int64s(sizes, theta.device),
            _int64s(addresses, theta.device),
            scalars,
            BLOCK,
            getattr(tl, _TYPES[compute]),
            *(getattr(tl, _TYPES[x.dtype]) for x in staged[0]),
            # torch rounds every operation: no contraction into FMAs, so the kernel computes
            # what the readable update does (Triton 3.9 contracts by default).
            enable_fp_fusion=False,
        )
    for row, copies in zip(rows, staged, strict=True):
        for target, copy in zip(row[:1] + row[2:], copies[:1] + copies[2:], strict=True):
            if copy is not target:
                target.copy_(copy)


def _contiguous(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_contiguous() else x.contiguous()


@functools.lru_cache(maxsize=256)
def _chunk_table(sizes: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """int64 ``(tensor, first element)`` rows, one per BLOCK of each tensor, on ``device``."""
    counts = torch.tensor([-(-n // BLOCK) for n in sizes], dtype=torch.int64)
    tensor = torch.repeat_interleave(torch.arange(len(sizes)), counts)
    first_chunk = torch.cumsum(counts, 0) - counts
    first = (torch.arange(tensor.numel()) - first_chunk[tensor]) * BLOCK
    return torch.stack([tensor, first], dim=1).to(device)


@functools.lru_cache(maxsize=256)
def _int64s(values: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64, device=device)
