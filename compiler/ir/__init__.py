"""The IR: typed, statement-level SSA over per-step scalars and θ-shaped tensors."""

from optc.ir.nodes import (
    Binding,
    Const,
    DType,
    Expr,
    Hyper,
    Op,
    Program,
    Shape,
    State,
    Type,
    Var,
)

__all__ = [
    "Binding",
    "Const",
    "DType",
    "Expr",
    "Hyper",
    "Op",
    "Program",
    "Shape",
    "State",
    "Type",
    "Var",
]
