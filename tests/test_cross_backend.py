"""torch, jax and the float64 reference interpreter agree on every spec of the library.

Each spec runs 10 steps on one gradient stream over parameters of shape (), (7,), (6, 3),
(3, 6), (2, 3, 2, 2) and the empty (0, 3), in float64 and float32; θ and every state are compared with the
reference after every step. Tolerances (optc.verify.TOLERANCES): float64 rtol 1e-9 / atol 1e-12,
float32 rtol 2e-4 / atol 2e-6.

torch runs in every gradient mode (optc.verify.GRAD_MODES): a fresh ``p.grad`` each step, the
same ``p.grad`` written in place (``zero_grad(set_to_none=False)``, accumulation), and a fresh
``p.grad`` overwritten with NaN after ``step()``. A state that shares storage with θ or g fails
the last two. jax arrays are immutable: jax runs fresh only. One ``verify`` call per spec (the
reference and the built modules shared by all modes), cached for the per-mode tests.
"""

from __future__ import annotations

import functools

import pytest

from optc.pipeline import compile_file, library_specs
from optc.verify import GRAD_MODES, SHAPES, TOLERANCES, VerifyReport, verify

SPECS = library_specs()


@functools.cache
def _report(path) -> VerifyReport:
    program = compile_file(path, checks=False).program
    return verify(program, steps=10, grad_modes=GRAD_MODES)


def _failures(report: VerifyReport, backend: str, grad_mode: str) -> list[str]:
    return [
        f"{d.backend} {d.dtype} {d.grad_mode} {d.value}: |Δ| = {d.max_abs:.3e} at step "
        f"{d.worst_step}"
        for d in report.failures
        if d.backend == backend and d.grad_mode == grad_mode
    ]


@pytest.mark.parametrize("grad_mode", GRAD_MODES)
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_torch_matches_reference_every_step(path, grad_mode):
    report = _report(path)
    assert report.error is None, report.error
    failures = _failures(report, "torch", grad_mode)
    assert not failures, "\n".join(failures)
    # every (dtype, value) was compared in this mode
    program = compile_file(path, checks=False).program
    values = 1 + len(program.states) + len(program.globals)
    compared = [d for d in report.deviations if d.backend == "torch" and d.grad_mode == grad_mode]
    assert len(compared) == len(TOLERANCES) * values


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_jax_matches_reference_every_step(path):
    report = _report(path)
    assert report.error is None, report.error
    failures = _failures(report, "jax", "fresh")
    assert not failures, "\n".join(failures)
    assert {d.grad_mode for d in report.deviations if d.backend == "jax"} == {"fresh"}


def test_verify_detects_a_deviating_backend(monkeypatch):
    """The harness can fail: corrupt the torch backend's θ by one part in 1e6 and it reports it."""
    import optc.verify as verify_module

    program = compile_file(SPECS[0], checks=False).program
    honest = verify_module.run_torch

    def corrupted(*args, **kwargs):
        history = honest(*args, **kwargs)
        for snapshot in history:
            for values in snapshot:
                values["theta"] = values["theta"] * (1 + 1e-6)
        return history

    monkeypatch.setattr(verify_module, "run_torch", corrupted)
    report = verify_module.verify(program, steps=2, dtypes=("float64",), backends=("torch",))
    assert not report.passed
    assert len(SHAPES) == 7
