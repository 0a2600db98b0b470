"""The ``optc`` command line: compile, regen, check, verify, equiv, show, list, bench.

A malformed spec prints ``FILE:LINE:COL: error: ...`` with a caret and a hint and exits 1; any
other failure (a missing file, a folder that cannot be written) is one ``optc: error: ...`` line
and exit 1; a bad command line exits 2. No input makes it print a Python traceback.

Library-wide ``check``, ``verify``, ``regen`` and ``bench`` show progress on stderr (on a
terminal) and print each spec's row as soon as it is done. Colour on a terminal; plain text when
piped or when ``NO_COLOR`` is set; ``--json`` prints nothing but JSON on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optc.diagnostics import SpecError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
REPORT_HINT = (
    "this is a bug in optc, not in your input: please report it with the command and the spec "
    "(OPTC_TRACEBACK=1 prints the traceback)"
)


class CliError(Exception):
    """A failure the user can fix (a file, a folder, an option): one ``optc: error:`` line."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# -- entry point ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ui = Ui()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors: argparse has printed them
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        return args.run(args, ui)
    except SpecError as err:
        ui.diagnostic(err.render())
        return EXIT_FAILED
    except CliError as err:
        ui.error(str(err))
        return err.code
    except BrokenPipeError:  # `optc list | head`: the reader is gone, nothing left to say
        _silence_stdout()
        return EXIT_FAILED
    except KeyboardInterrupt:
        ui.error("interrupted")
        return EXIT_INTERRUPTED
    except OSError as err:
        ui.error(os_error(err))
        return EXIT_FAILED
    except (ValueError, ImportError) as err:  # hyper values, --bind, a missing runtime library
        ui.error(_one_line(err))
        return EXIT_FAILED
    except Exception as err:
        if os.environ.get("OPTC_TRACEBACK"):
            traceback.print_exc()
        ui.error(f"internal error: {type(err).__name__}: {_one_line(err)}")
        ui.hint(REPORT_HINT)
        return EXIT_FAILED


