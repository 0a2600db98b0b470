"""The optc command line as a user runs it: exit codes, files written, JSON output."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import torch

import optc.generated.torch as generated_torch
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
    assert main(["regen", "--check"]) == 1
    assert f"stale: {stale}" in capsys.readouterr().err
    assert main(["regen"]) == 0
    assert main(["regen", "--check"]) == 0
    assert stale.read_text() == committed
