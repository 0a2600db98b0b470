"""Hyperparameter resolution shared by the interpreter and the verification harness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optc.ir.nodes import Program


def resolve_hypers(program: Program, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults overridden by ``overrides``; ValueError names an unknown or out-of-domain hyper."""
    values = {h.name: h.default for h in program.hypers}
    for name, value in (overrides or {}).items():
        if name not in values:
            raise ValueError(
                f"{program.name} has no hyperparameter {name!r}; it has {', '.join(values)}"
            )
        values[name] = value
    for hyper in program.hypers:
        if not hyper.contains(values[hyper.name]):
            raise ValueError(
                f"Invalid {hyper.name}: {values[hyper.name]!r} "
                f"({hyper.name} must be {hyper.requirement()})"
            )
    return values
