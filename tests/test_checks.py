"""The symbolic checks: IR → SymPy, domain safety, state invariants, the property report.

Expected values come from closed forms worked out by hand or taken from the papers (Adam's first
step is -lr·sign(g) at eps = 0, Kingma & Ba §2.1; an AdaGrad accumulator started above 0 never
needs eps; SGD does not move at g = 0 while AdamW moves by -lr·wd·θ), never from the output of
the code under test.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from optc.check import intervals as iv
from optc.check.domains import domain_report, domain_warnings, state_invariants
from optc.check.properties import (
    DISPROVED,
    PROVED,
    memory_formula,
    property_report,
    sign_rewrite,
)
from optc.check.symbolic import program_symbols, spec_str, symbolic_program
from optc.pipeline import compile_text

ADAM = """optimizer Adam
cite "Kingma & Ba, Adam: A Method for Stochastic Optimization, ICLR 2015"
convention eps "outside the root"
convention bias_correction "both moments"
hyper lr    = 1e-3  in (0, inf)
hyper beta1 = 0.9   in [0, 1)
hyper beta2 = 0.999 in [0, 1)
hyper eps   = 1e-8  in {eps_domain}
state m = 0
state v = 0
step
  m <- ema(m, g, beta1)
  v <- ema(v, g^2, beta2)
  m_hat = debias(m, beta1)
  v_hat = debias(v, beta2)
  theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)
"""

ADAMW = """optimizer AdamW
cite "Loshchilov & Hutter, Decoupled Weight Decay Regularization, ICLR 2019"
convention eps "outside the root"
convention bias_correction "both moments"
convention weight_decay "decoupled"
hyper lr           = 1e-3  in (0, inf)
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

ADAGRAD = """optimizer Adagrad
cite "Duchi, Hazan & Singer, Adaptive Subgradient Methods, JMLR 2011"
convention eps "outside the root"
hyper lr  = 1e-2  in (0, inf)
hyper acc = 0.1   in {acc_domain}
hyper eps = 1e-10 in [0, inf)
state r = acc
step
  r <- r + g^2
  theta <- theta - lr * g / (sqrt(r) + eps)
"""

SGD = """optimizer SGD
cite "Robbins & Monro, A Stochastic Approximation Method, 1951"
hyper lr = 1e-3 in (0, inf)
step
  theta <- theta - lr * g
"""

LION = """optimizer Lion
cite "Chen et al., Symbolic Discovery of Optimization Algorithms, 2023"
convention bias_correction "none"
hyper lr    = 1e-4 in (0, inf)
hyper beta1 = 0.9  in [0, 1)
hyper beta2 = 0.99 in [0, 1)
state m = 0
step
  c = ema(m, g, beta1)
  m <- ema(m, g, beta2)
  theta <- theta - lr * sign(c)
"""

YOGI = """optimizer Yogi
cite "Zaheer et al., Adaptive Methods for Nonconvex Optimization, NeurIPS 2018"
convention eps "outside the root"
convention bias_correction "none"
hyper lr    = 1e-2  in (0, inf)
hyper beta2 = 0.999 in [0, 1)
hyper eps   = 1e-3  in [0, inf)
hyper v0    = 1e-6  in (0, inf)
state v = v0
step
  v <- v - (1 - beta2) * sign(v - g^2) * g^2
  theta <- theta - lr * g / (sqrt(v) + eps)
"""

RADAM = """optimizer RAdam
cite "Liu et al., On the Variance of the Adaptive Learning Rate and Beyond, ICLR 2020"
convention eps "outside the root"
convention bias_correction "first moment debiased; second through the rectifier"
hyper lr    = 1e-3  in (0, inf)
hyper beta1 = 0.9   in [0, 1)
hyper beta2 = 0.999 in [0, 1)
hyper eps   = 1e-8  in (0, inf)
state m = 0
state v = 0
step
  m <- ema(m, g, beta1)
  v <- ema(v, g^2, beta2)
  m_hat = debias(m, beta1)
  rho_inf = 2 / (1 - beta2) - 1
  rho_t = rho_inf - 2 * t * beta2^t / (1 - beta2^t)
  theta <- if rho_t > 5 \\
    then theta - lr * m_hat * sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) \\
                   * sqrt(1 - beta2^t) / (sqrt(v) + eps) \\
    else theta - lr * m_hat
"""

