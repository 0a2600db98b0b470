"""The multi-tensor path of the matrix optimizers: parameters of one shape batched together.

A spec with matrix functions (Newton-Schulz, eigh, QR, SVD...) gets no ``_foreach`` kernel:
its work is a handful of small matrix products and decompositions per parameter, which one
launch per parameter runs at a fraction of a GPU (torch.optim.Muon's loop does the same). Here
the parameters of a group that share a shape, dtype, device, step count and set of allocated
states are stacked and stepped by ``torch.func.vmap`` of the readable ``update``, so Muon's
Newton-Schulz steps are batched matrix products over all same-shape matrices and SOAP's
eigendecompositions batched decompositions; the results are copied back into each parameter's
buffers. ``update`` is pure and its control flow reads only ``t``, hypers and dimensions, which
are the same along the stack, so the batch computes what the loop does (tests/test_batched.py).

The stacks are copies: while a batch runs it holds its parameters, gradients and states twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

Member = tuple[torch.Tensor, torch.Tensor, Sequence[torch.Tensor | None], int]


def apply(
    members: Sequence[Member],
    hypers: Mapping[str, Any],
    shared: Mapping[str, Any],
    *,
    update: Callable[..., tuple[torch.Tensor, ...]],
) -> None:
    """Each batch of members (θ, gradient, state buffers or None, t) through one vmapped
    ``update``; a member alone in its batch takes ``update`` directly."""
    for batch in _batches(members):
        theta, _, buffers, t = batch[0]
        present = tuple(b is not None for b in buffers)
        step = functools.partial(_present_only, update, present, t=t, **hypers, **shared)
        if len(batch) == 1:
            results = step(theta, batch[0][1], *(b for b in buffers if b is not None))
            _write(batch, [[r] for r in results])
            continue
        rows = [(m[0], m[1], *(b for b in m[2] if b is not None)) for m in batch]
        stacked = [torch.stack(column) for column in zip(*rows, strict=True)]
        results = torch.func.vmap(step)(*stacked)
        _write(batch, [list(r.unbind(0)) for r in results])


def _batches(members: Sequence[Member]) -> list[list[Member]]:
    """Members grouped by what vmap needs to share (t compared, never hashed: see lists.py)."""
    batches: list[tuple[tuple, int, list[Member]]] = []
    for member in members:
        theta, grad, buffers, t = member
        key = (
            theta.shape,
            theta.dtype,
            theta.device,
            grad.dtype,
            tuple(b is None for b in buffers),
        )
        batch = next((b for b in batches if b[0] == key and b[1] == t), None)
        if batch is None:
            batches.append((key, t, [member]))
        else:
            batch[2].append(member)
    return [batch for _, _, batch in batches]


def _present_only(update, present: tuple[bool, ...], theta, grad, *states, **keywords):
    """``update`` taking and returning only the allocated states (vmap maps tensors only)."""
    given = iter(states)
    full = [next(given) if here else None for here in present]
    new_theta, *new_states = update(theta, grad, *full, **keywords)
    return (new_theta, *(s for s, here in zip(new_states, present, strict=True) if here))


def _write(batch: Sequence[Member], results: list[list[torch.Tensor]]) -> None:
    """Copy result i of every column (θ first, then the allocated states) into member i's
    buffers, the states before θ as the readable loop does (``prev <- theta`` may return θ)."""
    theta_column, *state_columns = results
    for i, (theta, _, buffers, _) in enumerate(batch):
        present = [b for b in buffers if b is not None]
        for target, column in zip(present, state_columns, strict=True):
            target.copy_(column[i])
        theta.copy_(theta_column[i])
