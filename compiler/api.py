"""The Python API: compile a spec and get a ready-to-use optimizer, without writing files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optc.codegen import build
from optc.ir.nodes import Program
from optc.pipeline import Compiled, compile_file, compile_text


def _compile(spec: str | Path, checks: bool) -> Compiled:
    """A path (``Path``, or a one-line string ending in .opt) is read; anything else is text."""
    is_path = isinstance(spec, Path) or ("\n" not in spec and spec.endswith(".opt"))
    return compile_file(spec, checks=checks) if is_path else compile_text(spec, "<spec>", checks)


def load(spec: str | Path, backend: str = "torch") -> Any:
    """Compile a spec (a path to a .opt file, or the spec text itself) for one backend.

    Returns the ``torch.optim.Optimizer`` subclass (backend "torch") or the function returning
    an ``optax.GradientTransformation`` (backend "jax"). Raises ``SpecError`` for a malformed
    spec, with the file, line, column and a hint in its message.
    """
    program = _compile(spec, checks=True).program
    return build(program, backend, program.file)


def load_program(spec: str | Path, checks: bool = False) -> Program:
    """The IR of a spec given as a path or as text."""
    return _compile(spec, checks).program
