"""Symbolic checks (SymPy): domain safety, properties, and the IR → SymPy translation."""
