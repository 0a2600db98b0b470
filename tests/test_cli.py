"""The optc command line as a user runs it: exit codes, files written, JSON output."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import warnings

import pytest
import torch

import optc as optc_module
import optc.generated.torch as generated_torch
from optc import cli
from optc import regen as regen_module
from optc.cli import main
from tests.conftest import SPECS


def optc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optc.cli", *args], capture_output=True, text=True, check=False
    )


def test_compile_writes_modules_that_match_the_library(tmp_path):
    assert main(["compile", str(SPECS / "adam.opt"), "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adam_jax.py", "adam_torch.py"]
    spec = importlib.util.spec_from_file_location("adam_torch", tmp_path / "adam_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ours, library = (torch.ones(3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    for param, cls in ((ours, module.Adam), (library, generated_torch.Adam)):
        param.grad = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
        cls([param], lr=0.1).step()
    assert torch.equal(ours, library)


def test_compile_one_backend(tmp_path):
    assert main(["compile", str(SPECS / "lion.opt"), "--backend", "jax", "-o", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["lion_jax.py"]


def test_missing_spec_file_is_an_error_not_a_traceback(tmp_path):
    result = optc("check", str(tmp_path / "nope.opt"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "nope.opt" in result.stderr


def test_check_json_reports_domains_and_properties():
    result = optc("check", str(SPECS / "adam.opt"), "--json")
    assert result.returncode == 0
    (report,) = json.loads(result.stdout)
    assert report["spec"] == "Adam"
    assert {c["status"] for c in report["domains"]["checks"]} == {"proved safe"}
    assert report["properties"]["memory"]["formula"] == "2·numel"


def test_verify_json_passes_for_sgd():
    result = optc("verify", str(SPECS / "sgd.opt"), "--steps", "3", "--json")
    assert result.returncode == 0
    (report,) = json.loads(result.stdout)
    assert report["passed"] and report["steps"] == 3
    assert {(d["backend"], d["dtype"]) for d in report["deviations"]} == {
        ("torch", "float64"),
        ("torch", "float32"),
        ("jax", "float64"),
        ("jax", "float32"),
    }


@pytest.mark.parametrize(
    ("a", "b", "binds", "code"),
    [
        ("tiger", "lion", ["beta1=beta", "beta2=beta"], 0),
        ("adamw", "adam", ["weight_decay=0"], 0),
        ("adam", "rmspropdebiased", ["beta1=0"], 0),
        ("adam", "amsgrad", [], 1),
    ],
)
def test_equiv_exit_code_is_the_verdict(a, b, binds, code):
    args = [str(SPECS / f"{a}.opt"), str(SPECS / f"{b}.opt")]
    for bind in binds:
        args += ["--bind", bind]
    assert main(["equiv", *args]) == code


def test_show_renders_latex_and_markdown(capsys):
    assert main(["show", str(SPECS / "adam.opt"), "--latex"]) == 0
    latex = capsys.readouterr().out
    assert latex.startswith("\\begin{aligned}") and r"\sqrt{\hat{v}}" in latex
    assert main(["show", str(SPECS / "adam.opt"), "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("# Adam")


def test_regen_check_names_a_stale_file(tmp_path, monkeypatch, capsys):
    committed = (regen_module.generated_dir() / "torch" / "adam.py").read_text()
    stale = tmp_path / "torch" / "adam.py"
    stale.parent.mkdir()
    stale.write_text("# hand-edited\n")
    monkeypatch.setattr(regen_module, "generated_dir", lambda: tmp_path)
    adam_only = [p for p in regen_module.library_specs() if p.stem == "adam"]
    monkeypatch.setattr(regen_module, "library_specs", lambda: adam_only)  # the whole library: 60 s
    assert main(["regen", "--check"]) == 1
    assert f"stale: {stale}" in capsys.readouterr().err
    assert main(["regen"]) == 0
    assert main(["regen", "--check"]) == 0
    assert stale.read_text() == committed


# -- help, version, errors ----------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action


def test_every_command_and_option_has_help():
    parser = cli._parser()
    sub = _subparsers(parser)
    documented = {a.dest for a in sub._choices_actions if a.help}
    assert documented == set(sub.choices), "commands without help"
    for name, command in [("optc", parser), *sub.choices.items()]:
        for action in command._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)


def test_version_comes_from_package_metadata(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"optc {importlib.metadata.version('optc')}"


def _one_error_line(capsys, code: int, argv: list[str]) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("optc: error: ")
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_missing_spec_is_one_line(tmp_path, capsys):
    line = _one_error_line(capsys, 1, ["compile", str(tmp_path / "nope.opt"), "-o", str(tmp_path)])
    assert "nope.opt" in line and "no such file" in line


def test_folder_given_as_spec_is_one_line(tmp_path, capsys):
    line = _one_error_line(capsys, 1, ["compile", str(tmp_path), "-o", str(tmp_path / "out")])
    assert "is a directory" in line
    assert not (tmp_path / "out").exists()


def test_binary_spec_is_an_error_not_a_traceback(tmp_path, capsys):
    spec = tmp_path / "bin.opt"
    spec.write_bytes(b"\xff\xfe\x00optimizer")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "UTF-8" in err and "bin.opt" in err and "Traceback" not in err


def test_out_naming_a_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("")
    line = _one_error_line(capsys, 1, ["compile", str(SPECS / "sgd.opt"), "-o", str(out)])
    assert "taken" in line and "not a folder" in line
    # a folder that would have to be created inside a file
    line = _one_error_line(capsys, 1, ["compile", str(SPECS / "sgd.opt"), "-o", str(out / "sub")])
    assert "cannot create output folder" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_one_line(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        line = _one_error_line(capsys, 1, ["compile", str(SPECS / "sgd.opt"), "-o", str(out)])
    finally:
        out.chmod(0o755)
    assert "cannot write" in line and "permission denied" in line


def test_unwritable_output_is_one_line(tmp_path, capsys, monkeypatch):
    """What a read-only folder gives a user who is not root (root may write anywhere)."""

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "write_text", refuse)
    line = _one_error_line(capsys, 1, ["compile", str(SPECS / "sgd.opt"), "-o", str(tmp_path)])
    assert line.startswith("optc: error: cannot write ")
    assert line.endswith("sgd_torch.py: permission denied")


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--steps", "0"],
        ["verify", "--grad-mode", "sideways"],
        ["bench", "--repeats", "-1"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: optc" in err and "Traceback" not in err


def test_bad_bind_is_a_usage_error(capsys):
    line = _one_error_line(
        capsys, 2, ["equiv", str(SPECS / "adam.opt"), str(SPECS / "adam.opt"), "--bind", "x"]
    )
    assert "NAME=EXPR" in line


def test_unexpected_exception_is_a_short_message(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr("optc.render.latex.latex_aligned", boom)
    assert main(["show", str(SPECS / "adam.opt")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "optc: error: internal error: ZeroDivisionError: float division by zero",
        f"help: {cli.REPORT_HINT}",
    ]


def test_no_traceback_from_the_real_command_line(tmp_path):
    """Through a real process: a folder as a spec, a missing file, a malformed spec."""
    bad = tmp_path / "bad.opt"
    bad.write_text('optimizer Bad\ncite "x"\nhyper lr = 0.1 in (0, inf)\nstep\n  theta <- sqr(g)\n')
    for args, expect in [
        (["check", str(tmp_path)], "optc: error: cannot read spec"),
        (["verify", str(tmp_path / "missing.opt")], "optc: error: cannot read spec"),
        (["check", str(bad)], "bad.opt:5:"),  # a SpecError keeps its located rendering
    ]:
        result = optc(*args)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines()[0].startswith(expect) or expect in result.stderr


# -- output: tables, colour, streaming ----------------------------------------------------------


def _columns(header: str, names: list[str]) -> list[int]:
    return [header.index(name) for name in names]


def test_list_rows_never_overflow_their_columns():
    result = optc("list")
    assert result.returncode == 0
    header, *rows, total = result.stdout.splitlines()
    starts = _columns(header, ["hypers", "states", "cite"])
    by_name = {row.split()[0]: row for row in rows}
    assert set(by_name) >= {"AdaBound", "Adagrad", "AdEMAMix", "NAdam", "Rprop"}
    for row in rows:
        program = optc_module.load_program(SPECS / f"{row.split()[0].lower()}.opt")
        hypers = ", ".join(h.name for h in program.hypers)
        states = ", ".join(s.name for s in program.states)
        assert row[starts[0] : starts[0] + len(hypers)] == hypers, row
        assert row[starts[1] : starts[1] + len(states)] == states, row
        assert row[starts[1] - 2 : starts[1]] == "  " and row[starts[2] - 2 : starts[2]] == "  "
        assert row == row.rstrip()
    assert total == f"{len(rows)} specs"


def test_check_summary_columns_hold_every_value(capsys):
    names = ["rprop", "adam", "nadam"]
    assert main(["check", "--summary", *(str(SPECS / f"{n}.opt") for n in names)]) == 0
    header, *rows, total = capsys.readouterr().out.splitlines()
    ends = [header.index(h) + len(h) for h in cli.SUMMARY_COLUMNS[1:]]
    for row in rows:
        cells = row.split("  ")
        values = [c.strip() for c in cells if c.strip()]
        assert len(values) == 6, row
        # right-aligned columns: each value ends exactly under the end of its header
        for end, value in zip(ends, values[1:], strict=True):
            assert row[end - len(value) : end] == value, (row, value)
    assert rows[0].split()[0] == "Rprop" and "holds numerically (not proved)" in rows[0]
    assert total.endswith("risky operations proved safe")


def _run_in_terminal(args: list[str], env_extra: dict[str, str], columns: int = 100) -> str:
    """Run optc with stdout and stderr on a pseudo-terminal; return everything it wrote."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    process = subprocess.Popen(
        [sys.executable, "-m", "optc.cli", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env | env_extra,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 1 << 16)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0
    return b"".join(chunks).decode()


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_colour_on_a_terminal_plain_with_no_color_or_piped():
    coloured = _run_in_terminal(["list"], {}, columns=100)
    assert "\x1b[1m" in coloured  # bold header
    plain = _run_in_terminal(["list"], {"NO_COLOR": "1"}, columns=100)
    assert "\x1b[" not in plain
    assert ANSI.sub("", coloured) == plain
    # on a 100-column terminal, the table fits: cells wrap inside their columns
    assert max(len(line) for line in plain.splitlines()) <= 100
    assert "\x1b[" not in optc("list").stdout  # piped


