"""Smoke test of `optc bench` on a tiny workload: the figures are all there, and the agreement
check runs before any timing (a wrong hyper mapping stops the benchmark). No timing asserted."""

from __future__ import annotations

import json

import pytest

from optc.bench import adamw, check, jax_side, torch_side
from optc.bench.workload import SMALL_WORKLOAD, Workload

TINY = Workload(shapes=((8, 4), (4,)), seed=1)


def _swapped_betas(h):
    return torch_side.torch_adamw_kwargs(h) | {"betas": (h["beta2"], h["beta1"])}


def _eps_inside_root(h):
    return jax_side.optax_adamw_kwargs(h) | {"eps": 0.0, "eps_root": h["eps"]}


def _wd_not_scaled_by_lr(h):  # optax's weight decay is already multiplied by the learning rate
    return jax_side.optax_adamw_kwargs(h) | {"weight_decay": h["weight_decay"] / h["lr"]}


def _collect(**kwargs):
    return adamw.collect(
        repeats=2,
        workload=TINY,
        probe_workload=TINY,
        torch_warmup=1,
        jax_warmup=1,
        probe_steps=3,
        check_steps=2,
        **kwargs,
    )


@pytest.fixture(scope="module")
def result():
    return _collect()


@pytest.fixture(scope="module")
def generated():
    return adamw.load_generated()


def test_result_structure(result):
    for key in ("hypers", "hyper_mapping", "workload", "repeats", "machine", "versions"):
        assert result[key]
    assert result["repeats"] == 2
    assert result["hypers"] == {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 1e-2,
    }
    assert result["workload"]["shapes"] == [[8, 4], [4]]
    assert {"torch", "jax", "optax"} <= set(result["versions"])
    json.loads(json.dumps(result))  # JSON-ready

    t = result["torch"]
    assert t["device"] and t["memory_method"]
    assert set(t["candidates"]) == {"generated", "foreach", "fused"}
    assert t["candidates"]["generated"]["available"]
    for name, c in t["candidates"].items():
        if not c["available"]:
            assert c["reason"] and t["ratios"][f"generated/{name}"] is None
            continue
        assert len(c["times_ms"]) == 2 and c["median_ms"] > 0
        for field in ("state_bytes", "first_step_peak_bytes", "step_peak_bytes", "step_net_bytes"):
            assert isinstance(c[field], int)
        # m and v, plus a scalar step count per tensor in torch.optim
        assert 2 * TINY.nbytes <= c["state_bytes"] <= 2 * TINY.nbytes + 8 * len(TINY.shapes)
        if name != "generated":
            assert t["ratios"][f"generated/{name}"] > 0

    j = result["jax"]
    assert j["device"] and j["memory_method"] and j["donate_argnums"] == [0, 1]
    assert set(j["candidates"]) == {"generated", "optax"}
    for c in j["candidates"].values():
        assert len(c["times_ms"]) == 2 and c["median_ms"] > 0 and c["first_call_s"] > 0
        assert c["memory_analysis"] is None or "temp_size_in_bytes" in c["memory_analysis"]
    assert j["ratios"]["generated/optax"] > 0


def test_checks_ran_and_passed(result):
    assert len(result["checks"]) == 2
    probe, own = result["checks"]
    assert probe["hypers"] == check.PROBE_HYPERS and own["hypers"] == result["hypers"]
    for c in result["checks"]:
        assert c["passed"] and c["steps"] >= 2
        errors = c["worst_error_in_tolerances"]
        assert {"torch generated", "torch foreach", "jax generated", "jax optax"} <= set(errors)
        assert all(0 <= e <= 1 for e in errors.values())


def test_report_is_readable(result):
    text = adamw.format_report(result)
    for label in ("generated AdamW", "torch.optim.AdamW(foreach=True)", "optax.adamw", "median ms"):
        assert label in text


@pytest.mark.parametrize(
    "mapping",
    [
        {"torch_mapping": _swapped_betas},
        {"optax_mapping": _eps_inside_root},
        {"optax_mapping": _wd_not_scaled_by_lr},
    ],
    ids=["torch-swapped-betas", "optax-eps-inside-root", "optax-wd-unscaled"],
)
def test_wrong_mapping_raises_before_timing(monkeypatch, mapping):
    timed = []
    monkeypatch.setattr(adamw, "round_robin", lambda *a, **k: timed.append(a))
    with pytest.raises(check.MismatchError, match="disagrees with the generated torch AdamW"):
        _collect(**mapping)
    assert not timed


def test_one_step_cannot_see_the_betas(generated):
    # Why the check takes several steps with varying gradients: at step 1 the debiased moments
    # are g and g^2 whatever the betas.
    tgen, jgen, _ = generated
    kwargs = {"grad_scale": check.PROBE_GRAD_SCALE, "torch_mapping": _swapped_betas}
    check.check_agreement(SMALL_WORKLOAD, check.PROBE_HYPERS, tgen, jgen, steps=1, **kwargs)
    with pytest.raises(check.MismatchError, match="at step 2"):
        check.check_agreement(SMALL_WORKLOAD, check.PROBE_HYPERS, tgen, jgen, steps=2, **kwargs)


def test_run_rejects_no_repeats(capsys):
    assert adamw.run(repeats=0) == 2
    assert "--repeats" in capsys.readouterr().err
