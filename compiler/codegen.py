"""Backend dispatch: one Program → source text per backend, and loading it without files."""

from __future__ import annotations

import linecache
import sys
import types
from collections.abc import Callable
from typing import Any

from optc.diagnostics import SpecError
from optc.ir.nodes import Program
from optc.pysource import docstring_text

BACKENDS = ("torch", "jax")


def generator(backend: str) -> Callable[[Program, str], str]:
    """The ``generate(program, spec_path) -> source`` function of a backend.

    A backend may refuse a spec (a name its target reserves) with a SpecError; it gets the
    spec's source here, so it shows the line and a caret like any other compile error.
    """
    if backend == "torch":
        from optc.backends.torch.codegen import generate
    elif backend == "jax":
        from optc.backends.jax.codegen import generate
    else:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")

    def generate_with_source(program: Program, spec_path: str) -> str:
        try:
            return generate(program, docstring_text(spec_path))
        except SpecError as err:
            raise err.with_source(program.source) from None

    return generate_with_source


def export_name(program: Program, backend: str) -> str:
    """What a backend's module exports: the class (torch) or the factory (jax)."""
    return program.name if backend == "torch" else program.snake_name


def load_module(source: str, module_name: str) -> types.ModuleType:
    """Execute generated source as a fresh module (registered so pickling and jit work, and its
    source in linecache so tracebacks show it and ``triton.jit`` can read it)."""
    module = types.ModuleType(module_name)
    module.__file__ = f"<optc:{module_name}>"
    linecache.cache[module.__file__] = (len(source), None, source.splitlines(True), module.__file__)
    sys.modules[module_name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def build(program: Program, backend: str, spec_path: str = "<spec>") -> Any:
    """The torch Optimizer class or optax factory for a program, compiled in memory."""
    source = generator(backend)(program, spec_path)
    module = load_module(source, f"optc_loaded_{backend}_{program.snake_name}")
    result = getattr(module, export_name(program, backend))
    if backend == "torch" and result.triton_kernel is not None:
        from optc.backends.torch import chunks, triton_kernel

        name = f"optc_loaded_triton_{program.snake_name}"
        chunks.register(name, triton_kernel.generate(program, spec_path))
        result.triton_kernel = f"{name}:{program.snake_name}_triton"
    return result
