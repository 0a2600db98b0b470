"""Every malformed spec gets FILE:LINE:COL, the message, the source line, a caret and a hint —
and the CLI exits 1 without a Python traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from optc.diagnostics import SpecError
from optc.pipeline import compile_text

HEADER = """optimizer Bad
cite "x"
convention eps "outside the root"
hyper lr = 1e-3 in (0, inf)
hyper eps = 1e-8 in [0, inf)
state m = 0
step
"""  # the step body starts on line 8
TAIL = "  theta <- theta - lr * m\n"

# (case id, spec text, line, column, caret width, message fragment, hint fragment)
CASES = [
    ("syntax", HEADER + "  m <- m +* g\n" + TAIL, 8, 11, 1, "unexpected `*`", "expected"),
    ("unclosed-paren", HEADER + "  m <- (m + g\n" + TAIL, 8, 8, 1, "`(` is never closed", "`)`"),
    ("unmatched-paren", HEADER + "  m <- m + g)\n" + TAIL, 8, 13, 1, "unmatched `)`", "`(`"),
    (
        "unknown-function",
        HEADER + "  m <- sqr(g)\n" + TAIL,
        8,
        8,
        3,
        "unknown function `sqr`",
        "`sqrt`",
    ),
    (
        "wrong-arity",
        HEADER + "  m <- clip(g, 1)\n" + TAIL,
        8,
        8,
        4,
        "takes 3 arguments, got 2",
        "clip(x, lo, hi)",
    ),
    (
        "def-arity",
        HEADER + "  m <- ema(m, g)\n" + TAIL,
        8,
        8,
        3,
        "`ema` takes 3 arguments",
        "ema(s, x, b)",
    ),
    ("undefined-name", HEADER + "  m <- m + gg\n" + TAIL, 8, 12, 2, "undefined name `gg`", "`g`"),
    ("assign-hyper", HEADER + "  lr <- lr * 2\n" + TAIL, 8, 3, 2, "`lr` is a hyper", "lr_t"),
    ("bind-hyper", HEADER + "  lr = lr * 2\n" + TAIL, 8, 3, 2, "`lr` is a hyper", "new local"),
    (
        "undeclared-state",
        HEADER + "  mm <- g\n" + TAIL,
        8,
        3,
        2,
        "`mm` is not a declared state",
        "`m`",
    ),
    ("state-with-equals", HEADER + "  m = g\n" + TAIL, 8, 3, 1, "`m` is a state", "m <- ..."),
    (
        "rebind-local",
        HEADER + "  x = g\n  x = 2 * g\n" + TAIL,
        9,
        3,
        1,
        "already bound at line 8",
        "new name",
    ),
    (
        "tensor-if",
        HEADER + "  m <- if g > 0 then g else m\n" + TAIL,
        8,
        8,
        22,
        "must be a scalar",
        "where(",
    ),
    ("theta-never-updated", HEADER + "  m <- g\n", 7, 1, 4, "never updates `theta`", "theta <-"),
    (
        "default-outside-domain",
        'optimizer Bad\ncite "x"\nhyper lr = -1 in (0, inf)\nstep\n  theta <- theta - lr * g\n',
        3,
        12,
        2,
        "outside its domain (0, inf)",
        "widen the domain",
    ),
    (
        "duplicate-hyper",
        'optimizer Bad\ncite "x"\nhyper lr = 1 in (0, inf)\nhyper lr = 2 in (0, inf)\nstep\n  theta <- theta - lr * g\n',
        4,
        7,
        2,
        "duplicate declaration of `lr`",
        "line 3",
    ),
    (
        "duplicate-state",
        'optimizer Bad\ncite "x"\nhyper lr = 1 in (0, inf)\nstate m = 0\nstate m = 1\nstep\n  theta <- theta - lr * m\n',
        5,
        7,
        1,
        "duplicate declaration of `m`",
        "line 4",
    ),
    (
        "missing-step",
        'optimizer Bad\ncite "x"\nhyper lr = 1 in (0, inf)\n',
        3,
        1,
        1,
        "missing `step` block",
        "theta <- theta - lr * g",
    ),
    (
        "non-ascii",
        'optimizer Bad\ncite "x"\nhyper lr = 1 in (0, inf)\nstep\n  theta <- theta \u2212 lr * g\n',
        5,
        18,
        1,
        "non-ASCII character",
        "ASCII",
    ),
    (
        "non-ascii-name",
        'optimizer Bad\ncite "x"\nhyper lr = 1 in (0, inf)\nstep\n  \u00e9t\u00e9 = g\n  theta <- theta - lr * g\n',
        5,
        3,
        3,
        "non-ASCII name",
        "Greek",
    ),
    ("empty-file", "", 1, 1, 1, "empty spec", "optimizer NAME"),
    ("only-comments", "# nothing here\n", 1, 1, 1, "empty spec", "optimizer NAME"),
    (
        "misspelt-keyword",
        'optimizer Bad\ncite "x"\nhyperr lr = 1 in (0, inf)\nstep\n  theta <- theta - lr * g\n',
        3,
        1,
        6,
        "unknown declaration `hyperr`",
        "`hyper`",
    ),
    (
        "missing-convention",
        'optimizer Bad\ncite "x"\nhyper lr = 1 in (0, inf)\nhyper eps = 1 in (0, inf)\nstep\n  theta <- theta - lr * g\n',
        4,
        7,
        3,
        "`eps` needs its convention stated",
        "convention eps",
    ),
    (
        "missing-optimizer-line",
        "hyper lr = 1 in (0, inf)\nstep\n  theta <- theta - lr * g\n",
        1,
        1,
        1,
        "missing `optimizer NAME`",
        "optimizer MyOptimizer",
    ),
    (
        "statement-before-step",
        'optimizer Bad\ncite "x"\nhyper lr = 1 in (0, inf)\n  theta <- theta - lr * g\n',
        4,
        3,
        23,
        "before the `step` block",
        "`step`",
    ),
    (
        "line-ends-early",
        HEADER + "  m <- m +\n" + TAIL,
        8,
        11,
        1,
        "ends in the middle",
        "expected",
    ),
    (
        "where-needs-condition",
        HEADER + "  m <- where(g, g, m)\n" + TAIL,
        8,
        8,
        14,
        "must be a comparison",
        "where(",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "col", "width", "message", "hint"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_spec_reports_position_caret_and_hint(text, line, col, width, message, hint):
    with pytest.raises(SpecError) as info:
        compile_text(text, "bad.opt")
    diagnostic = info.value.diagnostic
    assert (diagnostic.span.line, diagnostic.span.col) == (line, col), info.value.render()
    assert message in diagnostic.message
    assert diagnostic.hint is not None and hint in diagnostic.hint
    rendered = info.value.render().splitlines()
    assert rendered[0] == f"bad.opt:{line}:{col}: error: {diagnostic.message}"
    if text.strip():  # the source line, then the caret under the token
        source_line = text.splitlines()[line - 1]
        assert rendered[1].endswith(source_line)
        caret_row = rendered[2]
        gutter = len(rendered[1]) - len(source_line)
        assert caret_row.index("^") == gutter + col - 1
        assert caret_row.strip() == "^" + "~" * (width - 1)
    assert rendered[-1].startswith("help: ")


@pytest.mark.parametrize("case", CASES[:6] + CASES[-8:], ids=lambda case: case[0])
def test_cli_exits_1_without_traceback(case, tmp_path: Path):
    spec = tmp_path / "bad.opt"
    spec.write_text(case[1], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "optc.cli", "compile", str(spec), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f":{case[2]}:{case[3]}: error: " in result.stderr
    assert "help: " in result.stderr


def test_brackets_may_span_continued_lines_and_the_comment_quotes_the_whole_statement():
    text = 'optimizer X\ncite "x"\nhyper lr = 1 in (0, inf)\nstep\n  theta <- theta - lr * (g + \\\n    theta)\n'
    (binding,) = compile_text(text, "ok.opt").program.body
    assert binding.source == "theta <- theta - lr * (g + theta)"


def test_unclosed_bracket_on_a_continued_line_points_at_the_bracket():
    text = 'optimizer X\ncite "x"\nhyper lr = 1 in (0, inf)\nstep\n  theta <- theta - lr * (g + \\\n    theta\n'
    with pytest.raises(SpecError) as info:
        compile_text(text, "bad.opt")
    span = info.value.diagnostic.span
    assert (span.line, span.col) == (5, 25)
    assert "never closed" in info.value.diagnostic.message
