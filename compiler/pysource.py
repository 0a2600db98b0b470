"""Python source as optc emits it: formatted by the pinned ruff, with linter-ordered ``__all__``.

Shared by the backends (each generated module) and ``optc regen`` (the package ``__init__``
files); it lives in the compiler so that the compiler never imports back from the backends.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable


def dunder_all(names: Iterable[str]) -> str:
    """An ``__all__`` list in the order linters expect (CONSTANTS, Classes, functions)."""
    order = sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))
    return "[" + ", ".join(f'"{n}"' for n in order) + "]"


def format_python(source: str) -> str:
    """Format generated code with the pinned ruff, so output is byte-identical everywhere."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--line-length", "100", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
    )
    if "No module named ruff" in result.stderr:
        raise RuntimeError("optc formats generated code with ruff: pip install ruff==0.17.5")
    if result.returncode != 0:
        raise RuntimeError(f"generated code does not parse:\n{result.stderr}\n{source}")
    return result.stdout


def docstring_text(text: str) -> str:
    """Text safe to paste into a raw triple-quoted docstring: no three double quotes in a row.

    Spec strings cannot hold a double quote (the grammar's strings have none); file names can.
    """
    return text.replace('"' * 3, "'" * 3)
