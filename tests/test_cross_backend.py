"""torch, jax and the float64 reference interpreter agree on every spec of the library.

Each spec runs 10 steps on one gradient stream over parameters of shape (), (7,), (6, 3),
(3, 6) and (2, 3, 2, 2), in float64 and float32; θ and every state are compared with the
reference after every step. Tolerances (optc.verify.TOLERANCES): float64 rtol 1e-9 / atol 1e-12,
float32 rtol 2e-4 / atol 2e-6.
"""

from __future__ import annotations

import pytest

from optc.pipeline import compile_file, library_specs
from optc.verify import SHAPES, TOLERANCES, verify


@pytest.mark.parametrize("path", library_specs(), ids=lambda p: p.stem)
def test_backends_match_reference_every_step(path):
    program = compile_file(path, checks=False).program
    report = verify(program, steps=10)
    failures = [
        f"{d.backend} {d.dtype} {d.value}: |Δ| = {d.max_abs:.3e} at step {d.worst_step}"
        for d in report.deviations
        if d.max_scaled > 1
    ]
    assert not failures, "\n".join(failures)
    # every (backend, dtype, value) was compared
    values = 1 + len(program.states)
    assert len(report.deviations) == 2 * len(TOLERANCES) * values


def test_verify_detects_a_deviating_backend(monkeypatch):
    """The harness can fail: corrupt the torch backend's θ by one part in 1e6 and it reports it."""
    import optc.verify as verify_module

    program = compile_file(library_specs()[0], checks=False).program
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
    assert len(SHAPES) == 5
