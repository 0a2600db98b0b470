"""Shared test set-up: float64 in jax (the comparisons need it) and the spec library paths."""

from __future__ import annotations

from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

SPECS = Path(__file__).resolve().parent.parent / "specs"