def _one_line(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def os_error(err: OSError) -> str:
    """``PATH: reason`` with the reason in lower case, as one line."""
    reason = (err.strerror or _one_line(err)).rstrip(".")
    reason = reason[:1].lower() + reason[1:]
    return f"{err.filename}: {reason}" if err.filename else reason


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


# -- the command line ----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("optc")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optc",
        description="optc compiles optimizer specs (.opt) to PyTorch and JAX code, checks them "
        "symbolically and verifies the backends against a reference interpreter.",
        epilog="Run `optc COMMAND --help` for a command's options.",
    )
    parser.add_argument(
        "--version", action="version", version=f"optc {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".")
        p.set_defaults(run=run)
        return p

    def specs_argument(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "specs", type=Path, nargs="*", metavar="SPEC", help="spec files (default: the library)"
        )

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print JSON on stdout, nothing else")

    p = command("compile", _compile, "compile a spec to torch and/or jax code")
    p.add_argument("spec", type=Path, metavar="SPEC", help="the .opt file to compile")
    p.add_argument(
        "--backend",
        choices=["torch", "jax", "all"],
        default="all",
        help="which module(s) to write (default: all)",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="folder for NAME_torch.py / NAME_jax.py, created if missing (default: .)",
    )

    p = command("regen", _regen, "regenerate generated/ from the spec library")
    p.add_argument("--check", action="store_true", help="only check; exit 1 naming stale files")

    p = command("check", _check, "compile and run the symbolic checks; print the property report")
    specs_argument(p)
    json_flag(p)
    p.add_argument("--summary", action="store_true", help="one line per spec")

    p = command("verify", _verify, "run torch, jax and the reference interpreter side by side")
    specs_argument(p)
    p.add_argument(
        "--steps", type=_positive_int, default=10, help="optimizer steps per run (default: 10)"
    )
    p.add_argument(
        "--grad-mode",
        choices=["fresh", "inplace", "mutated", "all"],
        default="all",
        help="how torch receives gradients: a new p.grad each step (fresh), the same p.grad "
        "written in place (inplace), or a new p.grad overwritten with NaN after step() "
        "(mutated); jax runs fresh only (default: all)",
    )
    p.add_argument(
        "--backend",
        choices=["torch", "jax", "all"],
        default="all",
        help="which backend(s) to compare with the reference (default: all)",
    )
    json_flag(p)

    p = command("equiv", _equiv, "decide whether two specs are the same algorithm")
    p.add_argument("a", type=Path, metavar="A", help="the first spec")
    p.add_argument("b", type=Path, metavar="B", help="the second spec")
    p.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="NAME=EXPR",
        help="tie a hyper of B to an expression in A's hypers (repeatable)",
    )
    json_flag(p)

    p = command("show", _show, "render a spec as LaTeX or Markdown")
    p.add_argument("spec", type=Path, metavar="SPEC", help="the .opt file to render")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_true", help="a LaTeX aligned block (the default)")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown page")

    p = command("list", _list, "list the spec library")
    json_flag(p)

    p = command(
        "bench", _bench, "time every path of the generated optimizers against the libraries"
    )
    p.add_argument(
        "--specs",
        nargs="+",
        metavar="NAME",
        help="spec names (default: every spec with a torch.optim or optax counterpart, "
        "Muon excepted: too slow on a CPU)",
    )
    p.add_argument("--all", action="store_true", help="every spec of the library")
    p.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="where torch runs (default: cpu); jax runs on its default device",
    )
    p.add_argument(
        "--workload",
        choices=["default", "gpt2-small", "quarter", "small"],
        default="default",
        help="parameter shapes: default (16.8M float32 in 20 tensors), gpt2-small (GPT-2 "
        "small's 148 tensors, 124.4M), quarter (the default's layout at a quarter of each "
        "dimension, for Muon and SOAP on a CPU), small (3 tiny tensors) (default: default)",
    )
    p.add_argument(
        "--repeats",
        type=_positive_int,
        default=5,
        help="timed steps per implementation, after warm-up (default: 5)",
    )
    p.add_argument(
        "--paths",
        nargs="+",
        choices=["readable", "foreach", "fused", "jax"],
        default=["foreach", "fused", "jax"],
        help="which optc paths to time (default: foreach fused jax; the readable path is "
        "the check's reference either way)",
    )
    p.add_argument(
        "--plot", type=Path, metavar="PATH.png", help="also write a bar chart of the ratios"
    )
    json_flag(p)
    return parser


# -- terminal output -----------------------------------------------------------------------------


@dataclass
class Column:
    header: str
    justify: str = "left"  # "left" | "right"
    min_width: int = 0  # for rows printed one at a time: the width the content will need
    max_width: int | None = None  # longer cells end in "…"


