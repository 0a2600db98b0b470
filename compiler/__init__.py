"""optc: a symbolic spec-to-code compiler for deep-learning optimizers.

``optc.load("adam.opt", backend="torch")`` returns a ``torch.optim.Optimizer`` class;
``backend="jax"`` returns an optax factory. ``optc.generated.torch`` / ``optc.generated.jax``
hold the whole spec library, precompiled.
"""

from optc.api import OptcWarning, load, load_program
from optc.diagnostics import SpecError

__all__ = ["OptcWarning", "SpecError", "load", "load_program"]
