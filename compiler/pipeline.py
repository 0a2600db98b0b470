"""The compile pipeline as one call: text → AST → IR → checks. Backends take it from here."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

from optc.diagnostics import Diagnostic, Span, SpecError
from optc.ir.build import build_program
from optc.ir.nodes import Program
from optc.parse import ast
from optc.parse.compose import Loader, expand_uses
from optc.parse.parser import parse_library, parse_spec


@dataclass
class Compiled:
    """A checked program plus the warnings its compile produced."""

    program: Program
    warnings: list[Diagnostic]


@functools.cache
def prelude() -> tuple[ast.DefDecl, ...]:
    """The shared definitions of ``specs/prelude.opt``."""
    text = importlib.resources.files("optc.specs").joinpath("prelude.opt").read_text()
    return tuple(parse_library(text, "specs/prelude.opt"))


def compile_text(text: str, filename: str = "<spec>", checks: bool = True) -> Compiled:
    """Parse, build and (by default) check a spec. Raises SpecError on malformed input.

    No other exception escapes, whatever the input: a failure of the compiler itself is turned
    into a SpecError saying so (and is a bug to report).
    """
    if not isinstance(text, str):
        raise TypeError(f"spec text must be a str, not {type(text).__name__}")
    try:
        spec = expand_uses(parse_spec(text, filename), _loader(filename))
        program, warnings = build_program(spec, list(prelude()))
        if checks:
            from optc.check.domains import domain_warnings

            warnings = [*warnings, *domain_warnings(program)]
    except SpecError as err:  # attach the source, so the error shows the line and a caret
        raise err.with_source(text) from None
    except RecursionError:
        raise SpecError(
            "the spec is nested too deeply to compile",
            Span(filename, 1, 1, 1, 2),
            hint="split deep expressions into statements with locals",
            source=text,
        ) from None
    except Exception as err:  # a compiler bug: still one located error, never a traceback
        raise SpecError(
            f"internal compiler error ({type(err).__name__}: {err})",
            Span(filename, 1, 1, 1, 2),
            hint="this is a bug in optc; please report it with this spec",
            source=text,
        ) from err
    return Compiled(program, warnings)


def _loader(filename: str) -> Loader:
    """Finds a used spec next to the using one, then in the library."""

    def load(stem: str, span: Span) -> ast.SpecFile:
        here = Path(filename).parent if filename and not filename.startswith("<") else None
        for folder in [here, library_dir()] if here else [library_dir()]:
            path = folder / f"{stem}.opt"
            if path.is_file():
                return parse_spec(read_spec(path), _display_path(path))
        names = ", ".join(p.stem for p in library_specs()[:8])
        raise SpecError(
            f"no spec `{stem}` to use", span, hint=f"library specs are named by file: {names}, ..."
        )

    return load


def compile_file(path: str | Path, checks: bool = True) -> Compiled:
    path = Path(path)
    return compile_text(read_spec(path), _display_path(path), checks=checks)


def read_spec(path: Path) -> str:
    """A spec file's text; bytes that are not UTF-8 are a located error."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise SpecError(
            f"byte 0x{data[err.start]:02X} is not UTF-8",
            Span(_display_path(path), line, col, line, col + 1),
            hint="save the spec as UTF-8",
            source=data.decode("utf-8", "replace"),
        ) from None


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def library_dir() -> Path:
    """The spec library folder (``specs/`` in a checkout, ``optc/specs`` when installed)."""
    return Path(str(importlib.resources.files("optc.specs")))


def library_specs() -> list[Path]:
    """Every optimizer spec of the library, sorted by file name (the prelude excluded)."""
    return sorted(p for p in library_dir().glob("*.opt") if p.name != "prelude.opt")
