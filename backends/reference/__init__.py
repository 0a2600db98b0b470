"""The reference backend: a NumPy float64 interpreter of the IR, the executable semantics."""

from optc.backends.reference.interpreter import ReferenceOptimizer, evaluate, init_state, step

__all__ = ["ReferenceOptimizer", "evaluate", "init_state", "step"]