NADAM_PRODUCT = """optimizer NAdamish
cite "Dozat, Incorporating Nesterov Momentum into Adam, 2016"
convention bias_correction "momentum schedule product"
hyper lr    = 2e-3 in (0, inf)
hyper beta1 = 0.9  in [0, 1)
hyper md    = 4e-3 in [0, inf)
state m = 0
state mu_prod : scalar = 1
step
  mu = beta1 * (1 - 0.5 * 0.96^(t * md))
  mu_next = beta1 * (1 - 0.5 * 0.96^((t + 1) * md))
  mu_prod <- mu_prod * mu
  m <- ema(m, g, beta1)
  theta <- theta - lr * (1 - mu) / (1 - mu_prod) * g - lr * mu_next / (1 - mu_prod * mu_next) * m
"""


def program(text: str, **fields: str):
    return compile_text(text.format(**fields) if fields else text, checks=False).program


# -- IR → SymPy ------------------------------------------------------------------------------------


def test_adam_step_in_sympy_matches_the_paper() -> None:
    p = program(ADAM, eps_domain="[0, inf)")
    s = program_symbols(p)
    sp = symbolic_program(p)
    g, m, v, t = s["g"], s["m"], s["v"], s["t"]
    b1, b2, lr, eps, theta = s["beta1"], s["beta2"], s["lr"], s["eps"], s["theta"]
    m1 = b1 * m + (1 - b1) * g
    v1 = b2 * v + (1 - b2) * g**2
    expected = theta - lr * (m1 / (1 - b1**t)) / (sympy.sqrt(v1 / (1 - b2**t)) + eps)
    assert sympy.simplify(sp.outputs["theta"] - expected) == 0
    assert sympy.simplify(sp.outputs["m"] - m1) == 0
    assert sp.inits == {"m": 0, "v": 0}


def test_hyper_symbols_carry_their_domains() -> None:
    s = program_symbols(program(ADAM, eps_domain="[0, inf)"))
    assert s["lr"].is_positive
    assert s["eps"].is_nonnegative and s["eps"].is_positive is None
    assert s["t"].is_integer and s["t"].is_positive


def test_ops_translate_to_sympy() -> None:
    text = """optimizer Ops
cite "x"
hyper lr = 1e-3 in (0, inf)
step
  a = clip(g, -1, 1)
  b = where(g > 0, a, abs(g))
  theta <- theta - lr * (if t == 1 then b else max(b, 0))
"""
    sp = symbolic_program(program(text))
    s = sp.symbols
    first = sp.outputs["theta"].subs(s["t"], 1)
    assert first.subs(s["g"], 3) == s["theta"] - s["lr"]  # clip(3, -1, 1) = 1
    assert first.subs(s["g"], -2) == s["theta"] - 2 * s["lr"]  # |-2|


def test_spec_printer() -> None:
    x, y = sympy.symbols("x y", real=True)
    assert spec_str(sympy.And(sympy.Eq(x, 0), sympy.Eq(y, 0))) == "x = 0 and y = 0"
    assert spec_str(x**2 + sympy.Abs(y)) == "x^2 + abs(y)"


# -- intervals -------------------------------------------------------------------------------------


def test_interval_bias_correction_is_in_zero_one() -> None:
    beta = sympy.Symbol("beta", nonnegative=True)
    t = sympy.Symbol("t", integer=True, positive=True)
    ev = iv.IntervalEval(
        {
            beta: iv.Interval(Fraction(0), Fraction(1), False, True),
            t: iv.closed(Fraction(1), iv.INF),
        }
    )
    assert ev(1 - beta**t) == iv.Interval(Fraction(0), Fraction(1), True, False)


