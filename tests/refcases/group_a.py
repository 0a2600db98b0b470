"""Reference cases for the classical optimizers: SGD family, AdaGrad/AdaDelta/RMSProp, Adam family.

Every mapping below was checked against the installed library source (torch 2.13 ``torch/optim``,
optax 0.2.8 ``optax/_src``, pytorch_optimizer 4.1.0). Hypers are non-default so that every term of
the spec is exercised. Cases left out (library form differs from the spec): optax.adagrad (eps
inside the root, ``where(r > 0, ...)``), optax.amsgrad (max of the debiased v), optax.radam (eps
added to sqrt(v_hat), threshold >= 5), pytorch_optimizer.PAdam (no running max, debiased).
"""

from __future__ import annotations

import optax
import pytorch_optimizer
import torch

from tests.refcases import RefCase


def _optax_coupled(weight_decay, inner):
    """Coupled L2 decay in optax: add weight_decay * params to the gradient, then the optimizer."""
    return optax.chain(optax.add_decayed_weights(weight_decay), inner)


def _nadam_float64(params, h):
    """torch.optim.NAdam, with its scalar state seeded in float64.

    NAdam keeps ``mu_product`` as a tensor of the *default* dtype (float32 unless the caller changed
    it) and multiplies it in place every step, so its product of mu_t would be rounded to float32.
    Seeding the lazily created state (exactly what ``_init_group`` would create) keeps it float64.
    """
    opt = torch.optim.NAdam(
        params,
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        eps=h["eps"],
        weight_decay=h["weight_decay"],
        momentum_decay=h["momentum_decay"],
    )
    for p in (p for group in opt.param_groups for p in group["params"]):
        opt.state[p] = {
            "step": torch.tensor(0.0, dtype=torch.float64),
            "mu_product": torch.tensor(1.0, dtype=torch.float64),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }
    return opt


