"""Reference-library cases: a spec, the library optimizer it must reproduce, and the mapping.

Each case module (``group_*.py``) exports ``CASES: list[RefCase]``; ``tests/test_reference_libraries.py``
runs every case in float64 for at least 20 steps on a shared gradient stream and compares θ (and the
states named in ``compare_states``, where the library exposes them) after every step.

The mappings that `optc bench` also uses live in ``optc.bench.counterparts`` (one copy, in the
package: the benchmark does not import tests/); :func:`shared` makes their cases here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from optc.bench import counterparts


@dataclass(frozen=True)
class RefCase:
    """One spec checked against one library implementation.

    spec:     spec file stem in specs/ (``"adamw"``).
    library:  ``"torch.optim"``, ``"pytorch_optimizer"``, ``"heavyball"``, ``"schedulefree"``
              (torch optimizers) or ``"optax"`` (a GradientTransformation).
    hypers:   the spec's hyperparameters for this run (spec names); unnamed ones keep their defaults.
    build:    torch libraries: ``build(params, hypers) -> torch.optim.Optimizer``;
              optax: ``build(hypers) -> optax.GradientTransformation``.
    note:     the convention mapping in words (what the library calls each hyper, what differs).
    steps:    number of steps compared (at least 20).
    rtol/atol: float64 tolerances.
    shapes:   the parameter shapes, where the library's convention agrees with the spec's on
              some shapes only (None: tests/test_reference_libraries.py's SHAPES).
    """

    spec: str
    library: str
    hypers: dict[str, Any]
    build: Callable[..., Any]
    note: str
    steps: int = 20
    rtol: float = 1e-10
    atol: float = 1e-12
    id: str = field(default="")
    shapes: tuple[tuple[int, ...], ...] | None = None

    def label(self) -> str:
        return self.id or f"{self.spec}-vs-{self.library}"


def shared(case_id: str, flags: dict[str, Any] | None = None, **changes: Any) -> RefCase:
    """The case of a counterpart of ``optc.bench.counterparts`` (its spec, library, hypers,
    build and note), with ``changes`` (this test's steps or tolerances, a build wrapping the
    counterpart's); ``flags``: constructor keywords the float64 check adds (``foreach=False``)."""
    bench, cp = counterparts.counterpart(case_id)
    build = cp.build
    if flags:
        build = functools.partial(cp.build, **flags)
    case = RefCase(
        spec=bench.spec,
        library=cp.library,
        hypers=bench.case_hypers(cp),
        build=build,
        note=cp.note,
        id=cp.id,
    )
    return replace(case, **changes)
