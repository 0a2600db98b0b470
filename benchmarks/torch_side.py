"""Torch helpers of `optc bench`: synchronization and the memory of one step."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

Hypers = Mapping[str, float]
Mapping_ = Callable[[Hypers], dict[str, Any]]


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


MEMORY_METHOD_CPU = (
    "torch.profiler.profile(profile_memory=True): the CPU allocator's allocation/free events of "
    "one step, summed in time order; peak = highest running total above the level before the "
    "step, net = what the step leaves allocated, allocated = sum of all allocations. A steady "
    "step is measured after a primed step inside the same profile, so that frees of buffers "
    "allocated by the previous step are seen"
)
MEMORY_METHOD_CUDA = (
    "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus "
    "memory_allocated() before the step; net = memory_allocated() after minus before; "
    "allocated = growth of memory_stats()['allocated_bytes.all.allocated']"
)
MARK = "optc_bench_measured_step"


def memory_method(dev: torch.device) -> str:
    return MEMORY_METHOD_CUDA if dev.type == "cuda" else MEMORY_METHOD_CPU


def step_memory(step: Callable[[], None], dev: torch.device, prime: bool) -> dict[str, int]:
    """Extra bytes allocated during one call of ``step``: the peak, the net change and the sum
    of all allocations. ``prime``: call ``step`` once first (a steady-state measurement)."""
    if dev.type == "cuda":
        if prime:
            step()
        sync(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        allocated = torch.cuda.memory_stats(dev).get("allocated_bytes.all.allocated", 0)
        step()
        sync(dev)
        return {
            "peak_bytes": torch.cuda.max_memory_allocated(dev) - before,
            "net_bytes": torch.cuda.memory_allocated(dev) - before,
            "allocated_bytes": torch.cuda.memory_stats(dev).get("allocated_bytes.all.allocated", 0)
            - allocated,
        }
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile, record_function

    # The profiler does not report the free of a buffer allocated before it started: prime
    # inside the profile, then measure only the events within the marked step.
    with (
        _profiler_noise_filtered(),
        profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof,
    ):
        if prime:
            step()
        with record_function(MARK):
            step()
    events = prof.profiler.kineto_results.events()
    (mark,) = [e for e in events if e.name() == MARK]
    memory = sorted(
        (
            e
            for e in events
            if e.name() == "[memory]"
            and e.device_type() == DeviceType.CPU
            and mark.start_ns() <= e.start_ns() <= mark.end_ns()
        ),
        key=lambda e: e.start_ns(),
    )
    total = peak = allocated = 0
    for e in memory:
        total += e.nbytes()
        allocated += max(e.nbytes(), 0)
        peak = max(peak, total)
    return {"peak_bytes": peak, "net_bytes": total, "allocated_bytes": allocated}


# Lines that the profiler's C++ side writes straight to the stderr file descriptor on every
# start and stop, and its warning that frees of buffers allocated before it started go unseen
# (the reason of the primed measurement above).
_NOISE = re.compile(
    r"^(USDT|STAGE):.*SyncActivityProfilerHandler|^\[W.*CPUAllocator.*allocated before the "
    r"profiling started"
)


@contextlib.contextmanager
def _profiler_noise_filtered() -> Iterator[None]:
    """Capture file descriptor 2 meanwhile; pass on every line but the profiler's noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not _NOISE.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()
