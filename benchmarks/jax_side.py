"""Jax helpers of `optc bench`: a transformation stepped by one jitted
train_step(params, opt_state, grads) that applies the updates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax

Hypers = Mapping[str, float]
Mapping_ = Callable[[Hypers], dict[str, Any]]


def train_step_fn(tx: optax.GradientTransformation) -> Callable:
    def train_step(params, opt_state, grads):
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return train_step


def device() -> jax.Device:
    return jax.devices()[0]


def put(arrays: list[np.ndarray]) -> list[jax.Array]:
    return [jax.device_put(a, device()) for a in arrays]


class Run:
    """One transformation on its own copy of the parameters, stepped by a jitted train step;
    ``donate`` gives the parameter and state buffers to the step (updated in place)."""

    def __init__(
        self, tx: optax.GradientTransformation, params: list[np.ndarray], donate: bool
    ) -> None:
        self.params = put(params)
        self.state = tx.init(self.params)
        self.jitted = jax.jit(train_step_fn(tx), donate_argnums=(0, 1) if donate else ())
        self.grads: list[jax.Array] = []

    def set_grads(self, grads: list[jax.Array]) -> None:
        self.grads = grads

    def step(self) -> None:
        self.params, self.state = self.jitted(self.params, self.state, self.grads)
        jax.block_until_ready((self.params, self.state))

    def numpy_params(self) -> list[np.ndarray]:
        return [np.asarray(p).copy() for p in self.params]

    def memory_analysis(self) -> dict[str, int] | None:
        """XLA's buffer assignment of the compiled step (sizes in bytes)."""
        compiled = self.jitted.lower(self.params, self.state, self.grads).compile()
        stats = compiled.memory_analysis()
        if stats is None:
            return None
        fields = (
            "argument_size_in_bytes",
            "output_size_in_bytes",
            "alias_size_in_bytes",
            "temp_size_in_bytes",
            "generated_code_size_in_bytes",
            "peak_memory_in_bytes",
        )
        return {f: int(getattr(stats, f)) for f in fields if hasattr(stats, f)}


def device_memory_stats() -> dict[str, int] | None:
    """The device allocator's statistics (GPU/TPU); None on CPU."""
    try:
        stats = device().memory_stats()
    except (RuntimeError, NotImplementedError):
        return None
    return dict(stats) if stats else None


MEMORY_METHOD_ANALYSIS = (
    "compiled executable's memory_analysis() (jitted.lower(...).compile()): temp = scratch "
    "buffers of one step beyond arguments and outputs; alias = output bytes written into donated "
    "argument buffers"
)
MEMORY_METHOD_STATS = (
    "compiled executable's memory_analysis() per candidate (temp = scratch buffers of one step); "
    "plus the device's memory_stats() after the timed steps (process-wide: its peak cannot be "
    "reset, so it is shared by both candidates)"
)