CASES: list[RefCase] = [
    # -- SGD family ------------------------------------------------------------------------------
    RefCase(
        spec="sgd",
        library="torch.optim",
        hypers={"lr": 0.05, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.SGD(
            params, lr=h["lr"], momentum=0.0, weight_decay=h["weight_decay"]
        ),
        note="torch.optim.SGD(momentum=0): lr, weight_decay coupled into the gradient.",
    ),
    RefCase(
        spec="sgd",
        library="optax",
        hypers={"lr": 0.05, "weight_decay": 0.1},
        build=lambda h: _optax_coupled(h["weight_decay"], optax.sgd(h["lr"])),
        note="optax.chain(add_decayed_weights(weight_decay), sgd(lr)): coupled L2 then SGD.",
    ),
    RefCase(
        spec="momentum",
        library="torch.optim",
        hypers={"lr": 0.05, "momentum": 0.8},
        build=lambda params, h: torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"]),
        note=(
            "torch.optim.SGD(momentum, dampening=0): torch's buffer b = momentum*b + g is the "
            "spec's m / lr (constant lr), so theta -= lr*b equals theta -= m; torch's first-step "
            "b = g coincides with momentum*0 + g."
        ),
    ),
    RefCase(
        spec="momentum",
        library="optax",
        hypers={"lr": 0.05, "momentum": 0.8},
        build=lambda h: optax.sgd(h["lr"], momentum=h["momentum"]),
        note="optax.sgd(lr, momentum): trace t = g + momentum*t (= m / lr), update -lr*t.",
    ),
    RefCase(
        spec="sgdmomentum",
        library="torch.optim",
        hypers={"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.SGD(
            params,
            lr=h["lr"],
            momentum=h["momentum"],
            dampening=h["dampening"],
            weight_decay=h["weight_decay"],
        ),
        note=(
            "torch.optim.SGD(momentum, dampening, weight_decay): same names; buf = g "
            "(undampened) on step 1, buf = momentum*buf + (1 - dampening)*g after; weight_decay "
            "coupled."
        ),
    ),
    RefCase(
        spec="sgdmomentum",
        library="optax",
        hypers={"lr": 0.05, "momentum": 0.8, "dampening": 0.0, "weight_decay": 0.1},
        build=lambda h: _optax_coupled(
            h["weight_decay"], optax.sgd(h["lr"], momentum=h["momentum"])
        ),
        note=(
            "optax.chain(add_decayed_weights(weight_decay), sgd(lr, momentum)); optax has no "
            "dampening, so dampening = 0 here (its trace starts at 0: momentum*0 + g = g on "
            "step 1)."
        ),
        id="sgdmomentum-vs-optax-undampened",
    ),
    RefCase(
        spec="sgdnesterov",
        library="torch.optim",
        hypers={"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.SGD(
            params,
            lr=h["lr"],
            momentum=h["momentum"],
            nesterov=True,
            weight_decay=h["weight_decay"],
        ),
        note=(
            "torch.optim.SGD(nesterov=True, dampening=0): buf = momentum*buf + g, step "
            "lr*(g + momentum*buf); weight_decay coupled."
        ),
    ),
    RefCase(
        spec="sgdnesterov",
        library="optax",
        hypers={"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1},
        build=lambda h: _optax_coupled(
            h["weight_decay"], optax.sgd(h["lr"], momentum=h["momentum"], nesterov=True)
        ),
        note=(
            "optax.chain(add_decayed_weights(weight_decay), sgd(lr, momentum, nesterov=True)): "
            "trace t = g + momentum*t, update -lr*(g + momentum*t)."
        ),
    ),
    # -- AdaGrad / AdaDelta / RMSProp ------------------------------------------------------------
    RefCase(
        spec="adagrad",
        library="torch.optim",
        hypers={
            "lr": 0.05,
            "lr_decay": 0.01,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.2,
            "eps": 1e-3,
        },
        build=lambda params, h: torch.optim.Adagrad(
            params,
            lr=h["lr"],
            lr_decay=h["lr_decay"],
            weight_decay=h["weight_decay"],
            initial_accumulator_value=h["initial_accumulator_value"],
            eps=h["eps"],
        ),
        note=(
            "torch.optim.Adagrad: same names; clr = lr/(1 + (t-1)*lr_decay), eps outside the root, "
            "weight_decay coupled, sum starts at initial_accumulator_value."
        ),
    ),
    RefCase(
        spec="adadelta",
        library="torch.optim",
        hypers={"lr": 0.5, "rho": 0.8, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.Adadelta(
            params, lr=h["lr"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"]
        ),
        note=(
            "torch.optim.Adadelta: same names; delta = sqrt(u + eps)/sqrt(v + eps)*g, u "
            "accumulates delta before lr, weight_decay coupled."
        ),
    ),
    RefCase(
        spec="adadelta",
        library="optax",
        hypers={"lr": 0.5, "rho": 0.8, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda h: optax.adadelta(
            h["lr"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"]
        ),
        note=(
            "optax.adadelta(learning_rate=lr, rho, eps, weight_decay): add_decayed_weights "
            "(coupled) then scale_by_adadelta, identical to torch's form."
        ),
    ),
    RefCase(
        spec="rmsprop",
        library="torch.optim",
        hypers={"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.RMSprop(
            params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"], weight_decay=h["weight_decay"]
        ),
        note="torch.optim.RMSprop(momentum=0, centered=False): same names; eps outside the root.",
    ),
    RefCase(
        spec="rmsprop",
        library="optax",
        hypers={"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda h: _optax_coupled(
            h["weight_decay"],
            optax.rmsprop(h["lr"], decay=h["alpha"], eps=h["eps"], eps_in_sqrt=False),
        ),
        note=(
            "optax.chain(add_decayed_weights(weight_decay), rmsprop(lr, decay=alpha, eps, "
            "eps_in_sqrt=False)); initial_scale = 0 as the spec's v = 0."
        ),
    ),
    RefCase(
        spec="rmspropdebiased",
        library="optax",
        hypers={"lr": 0.01, "beta2": 0.9, "eps": 1e-3},
        build=lambda h: optax.rmsprop(
            h["lr"], decay=h["beta2"], eps=h["eps"], eps_in_sqrt=False, bias_correction=True
        ),
        note="optax.rmsprop(lr, decay=beta2, eps, eps_in_sqrt=False, bias_correction=True).",
    ),
    RefCase(
        spec="rmspropdebiased",
        library="torch.optim",
        hypers={"lr": 0.01, "beta2": 0.9, "eps": 1e-3},
        build=lambda params, h: torch.optim.Adam(
            params, lr=h["lr"], betas=(0.0, h["beta2"]), eps=h["eps"]
        ),
        note="torch.optim.Adam(betas=(0, beta2)): Adam with beta1 = 0 is debiased RMSProp.",
    ),
    # -- Adam family -----------------------------------------------------------------------------
    RefCase(
        spec="adam",
        library="torch.optim",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
        build=lambda params, h: torch.optim.Adam(
            params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"]
        ),
        note="torch.optim.Adam(weight_decay=0, amsgrad=False): betas = (beta1, beta2).",
    ),
    RefCase(
        spec="adam",
        library="optax",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
        build=lambda h: optax.adam(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"]),
        note="optax.adam(lr, b1=beta1, b2=beta2, eps, eps_root=0).",
    ),
    RefCase(
        spec="adamw",
        library="torch.optim",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.AdamW(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            eps=h["eps"],
            weight_decay=h["weight_decay"],
        ),
        note="torch.optim.AdamW: theta *= 1 - lr*weight_decay before the Adam step.",
    ),
    RefCase(
        spec="adamw",
        library="optax",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda h: optax.adamw(
            h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"], weight_decay=h["weight_decay"]
        ),
        note=(
            "optax.adamw: update -lr*(adam_update + weight_decay*theta), algebraically the same as "
            "torch's theta*(1 - lr*wd) - lr*adam_update."
        ),
    ),
    RefCase(
        spec="amsgrad",
        library="torch.optim",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
        build=lambda params, h: torch.optim.Adam(
            params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], amsgrad=True
        ),
        note=(
            "torch.optim.Adam(amsgrad=True, weight_decay=0): max of the raw v, then "
            "sqrt(v_max)/sqrt(1 - beta2^t) + eps."
        ),
    ),
    RefCase(
        spec="adamax",
        library="torch.optim",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.Adamax(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            eps=h["eps"],
            weight_decay=h["weight_decay"],
        ),
        note="torch.optim.Adamax: u = max(beta2*u, |g| + eps); weight_decay coupled.",
    ),
    RefCase(
        spec="adamax",
        library="optax",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda h: _optax_coupled(
            h["weight_decay"], optax.adamax(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"])
        ),
        note=(
            "optax.chain(add_decayed_weights(weight_decay), adamax(lr, b1, b2, eps)): "
            "nu = max(|g| + eps, b2*nu), as torch."
        ),
    ),
    RefCase(
        spec="yogi",
        library="optax",
        hypers={
            "lr": 0.01,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-2,
            "initial_accumulator_value": 0.05,
        },
        build=lambda h: optax.chain(
            optax.scale_by_yogi(
                b1=h["beta1"],
                b2=h["beta2"],
                eps=h["eps"],
                initial_accumulator_value=h["initial_accumulator_value"],
            ),
            optax.scale_by_learning_rate(h["lr"]),
        ),
        note=(
            "optax.yogi is chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(lr)); built "
            "from the parts to pass initial_accumulator_value (m and v both start there)."
        ),
    ),
    RefCase(
        spec="yogi",
        library="pytorch_optimizer",
        hypers={
            "lr": 0.01,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-2,
            "initial_accumulator_value": 0.05,
        },
        build=lambda params, h: pytorch_optimizer.Yogi(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            eps=h["eps"],
            initial_accumulator=h["initial_accumulator_value"],
            weight_decay=0.0,
        ),
        note=(
            "pytorch_optimizer.Yogi(initial_accumulator=initial_accumulator_value, "
            "weight_decay=0): m, v start at initial_accumulator; denominator "
            "sqrt(v)/sqrt(1 - beta2^t) + eps, step size lr/(1 - beta1^t)."
        ),
    ),
    RefCase(
        spec="nadam",
        library="torch.optim",
        hypers={
            "lr": 0.01,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-3,
            "weight_decay": 0.1,
            "momentum_decay": 0.05,
        },
        build=_nadam_float64,
        note=(
            "torch.optim.NAdam(decoupled_weight_decay=False): same names; torch's mu_product is "
            "the spec's scalar state mu_prod (seeded in float64: torch keeps it in the default "
            "dtype)."
        ),
    ),
    RefCase(
        spec="nadamdozat",
        library="optax",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
        build=lambda h: optax.nadam(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"]),
        note=(
            "optax.nadam = adam(nesterov=True): "
            "m_hat = b1*m/(1 - b1^(t+1)) + (1 - b1)*g/(1 - b1^t)."
        ),
    ),
    RefCase(
        spec="radam",
        library="torch.optim",
        hypers={"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.RAdam(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            eps=h["eps"],
            weight_decay=h["weight_decay"],
        ),
        note=(
            "torch.optim.RAdam(decoupled_weight_decay=False): rectified branch when rho_t > 5 "
            "(beta2 = 0.95 reaches it at step 6, so both branches run in 20 steps); eps added to "
            "sqrt(v) with sqrt(1 - beta2^t) in the numerator."
        ),
        steps=30,
    ),
]
