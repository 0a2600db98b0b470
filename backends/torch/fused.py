"""The fused path of the generated optimizers: one compiled graph per param group.

``fused=True`` runs ``<name>_kernel`` for every parameter of a group inside one
``torch.compile``\\ d function that also writes the results into θ and the state buffers, so
inductor fuses each parameter's update into one pass over its memory (one vectorised C++ loop
on CPU, one Triton kernel on CUDA) instead of one pass per operation with temporaries between.
The per-step scalars (``<name>_scalars``: bias corrections, ``lr * weight_decay``...) are
computed once per group on the host, in float64, and passed as 0-d tensors, so neither a
scheduler changing ``lr`` nor ``t`` advancing recompiles; conditions on them are Python bools
(one graph per branch taken). The first step pays the compilation (seconds; inductor caches it
on disk across processes); a new set of parameter shapes compiles again.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

Kernel = Callable[..., tuple[torch.Tensor, ...]]


def scalar_arguments(values: Mapping[str, Any], like: torch.Tensor) -> dict[str, Any]:
    """The kernel's keyword arguments from ``<name>_scalars``: numbers as 0-d tensors on θ's
    device — float64 for float64 parameters, float32 otherwise (a bfloat16 ``lr`` would lose
    its third digit) — and bools as they are."""
    dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
    return {
        name: value
        if isinstance(value, bool)
        else torch.as_tensor(value, dtype=dtype, device=like.device)
        for name, value in values.items()
    }


def apply(
    thetas: Sequence[torch.Tensor],
    grads: Sequence[torch.Tensor],
    buffers: Sequence[Sequence[torch.Tensor | None]],
    scalars: Sequence[Mapping[str, Any]],
    shared: Mapping[str, torch.Tensor],
    *,
    kernel: Kernel,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each parameter's kernel, its results written into θ and its state buffers in place.

    Two writes are returned as (target, value) pairs for :func:`write_back` instead, because
    inductor (torch 2.13) gets them wrong inside a graph: a write into a 0-d input is dropped,
    and a target whose old value is another target's new value (``prev <- theta``) would be
    overwritten before that copy reads it.
    """
    pending = []
    for theta, grad, states, values in zip(thetas, grads, buffers, scalars, strict=True):
        new_theta, *new_states = kernel(theta, grad, *states, **values, **shared)
        targets, results = (*states, theta), (*new_states, new_theta)
        for target, value in zip(targets, results, strict=True):
            if target is None:  # a state this parameter does not have
                continue
            if target.dim() == 0 or any(target is r for r in results):
                pending.append((target, value))
            else:
                target.copy_(value)
    return pending


def write_back(pending: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """The writes :func:`apply` returned, done outside the graph."""
    for target, value in pending:
        target.copy_(value)


@functools.cache
def compiled(kernel: Kernel) -> Callable[..., list[torch.Tensor]]:
    """:func:`apply` of one kernel, compiled once per process (and per set of shapes).

    Each kernel gets its own copy of :func:`apply`'s code object: dynamo keeps its caches and
    its recompile limit per code object, so sharing one would make the ninth optimizer class
    in a process fall back to eager mode."""
    code = apply.__code__.replace(co_name=f"apply_{kernel.__name__}")
    own = types.FunctionType(code, apply.__globals__, code.co_name)
    own.__kwdefaults__ = {"kernel": kernel}
    return torch.compile(own, dynamic=False)