class Ui:
    """stdout for results, stderr for progress and messages; colour only on a terminal."""

    def __init__(self) -> None:
        self.out = _console(sys.stdout)
        self.err = _console(sys.stderr)
        self._progress: Any = None

    @property
    def color(self) -> bool:
        return self.out.color_system is not None

    # messages on stderr
    def error(self, message: str) -> None:
        self._message("optc: error: ", "bold red", message)

    def warning(self, message: str) -> None:
        self._message("optc: warning: ", "bold yellow", message)

    def hint(self, message: str) -> None:
        self._message("help: ", "bold cyan", message)

    def note(self, message: str, style: str = "") -> None:
        from rich.text import Text

        self._print(self.err, Text(message, style=style))

    def diagnostic(self, rendered: str) -> None:
        """A rendered ``FILE:LINE:COL: error|warning: ...`` block, its severity coloured."""
        from rich.text import Text

        text = Text(rendered)
        text.highlight_regex(r"(?m)^\S*:?\s?error:", "bold red")
        text.highlight_regex(r"(?m)^\S*:?\s?warning:", "bold yellow")
        text.highlight_regex(r"(?m)^help:", "bold cyan")
        text.highlight_regex(r"(?m)^\s+\^~*$", "bold red")
        self._print(self.err, text)

    def _message(self, label: str, style: str, message: str) -> None:
        from rich.text import Text

        self._print(self.err, Text.assemble((label, style), message))

    def _print(self, console, renderable) -> None:
        console.print(renderable, soft_wrap=True, crop=False)

    # results on stdout
    def line(self, text: str = "", style: str = "") -> None:
        from rich.text import Text

        self._print(self._row_console(), Text(text, style=style))

    def json(self, value: Any) -> None:
        print(json.dumps(value, indent=2), flush=True)

    def table(self, columns: list[Column], rows: list[list[Any]], header: bool = True) -> None:
        """A table sized to its content (shrunk and wrapped only to fit a terminal)."""
        from rich.table import Table

        table = Table(box=None, show_header=header, header_style="bold", pad_edge=False)
        for c in columns:
            table.add_column(
                c.header,
                justify=c.justify,
                min_width=c.min_width or None,
                max_width=c.max_width,
                no_wrap=c.max_width is not None,
                overflow="ellipsis" if c.max_width is not None else "fold",
            )
        for row in rows:
            table.add_row(*row)
        self._emit(table)

    def stream_table(self, columns: list[Column]) -> Callable[[list[Any]], None]:
        """Print the header now; the returned function prints one row, aligned under it."""
        widths = [max(c.min_width, len(c.header)) for c in columns]
        fixed = [
            Column(c.header, c.justify, w, c.max_width)
            for c, w in zip(columns, widths, strict=True)
        ]
        self.table(fixed, [], header=True)
        return lambda row: self.table(fixed, [row], header=False)

    def _emit(self, renderable) -> None:
        """Print line by line without trailing blanks (tables pad their last column)."""
        from rich.text import Text

        console = self._row_console()
        for line in console.render_lines(renderable, console.options, pad=False):
            text = Text()
            for segment in line:
                if not segment.control:
                    text.append(segment.text, segment.style)
            text.rstrip()
            self._print(console, text)

    def _row_console(self):
        # With a progress display on the same terminal, rows go through its console so that
        # they scroll above it instead of being drawn over.
        if self._progress is not None and self.out.is_terminal:
            return self.err
        return self.out

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[..., None]]:
        """A progress bar on stderr (terminal only); yields ``advance(label=None, n=1)``."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[label]}", style="dim"),
            console=self.err,
            refresh_per_second=4,  # cheap: about 1% of a core for the redraws
            transient=True,
            redirect_stdout=False,  # rows are printed through the console (see _row_console)
            redirect_stderr=True,  # stray warnings scroll above the bar
            disable=not self.err.is_terminal,
        )
        task = bar.add_task(description, total=total, label="")

        def advance(label: str | None = None, n: int = 1) -> None:
            bar.update(task, advance=n, **({"label": label} if label is not None else {}))

        with bar:
            self._progress = bar if self.err.is_terminal else None
            try:
                yield advance
            finally:
                self._progress = None

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[Callable[[str], None]]:
        """Stage messages on stderr (terminal only); yields ``update(message)``. No animation:
        nothing runs beside what is being timed."""
        from rich.text import Text

        def update(new: str) -> None:
            if self.err.is_terminal:
                self._print(self.err, Text(f"… {new}", style="dim"))

        update(message)
        yield update


def _console(file):
    from rich.console import Console

    is_terminal = file.isatty() if hasattr(file, "isatty") else False
    no_color = os.environ.get("NO_COLOR", "") != ""
    return Console(
        file=file,
        markup=False,
        highlight=False,
        emoji=False,
        # piped output keeps its natural width: one line per row, whatever the table's width
        width=None if is_terminal else 4096,
        color_system=None if no_color else "auto",
    )


# -- reading specs -------------------------------------------------------------------------------


def read_spec(path: Path, checks: bool = True):
    """``compile_file``, with file-system problems turned into one-line errors."""
    from optc.pipeline import compile_file

    try:
        return compile_file(path, checks=checks)
    except UnicodeDecodeError as err:
        raise CliError(
            f"cannot read spec {path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
            f"offset {err.start})"
        ) from None
    except OSError as err:
        err.filename = err.filename or str(path)
        raise CliError(f"cannot read spec {os_error(err)}") from None


def _specs(paths: list[Path]) -> list[Path]:
    from optc.pipeline import library_specs

    return paths or library_specs()


_OPTIMIZER_LINE = re.compile(r"^\s*optimizer\s+(\S+)", re.MULTILINE)


def _read_names(ui: Ui, paths: list[Path]) -> tuple[list[tuple[Path, str]], int]:
    """Each readable spec with its optimizer's name as the ``optimizer`` line spells it (only
    for sizing columns; the compile that follows reports any error in it). Prints an error for
    each spec that cannot be read; returns the readable ones and how many were not."""
    named, failed = [], 0
    for path in paths:
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            try:
                read_spec(path, checks=False)
            except CliError as err:  # the one-line error
                ui.error(str(err))
            except SpecError as err:
                ui.diagnostic(err.render())
            failed += 1
            continue
        match = _OPTIMIZER_LINE.search(text)
        named.append((path, match.group(1) if match else path.stem))
    return named, failed


def _compile_all(ui: Ui, paths: list[Path]) -> tuple[list[Any], int]:
    """Compile (without checks) every spec; print each error; return the programs and the
    number of specs that failed to compile."""
    programs, failed = [], 0
    for path in paths:
        try:
            programs.append((path, read_spec(path, checks=False).program))
        except SpecError as err:
            ui.diagnostic(err.render())
            failed += 1
        except CliError as err:
            ui.error(str(err))
            failed += 1
    return programs, failed


# -- commands ------------------------------------------------------------------------------------


def _compile(args: argparse.Namespace, ui: Ui) -> int:
    from optc.codegen import BACKENDS, generator

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CliError(f"-o {out}: exists and is not a folder (-o names the output folder)")
    compiled = read_spec(args.spec)
    _print_warnings(ui, compiled)
    program = compiled.program
    sources = {
        backend: generator(backend)(program, str(args.spec))
        for backend in (BACKENDS if args.backend == "all" else (args.backend,))
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"cannot create output folder {os_error(err)}") from None
    for backend, source in sources.items():
        path = out / f"{program.snake_name}_{backend}.py"
        try:
            path.write_text(source, encoding="utf-8")
        except OSError as err:
            err.filename = err.filename or str(path)
            raise CliError(f"cannot write {os_error(err)}") from None
        ui.line(f"wrote {path}")
    return EXIT_OK


def _print_warnings(ui: Ui, compiled) -> None:
    for warning in compiled.warnings:
        ui.diagnostic(warning.render(compiled.program.source))


def _regen(args: argparse.Namespace, ui: Ui) -> int:
    from optc.codegen import BACKENDS
    from optc.pipeline import library_specs
    from optc.regen import regen

    total = len(library_specs()) * len(BACKENDS)
    with ui.progress("checking" if args.check else "generating", total) as advance:
        result = regen(check=args.check, on_file=lambda path: advance(path.name))
    if args.check:
        for path in result.stale:
            ui.note(f"stale: {path}", "yellow")
        if result.stale:
            ui.error("generated/ is out of date: run `optc regen`")
            return EXIT_FAILED
        ui.line("generated/ is up to date", "green")
        return EXIT_OK
    for path in result.written:
        ui.line(f"wrote {path}")
    ui.line(
        f"{len(result.written)} file(s) rewritten, {len(result.stale) - len(result.written)} removed"
    )
    return EXIT_OK


SUMMARY_COLUMNS = ("spec", "safe/risky ops", "warnings", "scale-invariant", "memory", "ops/step")


def _check(args: argparse.Namespace, ui: Ui) -> int:
    from optc.api import check_specs

    paths = _specs(args.specs)
    named, failed = _read_names(ui, paths)  # cheap: the column widths, before any compile
    reports = []
    row = None
    if args.summary and not args.json:
        row = ui.stream_table(_summary_columns([name for _, name in named]))
    with ui.progress("checking", len(named)) as advance:
        names = iter([name for _, name in named])
        advance(next(names, ""), 0)
        for _path, result in check_specs([path for path, _ in named]):
            advance(next(names, ""))  # shows the spec being checked now
            if isinstance(result, SpecError):
                ui.diagnostic(result.render())
                failed += 1
                continue
            reports.append(result)
            if args.json:
                continue
            if row is not None:
                summary = result.summary()
                row(
                    [
                        summary["spec"],
                        f"{summary['proved_safe']}/{summary['risky_ops']}",
                        str(summary["warnings"]),
                        summary["scale_invariant"],
                        summary["memory"],
                        str(summary["ops_per_step"]),
                    ]
                )
            else:
                if len(reports) > 1:
                    ui.line()
                _print_check_report(ui, result)
    if args.json:
        ui.json([r.summary() if args.summary else r.to_json() for r in reports])
    elif args.summary:
        rows = [r.summary() for r in reports]
        total = sum(r["risky_ops"] for r in rows)
        proved = sum(r["proved_safe"] for r in rows)
        ui.line(f"{len(rows)} specs checked: {proved} of {total} risky operations proved safe")
    if failed and len(paths) > 1:
        ui.error(f"{failed} of {len(paths)} specs did not compile")
    return EXIT_FAILED if failed else EXIT_OK


def _print_check_report(ui: Ui, report) -> None:
    source = report.compiled.program.source
    for warning in report.compiled.warnings:
        ui.diagnostic(warning.render(source))
    ui.line(report.domains.render())
    ui.line(report.properties.render())


def _summary_columns(names: list[str]) -> list[Column]:
    from optc.check import properties

    statuses = [getattr(properties, k, "") for k in ("PROVED", "DISPROVED", "NUMERIC", "UNDECIDED")]
    return [
        Column("spec", min_width=max(map(len, names), default=4)),
        Column("safe/risky ops", "right"),
        Column("warnings", "right"),
        Column("scale-invariant", "right", min_width=max(map(len, statuses))),
        Column("memory", "right", min_width=len("2·numel + 1")),
        Column("ops/step", "right"),
    ]


def _verify(args: argparse.Namespace, ui: Ui) -> int:
    from optc.verify import GRAD_MODES, verify_specs

    grad_modes = GRAD_MODES if args.grad_mode == "all" else (args.grad_mode,)
    backends = ("torch", "jax") if args.backend == "all" else (args.backend,)
    if backends == ("jax",) and "fresh" not in grad_modes:
        raise CliError(
            "jax arrays are immutable: --backend jax takes --grad-mode fresh", EXIT_USAGE
        )
    paths = _specs(args.specs)
    programs, failed = _compile_all(ui, paths)
    reports = []
    row = None
    if not args.json:
        names = [program.name for _, program in programs]
        row = ui.stream_table(
            [
                Column("spec", min_width=max(map(len, names), default=4)),
                Column("result", min_width=len("ERROR")),
                Column("max |Δ| float64", "right"),
                Column("max |Δ| float32", "right"),
                Column("seconds", "right"),
            ]
        )
    options = {"steps": args.steps, "grad_modes": grad_modes, "backends": backends}
    with ui.progress("verifying", len(programs)) as advance:
        specs = [p for _, p in programs]
        on_start = lambda program: advance(program.name, 0)  # noqa: E731
        for _program, report in verify_specs(specs, on_start=on_start, **options):
            reports.append(report)
            advance()
            if row is None:
                continue
            from rich.text import Text

            result = "ok" if report.passed else ("ERROR" if report.error else "FAIL")
            row(
                [
                    report.spec,
                    Text(result, style="green" if report.passed else "bold red"),
                    f"{report.largest('float64'):.2e}",
                    f"{report.largest('float32'):.2e}",
                    f"{report.seconds:.1f}",
                ]
            )
            for line in _verify_failure_lines(report):
                ui.line(line, "red")
    if args.json:
        ui.json([r.to_json() for r in reports])
    else:
        bad = sum(not r.passed for r in reports)
        modes = ", ".join(grad_modes)
        ui.line(
            f"{len(reports) - bad} passed, {bad} failed (gradient modes: {modes}; jax: fresh)",
            "bold red" if bad else "green",
        )
    if failed and len(paths) > 1:
        ui.error(f"{failed} of {len(paths)} specs did not compile")
    return EXIT_FAILED if failed or any(not r.passed for r in reports) else EXIT_OK


def _verify_failure_lines(report) -> list[str]:
    if report.error:
        return [f"  {report.spec}: {report.error}"]
    return [
        f"  {report.spec}: {d.backend} {d.dtype} {d.grad_mode} gradients: {d.value} deviates "
        f"{d.max_abs:.3e} at step {d.worst_step}"
        for d in report.failures
    ]


def _equiv(args: argparse.Namespace, ui: Ui) -> int:
    from optc.equiv.decide import equivalent

    binds = {}
    for item in args.bind:
        name, sep, expr = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--bind takes NAME=EXPR, got {item!r}", EXIT_USAGE)
        binds[name.strip()] = expr.strip()
    a = read_spec(args.a, checks=False).program
    b = read_spec(args.b, checks=False).program
    result = equivalent(a, b, binds)
    if args.json:
        ui.json(result.to_json())
    else:
        ui.line(result.render())
    return EXIT_OK if result.equal else EXIT_FAILED


def _show(args: argparse.Namespace, ui: Ui) -> int:
    from optc.render.latex import latex_aligned
    from optc.render.markdown import markdown

    program = read_spec(args.spec, checks=False).program
    print(markdown(program) if args.markdown else latex_aligned(program))
    return EXIT_OK


def _list(args: argparse.Namespace, ui: Ui) -> int:
    from optc.pipeline import library_specs

    rows = []
    for path in library_specs():
        program = read_spec(path, checks=False).program
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
        ui.json(rows)
        return EXIT_OK
    ui.table(
        [
            Column("name"),
            Column("hypers"),
            Column("states"),
            Column("cite", max_width=60),
        ],
        [
            [row["name"], ", ".join(row["hypers"]), ", ".join(row["states"]), row["cite"]]
            for row in rows
        ],
    )
    ui.line(f"{len(rows)} specs")
    return EXIT_OK


def _bench(args: argparse.Namespace, ui: Ui) -> int:
    from optc.bench import report, suite

    if args.all and args.specs:
        raise CliError("bench: give either --specs or --all", EXIT_USAGE)
    known = suite.library_specs()
    unknown = [s for s in args.specs or () if s not in known]
    if unknown:
        raise CliError(f"bench: no spec named {', '.join(unknown)} in the library", EXIT_USAGE)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            ui.warning("bench: --device cuda: torch.cuda is not available here; nothing timed")
            return EXIT_OK
    specs = known if args.all else args.specs
    try:
        with ui.status("benchmark: starting") as update:
            result = suite.collect(
                specs,
                device=args.device,
                workload=args.workload,
                repeats=args.repeats,
                paths=args.paths,
                progress=lambda stage: update(f"benchmark: {stage}"),
            )
    except suite.MismatchError as err:
        raise CliError(f"bench: {_one_line(err)}") from None
    if args.plot:
        report.plot(result, args.plot)
        result["plot"] = str(args.plot)
    if args.json:
        ui.json(result)
    else:
        print(report.format_report(result), flush=True)
        if args.plot:
            print(f"plot: {args.plot}", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
