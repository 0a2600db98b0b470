"""Composition: `use adam [as a]` and `a(g = EXPR)`, expanded into one ordinary spec.

A used spec brings its hypers, states, defs, citations and conventions; a run statement is its
step's statements, inlined where the run stands, acting on θ (the outer spec's current θ) and on
the used spec's states, with ``g`` replaced by the given gradient. Names follow one rule:

- without ``as``, the used spec's hypers and states keep their names (a clash with the outer
  spec's names is a located error: add ``as``); with ``as a`` they become ``a_lr``, ``a_m``...;
- the used step's locals always get the prefix (``adam_m_hat``), so two runs never clash;
- its conventions keep their keys without ``as`` (the outer spec's own statement of a key wins)
  and become ``a.key`` with it; its citations follow the outer spec's; its counterparts and
  `eval` sections are not inherited (the composition is another optimizer).

Expansion happens on the AST, before the IR is built: the rest of the compiler sees one spec.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from optc.diagnostics import Span, SpecError
from optc.parse import ast

Loader = Callable[[str, Span], ast.SpecFile]  # spec stem, the `use` line → the parsed spec


def expand_uses(spec: ast.SpecFile, load: Loader) -> ast.SpecFile:
    """The spec with every `use` resolved and every run statement inlined."""
    if not spec.uses:
        _check_no_runs(spec.body, {})
        return spec
    used: dict[str, _Used] = {}
    for decl in spec.uses:
        inner = load(decl.spec, decl.span)
        if inner.uses:
            raise SpecError(
                f"`{decl.spec}` uses other specs itself; composition is one level deep for now",
                decl.span,
                hint="write the inner composition out in this spec",
            )
        used[decl.alias or decl.spec] = _Used(decl, inner)
    merged = dataclasses.replace(spec, sources={**spec.sources, spec.file: spec.source})
    for use in used.values():
        _import(merged, use)
    merged.body = _expand(spec.body, used)
    merged.uses = []
    return merged


@dataclasses.dataclass
class _Used:
    decl: ast.UseDecl
    spec: ast.SpecFile

    @property
    def prefix(self) -> str:
        return self.decl.alias or self.decl.spec

    def renames(self) -> dict[str, str]:
        """Spec name → outer name, for its hypers and states."""
        names = [d.name for d in [*self.spec.hypers, *self.spec.states]]
        alias = self.decl.alias
        return {n: f"{alias}_{n}" if alias else n for n in names}


def _import(merged: ast.SpecFile, use: _Used) -> None:
    renames = use.renames()
    taken = {d.name for d in [*merged.hypers, *merged.states, *merged.defs]}
    for decl in [*use.spec.hypers, *use.spec.states]:
        new = renames[decl.name]
        if new in taken:
            raise SpecError(
                f"`use {use.decl.spec}` brings `{new}`, which this spec already has",
                use.decl.span,
                hint=f"rename it: `use {use.decl.spec} as {use.decl.spec[:1]}` prefixes its names",
            )
        taken.add(new)
    merged.hypers = [
        dataclasses.replace(h, name=renames[h.name], default=_rename(h.default, renames))
        for h in use.spec.hypers
    ] + merged.hypers
    merged.states = merged.states + [
        dataclasses.replace(s, name=renames[s.name], init=_rename(s.init, renames))
        for s in use.spec.states
    ]
    merged.defs = merged.defs + [d for d in use.spec.defs if d.name not in taken]
    stated = {c.key for c in merged.conventions}
    for convention in use.spec.conventions:
        key = f"{use.decl.alias}.{convention.key}" if use.decl.alias else convention.key
        if key not in stated:
            merged.conventions.append(dataclasses.replace(convention, key=key))
    merged.cites = merged.cites + [c for c in use.spec.cites if c not in merged.cites]
    merged.sources[use.spec.file] = use.spec.source


def _expand(lines: list, used: dict[str, _Used]) -> list:
    result: list = []
    for line in lines:
        if isinstance(line, ast.Block):
            result.append(
                dataclasses.replace(
                    line, body=_expand(line.body, used), orelse=_expand(line.orelse, used)
                )
            )
        elif isinstance(line, ast.Run):
            result += _inline(line, used)
        else:
            result.append(line)
    return result


def _inline(run: ast.Run, used: dict[str, _Used]) -> list:
    use = used.get(run.name)
    if use is None:
        raise SpecError(
            f"`{run.name}(...)` runs a used spec's step, but no `use {run.name}` is declared",
            run.name_span,
            hint=f"declare `use {run.name}` before `step`",
        )
    renames = use.renames()
    locals_ = _locals(use.spec.body)
    renames.update({n: f"{use.prefix}_{n}" for n in locals_})
    lines: list = []
    for name, span, expr in run.kwargs:
        if name != "g":
            raise SpecError(
                f"`{run.name}(...)` takes the gradient only: `{name} = ...` is not a parameter",
                span,
                hint=f"write `{run.name}(g = EXPR)` to run it on another gradient",
            )
        gradient = f"{use.prefix}_g"
        lines.append(ast.Statement("assign", gradient, span, expr, run.span))
        renames["g"] = gradient
    return lines + [_rename_line(line, renames) for line in use.spec.body]


def _locals(lines: list) -> set[str]:
    names: set[str] = set()
    for line in lines:
        if isinstance(line, ast.Block):
            names |= _locals([*line.body, *line.orelse])
        elif isinstance(line, ast.Statement) and line.kind == "assign":
            names.add(line.target)
    return names


def _rename_line(line, renames: dict[str, str]):
    if isinstance(line, ast.Block):
        return dataclasses.replace(
            line,
            cond=_rename(line.cond, renames),
            body=[_rename_line(x, renames) for x in line.body],
            orelse=[_rename_line(x, renames) for x in line.orelse],
        )
    return dataclasses.replace(
        line, target=renames.get(line.target, line.target), expr=_rename(line.expr, renames)
    )


def _rename(node: ast.Expr, renames: dict[str, str]) -> ast.Expr:
    match node:
        case ast.Name(id=name):
            return dataclasses.replace(node, id=renames.get(name, name))
        case ast.Call():
            return dataclasses.replace(node, args=tuple(_rename(a, renames) for a in node.args))
        case ast.Unary():
            return dataclasses.replace(node, operand=_rename(node.operand, renames))
        case ast.Binary() | ast.Compare():
            return dataclasses.replace(
                node, left=_rename(node.left, renames), right=_rename(node.right, renames)
            )
        case ast.IfElse():
            return dataclasses.replace(
                node,
                cond=_rename(node.cond, renames),
                then=_rename(node.then, renames),
                orelse=_rename(node.orelse, renames),
            )
    return node


def _check_no_runs(lines: list, used: dict) -> None:
    for line in lines:
        if isinstance(line, ast.Block):
            _check_no_runs([*line.body, *line.orelse], used)
        elif isinstance(line, ast.Run):
            _inline(line, used)  # raises: nothing is used
