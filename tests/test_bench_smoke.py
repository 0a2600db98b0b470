"""Smoke test of `optc bench` on a tiny workload: the figures are all there, the agreement check
runs before any timing (a wrong hyper mapping stops the benchmark), JSON parses, the plot is
written. No timing asserted."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from optc.bench import counterparts, report, suite
from optc.bench.workload import GPT2_SMALL_WORKLOAD, Workload
from optc.cli import main

TINY = Workload(shapes=((8, 4), (4,)), seed=1)
SPECS = ["adamw", "lion"]


def _collect(specs=SPECS, **kwargs):
    return suite.collect(specs, workload=TINY, repeats=2, warmup=0, **kwargs)


@pytest.fixture(scope="module")
def result():
    return _collect(paths=suite.OPTC_PATHS)


def test_the_default_paths_leave_the_readable_one_to_the_check():
    """By default the readable path is not timed (the bulk of a run's wall time) but is still
    the reference of the check; the compiled paths are then checked against the foreach path."""
    (entry,) = _collect(["sgdmomentum"])["specs"]
    timed = {r["label"] for r in entry["rows"]}
    assert "optc SGDMomentum (readable)" not in timed and "optc SGDMomentum (foreach)" in timed
    assert entry["check"]["reference"] == "optc SGDMomentum (readable)"
    assert entry["check_at_timing_shapes"]["reference"] == "optc SGDMomentum (foreach)"


def _rows(result, spec):
    (entry,) = [e for e in result["specs"] if e["spec"] == spec]
    return {r["label"]: r for r in entry["rows"]}


def test_every_figure_is_there(result):
    assert [e["spec"] for e in result["specs"]] == SPECS
    assert result["repeats"] == 2 and result["device"] == "cpu"
    assert result["workload"]["shapes"] == [[8, 4], [4]]
    assert result["copy_bandwidth"]["start"]["gb_per_s"] > 0
    assert result["memory"] and result["total_s"] > 0
    assert {"torch", "jax", "optax", "pytorch-optimizer"} <= set(result["versions"])
    for entry in result["specs"]:
        assert entry["check"]["passed"] and entry["floor_ms"] > 0
        for r in entry["rows"]:
            assert r["source"] and r["framework"] in ("torch", "jax") and r["path"]
            if not r["available"]:
                assert r["reason"]
                continue
            assert len(r["times_ms"]) == 2 and r["median_ms"] > 0 and r["first_call_s"] > 0
            assert r["gb_per_s"] > 0 and r["copy_bw_fraction"] > 0
            assert r["state_bytes"] > 0 and r["peak_extra_bytes"] >= r["state_bytes"]
            assert r["ratio_any"] > 0

    rows = _rows(result, "adamw")
    readable = rows["optc AdamW (readable)"]
    assert readable["available"] and readable["ratio"] > 0
    # m and v: (params + grads + 2 states) read, (params + 2 states) written
    moved = result["specs"][0]["bytes_moved"]
    assert moved["states_per_parameter"] == 2.0 and moved["total"] == 7 * TINY.nbytes
    assert rows["optc adamw (jax)"]["ratio"] > 0  # against optax.adamw
    assert rows["torch.optim.AdamW(foreach=True)"]["ratio"] >= 1.0
    assert min(r["ratio"] for r in rows.values() if r["available"] and r["source"] != "optc") == 1
    # the generated foreach / fused paths: timed once the class accepts them, else a reason
    for path in ("foreach", "fused"):
        assert f"optc AdamW ({path})" in rows
    assert {r["source"] for r in _rows(result, "lion").values()} == {
        "optc",
        "pytorch_optimizer",
        "optax",
    }


def test_compiled_paths_checked_where_timed(result):
    """fused and jax compile for the shapes: they are checked on the timing workload, with the
    run that is timed (one compilation), not on the check's tiny one."""
    (entry,) = [e for e in result["specs"] if e["spec"] == "adamw"]
    compiled = {
        r["label"] for r in entry["rows"] if r["available"] and r["path"] in ("fused", "jax")
    } - {r["label"] for r in entry["rows"] if r["source"] != "optc"}
    assert "optc adamw (jax)" in compiled
    shape_check = entry["check_at_timing_shapes"]
    assert set(shape_check["worst_error_in_tolerances"]) == compiled
    assert max(shape_check["worst_error_in_tolerances"].values()) <= 1.0
    assert not compiled & set(entry["check"]["worst_error_in_tolerances"])


def test_json_and_table(result):
    again = json.loads(json.dumps(result))
    assert again["specs"][0]["rows"][0]["label"] == "optc AdamW (readable)"
    text = report.format_report(result)
    for label in ("ms/step", "GB/s", "copy BW", "peak extra MiB", "1st call s", "x lib"):
        assert label in text
    assert "torch.optim.AdamW(fused=True)" in text and "optax.lion" in text


def test_plot_is_written(result, tmp_path):
    path = report.plot(result, tmp_path / "bench.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _swapped_betas(ps, h, **kw):
    return torch.optim.AdamW(
        ps,
        lr=h["lr"],
        betas=(h["beta2"], h["beta1"]),
        eps=h["eps"],
        weight_decay=h["weight_decay"],
        **kw,
    )


def _wd_not_scaled_by_lr(h):  # optax's weight decay is already multiplied by the learning rate
    import optax

    return optax.adamw(
        h["lr"],
        b1=h["beta1"],
        b2=h["beta2"],
        eps=h["eps"],
        weight_decay=h["weight_decay"] / h["lr"],
    )


@pytest.mark.parametrize(
    "wrong",
    [
        counterparts.Counterpart("torch.optim", "torch.optim.AdamW", _swapped_betas, ("foreach",)),
        counterparts.Counterpart("optax", "optax.adamw", _wd_not_scaled_by_lr),
    ],
    ids=["torch-swapped-betas", "optax-wd-unscaled"],
)
def test_wrong_mapping_stops_before_timing(monkeypatch, wrong):
    timed = []
    monkeypatch.setattr(suite, "round_robin", lambda *a, **k: timed.append(a))
    bad = counterparts.BenchSpec("adamw", counterparts.BY_SPEC["adamw"].probe, (wrong,))
    monkeypatch.setitem(suite.BY_SPEC, "adamw", bad)
    with pytest.raises(suite.MismatchError, match=f"{wrong.name}.* disagrees with optc AdamW"):
        _collect(["lion", "adamw"])  # adamw is checked before lion (or anything) is timed
    assert not timed


def test_counterparts_name_spec_hypers():
    library = set(suite.library_specs())
    for b in counterparts.SPECS:
        assert b.spec in library
        defaults = suite.load_spec(b.spec).defaults
        assert set(b.probe) <= set(defaults) and set(b.fixed) <= set(defaults), b.spec
    default = suite.default_specs()
    assert default == [s for s in suite.library_specs() if s in default]
    for name, bench in counterparts.BY_SPEC.items():
        in_default = bench.in_default_run and any(
            cp.library in ("torch.optim", "optax") for cp in bench.counterparts
        )
        assert (name in default) == in_default, name
    assert "muon" not in default  # minutes per step on the default workload on a CPU


def test_gpt2_small_workload():
    assert len(GPT2_SMALL_WORKLOAD.shapes) == 148
    assert GPT2_SMALL_WORKLOAD.numel == 124_439_808


def test_cli_json_and_plot(tmp_path, capsys):
    plot = tmp_path / "sgd.png"
    argv = ["bench", "--specs", "sgd", "--workload", "small", "--repeats", "2", "--json"]
    assert main([*argv, "--paths", "readable", "jax", "--plot", str(plot)]) == 0
    out = json.loads(capsys.readouterr().out)
    labels = {r["label"] for r in out["specs"][0]["rows"]}
    assert "optc SGD (readable)" in labels and "optc SGD (fused)" not in labels
    assert out["plot"] == str(plot) and plot.stat().st_size > 0


def test_cli_usage_errors(capsys):
    assert main(["bench", "--specs", "nosuchspec"]) == 2
    assert "nosuchspec" in capsys.readouterr().err
    assert main(["bench", "--all", "--specs", "sgd"]) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cli_cuda_unavailable_is_skipped(capsys):
    assert main(["bench", "--device", "cuda", "--specs", "sgd"]) == 0
    assert "torch.cuda is not available" in capsys.readouterr().err


def test_muon_is_checked_and_timed_on_the_matrices_only():
    """torch.optim.Muon takes 2-d parameters only: the entry's ndim = (2,) keeps the vectors out
    of the check and the timing, and its bfloat16 Newton-Schulz passes the wider stated
    tolerance."""
    result = _collect(["muon"], paths=("readable",))
    (entry,) = result["specs"]
    assert entry["workload"].startswith("1 x 8x4 float32")
    assert entry["check"]["workload"].startswith("1 x 32x16 float32")
    assert entry["check"]["passed"]
    assert entry["check"]["tolerances"] == {
        "torch.optim.Muon": {"rtol": 3e-2, "atol": 3e-2 * entry["check"]["hypers"]["lr"]}
    }
    assert max(entry["check"]["worst_error_in_tolerances"].values()) <= 1.0
    rows = _rows(result, "muon")
    assert rows["torch.optim.Muon"]["available"] and rows["torch.optim.Muon"]["ratio"] == 1.0
    assert rows["optc Muon (readable)"]["ratio"] > 0
    assert "muon: 1 x 8x4 float32" in report.format_report(result)


def test_muon_at_the_default_tolerance_disagrees(monkeypatch):
    """The wider tolerance is needed: torch.optim.Muon's bfloat16 Newton-Schulz misses the
    default one."""
    bench = counterparts.BY_SPEC["muon"]
    (cp,) = bench.counterparts
    strict = dataclasses.replace(cp, check_rtol=None, check_atol_lr=None)
    monkeypatch.setitem(suite.BY_SPEC, "muon", dataclasses.replace(bench, counterparts=(strict,)))
    with pytest.raises(suite.MismatchError, match=r"torch.optim.Muon disagrees .*\(rtol 0.001,"):
        _collect(["muon"], paths=("readable",))


def test_soap_is_checked_before_the_first_refresh_and_timed(monkeypatch):
    """SOAP against pytorch_optimizer.SOAP and heavyball.SOAP: checked on the entry's square and
    1-d shapes over steps before the first eigenbasis refresh, the jax path with them (not after
    the timed steps, whose constant gradient leaves only rounding noise off the rotated
    diagonal); heavyball's eps fixed for the spec too."""
    heavyball = pytest.importorskip("heavyball")
    monkeypatch.setattr(heavyball.utils, "compile_mode", None)  # its torch.compile: a minute
    result = _collect(["soap"], paths=("readable", "jax"))
    (entry,) = result["specs"]
    check = entry["check"]
    assert check["passed"] and check["steps"] < check["hypers"]["precondition_frequency"]
    assert check["workload"].startswith("1 x 16x16, 1 x 12x12, 1 x 16 float32")
    assert set(check["worst_error_in_tolerances"]) == {
        "optc SOAP (readable)",
        "optc soap (jax)",
        "pytorch_optimizer.SOAP",
        "heavyball.SOAP",
    }
    assert max(check["worst_error_in_tolerances"].values()) <= 1.0
    assert entry["check_at_timing_shapes"] is None
    assert entry["hypers"]["eps"] == 1e-12  # heavyball's fixed eps, timed with it too
    assert entry["workload"] == result["workload"]["description"]  # (8, 4) and (4,): all of it
    rows = _rows(result, "soap")
    for label in ("pytorch_optimizer.SOAP", "heavyball.SOAP", "optc SOAP (readable)"):
        assert rows[label]["available"] and rows[label]["ratio"] > 0, label
        assert rows[label]["state_bytes"] > 0, label  # heavyball's is nested: state[p][0][...]
    assert rows["optc soap (jax)"]["ratio_any"] > 0


def test_a_library_that_frees_the_gradients_still_steps_every_timed_step(monkeypatch):
    """heavyball sets p.grad = None after its step: the timed run hands the gradient back, or
    every step after the first would do nothing (heavyball.SOAP timed at 0.4 ms a step on 4 MiB
    before this)."""
    heavyball = pytest.importorskip("heavyball")
    monkeypatch.setattr(heavyball.utils, "compile_mode", None)
    setup = suite.load_spec("soap")
    (cand,) = [c for c in suite.candidates(setup, setup.hypers, ()) if c.source == "heavyball"]
    run = suite.TorchRun(cand.make, TINY.params(), torch.device("cpu"))
    run.set_grads([torch.tensor(g) for g in TINY.grads(0)])
    moved = []
    for _ in range(4):
        before = run.numpy_params()
        run.step()
        moved.append(max(abs(a - b).max() for a, b in zip(run.numpy_params(), before, strict=True)))
    assert moved[0] == 0 and min(moved[1:]) > 0  # step 1 only builds the eigenbases
