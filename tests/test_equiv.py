"""Equivalence of specs (``optc equiv``): the relations the papers state, decided symbolically.

Tiger is Lion with one beta (Su, "Tiger", 2023); AdamW without decay is Adam (Loshchilov &
Hutter 2019); Adam without momentum (beta1 = 0) is RMSProp with bias correction; AMSGrad differs
from Adam by its running maximum (Reddi et al. 2018). Each is checked on inline specs and on the
library specs.
"""

from __future__ import annotations

import json

import pytest

from optc.equiv.decide import NUMERIC, SYMBOLIC, equivalent
from optc.pipeline import compile_file, compile_text, library_dir

HEAD = """optimizer {name}
cite "x"
convention eps "outside the root"
convention bias_correction "as written"
convention weight_decay "decoupled"
"""

ADAM = (
    HEAD
    + """hyper lr    = 1e-3  in (0, inf)
hyper beta1 = 0.9   in [0, 1)
hyper beta2 = 0.999 in [0, 1)
hyper eps   = 1e-8  in (0, inf)
state {m} = 0
state {v} = 0
step
  {m} <- ema({m}, g, beta1)
  {v} <- ema({v}, g^2, beta2)
  theta <- theta - lr * debias({m}, beta1) / (sqrt(debias({v}, beta2)) + eps)
"""
)

ADAMW = (
    HEAD
    + """hyper lr           = 1e-3  in (0, inf)
hyper beta1        = 0.9   in [0, 1)
hyper beta2        = 0.999 in [0, 1)
hyper eps          = 1e-8  in (0, inf)
hyper weight_decay = 1e-2  in [0, inf)
state m = 0
state v = 0
step
  theta <- theta * (1 - lr * weight_decay)
  m <- ema(m, g, beta1)
  v <- ema(v, g^2, beta2)
  theta <- theta - lr * debias(m, beta1) / (sqrt(debias(v, beta2)) + eps)
"""
)

AMSGRAD = (
    HEAD
    + """hyper lr    = 1e-3  in (0, inf)
hyper beta1 = 0.9   in [0, 1)
hyper beta2 = 0.999 in [0, 1)
hyper eps   = 1e-8  in (0, inf)
state m = 0
state v = 0
state v_max = 0
step
  m <- ema(m, g, beta1)
  v <- ema(v, g^2, beta2)
  v_max <- max(v_max, v)
  theta <- theta - lr * debias(m, beta1) / (sqrt(debias(v_max, beta2)) + eps)
"""
)

RMSPROP_DEBIASED = (
    HEAD
    + """hyper lr    = 1e-3  in (0, inf)
hyper beta2 = 0.999 in [0, 1)
hyper eps   = 1e-8  in (0, inf)
state v = 0
step
  v <- ema(v, g^2, beta2)
  theta <- theta - lr * g / (sqrt(debias(v, beta2)) + eps)
"""
)

LION = (
    HEAD
    + """hyper lr           = 1e-4 in (0, inf)
hyper beta1        = 0.9  in [0, 1)
hyper beta2        = 0.99 in [0, 1)
hyper weight_decay = 0    in [0, inf)
state m = 0
step
  c = ema(m, g, beta1)
  m <- ema(m, g, beta2)
  theta <- theta - lr * (sign(c) + weight_decay * theta)
"""
)

TIGER = (
    HEAD
    + """hyper lr           = 1e-3  in (0, inf)
hyper beta         = 0.965 in [0, 1)
hyper weight_decay = 1e-2  in [0, inf)
state m = 0
step
  m <- ema(m, g, beta)
  theta <- theta * (1 - lr * weight_decay) - lr * sign(m)
"""
)


def inline(template: str, name: str, **names: str):
    return compile_text(template.format(name=name, **names), checks=False).program


def adam(name: str = "Adam", m: str = "m", v: str = "v"):
    return inline(ADAM, name, m=m, v=v)


def library(name: str):
    path = library_dir() / f"{name}.opt"
    assert path.exists(), f"library spec {path} is missing"
    return compile_file(path, checks=False).program


# -- inline specs ----------------------------------------------------------------------------------


