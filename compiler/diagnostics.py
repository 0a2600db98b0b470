"""Compiler diagnostics: ``FILE:LINE:COL: error: MESSAGE``, the source line, a caret, a hint.

Every error the front end can detect is a :class:`SpecError`; the CLI prints it and exits 1, so a
malformed spec never surfaces as a Python traceback. Warnings use the same shape.
"""

from __future__ import annotations

import difflib
import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Span:
    """A source range: 1-based line and column; ``end_col`` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One message about a source range, with an optional ``help:`` hint."""

    severity: Severity
    message: str
    span: Span | None
    hint: str | None = None

    def render(self, source: str | None) -> str:
        """Format like rustc: location, message, source line, caret under the token, hint."""
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}{self.severity}: {self.message}"]
        if self.span is not None and source is not None:
            source_lines = source.splitlines()
            if 1 <= self.span.line <= len(source_lines):
                text = _printable(source_lines[self.span.line - 1].expandtabs(1))
                width = 1
                if self.span.end_line == self.span.line and self.span.end_col > self.span.col:
                    width = self.span.end_col - self.span.col
                gutter = f"{self.span.line:>4} | "
                lines.append(gutter + text)
                lines.append(" " * (len(gutter) + self.span.col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            lines.append(f"help: {self.hint}")
        return "\n".join(lines)


class SpecError(Exception):
    """A malformed spec: carries the diagnostic and the source it points into."""

    def __init__(
        self,
        message: str,
        span: Span | None,
        hint: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(Severity.ERROR, message, span, hint)
        self.source = source

    def with_source(self, source: str) -> SpecError:
        """Attach the spec text so the rendered error can show the offending line."""
        if self.source is None:
            self.source = source
        return self

    def render(self) -> str:
        return self.diagnostic.render(self.source)

    def __str__(self) -> str:
        return self.render()


def _printable(line: str) -> str:
    """The line as shown under a message: a control or invisible character (the NUL or the
    bidi override being reported) becomes U+FFFD, one column for one, so the caret still fits."""
    return "".join(
        "\ufffd"
        if not ch.isprintable() and unicodedata.category(ch)[0] in "CZ" and ch != " "
        else ch
        for ch in line
    )


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A ``did you mean `x`?`` hint for the closest candidate, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
