"""The multi-tensor path at run time (``foreach=True``): a param group as lists.

``<name>_foreach`` takes θ, the gradients and each state as lists of tensors that share a
device, a dtype and a step count, because ``torch._foreach_*`` ops need one device and dtype
per list and the per-step scalars (bias corrections...) depend on ``t``. torch.optim groups by
device and dtype only and keeps a ``step`` per parameter; here a group whose parameters have
taken different numbers of steps (some added later, or loaded from a checkpoint) is split by
``t`` as well, so every parameter sees its own step count, as on the readable path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

Member = tuple[torch.Tensor, torch.Tensor, Sequence[torch.Tensor], int]


def apply(
    members: Sequence[Member],
    hypers: Mapping[str, Any],
    shared: Mapping[str, Any],
    *,
    scalars: Callable[..., dict[str, Any]],
    update: Callable[..., None],
) -> None:
    """``update`` once per (device, dtype, t) of the members (θ, gradient, state buffers, t),
    with the per-step scalars computed once for each.

    ``t`` is compared, never hashed: under ``torch.compile`` it is a symbolic integer, which a
    dictionary key would specialise (one graph per step)."""
    chunks: list[tuple[torch.device, torch.dtype, int, list[Member]]] = []
    for member in members:
        theta, _, _, t = member
        same = (c for c in chunks if c[:2] == (theta.device, theta.dtype) and c[2] == t)
        chunk = next(same, None)
        if chunk is None:
            chunks.append((theta.device, theta.dtype, t, [member]))
        else:
            chunk[3].append(member)
    for _, _, t, chunk in chunks:
        thetas, grads, buffers, _ = zip(*chunk, strict=True)
        states = [list(column) for column in zip(*buffers, strict=True)]
        update(list(thetas), list(grads), *states, **scalars(t=t, **hypers), **shared)
