"""Every error the compiler raises carries a hint (the fuzzer found two that did not)."""

from __future__ import annotations

import ast
from pathlib import Path

COMPILER = Path(__file__).resolve().parent.parent / "compiler"


def test_every_spec_error_in_the_compiler_has_a_hint():
    missing = []
    for path in sorted(COMPILER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "SpecError":
                has_hint = len(node.args) >= 3 or any(k.arg == "hint" for k in node.keywords)
                if not has_hint:
                    missing.append(f"{path.relative_to(COMPILER.parent)}:{node.lineno}")
    assert not missing, missing
