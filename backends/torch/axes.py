"""Axis reductions for the generated torch code: optc.backends.axes bound to torch's
reductions (the shapes and the rule are there)."""

from __future__ import annotations

import torch

from optc.backends.axes import cols_shape, per_column, per_row, rows_shape

__all__ = [
    "col_max",
    "col_mean",
    "col_sum",
    "cols_shape",
    "row_max",
    "row_mean",
    "row_sum",
    "rows_shape",
]

row_mean = per_row(torch.mean, "dim", "keepdim", "mean")
row_sum = per_row(torch.sum, "dim", "keepdim", "sum")
row_max = per_row(torch.amax, "dim", "keepdim", "largest entry (NaN if one is NaN)")
col_mean = per_column(torch.mean, "dim", "keepdim", "mean")
col_sum = per_column(torch.sum, "dim", "keepdim", "sum")
col_max = per_column(torch.amax, "dim", "keepdim", "largest entry (NaN if one is NaN)")
