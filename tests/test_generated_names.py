"""Reproductions from the hostile-spec fuzzing that reached the backends: names and strings the
generated modules used to trip over. Each spec either compiles to modules that import and agree
with the reference interpreter, or gets a located error — never code that does not run.
"""

from __future__ import annotations

import pytest

import optc
from optc.codegen import build, generator
from optc.verify import verify


def spec(name: str = "Opt", hypers: str = "", states: str = "", body: str = "", cite: str = "x"):
    return (
        f'optimizer {name}\ncite "{cite}"\n{hypers}\n{states}\nstep\n'
        f"{body or '  theta <- theta - 0.1 * g'}\n"
    )


RUNS = {
    # optimizer names that are the generated code's own (class or factory)
    "optimizer torch": spec("torch"),
    "optimizer math": spec("math"),
    "optimizer HYPERS": spec("HYPERS"),
    "optimizer Super": spec("Super"),
    "optimizer Optax": spec("Optax"),
    "optimizer Jnp": spec("Jnp"),
    "optimizer SpecOptimizer": spec("SpecOptimizer"),
    # hypers named like Python builtins and the generated code's locals
    "hyper self/isinstance/super": spec(
        hypers="hyper self = 0.1 in (0, inf)\nhyper isinstance = 1 in [0, inf)\n"
        "hyper super = 2 in [0, inf)",
        body="  theta <- theta - self * g * isinstance / (1 + super)",
    ),
    "hyper float/int/len": spec(
        hypers="hyper float = 0.1 in (0, inf)\nhyper int = 1 in [0, inf)\nhyper len = 2 in [0, inf)",
        body="  theta <- theta - float * g * (int + 1) / (1 + len)",
    ),
    # states named like the generated code's own
    "state updates/hypers/zip": spec(
        states="state updates = 0\nstate hypers = 0\nstate zip = 1",
        body="  updates <- updates + 1\n  hypers <- 0.5 * hypers + g\n  zip <- zip * 0.9\n"
        "  theta <- theta - 0.1 * hypers * zip / updates",
    ),
    # strings pasted into docstrings
    "backslash in cite": spec(cite=r"C:\new\table \u00e9 \\ end \\"),
    "quote-like text in convention": spec(body="  theta <- theta - 0.1 * g").replace(
        'cite "x"', 'cite "x"\nconvention note "\'\'\' triple single quotes and \\\\N{BULLET}"'
    ),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_spec_compiles_imports_and_agrees_with_the_reference(name):
    program = optc.load_program(RUNS[name])
    for backend in ("torch", "jax"):
        build(program, backend)  # imports
    report = verify(program, steps=3, shapes=((3,), (2, 2)), grad_modes=("fresh",))
    assert report.passed, report.to_json()


@pytest.mark.parametrize(
    "path",
    [
        r"odd\dir\spec.opt",
        'with"quote".opt',
        "tri" + "'" * 3 + "ple.opt",
        "tri" + '"' * 3 + "ple.opt",
    ],
)
def test_file_name_is_pasted_safely(path):
    program = optc.load_program(spec())
    for backend in ("torch", "jax"):
        source = generator(backend)(program, path)
        compile(source, "<generated>", "exec")  # parses
        assert path.replace('"' * 3, "'" * 3) in source


@pytest.mark.parametrize("name", ["class", "Lambda", "None", "def", "If"])
def test_optimizer_names_that_python_reserves_are_located_errors(name):
    with pytest.raises(optc.SpecError) as err:
        optc.load_program(spec(name))
    assert "<spec>:1:" in str(err.value) and "^" in str(err.value)