def test_tiger_is_lion_with_one_beta() -> None:
    result = equivalent(
        inline(TIGER, "Tiger"), inline(LION, "Lion"), {"beta1": "beta", "beta2": "beta"}
    )
    assert result.equal is True
    assert result.method == SYMBOLIC
    assert result.matched == [("m", "m")]


def test_tiger_is_not_lion_with_two_betas() -> None:
    result = equivalent(inline(TIGER, "Tiger"), inline(LION, "Lion"), {})
    assert result.equal is False
    assert result.first_difference.output == "theta"


def test_adamw_without_decay_is_adam() -> None:
    result = equivalent(inline(ADAMW, "AdamW"), adam(), {"weight_decay": "0"})
    assert result.equal is True
    assert result.method == SYMBOLIC
    assert sorted(result.matched) == [("m", "m"), ("v", "v")]


def test_adamw_with_decay_is_not_adam() -> None:
    result = equivalent(inline(ADAMW, "AdamW"), adam(), {})
    assert result.equal is False
    assert result.first_difference.output == "theta"
    assert "theta*weight_decay*lr" in result.first_difference.difference


def test_adam_without_momentum_is_debiased_rmsprop() -> None:
    result = equivalent(adam(), inline(RMSPROP_DEBIASED, "RMSpropDebiased"), {"beta1": "0"})
    assert result.equal is True
    assert result.ignored == {"Adam": ["m"], "RMSpropDebiased": []}
    assert result.matched == [("v", "v")]


def test_adam_is_not_amsgrad() -> None:
    result = equivalent(adam(), inline(AMSGRAD, "AMSGrad"), {})
    assert result.equal is False
    assert result.first_difference.output == "theta"
    assert "v_max" in result.first_difference.difference
    assert any(d.output == "state v_max (only in AMSGrad)" for d in result.differences)
    assert result.compared["state v"] == "equal"


def test_states_are_matched_by_transition_when_names_differ() -> None:
    result = equivalent(adam(), adam("AdamRenamed", m="mom", v="sec"), {})
    assert result.equal is True
    assert sorted(result.matched) == [("m", "mom"), ("v", "sec")]


def test_undecidable_identity_falls_back_to_numbers() -> None:
    template = """optimizer {name}
cite "x"
hyper lr = 1e-3 in (0, inf)
state m = 0
step
  m <- {update}
  theta <- theta - lr * m
"""
    a = compile_text(template.format(name="A", update="max(m, g)"), checks=False).program
    b = compile_text(
        template.format(name="B", update="(m + g + abs(m - g)) / 2"), checks=False
    ).program
    result = equivalent(a, b, {})
    assert result.equal in (True, None)  # max(a, b) = (a + b + |a - b|)/2
    if result.equal is None:
        assert result.method == NUMERIC
        assert "not proved" in result.compared["theta"]


def test_bad_binds_are_reported() -> None:
    with pytest.raises(ValueError, match="not a hyper"):
        equivalent(adam(), adam("Adam2"), {"gamma": "0"})


def test_result_serialises_and_renders() -> None:
    result = equivalent(adam(), inline(AMSGRAD, "AMSGrad"), {})
    data = json.loads(json.dumps(result.to_json()))
    assert data["equal"] is False
    assert data["differences"][0]["output"] == "theta"
    text = result.render()
    assert text.startswith("Adam != AMSGrad")
    assert "first difference: theta" in text


# -- the library -----------------------------------------------------------------------------------


def test_library_tiger_is_lion_with_one_beta() -> None:
    result = equivalent(library("tiger"), library("lion"), {"beta1": "beta", "beta2": "beta"})
    assert result.equal is True


def test_library_adamw_without_decay_is_adam() -> None:
    result = equivalent(library("adamw"), library("adam"), {"weight_decay": "0"})
    assert result.equal is True


def test_library_adam_without_momentum_is_debiased_rmsprop() -> None:
    result = equivalent(library("adam"), library("rmspropdebiased"), {"beta1": "0"})
    assert result.equal is True
    assert result.ignored["Adam"] == ["m"]


def test_library_adam_is_not_amsgrad() -> None:
    result = equivalent(library("adam"), library("amsgrad"), {})
    assert result.equal is False
    assert result.first_difference.output == "theta"
