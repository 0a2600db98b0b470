"""`optc bench`: the generated AdamW against torch.optim.AdamW (foreach, fused) and optax.adamw.

All candidates are first checked to compute the same updates (``check.py``), then timed side by
side in one process, round-robin. Times are medians of ``repeats`` steps after a warm-up; ratios
are generated / reference from the same run. Nothing here asserts anything about speed.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from optc.bench import check as check_mod
from optc.bench import jax_side, torch_side
from optc.bench.workload import (
    DEFAULT_WORKLOAD,
    SMALL_WORKLOAD,
    Workload,
    mib,
    round_robin,
    summarize,
)

SPEC_NAME = "adamw.opt"
HYPER_NAMES = ("lr", "beta1", "beta2", "eps", "weight_decay")  # the ones the mappings read
TORCH_WARMUP = 2  # after the first (state-allocating) step, measured for memory
JAX_WARMUP = 3  # after the first (compiling) call


def spec_path() -> Path:
    from optc.pipeline import library_dir

    return library_dir() / SPEC_NAME


def load_generated(path: Path | None = None) -> tuple[type, Callable, dict[str, float]]:
    """The generated torch class, the generated optax factory, and the spec's default hypers
    (the benchmark's hypers). Fails if the spec's hypers are not the ones the mappings to
    torch.optim.AdamW and optax.adamw know."""
    import optc

    path = path or spec_path()
    hypers = {h.name: float(h.default) for h in optc.load_program(path).hypers}
    if tuple(hypers) != HYPER_NAMES:
        raise ValueError(
            f"{path}: hypers {tuple(hypers)} are not {HYPER_NAMES}: update the mappings in "
            "optc.bench (torch_side.torch_adamw_kwargs, jax_side.optax_adamw_kwargs)"
        )
    return optc.load(path, backend="torch"), optc.load(path, backend="jax"), hypers


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def bench_torch(
    workload: Workload,
    hypers: Mapping[str, float],
    generated: type,
    repeats: int,
    warmup: int = TORCH_WARMUP,
    mapping: Callable = torch_side.torch_adamw_kwargs,
) -> dict[str, Any]:
    dev = torch_side.device()
    grads = torch_side.grads_on(workload.grads(0), dev)
    runs, unavailable = torch_side.make_runs(generated, hypers, workload.params(), dev, mapping)
    first: dict[str, dict[str, int]] = {}
    for name, run in list(runs.items()):
        run.set_grads(grads)
        try:  # the first step allocates the optimizer state
            first[name] = torch_side.step_memory(run.step, dev, prime=False)
        except (RuntimeError, NotImplementedError) as e:
            if name == "generated":
                raise
            unavailable[name] = f"{type(e).__name__}: {e}"
            del runs[name]
    times = round_robin({name: run.step for name, run in runs.items()}, repeats, warmup)
    steady = {name: torch_side.step_memory(run.step, dev, prime=True) for name, run in runs.items()}
    candidates: dict[str, Any] = {}
    for name in torch_side.factories(generated, hypers, mapping):
        if name in runs:
            candidates[name] = {
                "available": True,
                **summarize(times[name]),
                "state_bytes": first[name]["net_bytes"],
                "first_step_peak_bytes": first[name]["peak_bytes"],
                "step_peak_bytes": steady[name]["peak_bytes"],
                "step_net_bytes": steady[name]["net_bytes"],
                "step_allocated_bytes": steady[name]["allocated_bytes"],
            }
        else:
            candidates[name] = {"available": False, "reason": unavailable[name]}
    med = {n: c.get("median_ms") for n, c in candidates.items()}
    return {
        "device": str(dev),
        "memory_method": torch_side.memory_method(dev),
        "threads": torch_side.torch.get_num_threads(),
        "candidates": candidates,
        "ratios": {
            "generated/foreach": _ratio(med["generated"], med["foreach"]),
            "generated/fused": _ratio(med["generated"], med["fused"]),
        },
    }


def bench_jax(
    workload: Workload,
    hypers: Mapping[str, float],
    generated: Callable,
    repeats: int,
    warmup: int = JAX_WARMUP,
    mapping: Callable = jax_side.optax_adamw_kwargs,
) -> dict[str, Any]:
    import time

    grads = jax_side.put(workload.grads(0))
    params = workload.params()
    runs = {
        name: jax_side.Run(tx, params, donate=True)
        for name, tx in jax_side.transforms(generated, hypers, mapping).items()
    }
    analysis: dict[str, Any] = {}
    compile_s: dict[str, float] = {}
    for name, run in runs.items():
        run.set_grads(grads)
        analysis[name] = run.memory_analysis()  # before the first call donates the buffers
        start = time.perf_counter()
        run.step()  # compiles
        compile_s[name] = time.perf_counter() - start
    times = round_robin({name: run.step for name, run in runs.items()}, repeats, warmup)
    stats = jax_side.device_memory_stats()
    candidates = {
        name: {
            **summarize(times[name]),
            "first_call_s": compile_s[name],
            "memory_analysis": analysis[name],
        }
        for name in runs
    }
    return {
        "device": str(jax_side.device()),
        "platform": jax_side.device().platform,
        "memory_method": jax_side.MEMORY_METHOD_STATS if stats else jax_side.MEMORY_METHOD_ANALYSIS,
        "device_memory_stats": stats,
        "donate_argnums": [0, 1],
        "candidates": candidates,
        "ratios": {
            "generated/optax": _ratio(
                candidates["generated"]["median_ms"], candidates["optax"]["median_ms"]
            )
        },
    }


def versions() -> dict[str, str]:
    import jax
    import jaxlib
    import numpy
    import optax
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "optax": optax.__version__,
        "numpy": numpy.__version__,
    }


def collect(
    repeats: int,
    workload: Workload = DEFAULT_WORKLOAD,
    probe_workload: Workload = SMALL_WORKLOAD,
    torch_warmup: int = TORCH_WARMUP,
    jax_warmup: int = JAX_WARMUP,
    probe_steps: int = 3,
    check_steps: int = 2,
    torch_mapping: Callable = torch_side.torch_adamw_kwargs,
    optax_mapping: Callable = jax_side.optax_adamw_kwargs,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every figure of the benchmark, as a JSON-ready dict. Raises check.MismatchError if some
    candidate does not compute the generated step's updates (then nothing is timed).

    The probe check runs on ``probe_workload`` with hypers under which any wrong mapping shows;
    the second check on the benchmark's own workload and hypers. ``progress`` is called with the
    name of each stage as it starts (the CLI shows it)."""
    stage = progress or (lambda _name: None)
    mappings = {"torch_mapping": torch_mapping, "optax_mapping": optax_mapping}
    import torch

    load_before = os.getloadavg()
    stage("compiling the AdamW spec")
    tgen, jgen, hypers = load_generated()
    stage("checking that all candidates compute the same updates")
    checks = [
        check_mod.check_agreement(
            probe_workload,
            check_mod.PROBE_HYPERS,
            tgen,
            jgen,
            steps=probe_steps,
            grad_scale=check_mod.PROBE_GRAD_SCALE,
            **mappings,
        ),
        check_mod.check_agreement(workload, hypers, tgen, jgen, steps=check_steps, **mappings),
    ]
    gc.collect()
    stage(f"timing torch ({repeats} steps per candidate)")
    result_torch = bench_torch(workload, hypers, tgen, repeats, torch_warmup, torch_mapping)
    gc.collect()
    stage(f"timing jax ({repeats} steps per candidate)")
    result_jax = bench_jax(workload, hypers, jgen, repeats, jax_warmup, optax_mapping)
    return {
        "benchmark": "adamw",
        "spec": str(spec_path()),
        "hypers": hypers,
        "hyper_mapping": {
            "torch.optim.AdamW": "lr=lr, betas=(beta1, beta2), eps=eps, "
            "weight_decay=weight_decay, amsgrad=False, maximize=False",
            "optax.adamw": "learning_rate=lr, b1=beta1, b2=beta2, eps=eps, eps_root=0, "
            "weight_decay=weight_decay, mask=None, nesterov=False",
        },
        "workload": workload.as_dict(),
        "repeats": repeats,
        "warmup": {"torch": torch_warmup, "jax": jax_warmup},
        "timing": "median of per-step wall times (time.perf_counter), candidates interleaved "
        "round-robin; torch steps synchronized on CUDA, jax steps block_until_ready",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            # Other processes on the machine slow torch's OpenMP threads far more than XLA's:
            # absolute times are only comparable at similar loads; ratios are side by side.
            "load_average_1min": {"start": load_before[0], "end": os.getloadavg()[0]},
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "versions": versions(),
        "checks": checks,
        "torch": result_torch,
        "jax": result_jax,
    }


def _fmt_ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
    )
    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def format_report(r: dict[str, Any]) -> str:
    t, j = r["torch"], r["jax"]
    out = [
        f"AdamW benchmark: {r['workload']['description']}",
        f"hypers (spec defaults): {', '.join(f'{k}={v:g}' for k, v in r['hypers'].items())}",
        f"{r['repeats']} timed steps per candidate (median), round-robin, after warm-up "
        f"(torch: first step + {r['warmup']['torch']}, jax: compiling call + {r['warmup']['jax']})",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        f"machine: {r['machine']['cpu_count']} CPUs, {r['machine']['platform']}, 1-min load "
        f"average {r['machine']['load_average_1min']['start']:.2f} at start, "
        f"{r['machine']['load_average_1min']['end']:.2f} at end",
        "agreement with the generated torch step, checked before timing (np.allclose on each "
        "step's parameter change, varying gradients):",
        *(
            f"  {c['steps']} steps, hypers {', '.join(f'{k}={v:g}' for k, v in c['hypers'].items())}"
            f" on {c['workload']}: worst error {max(c['worst_error_in_tolerances'].values()):.2f}"
            " of tolerance"
            for c in r["checks"]
        ),
        "",
        f"torch on {t['device']} ({t['threads']} threads)",
    ]
    rows = []
    ref = {"foreach": "generated/foreach", "fused": "generated/fused"}
    for name, c in t["candidates"].items():
        label = "generated AdamW" if name == "generated" else f"torch.optim.AdamW({name}=True)"
        if not c["available"]:
            rows.append([label, "unavailable", "", "", "", "", ""])
            continue
        ratio = _fmt_ratio(t["ratios"][ref[name]]) if name in ref else "-"
        rows.append(
            [
                label,
                _fmt_ms(c["median_ms"]),
                ratio,
                mib(c["step_peak_bytes"]),
                mib(c["step_allocated_bytes"]),
                mib(c["first_step_peak_bytes"]),
                mib(c["state_bytes"]),
            ]
        )
    out += _table(
        [
            "candidate",
            "median ms",
            "generated/this",
            "step peak",
            "step allocs",
            "1st step peak",
            "state",
        ],
        rows,
    )
    for name, c in t["candidates"].items():
        if not c["available"]:
            out.append(f"  {name} unavailable: {c['reason']}")
    out += [
        f"  memory: {t['memory_method']}",
        "",
        f"jax on {j['device']} (jit, donate_argnums=(0, 1))",
    ]
    rows = []
    for name, c in j["candidates"].items():
        ma = c["memory_analysis"] or {}
        label = "generated adamw" if name == "generated" else "optax.adamw"
        ratio = "-" if name == "generated" else _fmt_ratio(j["ratios"]["generated/optax"])
        rows.append(
            [
                label,
                _fmt_ms(c["median_ms"]),
                ratio,
                mib(ma.get("temp_size_in_bytes")),
                mib(ma.get("argument_size_in_bytes")),
                mib(ma.get("output_size_in_bytes")),
                mib(ma.get("alias_size_in_bytes")),
                f"{c['first_call_s']:.2f}",
            ]
        )
    out += _table(
        [
            "candidate",
            "median ms",
            "generated/this",
            "temp",
            "args",
            "outputs",
            "aliased",
            "compile s",
        ],
        rows,
    )
    out.append(f"  memory: {j['memory_method']}")
    if j["device_memory_stats"]:
        s = j["device_memory_stats"]
        out.append(
            f"  device memory_stats: peak_bytes_in_use {mib(s.get('peak_bytes_in_use'))}, "
            f"bytes_in_use {mib(s.get('bytes_in_use'))}"
        )
    return "\n".join(out)


def run(
    repeats: int = 20, as_json: bool = False, progress: Callable[[str], None] | None = None
) -> int:
    if repeats < 1:
        print("optc bench: error: --repeats must be at least 1", file=sys.stderr)
        return 2
    try:
        result = collect(repeats, progress=progress)
    except check_mod.MismatchError as e:
        print(f"optc bench: error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if as_json else format_report(result))
    return 0
