"""The torch candidates: the generated AdamW, torch.optim.AdamW(foreach=True) and (fused=True)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

Hypers = Mapping[str, float]
Mapping_ = Callable[[Hypers], dict[str, Any]]


def torch_adamw_kwargs(h: Hypers) -> dict[str, Any]:
    """The spec's hypers as torch.optim.AdamW arguments. Same algorithm by the spec's conventions:
    eps outside the root, both moments debiased, weight decay decoupled and scaled by lr
    (theta * (1 - lr * weight_decay) before the Adam step: torch's own order); amsgrad and
    maximize off (their defaults)."""
    return {
        "lr": h["lr"],
        "betas": (h["beta1"], h["beta2"]),
        "eps": h["eps"],
        "weight_decay": h["weight_decay"],
        "amsgrad": False,
        "maximize": False,
    }


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def factories(
    generated: type, hypers: Hypers, mapping: Mapping_ = torch_adamw_kwargs
) -> dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]]:
    """Constructor of each candidate, from a parameter list."""
    return {
        "generated": lambda ps: generated(ps, **hypers),
        "foreach": lambda ps: torch.optim.AdamW(ps, **mapping(hypers), foreach=True),
        "fused": lambda ps: torch.optim.AdamW(ps, **mapping(hypers), fused=True),
    }


class Run:
    """One optimizer on its own copy of the parameters."""

    def __init__(
        self,
        make: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
        params: list[np.ndarray],
        dev: torch.device,
    ) -> None:
        self.dev = dev
        self.params = [torch.nn.Parameter(torch.tensor(p, device=dev)) for p in params]
        self.opt = make(self.params)

    def set_grads(self, grads: list[torch.Tensor]) -> None:
        # The same gradient tensors may be shared between runs: optimizers only read them.
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g

    def step(self) -> None:
        self.opt.step()
        sync(self.dev)

    def numpy_params(self) -> list[np.ndarray]:
        return [p.detach().cpu().numpy().copy() for p in self.params]


def make_runs(
    generated: type,
    hypers: Hypers,
    params: list[np.ndarray],
    dev: torch.device,
    mapping: Mapping_ = torch_adamw_kwargs,
) -> tuple[dict[str, Run], dict[str, str]]:
    """The runs that can be built and stepped here, and the reason of each that cannot (fused
    AdamW is not implemented for every device and torch build)."""
    runs: dict[str, Run] = {}
    unavailable: dict[str, str] = {}
    for name, make in factories(generated, hypers, mapping).items():
        try:
            runs[name] = Run(make, params, dev)
        except (RuntimeError, ValueError, NotImplementedError) as e:
            unavailable[name] = f"{type(e).__name__}: {e}"
    return runs, unavailable


def grads_on(grads: list[np.ndarray], dev: torch.device) -> list[torch.Tensor]:
    return [torch.tensor(g, device=dev) for g in grads]


MEMORY_METHOD_CPU = (
    "torch.profiler.profile(profile_memory=True): the CPU allocator's allocation/free events "
    "inside one step, summed in time order; peak = highest running total above the level before "
    "the step, net = what the step leaves allocated"
)
MEMORY_METHOD_CUDA = (
    "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus "
    "memory_allocated() before the step; net = memory_allocated() after minus before"
)


def memory_method(dev: torch.device) -> str:
    return MEMORY_METHOD_CUDA if dev.type == "cuda" else MEMORY_METHOD_CPU


def step_memory(step: Callable[[], None], dev: torch.device) -> dict[str, int]:
    """Extra bytes allocated during one call of ``step``: the peak, and the net change."""
    if dev.type == "cuda":
        sync(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        step()
        sync(dev)
        return {
            "peak_bytes": torch.cuda.max_memory_allocated(dev) - before,
            "net_bytes": torch.cuda.memory_allocated(dev) - before,
        }
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = [
        e
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == DeviceType.CPU
    ]
    total = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        total += e.nbytes()
        peak = max(peak, total)
    return {"peak_bytes": peak, "net_bytes": total}