def test_json_is_pure_json_even_on_a_terminal():
    out = _run_in_terminal(["list", "--json"], {})
    assert [row["name"] for row in json.loads(out)][:2] == ["ACClip", "AdaBelief"]


def test_verify_streams_each_row_before_the_next_spec_runs(monkeypatch, capsys):
    """The CLI consumes verify_specs: a spec's row is on stdout before the next spec starts."""
    import optc.verify as verify_module

    honest = verify_module.verify
    seen_before: list[str] = []

    def spy(program, **kwargs):
        seen_before.append(capsys.readouterr().out)  # what was printed before this spec ran
        return honest(program, **kwargs)

    monkeypatch.setattr(verify_module, "verify", spy)
    argv = ["verify", "--steps", "2", "--backend", "torch", "--grad-mode", "inplace"]
    assert main([*argv, str(SPECS / "sgd.opt"), str(SPECS / "signsgd.opt")]) == 0
    header, first_row = seen_before[0].splitlines(), seen_before[1].splitlines()
    assert header[0].split()[:2] == ["spec", "result"]
    assert first_row[0].split()[:2] == ["SGD", "ok"]
    assert capsys.readouterr().out.splitlines()[0].split()[:2] == ["SignSGD", "ok"]


def test_check_streams_each_report_as_it_is_done(monkeypatch, capsys):
    import optc.check.report as report_module

    honest = report_module.check_report
    seen_before: list[str] = []

    def spy(compiled):
        seen_before.append(capsys.readouterr().out)
        return honest(compiled)

    monkeypatch.setattr(report_module, "check_report", spy)
    assert main(["check", "--summary", str(SPECS / "sgd.opt"), str(SPECS / "lion.opt")]) == 0
    assert seen_before[1].split()[0] == "SGD"
    names = [row.split()[0] for row in capsys.readouterr().out.splitlines()]
    assert names[0] == "Lion"


