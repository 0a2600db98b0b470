"""The benchmark workload (parameter shapes, fixed random tensors) and the timing loop shared by
the torch and jax sides."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    """A list of float32 parameter shapes; every tensor is drawn from a seeded generator."""

    shapes: tuple[tuple[int, ...], ...]
    seed: int = 0

    @property
    def numel(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes)

    @property
    def nbytes(self) -> int:
        return 4 * self.numel

    def describe(self) -> str:
        counts: dict[tuple[int, ...], int] = {}
        for s in self.shapes:
            counts[s] = counts.get(s, 0) + 1
        parts = [f"{n} x {'x'.join(map(str, s))}" for s, n in counts.items()]
        return f"{', '.join(parts)} float32 ({self.numel:,} elements, {mib(self.nbytes)})"

    def as_dict(self) -> dict:
        return {
            "description": self.describe(),
            "shapes": [list(s) for s in self.shapes],
            "n_tensors": len(self.shapes),
            "numel": self.numel,
            "param_bytes": self.nbytes,
            "dtype": "float32",
            "grads": f"fixed standard-normal tensors (numpy seed {self.seed}), the same every step",
        }

    def arrays(self, stream: int, scale: float = 1.0) -> list[np.ndarray]:
        """Float32 standard-normal tensors times ``scale``; ``stream`` picks an independent draw."""
        rng = np.random.default_rng([self.seed, stream])
        return [
            (scale * rng.standard_normal(s, dtype=np.float32)).astype(np.float32)
            for s in self.shapes
        ]

    def restricted(self, ndim: tuple[int, ...] | None) -> Workload:
        """This workload's shapes with one of ``ndim``'s dimension counts (all for None)."""
        if ndim is None:
            return self
        return Workload(tuple(s for s in self.shapes if len(s) in ndim), self.seed)

    def params(self) -> list[np.ndarray]:
        return self.arrays(0)

    def grads(self, step: int = 0, scale: float = 1.0) -> list[np.ndarray]:
        """The gradients of ``step`` (the timed steps all use step 0's)."""
        return self.arrays(1 + step, scale)


DEFAULT_WORKLOAD = Workload(shapes=((1024, 1024),) * 8 + ((4096, 1024),) * 2 + ((1024,),) * 10)
# The default workload's layout at a quarter of each dimension: the matrix optimizers' CPU runs
# (the default one's first eigendecompositions alone take minutes on two cores).
QUARTER_WORKLOAD = Workload(shapes=((256, 256),) * 8 + ((1024, 256),) * 2 + ((256,),) * 10)
SMALL_WORKLOAD = Workload(shapes=((32, 16), (16,), (8, 8, 3)))


def gpt2_small_shapes(
    vocab: int = 50257, context: int = 1024, width: int = 768, layers: int = 12
) -> tuple[tuple[int, ...], ...]:
    """GPT-2 small's parameter tensors in Hugging Face's order (Conv1D weights are in x out):
    wte, wpe; per layer ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj (weight and
    bias each); ln_f. 148 tensors, 124,439,808 elements."""
    d = width
    layer = (
        (d,),
        (d,),  # ln_1
        (d, 3 * d),
        (3 * d,),  # attn.c_attn
        (d, d),
        (d,),  # attn.c_proj
        (d,),
        (d,),  # ln_2
        (d, 4 * d),
        (4 * d,),  # mlp.c_fc
        (4 * d, d),
        (d,),  # mlp.c_proj
    )
    return ((vocab, d), (context, d), *(layer * layers), (d,), (d,))


GPT2_SMALL_WORKLOAD = Workload(shapes=gpt2_small_shapes())
WORKLOADS = {
    "default": DEFAULT_WORKLOAD,
    "gpt2-small": GPT2_SMALL_WORKLOAD,
    "quarter": QUARTER_WORKLOAD,
    "small": SMALL_WORKLOAD,
}


def round_robin(
    steps: dict[str, Callable[[], None]], repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per step of each candidate; each ``steps`` callable does one complete step and
    returns only once it is finished (synchronized). Candidates alternate, one step each per
    round, the starting candidate rotating, so slow drifts of the machine hit all of them."""
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            start = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - start)
    return times


def summarize(seconds: list[float]) -> dict:
    ms = [1e3 * s for s in seconds]
    return {
        "median_ms": statistics.median(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "times_ms": [round(t, 4) for t in ms],
    }


def mib(nbytes: int | float | None) -> str:
    if nbytes is None:
        return "-"
    return f"{nbytes / 2**20:.1f} MiB"
