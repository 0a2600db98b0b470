"""A spec as a Markdown page: citation, conventions, hypers, states, the rule in LaTeX."""

from __future__ import annotations

from optc.ir.nodes import Program
from optc.render.latex import LatexPrinter, latex_aligned, latex_name


def markdown(program: Program) -> str:
    printer = LatexPrinter(program)
    lines = [f"# {program.name}", ""]
    lines += [f"> {cite}" for cite in program.cites] + [""]
    if program.conventions:
        lines += ["**Conventions**", ""]
        lines += [f"- *{key}*: {text}" for key, text in program.conventions.items()] + [""]
    lines += ["| hyper | symbol | default | domain |", "|---|---|---|---|"]
    for h in program.hypers:
        lines.append(f"| `{h.name}` | ${latex_name(h.name)}$ | {h.default} | {h.domain_text()} |")
    lines.append("")
    if program.states:
        lines += ["| state | initial value |", "|---|---|"]
        for s in program.states:
            lines.append(f"| ${latex_name(s.name)}$ | ${printer.render(s.init)}$ |")
        lines.append("")
    lines += ["$$", latex_aligned(program, indent=""), "$$"]
    return "\n".join(lines)