def test_check_keeps_going_after_a_spec_that_does_not_compile(tmp_path, capsys):
    bad = tmp_path / "bad.opt"
    bad.write_text("optimizer Bad\n")
    assert main(["check", "--summary", str(bad), str(SPECS / "sgd.opt")]) == 1
    captured = capsys.readouterr()
    assert "bad.opt:" in captured.err and "1 of 2 specs did not compile" in captured.err
    assert any(row.startswith("SGD") for row in captured.out.splitlines())


def test_verify_grad_modes_in_json(capsys):
    argv = ["verify", str(SPECS / "adan.opt"), "--steps", "3", "--backend", "torch", "--json"]
    assert main(argv) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["grad_modes"] == ["fresh", "inplace", "mutated"]
    assert {d["grad_mode"] for d in report["deviations"]} == {"fresh", "inplace", "mutated"}
    assert report["passed"] and report["error"] is None
    assert main([*argv, "--grad-mode", "mutated"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert {d["grad_mode"] for d in report["deviations"]} == {"mutated"}


def test_load_issues_compile_warnings_as_python_warnings():
    spec = """optimizer Warny
cite "a division that is not proved safe (a test)"
hyper lr = 0.1 in (0, inf)
hyper eps = 0 in [0, inf)
convention eps "added to the root"
state v = 0
step
  v <- v + g^2
  theta <- theta - lr * g / (sqrt(v) + eps)
"""
    with pytest.warns(optc_module.OptcWarning, match=r"division by `sqrt\(v\) \+ eps`") as record:
        optc_module.load(spec, backend="torch")
    assert issubclass(optc_module.OptcWarning, UserWarning)
    assert record[0].filename == __file__  # points at the caller of optc.load
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optc_module.load(SPECS / "adam.opt", backend="torch")  # the library compiles clean


def test_jax_with_a_mutable_gradient_mode_is_a_usage_error(capsys):
    argv = ["verify", str(SPECS / "sgd.opt"), "--backend", "jax", "--grad-mode", "inplace"]
    assert "immutable" in _one_error_line(capsys, 2, argv)


def test_a_closed_pipe_is_not_a_traceback():
    """`optc list | head -1`: the reader is gone before optc writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        writer = subprocess.run(
            [sys.executable, "-m", "optc.cli", "list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert writer.returncode == 1
    assert writer.stderr == ""
