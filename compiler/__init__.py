"""optc: a symbolic spec-to-code compiler for deep-learning optimizers."""
