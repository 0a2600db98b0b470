"""The printer framework: linear-time rendering, precedence and associativity from the op table.

Linear time is asserted by counting work (nodes visited), not by timing: each printer must
visit each (node, context) pair once, however deep the nesting — nested ``if``\\ s used to be
rendered once per enclosing branch, 2^depth times.
"""

from __future__ import annotations

import pytest

import optc
from optc.backends.torch import codegen as torch_codegen
from optc.codegen import generator
from optc.ir.nodes import REAL_SCALAR, Op, Role, Var, walk
from optc.ir.printer import ExprFold, operand_precedences
from optc.render import latex
from optc.verify import verify

DEPTH = 95  # just inside the front end's nesting limit

NESTED = {
    "if": lambda n: "".join(f"if t > {i} then " for i in range(n)) + "g" + " else g" * n,
    "where": lambda n: "where(g > 0, " * n + "g" + ", g)" * n,
    "not": lambda n: "where(" + "not " * n + "(g > 0), g, 0)",
    "abs": lambda n: "abs(" * n + "g" + ")" * n,
    "minus": lambda n: "-" * n + "g",
    "sum": lambda n: " + ".join(["g"] * n),
    "power": lambda n: "^".join(["1"] * n) + " * g",
    "min": lambda n: "min(g, " * n + "g" + ")" * n,
}


def deep_spec(construct: str) -> str:
    body = NESTED[construct](DEPTH)
    return f'optimizer Deep\ncite "x"\nhyper lr = 0.1 in (0, inf)\nstep\n  theta <- theta - lr * ({body})\n'


@pytest.fixture
def visits(monkeypatch):
    """Count every ExprFold.visit call, per printer class."""
    counts: dict[str, int] = {}
    original = ExprFold.fold

    def counting_fold(self, expr, context=None):
        key = (id(expr), context)
        if key not in self._memo:
            counts[type(self).__name__] = counts.get(type(self).__name__, 0) + 1
        return original(self, expr, context)

    monkeypatch.setattr(ExprFold, "fold", counting_fold)
    return counts


@pytest.mark.parametrize("construct", sorted(NESTED))
def test_every_printer_visits_each_node_a_bounded_number_of_times(construct, visits):
    program = optc.load_program(deep_spec(construct))
    nodes = sum(1 for b in program.body for _ in walk(b.expr))
    for backend in ("torch", "jax"):
        generator(backend)(program, "deep.opt")
    latex.latex_aligned(program)
    assert set(visits) >= {"TorchPrinter", "JaxPrinter", "LatexPrinter"}
    for printer, count in visits.items():
        # one visit per node and context (a sum operand may be rendered in two contexts), per
        # render pass; a few passes at most (statements, initial values, docstrings)
        assert count <= 6 * nodes, (printer, count, nodes)


def test_operand_precedence_follows_associativity():
    assert operand_precedences("sub") == (6, 7)  # a - b - c is (a - b) - c
    assert operand_precedences("pow") == (10, 9)  # a ^ b ^ c is a ^ (b ^ c)
    assert operand_precedences("lt") == (6, 6)  # comparisons never chain


@pytest.mark.parametrize(
    ("expression", "python"),
    [
        ("g - (g - g)", "g - (g - g)"),
        ("(g - g) - g", "g - g - g"),
        ("g / (g * g)", "g / (g * g)"),
        ("g ^ (g ^ g)", "u = g**g**g"),
        ("(g ^ g) ^ g", "u = (g**g) ** g"),
        ("where((g < g) == (g > 0), g, 0)", "(g < g) == (g > 0)"),
    ],
)
def test_python_spelling_keeps_the_tree(expression, python):
    text = f'optimizer P\ncite "x"\nstep\n  u = {expression}\n  theta <- theta - u\n'
    source = generator("torch")(optc.load_program(text), "p.opt")
    assert python in source


def test_torch_device_analysis_is_memoised():
    printer = torch_codegen.TorchPrinter({}, set(), _names(), None)
    leaf = Var("lr", Role.HYPER, REAL_SCALAR)
    expr = leaf
    for _ in range(200):
        expr = Op("add", (expr, leaf), REAL_SCALAR)
    assert not printer.on_device(expr)  # a Python float: hypers only
    assert len(printer._device) == 201  # every node decided once


def _names():
    from optc.backends.lowering import InternalNames

    return InternalNames(set())


NO_HYPERS = """
optimizer Plain
cite "a spec without hyperparameters"
state m = 0
step
  m <- 0.5 * m + g
  theta <- theta - 0.1 * m
"""


def test_spec_without_hypers_compiles_and_verifies_in_every_backend():
    program = optc.load_program(NO_HYPERS)
    report = verify(program, steps=3, shapes=((3,),))
    assert report.passed, report.to_json()