def test_interval_product_attains_zero_through_a_closed_end() -> None:
    zero_to_inf = iv.NONNEG
    open_unit = iv.Interval(Fraction(0), Fraction(1), True, True)
    assert iv.mul(open_unit, zero_to_inf).contains(Fraction(0))
    assert not iv.mul(open_unit, iv.POSITIVE).contains(Fraction(0))
    assert iv.maximum(iv.NONNEG, iv.POSITIVE) == iv.POSITIVE


# -- domain safety ---------------------------------------------------------------------------------


def test_adam_with_eps_zero_allowed_warns_eps_and_v() -> None:
    p = program(ADAM, eps_domain="[0, inf)")
    report = domain_report(p)
    assert report.invariants["v"] == "[0, inf)"
    by_operand = {c.operand: c for c in report.checks}
    assert by_operand["1 - beta1^t"].status == "proved safe"
    assert by_operand["1 - beta2^t"].status == "proved safe"
    assert by_operand["v_hat"].status == "proved safe"  # the sqrt
    division = by_operand["sqrt(v_hat) + eps"]
    assert division.status == "warning"
    assert division.condition == "eps = 0 and v = 0"
    assert "divides by zero" in division.reason
    assert division.hint.startswith("declare eps in (0, inf)")
    [warning] = domain_warnings(p)
    assert warning.span.line == p.body[-1].span.line
    assert "eps = 0 and v = 0" in warning.message


def test_adam_with_positive_eps_is_safe() -> None:
    assert domain_warnings(program(ADAM, eps_domain="(0, inf)")) == []


def test_adagrad_with_positive_start_needs_no_eps() -> None:
    assert domain_warnings(program(ADAGRAD, acc_domain="(0, inf)")) == []
    [warning] = domain_report(program(ADAGRAD, acc_domain="[0, inf)")).warnings
    assert warning.condition == "eps = 0 and r = 0"


def test_yogi_accumulator_stays_positive() -> None:
    # v - (1-b)·sign(v - g²)·g² > 0 when v > 0: if v > g², it is >= v - g² > 0; else >= v.
    p = program(YOGI)
    assert state_invariants(p)["v"] == iv.POSITIVE
    assert domain_warnings(p) == []


def test_radam_rectifier_is_safe_under_its_branch() -> None:
    # rho_t > 5 implies rho_inf > rho_t > 5, so every factor of the rectifier is positive.
    report = domain_report(program(RADAM))
    assert report.warnings == []
    assert any(c.operand.startswith("(rho_inf - 4)") for c in report.checks)


def test_scalar_state_product_invariant() -> None:
    # mu in [0, 1) and mu_prod starting at 1 keep mu_prod in [0, 1]: 1 - mu_prod·mu > 0.
    p = program(NADAM_PRODUCT)
    assert state_invariants(p)["mu_prod"] == iv.closed(Fraction(0), Fraction(1))
    assert domain_warnings(p) == []


@pytest.mark.parametrize(
    ("body", "condition"),
    [
        ("theta <- theta - g / weight_decay", "weight_decay = 0"),
        ("theta <- theta - lr * sqrt(theta)", "theta < 0"),
        ("theta <- theta - g / (1 - lr)", "lr = 1"),
    ],
)
def test_warnings_name_the_exact_condition(body: str, condition: str) -> None:
    text = f"""optimizer W
cite "x"
convention weight_decay "x"
hyper lr = 1e-3 in (0, inf)
hyper weight_decay = 0 in [0, inf)
step
  {body}
"""
    [warning] = domain_report(program(text)).warnings
    assert warning.condition == condition


def test_where_guard_proves_the_division() -> None:
    text = """optimizer Guarded
cite "x"
hyper lr = 1e-3 in (0, inf)
state v = 0
step
  v <- v + g^2
  theta <- theta - lr * where(v > 0, g / v, 0)
"""
    assert domain_warnings(program(text)) == []


