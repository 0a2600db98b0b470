"""A spec as a Markdown page: citation, conventions, counterparts, hypers, states, the rule."""

from __future__ import annotations

from optc.ir.nodes import Counterpart, Hyper, Program
from optc.render.latex import LatexPrinter, latex_aligned, latex_name


def markdown(program: Program) -> str:
    printer = LatexPrinter(program)
    lines = [f"# {program.name}", ""]
    lines += [f"> {cite}" for cite in program.cites] + [""]
    if program.conventions:
        lines += ["**Conventions**", ""]
        lines += [f"- *{key}*: {text}" for key, text in program.conventions.items()] + [""]
    if program.counterparts:
        lines += ["**Counterparts**", ""]
        lines += [f"- {_counterpart(c)}" for c in program.counterparts] + [""]
    lines += [
        "| hyper | symbol | default | domain | description |",
        "|---|---|---|---|---|",
    ]
    for h in program.hypers:
        lines.append(
            f"| `{h.name}` | ${latex_name(h.name)}$ | {default_text(h)} | "
            f"{_cell(h.domain_text())} | {_cell(h.doc)} |"
        )
    lines.append("")
    if program.states:
        lines += ["| state | initial value |", "|---|---|"]
        for s in program.states:
            shape = {"rows": " (one per row)", "cols": " (one per column)"}.get(s.shape.value, "")
            lines.append(f"| ${latex_name(s.name)}${shape} | ${_cell(printer.render(s.init))}$ |")
        lines.append("")
    lines += ["$$", latex_aligned(program, indent=""), "$$"]
    return "\n".join(lines)


def default_text(hyper: Hyper) -> str:
    """The default as the spec writes it: ``true``, ``0``, ``0.001``, ``1e-08``."""
    value = hyper.default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _counterpart(c: Counterpart) -> str:
    """``torch.optim.AdamW``: hypers `betas` = (`beta1`, `beta2`); states ...; fixed ..."""

    def spec_names(value: str | tuple[str, ...]) -> str:
        if isinstance(value, tuple):
            return "(" + ", ".join(f"`{v}`" for v in value) + ")"
        return f"`{value}`"

    groups = []
    if c.hypers:
        groups.append(
            "hypers " + ", ".join(f"`{k}` = {spec_names(v)}" for k, v in c.hypers.items())
        )
    if c.states:
        groups.append("states " + ", ".join(f"`{k}` = `{v}`" for k, v in c.states.items()))
    if c.fixed:
        fixed = ", ".join(f"`{k}` = {_fixed(v)}" for k, v in c.fixed.items())
        groups.append(f"fixed {fixed}")
    return f"`{c.library}`" + (": " + "; ".join(groups) if groups else "")


def _fixed(value: float | bool) -> str:
    if isinstance(value, bool):
        return "false" if not value else "true"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (``|m|`` would end the cell)."""
    return text.replace("|", r"\|")
