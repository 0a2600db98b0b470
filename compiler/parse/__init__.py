"""Front end: spec text → AST with source spans (Lark grammar in ``grammar/optimizer.lark``)."""

from optc.parse.parser import parse_spec

__all__ = ["parse_spec"]