def test_state_that_can_reach_zero_is_not_assumed_positive() -> None:
    text = """optimizer Shrink
cite "x"
hyper lr = 1e-3 in (0, inf)
state s = 1
step
  s <- s * (1 - lr)
  theta <- theta - g / s
"""
    p = program(text)
    assert state_invariants(p)["s"] == iv.REALS  # 1 - lr < 0 is allowed, so no bound survives
    [warning] = domain_report(p).warnings
    assert warning.condition == "s = 0"


def test_fractional_power_of_nonnegative_base_is_safe() -> None:
    text = """optimizer Pow
cite "x"
hyper lr = 1e-3 in (0, inf)
hyper p = 0.5 in (0, 1]
step
  theta <- theta - lr * abs(g)^p * sign(g)
"""
    [check] = domain_report(program(text)).checks
    assert (check.kind, check.status) == ("power", "proved safe")


# -- properties ------------------------------------------------------------------------------------


def test_adam_properties() -> None:
    p = program(ADAM, eps_domain="[0, inf)")
    s = program_symbols(p)
    report = property_report(p)
    g, lr, eps = s["g"], s["lr"], s["eps"]
    assert report.scale_invariance == PROVED
    assert report.exprs["update_at_zero"] == 0
    assert sympy.simplify(report.exprs["first_step"] + lr * g / (sympy.Abs(g) + eps)) == 0
    assert report.exprs["first_step_eps0"] == -lr * sympy.sign(g)
    assert report.first_step_eps0 == "-lr*sign(g)"
    assert report.memory == "2·numel"
    # m: b1*m, (1-b1)*g, + ; v: g^2, b2*v, (1-b2)*g^2, + ; two debias divisions;
    # theta: lr*m_hat, sqrt, + eps, /, theta - ...
    assert report.elementwise_ops == 14
    data = report.to_json()
    assert data["scale_invariance"]["status"] == PROVED
    assert data["memory"]["formula"] == "2·numel"
    assert "first step at eps = 0: dtheta_1 = -lr*sign(g)" in report.render()


def test_adamw_moves_at_zero_gradient() -> None:
    p = program(ADAMW)
    s = program_symbols(p)
    report = property_report(p)
    lr, wd, theta, g = s["lr"], s["weight_decay"], s["theta"], s["g"]
    assert sympy.simplify(report.exprs["update_at_zero"] + lr * wd * theta) == 0
    expected = -lr * (sympy.sign(g) + wd * theta)
    assert sympy.simplify(report.exprs["first_step_eps0"] - expected) == 0
    assert report.scale_invariance == PROVED  # decoupled decay does not read g


def test_sgd_properties() -> None:
    p = program(SGD)
    s = program_symbols(p)
    report = property_report(p)
    assert report.exprs["update_at_zero"] == 0
    assert report.exprs["first_step"] == -s["lr"] * s["g"]
    assert report.first_step_eps0 is None  # no eps hyper
    assert report.scale_invariance == DISPROVED
    assert "step 1" in report.scale_detail
    assert report.memory == "0"
    assert report.elementwise_ops == 2  # lr * g, theta - ...


def test_lion_first_step_is_a_sign_step() -> None:
    p = program(LION)
    s = program_symbols(p)
    report = property_report(p)
    assert report.exprs["first_step"] == -s["lr"] * sympy.sign(s["g"])
    assert report.scale_invariance == PROVED
    assert report.memory == "numel"


def test_memory_counts_scalar_states() -> None:
    assert property_report(program(NADAM_PRODUCT)).memory == "numel + 1"
    assert memory_formula(3, 2) == "3·numel + 2"


def test_sign_rewrite() -> None:
    x, y = sympy.symbols("x y", real=True)
    assert sign_rewrite(-y * x / sympy.Abs(x)) == -y * sympy.sign(x)
    assert sign_rewrite(sympy.Abs(x) * sympy.sign(x)) == x
