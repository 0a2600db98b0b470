"""The ``optc`` command line: compile, regen, check, verify, equiv, show, list, bench.

A malformed spec prints ``FILE:LINE:COL: error: ...`` with a caret and a hint and exits 1;
``--json`` is offered wherever the output is a table, for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from optc.diagnostics import SpecError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SpecError as err:
        print(err.render(), file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, FileNotFoundError, IsADirectoryError) as err:
        print(f"optc: error: {err}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(run=run)
        return p

    p = command("compile", _compile, "compile a spec to torch and/or jax code")
    p.add_argument("spec", type=Path)
    p.add_argument("--backend", choices=["torch", "jax", "all"], default="all")
    p.add_argument(
        "-o", "--out", type=Path, default=Path("."), help="folder for NAME_torch.py / NAME_jax.py"
    )

    p = command("regen", _regen, "regenerate generated/ from the spec library")
    p.add_argument("--check", action="store_true", help="only check; exit 1 naming stale files")

    p = command("check", _check, "compile and run the symbolic checks; print the property report")
    p.add_argument("specs", type=Path, nargs="*", help="default: the whole library")
    p.add_argument("--json", action="store_true")
    p.add_argument("--summary", action="store_true", help="one line per spec")

    p = command("verify", _verify, "run torch, jax and the reference interpreter side by side")
    p.add_argument("specs", type=Path, nargs="*", help="default: the whole library")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--json", action="store_true")

    p = command("equiv", _equiv, "decide whether two specs are the same algorithm")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--bind", action="append", default=[], metavar="NAME=EXPR")
    p.add_argument("--json", action="store_true")

    p = command("show", _show, "render a spec as LaTeX or Markdown")
    p.add_argument("spec", type=Path)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_true")
    fmt.add_argument("--markdown", action="store_true")

    p = command("list", _list, "list the spec library")
    p.add_argument("--json", action="store_true")

    p = command("bench", _bench, "benchmark generated AdamW against torch.optim and optax")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", action="store_true")
    return parser


def _specs(paths: list[Path]) -> list[Path]:
    from optc.pipeline import library_specs

    return paths or library_specs()


def _compile(args: argparse.Namespace) -> int:
    from optc.codegen import BACKENDS, generator
    from optc.pipeline import compile_file

    compiled = compile_file(args.spec)
    _print_warnings(compiled)
    program = compiled.program
    for backend in BACKENDS if args.backend == "all" else (args.backend,):
        path = args.out / f"{program.snake_name}_{backend}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generator(backend)(program, str(args.spec)), encoding="utf-8")
        print(f"wrote {path}")
    return EXIT_OK


def _print_warnings(compiled) -> None:
    for warning in compiled.warnings:
        print(warning.render(compiled.program.source), file=sys.stderr)


def _regen(args: argparse.Namespace) -> int:
    from optc.regen import regen

    result = regen(check=args.check)
    if args.check:
        for path in result.stale:
            print(f"stale: {path}", file=sys.stderr)
        if result.stale:
            print("generated/ is out of date: run `optc regen`", file=sys.stderr)
            return EXIT_FAILED
        print("generated/ is up to date")
        return EXIT_OK
    for path in result.written:
        print(f"wrote {path}")
    print(
        f"{len(result.written)} file(s) rewritten, {len(result.stale) - len(result.written)} removed"
    )
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from optc.check.report import check_report
    from optc.pipeline import compile_file

    reports = [check_report(compile_file(path)) for path in _specs(args.specs)]
    if args.summary:
        rows = [r.summary() for r in reports]
        if args.json:
            print(json.dumps(rows, indent=2))
            return EXIT_OK
        print(
            f"{'spec':<16} {'safe/risky ops':>14} {'warnings':>8} {'scale-invariant':>16} "
            f"{'memory':>12} {'ops/step':>8}"
        )
        for row in rows:
            safe = f"{row['proved_safe']}/{row['risky_ops']}"
            print(
                f"{row['spec']:<16} {safe:>14} {row['warnings']:>8} "
                f"{row['scale_invariant']:>16} {row['memory']:>12} {row['ops_per_step']:>8}"
            )
        total = sum(row["risky_ops"] for row in rows)
        proved = sum(row["proved_safe"] for row in rows)
        print(f"{len(rows)} specs checked: {proved} of {total} risky operations proved safe")
    elif args.json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        print("\n\n".join(r.render() for r in reports))
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from optc.pipeline import compile_file
    from optc.verify import verify

    reports = [verify(compile_file(p).program, steps=args.steps) for p in _specs(args.specs)]
    if args.json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        print(f"{'spec':<18} {'result':<6} {'max |Δ| float64':>16} {'max |Δ| float32':>16}")
        for r in reports:
            print(
                f"{r.spec:<18} {'ok' if r.passed else 'FAIL':<6} "
                f"{r.largest('float64'):>16.2e} {r.largest('float32'):>16.2e}"
            )
        failed = [r for r in reports if not r.passed]
        for r in failed:
            for d in r.deviations:
                if d.max_scaled > 1:
                    print(
                        f"  {r.spec}: {d.backend} {d.dtype} {d.value} deviates "
                        f"{d.max_abs:.3e} at step {d.worst_step}",
                    )
        print(f"{len(reports) - len(failed)} passed, {len(failed)} failed")
    return EXIT_FAILED if any(not r.passed for r in reports) else EXIT_OK


def _equiv(args: argparse.Namespace) -> int:
    from optc.equiv.decide import equivalent
    from optc.pipeline import compile_file

    binds = {}
    for item in args.bind:
        name, sep, expr = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--bind takes NAME=EXPR, got {item!r}")
        binds[name.strip()] = expr.strip()
    a = compile_file(args.a, checks=False).program
    b = compile_file(args.b, checks=False).program
    result = equivalent(a, b, binds)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.render())
    return EXIT_OK if result.equal else EXIT_FAILED


def _show(args: argparse.Namespace) -> int:
    from optc.pipeline import compile_file
    from optc.render.latex import latex_aligned
    from optc.render.markdown import markdown

    program = compile_file(args.spec, checks=False).program
    print(markdown(program) if args.markdown else latex_aligned(program))
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from optc.pipeline import compile_file, library_specs

    rows = []
    for path in library_specs():
        program = compile_file(path, checks=False).program
        rows.append(
            {
                "name": program.name,
                "file": f"specs/{path.name}",
                "torch": f"optc.generated.torch.{program.name}",
                "jax": f"optc.generated.jax.{program.snake_name}",
                "hypers": [h.name for h in program.hypers],
                "states": [s.name for s in program.states],
                "cite": program.cites[0] if program.cites else "",
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"{'name':<18} {'hypers':<48} {'states':<20} cite")
    for row in rows:
        cite = row["cite"] if len(row["cite"]) <= 60 else row["cite"][:57] + "..."
        print(
            f"{row['name']:<18} {', '.join(row['hypers']):<48} {', '.join(row['states']):<20} {cite}"
        )
    print(f"{len(rows)} specs")
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from optc.bench.adamw import run

    return run(repeats=args.repeats, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
