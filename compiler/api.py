"""The Python API: compile a spec and get a ready-to-use optimizer, without writing files."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optc.codegen import build
from optc.diagnostics import SpecError
from optc.ir.nodes import Program
from optc.pipeline import Compiled, compile_file, compile_text

if TYPE_CHECKING:
    from optc.check.report import CheckReport


class OptcWarning(UserWarning):
    """A compile warning of a spec (e.g. a division not proved safe), raised by ``optc.load``.

    The message is the rendered diagnostic: ``FILE:LINE:COL: warning: ...``, the source line, a
    caret and a hint. Filter it like any warning: ``warnings.simplefilter("ignore", OptcWarning)``.
    """


def _compile(spec: str | Path, checks: bool) -> Compiled:
    """A path (``Path``, or a one-line string ending in .opt) is read; anything else is text."""
    is_path = isinstance(spec, Path) or ("\n" not in spec and spec.endswith(".opt"))
    return compile_file(spec, checks=checks) if is_path else compile_text(spec, "<spec>", checks)


def _warn(compiled: Compiled, stacklevel: int) -> None:
    for diagnostic in compiled.warnings:
        warnings.warn(
            diagnostic.render(compiled.program.source), OptcWarning, stacklevel=stacklevel + 1
        )


def load(spec: str | Path, backend: str = "torch") -> Any:
    """Compile a spec (a path to a .opt file, or the spec text itself) for one backend.

    Returns the ``torch.optim.Optimizer`` subclass (backend "torch") or the function returning
    an ``optax.GradientTransformation`` (backend "jax"). Raises ``SpecError`` for a malformed
    spec, with the file, line, column and a hint in its message; each compile warning is issued
    as an :class:`OptcWarning`.
    """
    compiled = _compile(spec, checks=True)
    _warn(compiled, stacklevel=2)
    program = compiled.program
    return build(program, backend, program.file)


def load_program(spec: str | Path, checks: bool = False) -> Program:
    """The IR of a spec given as a path or as text; compile warnings as :class:`OptcWarning`."""
    compiled = _compile(spec, checks)
    _warn(compiled, stacklevel=2)
    return compiled.program


def check_specs(paths: Iterable[str | Path]) -> Iterator[tuple[Path, CheckReport | SpecError]]:
    """Compile and check specs one after another, yielding each report as soon as it is done.

    A spec that does not compile yields its ``SpecError`` (with its source, for rendering) in
    place of the report, and the next spec is checked.
    """
    from optc.check.report import check_report

    for path in paths:
        path = Path(path)
        try:
            yield path, check_report(compile_file(path))
        except SpecError as err:
            yield path, err
