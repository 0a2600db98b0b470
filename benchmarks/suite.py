"""`optc bench`: every path of the generated optimizers against the fastest library versions of
the same algorithm (``counterparts.py``).

Per spec: the generated torch optimizer's paths (``readable``: foreach=False, fused=False;
``foreach``; ``fused``: each reported unavailable where the class refuses it), the generated
optax transformation (``jax``: jit, parameters and state donated), and the library counterparts
(torch.optim foreach / fused, pytorch_optimizer, optax). Before timing, all of them step side by
side on a tiny workload under hypers where a wrong mapping shows and must agree with the readable
path (``check_spec``); then they are timed round-robin in one process. Nothing here asserts
anything about speed. An entry may check and time part of the workload only (``BenchSpec.ndim``:
torch.optim.Muon takes matrices only) and check on shapes of its own (``check_shapes``).
"""

from __future__ import annotations

import gc
import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optc.bench import check as check_mod
from optc.bench import jax_side, torch_side
from optc.bench.counterparts import BY_SPEC, BenchSpec, Counterpart
from optc.bench.workload import WORKLOADS, Workload, round_robin, summarize

OPTC_PATHS = ("readable", "foreach", "fused", "jax")
# Timed by default: the readable path (the ground truth, 10-30x slower on the default workload)
# costs more wall time than all the others together; it is timed on request (--paths readable)
# and is always the check's reference on the check workload.
DEFAULT_PATHS = ("foreach", "fused", "jax")
SHAPE_CHECKED_PATHS = ("fused", "jax")  # compiled for the shapes: checked where they are timed
DEFAULT_LIBRARIES = ("torch.optim", "optax")  # the default set: specs one of these implements
CHECK_WORKLOAD = Workload(shapes=((32, 16), (16,), (8, 8, 3)), seed=7)
CHECK_STEPS = 3
CHECK_GRAD_SCALE = 1e-2
TORCH_FLAGS = {
    "readable": {"foreach": False, "fused": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
}
# what a path or library raises where it cannot run (ImportError: a library not installed, as
# heavyball may not be)
NOT_AVAILABLE = (ValueError, RuntimeError, NotImplementedError, TypeError, ImportError)

MEMORY_NOTE_CPU = (
    "on CPU, peak extra = state: the bytes of the optimizer's state tensors after the timed "
    "steps (torch: every tensor in optimizer.state; jax: every leaf of the optimizer state). "
    "Temporaries allocated during a step are not measured on CPU (no allocator peak to read "
    "cheaply; tracemalloc does not see tensors)."
)
MEMORY_NOTE_CUDA = (
    "state = bytes of the optimizer's state tensors; torch: step peak = "
    "torch.cuda.max_memory_allocated during one steady step minus memory_allocated before it, "
    "peak extra = max(the first step's max_memory_allocated growth (state allocation included), "
    "state + step peak); jax: step peak = the compiled step's temp buffers "
    "(memory_analysis()), peak extra = state + step peak."
)


class MismatchError(check_mod.MismatchError):
    pass


# -- what is timed ------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One implementation of a spec: ``source`` is "optc" or the library."""

    label: str
    source: str
    framework: str  # "torch" | "jax"
    path: str  # readable | foreach | fused | jax | default (a library's)
    make: Callable[..., Any]  # torch: make(params) -> Optimizer; jax: make() -> transformation
    rtol: float = check_mod.RTOL  # the agreement check's tolerances (Counterpart.check_rtol)
    atol_lr: float = check_mod.ATOL_LR

    @property
    def is_library(self) -> bool:
        return self.source != "optc"


@dataclass
class SpecSetup:
    name: str
    torch_class: type
    jax_factory: Callable[..., Any]
    defaults: dict[str, float]
    bench: BenchSpec | None
    hypers: dict[str, float] = field(init=False)
    probe: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        fixed = self.bench.fixed if self.bench else {}
        probe = self.bench.probe if self.bench else {}
        self.hypers = {**self.defaults, **fixed}
        self.probe = {**self.defaults, **probe, **fixed}


def library_specs() -> list[str]:
    from optc.pipeline import library_specs as specs

    return [p.stem for p in specs()]


def default_specs() -> list[str]:
    """The specs with a counterpart in ``DEFAULT_LIBRARIES``, in the library's order, but those
    whose entry is left out of the default run (``BenchSpec.in_default_run``: Muon).

    Why not every spec with a counterpart: each spec's fused path compiles on its first call
    (about 10 s on a 2-core CPU), which for all 39 does not fit the 10 minutes a default run may
    take there; the specs only pytorch_optimizer or heavyball has run with ``--all`` or
    ``--specs``."""
    return [
        s
        for s in library_specs()
        if s in BY_SPEC
        and BY_SPEC[s].in_default_run
        and any(cp.library in DEFAULT_LIBRARIES for cp in BY_SPEC[s].counterparts)
    ]


def spec_workload(setup: SpecSetup, workload: Workload) -> Workload:
    """The part of ``workload`` that ``setup``'s entry checks or times (``BenchSpec.ndim``)."""
    part = workload.restricted(setup.bench.ndim if setup.bench else None)
    if not part.shapes:
        raise ValueError(
            f"{setup.name}: the workload has no parameter of {setup.bench.ndim} dimension(s), "
            "the only ones its entry checks and times"
        )
    return part


def check_workload_of(setup: SpecSetup, workload: Workload) -> Workload:
    """The agreement check's workload of ``setup``: ``workload`` (its shapes replaced by the
    entry's ``check_shapes`` where it states them) restricted to the entry's ``ndim``."""
    if setup.bench and setup.bench.check_shapes:
        workload = Workload(setup.bench.check_shapes, workload.seed)
    return spec_workload(setup, workload)


def load_spec(name: str) -> SpecSetup:
    import optc
    from optc.pipeline import library_dir

    tmod = importlib.import_module(f"optc.generated.torch.{name}")
    jmod = importlib.import_module(f"optc.generated.jax.{name}")
    (cls,) = [
        v
        for v in vars(tmod).values()
        if isinstance(v, type) and v.__module__ == tmod.__name__ and hasattr(v, "states")
    ]
    program = optc.load_program(library_dir() / f"{name}.opt")
    defaults = {h.name: h.default for h in program.hypers}
    return SpecSetup(name, cls, getattr(jmod, name), defaults, BY_SPEC.get(name))


def candidates(
    setup: SpecSetup, hypers: Mapping[str, float], paths: Sequence[str]
) -> list[Candidate]:
    out: list[Candidate] = []
    cls, h = setup.torch_class, dict(hypers)
    for path in ("readable", "foreach", "fused"):
        if path in paths:
            flags = TORCH_FLAGS[path]
            out.append(
                Candidate(
                    f"optc {cls.__name__} ({path})",
                    "optc",
                    "torch",
                    path,
                    lambda ps, flags=flags: cls(ps, **h, **flags),
                )
            )
    if "jax" in paths:
        out.append(
            Candidate(
                f"optc {setup.name} (jax)",
                "optc",
                "jax",
                "jax",
                lambda: setup.jax_factory(**h),
            )
        )
    for cp in setup.bench.counterparts if setup.bench else ():
        out += _library_candidates(cp, h)
    return out


def _library_candidates(cp: Counterpart, h: dict[str, float]) -> list[Candidate]:
    tolerances = {
        "rtol": check_mod.RTOL if cp.check_rtol is None else cp.check_rtol,
        "atol_lr": check_mod.ATOL_LR if cp.check_atol_lr is None else cp.check_atol_lr,
    }
    if cp.framework == "jax":
        return [Candidate(cp.name, cp.library, "jax", "default", lambda: cp.build(h), **tolerances)]
    return [
        Candidate(
            cp.label(path),
            cp.library,
            "torch",
            path,
            (lambda ps: cp.build(ps, h))
            if path == "default"
            else (lambda ps, path=path: cp.build(ps, h, **{path: True})),
            **tolerances,
        )
        for path in cp.paths
    ]


# -- runs ---------------------------------------------------------------------------------------


class TorchRun:
    def __init__(self, make: Callable, params: list[np.ndarray], dev: Any) -> None:
        import torch

        self.dev = dev
        self.params = [torch.nn.Parameter(torch.tensor(p, device=dev)) for p in params]
        self.opt = make(self.params)

    def set_grads(self, grads: list[Any]) -> None:
        # each run its own copy: torch.optim.SGD(foreach=True, nesterov=True) adds the buffer
        # into the gradient in place, which changed the other runs' gradients between steps
        self.grads = [g.clone() for g in grads]
        for p, g in zip(self.params, self.grads, strict=True):
            p.grad = g

    def step(self) -> None:
        # heavyball frees the gradients after its step (p.grad = None, values untouched): hand
        # the same tensors back, or every timed step after the first would find no gradient
        # and do nothing
        if self.params and self.params[0].grad is None:
            for p, g in zip(self.params, self.grads, strict=True):
                p.grad = g
        self.opt.step()
        torch_side.sync(self.dev)

    def numpy_params(self) -> list[np.ndarray]:
        return [p.detach().cpu().numpy().copy() for p in self.params]

    def state_bytes(self, keys: Iterable[str] | None = None) -> int:
        import torch

        wanted = None if keys is None else set(keys)

        def nbytes(v: Any) -> int:  # heavyball nests its state: state[p][0]["..._exp_avg_2"]
            if isinstance(v, torch.Tensor):
                return v.numel() * v.element_size()
            if isinstance(v, dict):
                return sum(nbytes(x) for x in v.values())
            if isinstance(v, list | tuple):
                return sum(nbytes(x) for x in v)
            return 0

        total = 0
        for st in self.opt.state.values():
            items = st.items() if isinstance(st, dict) else [(None, st)]  # global state: a tensor
            for k, v in items:
                if wanted is None or k in wanted:
                    total += nbytes(v)
        return total


class JaxRun(jax_side.Run):
    def state_bytes(self) -> int:
        import jax

        return sum(int(getattr(x, "nbytes", 0)) for x in jax.tree_util.tree_leaves(self.state))


def _build(c: Candidate, params: list[np.ndarray], dev: Any, donate: bool) -> Any:
    if c.framework == "jax":
        return JaxRun(c.make(), params, donate=donate)
    return TorchRun(c.make, params, dev)


def _grads(c: Candidate, tgrads: Any, jgrads: Any) -> Any:
    return jgrads if c.framework == "jax" else tgrads


# -- the agreement check ------------------------------------------------------------------------


def _at_timing_shapes(c: Candidate, setup: SpecSetup) -> bool:
    """optc paths whose first call compiles for the parameter shapes (torch.compile, jax.jit):
    checked on the timing workload with the run that is then timed, so they compile once; on
    the check workload with the others where the entry says so (``check_after_timing``)."""
    return (
        c.source == "optc"
        and c.path in SHAPE_CHECKED_PATHS
        and (setup.bench is None or setup.bench.check_after_timing)
    )


def compare_steps(
    setup: SpecSetup,
    runs: dict[str, Any],
    ref: str,
    before: dict[str, list[np.ndarray]],
    advance: Callable[[int, str, Any], bool],
    steps: int,
    tolerances: Mapping[str, tuple[float, float]],
    hypers: Mapping[str, float],
) -> dict[str, float]:
    """Advance every run ``steps`` times (``advance(step, label, run)``; False: the run turned
    out unavailable and is dropped from ``runs``) and compare each step's parameter change with
    the reference's, at each run's ``tolerances`` (rtol, atol); raises MismatchError on the first
    disagreement. Returns the worst errors, in tolerances."""
    worst = dict.fromkeys(runs, 0.0)
    for step in range(steps):
        theta = before[ref]
        deltas = {}
        for label, run in list(runs.items()):
            if not advance(step, label, run):
                del runs[label], worst[label]
                continue
            after = run.numpy_params()
            deltas[label] = [a - b for a, b in zip(after, before[label], strict=True)]
            before[label] = after
        for label in runs:
            rtol, atol = tolerances[label]
            err = check_mod.compare(deltas[ref], deltas[label], theta, atol, rtol=rtol)
            worst[label] = max(worst[label], err)
            if err > 1.0:
                raise _mismatch(setup, label, ref, f"at step {step + 1}", hypers, err, atol, rtol)
    return worst


def check_spec(
    setup: SpecSetup,
    cands: list[Candidate],
    dev: Any,
    workload: Workload = CHECK_WORKLOAD,
    steps: int = CHECK_STEPS,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Step every candidate but those checked at the timing shapes (``_at_timing_shapes``) from
    the same parameters with a different gradient each step, under the probe hypers; each step's
    parameter change must be allclose to the readable path's (at the candidate's tolerances:
    ``Counterpart.check_rtol``). ``workload``'s shapes are replaced by the entry's
    ``check_shapes`` where it has them, then restricted to its ``ndim``. Raises MismatchError on
    the first disagreement. Returns the worst errors (in tolerances) and the unavailable
    candidates (with the reason)."""
    import torch

    workload = check_workload_of(setup, workload)
    params = workload.params()
    runs: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    for c in cands:
        if _at_timing_shapes(c, setup):
            continue
        try:
            runs[c.label] = _build(c, params, dev, donate=False)
        except NOT_AVAILABLE as e:
            unavailable[c.label] = f"{type(e).__name__}: {e}"
    by_label = {c.label: c for c in cands}
    ref = next((c.label for c in cands if c.source == "optc" and c.path == "readable"), None)
    if ref is None or ref not in runs:
        raise MismatchError(f"{setup.name}: the readable path cannot run: {unavailable.get(ref)}")
    lr = float(setup.probe.get("lr", 1e-3))
    atol = check_mod.ATOL_LR * lr
    tolerances = {c.label: (c.rtol, c.atol_lr * lr) for c in cands}
    grads = [workload.grads(step, CHECK_GRAD_SCALE) for step in range(steps)]
    tgrads = [[torch.tensor(g, device=dev) for g in gs] for gs in grads]
    jgrads = [jax_side.put(gs) for gs in grads]

    def advance(step: int, label: str, run: Any) -> bool:
        run.set_grads(_grads(by_label[label], tgrads[step], jgrads[step]))
        try:
            run.step()
        except NOT_AVAILABLE as e:
            if label == ref:
                raise
            unavailable[label] = f"{type(e).__name__}: {e}"
            return False
        return True

    before = dict.fromkeys(runs, params)
    worst = compare_steps(setup, runs, ref, before, advance, steps, tolerances, setup.probe)
    return {
        "reference": ref,
        "steps": steps,
        "hypers": setup.probe,
        "workload": workload.describe(),
        "rtol": check_mod.RTOL,
        "atol": atol,
        # the candidates checked at wider tolerances than rtol and atol (their notes say why)
        "tolerances": {
            label: {"rtol": tolerances[label][0], "atol": tolerances[label][1]}
            for label in worst
            if tolerances[label] != (check_mod.RTOL, atol)
        },
        "worst_error_in_tolerances": worst,
        "passed": True,
    }, unavailable


def check_after_timing(
    setup: SpecSetup,
    runs: dict[str, Any],
    by_label: Mapping[str, Candidate],
    params: list[np.ndarray],
    steps: int,
) -> dict[str, Any] | None:
    """The paths of ``_at_timing_shapes`` against the readable path (else the foreach path, which
    the check workload compared with it), on the timing workload and hypers, with the runs just
    timed: each took the same ``steps`` steps (first call, warm-up,
    timed) with the timing gradient from ``params``, so their total parameter changes must be
    allclose, with ``steps`` times a step's rounding allowed. Raises MismatchError (that spec's
    times are not reported). None when there is no such path."""
    ref = _torch_reference(runs, by_label)
    checked = [lbl for lbl in runs if _at_timing_shapes(by_label[lbl], setup)]
    if not checked:
        return None
    atol = check_mod.ATOL_LR * float(setup.hypers.get("lr", 1e-3))
    change = {
        lbl: [a - b for a, b in zip(runs[lbl].numpy_params(), params, strict=True)]
        for lbl in [ref, *checked]
    }
    worst = {}
    for lbl in checked:
        worst[lbl] = check_mod.compare(change[ref], change[lbl], params, atol, steps)
        if worst[lbl] > 1.0:
            raise _mismatch(
                setup, lbl, ref, f"after {steps} timed steps", setup.hypers, worst[lbl], atol
            )
    return {
        "reference": ref,
        "steps": steps,
        "hypers": setup.hypers,
        "workload": "the timing workload and gradient; the total change after the timed steps",
        "atol_per_step": atol,
        "worst_error_in_tolerances": worst,
        "passed": True,
    }


def _torch_reference(runs: Mapping[str, Any], by_label: Mapping[str, Candidate]) -> str | None:
    """The timed uncompiled optc torch run: the readable path if timed, else the foreach path."""
    for path in ("readable", "foreach"):
        for label in runs:
            if by_label[label].source == "optc" and by_label[label].path == path:
                return label
    return None


def _mismatch(
    setup: SpecSetup,
    label: str,
    ref: str,
    where: str,
    hypers: Mapping[str, float],
    err: float,
    atol: float,
    rtol: float = check_mod.RTOL,
) -> MismatchError:
    return MismatchError(
        f"{setup.name}: {label} disagrees with {ref} {where} (hypers {dict(hypers)}): error "
        f"{err:.3g} x tolerance (rtol {rtol}, atol {atol:.3g} + {check_mod.ULPS} ulps "
        "of theta on each step's parameter change): the mapping in optc.bench.counterparts is "
        "wrong, or the path is"
    )


# -- figures ------------------------------------------------------------------------------------


def copy_bandwidth(numel: int, dev: Any, repeats: int = 10) -> dict[str, float]:
    """dst.copy_(src) on float32 buffers of ``numel`` elements: bytes read + written per second."""
    import torch

    src = torch.randn(numel, device=dev)
    dst = torch.empty_like(src)
    times = []
    for i in range(repeats + 2):
        torch_side.sync(dev)
        start = time.perf_counter()
        dst.copy_(src)
        torch_side.sync(dev)
        if i >= 2:
            times.append(time.perf_counter() - start)
    med = statistics.median(times)
    del src, dst
    return {"median_ms": 1e3 * med, "bytes": 8 * numel, "gb_per_s": 8 * numel / med / 1e9}


def bytes_moved(setup: SpecSetup, readable: TorchRun | None, workload: Workload) -> dict[str, int]:
    """What one step must move: parameters and gradients read, parameters written, each state
    tensor of the spec read and written. The state sizes are those of the readable path's
    per-parameter state (``states`` of the generated class, by its state keys)."""
    keys = (
        [setup.torch_class.state_keys.get(s, s) for s in setup.torch_class.states]
        if readable
        else []
    )
    state = readable.state_bytes(keys) if readable else 0
    return {
        "param_bytes": workload.nbytes,
        "state_bytes": state,
        "states_per_parameter": round(state / workload.nbytes, 3),
        "total": 3 * workload.nbytes + 2 * state,
    }


def time_spec(
    setup: SpecSetup,
    cands: list[Candidate],
    params: list[np.ndarray],
    tgrads: list[Any],
    jgrads: list[Any],
    dev: Any,
    repeats: int,
    warmup: int,
    workload: Workload,
    unavailable: dict[str, str],
    meta: Mapping[str, Candidate],
) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, Any] | None]:
    """Build every candidate on the timing workload, take its first call (timed alone: state
    allocation, compilation), time them all round-robin, then check the compiled optc paths
    (``check_after_timing``). Returns the rows, the bytes one step moves and that check."""
    runs: dict[str, Any] = {}
    first: dict[str, float] = {}
    first_peak: dict[str, int | None] = {}
    donated: dict[str, bool] = {}
    by_label = {c.label: c for c in cands}
    for c in cands:
        try:
            run = _build(c, params, dev, donate=True)
            if c.framework == "jax" and not _donation_ok(run):
                # a state holding one buffer twice cannot be donated: time it undonated
                run = _build(c, params, dev, donate=False)
                donated[c.label] = False
            run.set_grads(_grads(c, tgrads, jgrads))
            peak0 = _cuda_peak_start(dev) if c.framework == "torch" else None
            start = time.perf_counter()
            run.step()  # allocates the state; compiles (jax, torch.compile'd paths)
            first[c.label] = time.perf_counter() - start
            first_peak[c.label] = _cuda_peak_end(dev, peak0) if peak0 is not None else None
            runs[c.label] = run
        except Exception as e:  # one implementation failing on the workload: report it
            if c.source == "optc" and c.path == "readable":
                raise
            unavailable[c.label] = f"{type(e).__name__}: {e}"
    times = round_robin({label: run.step for label, run in runs.items()}, repeats, warmup)
    shape_check = check_after_timing(setup, runs, by_label, params, 1 + warmup + repeats)
    reference = _torch_reference(runs, by_label)
    moved = bytes_moved(setup, runs[reference] if reference else None, workload)
    rows = []
    for c in cands:
        if c.label not in runs:
            continue
        run = runs[c.label]
        row: dict[str, Any] = {
            "label": c.label,
            "source": c.source,
            "framework": c.framework,
            "path": c.path,
            "available": True,
            **summarize(times[c.label]),
            "first_call_s": first[c.label],
            "state_bytes": run.state_bytes(),
        }
        if c.framework == "jax":
            row["donated"] = donated.get(c.label, True)
        row["step_peak_bytes"] = None
        row["peak_extra_bytes"] = row["state_bytes"]
        if c.framework == "torch" and dev.type == "cuda":
            mem = torch_side.step_memory(run.step, dev, prime=False)
            row["step_peak_bytes"] = mem["peak_bytes"]
            row["peak_extra_bytes"] = max(
                row["state_bytes"] + max(mem["peak_bytes"], 0), first_peak[c.label] or 0
            )
        elif c.framework == "jax" and dev.type == "cuda":
            ma = run.memory_analysis() or {}
            row["step_peak_bytes"] = ma.get("temp_size_in_bytes")
            row["peak_extra_bytes"] = row["state_bytes"] + (ma.get("temp_size_in_bytes") or 0)
        row["gb_per_s"] = moved["total"] / (row["median_ms"] / 1e3) / 1e9
        rows.append(row)
    for label, why in unavailable.items():
        c = meta[label]
        rows.append(
            {
                "label": label,
                "source": c.source,
                "framework": c.framework,
                "path": c.path,
                "available": False,
                "reason": why,
            }
        )
    del runs
    gc.collect()
    return rows, moved, shape_check


def _donation_ok(run: JaxRun) -> bool:
    """Whether the parameters and state hold no buffer twice (XLA refuses to donate it twice)."""
    import jax

    leaves = jax.tree_util.tree_leaves((run.params, run.state))
    ids = [id(x) for x in leaves if isinstance(x, jax.Array)]
    return len(ids) == len(set(ids))


def _cuda_peak_start(dev: Any) -> int | None:
    import torch

    if dev.type != "cuda":
        return None
    torch.cuda.synchronize(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    return torch.cuda.memory_allocated(dev)


def _cuda_peak_end(dev: Any, before: int) -> int:
    import torch

    torch.cuda.synchronize(dev)
    return torch.cuda.max_memory_allocated(dev) - before


def add_ratios(rows: list[dict[str, Any]], copy_gbps: float) -> None:
    """ratio = ms / the fastest library implementation on the same framework; ratio_any = ms /
    the fastest library implementation on either framework; fraction of copy bandwidth."""
    ok = [r for r in rows if r["available"]]
    lib = [r for r in ok if r["source"] != "optc"]
    best_any = min((r["median_ms"] for r in lib), default=None)
    for r in ok:
        same = [x["median_ms"] for x in lib if x["framework"] == r["framework"]]
        best = min(same, default=None)
        r["ratio"] = r["median_ms"] / best if best else None
        r["ratio_any"] = r["median_ms"] / best_any if best_any else None
        r["copy_bw_fraction"] = r["gb_per_s"] / copy_gbps if copy_gbps else None


# -- the whole run ------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("torch", "jax", "jaxlib", "optax", "numpy", "pytorch-optimizer", "heavyball"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def resolve_device(name: str) -> Any:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch.cuda is not available on this machine")
    return torch.device(name)


def collect(
    specs: Sequence[str] | None = None,
    *,
    device: str = "cpu",
    workload: Workload | str = "default",
    repeats: int = 5,
    warmup: int = 0,
    paths: Sequence[str] = DEFAULT_PATHS,
    check_workload: Workload = CHECK_WORKLOAD,
    check_steps: int = CHECK_STEPS,
    progress: Callable[[str], None] | None = None,
    on_spec: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every figure of the benchmark, as a JSON-ready dict. Raises MismatchError (before timing
    that spec; every spec is checked before any is timed) when an implementation disagrees."""
    import torch

    stage = progress or (lambda _s: None)
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    wl = WORKLOADS[workload] if isinstance(workload, str) else workload
    dev = resolve_device(device)
    names = list(specs) if specs else default_specs()
    if set(paths) & set(SHAPE_CHECKED_PATHS) and not {"readable", "foreach"} & set(paths):
        paths = ("foreach", *paths)  # the timed reference of check_after_timing
    setups, cands, checks, unavailable, meta = {}, {}, {}, {}, {}
    for i, name in enumerate(names):
        stage(f"checking {name} ({i + 1}/{len(names)})")
        setups[name] = load_spec(name)
        spec_workload(setups[name], wl)  # an entry with ndim: the workload has such tensors
        cands[name] = candidates(setups[name], setups[name].probe, ("readable", *paths))
        meta[name] = {c.label: c for c in cands[name]}
        checks[name], unavailable[name] = check_spec(
            setups[name], cands[name], dev, check_workload, check_steps
        )
    stage("measuring copy bandwidth")
    copy_bw = copy_bandwidth(wl.numel, dev)
    inputs: dict[Workload, tuple[list[np.ndarray], list[Any], Any]] = {}
    results = []
    for i, name in enumerate(names):
        stage(f"timing {name} ({i + 1}/{len(names)}, {repeats} steps per implementation)")
        setup = setups[name]
        spec_wl = spec_workload(setup, wl)  # an entry with ndim: part of the workload
        if spec_wl not in inputs:
            grads = spec_wl.grads(0)
            inputs[spec_wl] = (
                spec_wl.params(),
                [torch.tensor(g, device=dev) for g in grads],
                jax_side.put(grads),
            )
        timed = [
            c for c in candidates(setup, setup.hypers, paths) if c.label not in unavailable[name]
        ]
        rows, moved, shape_check = time_spec(
            setup,
            timed,
            *inputs[spec_wl],
            dev,
            repeats,
            warmup,
            spec_wl,
            dict(unavailable[name]),
            meta[name],
        )
        add_ratios(rows, copy_bw["gb_per_s"])
        entry = {
            "spec": name,
            "hypers": setup.hypers,
            "bytes_moved": moved,
            "floor_ms": 1e3 * moved["total"] / (copy_bw["gb_per_s"] * 1e9),
            "workload": spec_wl.describe(),
            "check": checks[name],
            "check_at_timing_shapes": shape_check,
            "rows": rows,
        }
        results.append(entry)
        if on_spec:
            on_spec(entry)
    copy_end = copy_bandwidth(wl.numel, dev)
    return {
        "benchmark": "optc bench",
        "device": str(dev),
        "jax_device": str(jax_side.device()),
        "workload": wl.as_dict(),
        "repeats": repeats,
        "warmup": warmup,
        "paths": list(paths),
        "timing": "median of per-step wall times (time.perf_counter), all implementations of a "
        "spec interleaved round-robin after the first (timed separately: first_call_s) and "
        f"{warmup} warm-up step(s); torch synchronized on CUDA, jax block_until_ready",
        "gb_per_s": "bytes the algorithm must move per step ((params + grads + states) read, "
        "(params + states) written, float32) / median time",
        "copy_bandwidth": {"start": copy_bw, "end": copy_end},
        "memory": MEMORY_NOTE_CUDA if dev.type == "cuda" else MEMORY_NOTE_CPU,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1min": {"start": load_before[0], "end": os.getloadavg()[0]},
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "versions": versions(),
        "specs": results,
        "total_s": time.perf_counter() - t0,
    }
