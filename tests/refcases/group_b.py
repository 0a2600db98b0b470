"""Reference cases for the Adam derivatives, sign methods, dual averaging and quasi-hyperbolic methods.

Every mapping below was checked against the installed library source (torch 2.13 ``torch/optim``,
optax 0.2.8 ``optax/_src`` and ``optax/contrib``, pytorch_optimizer 4.1.0). Hypers are non-default
so that every term of the spec is exercised; every hyper is named so that ``build`` can read it.

Cases left out:
- optax.adan: it weights the gradient difference by ``1 - b2`` (in ``v``'s use and in ``n``) while
  ``b2`` is the keep rate of ``v``; the official code and pytorch_optimizer weight it by ``beta2``
  (the paper's ``1 - beta2`` with the paper's small betas). Its weight decay is also AdamW-style,
  not the proximal one. The spec follows pytorch_optimizer.
- optax.rprop: its update is ``where(s < 0, 0, state.prev_updates)``, the *previous* step's move
  (its lambda reads the old ``prev_updates``), so it lags torch.optim.Rprop by one step (θ does not
  move on step 1). The spec follows torch.optim.Rprop.
- optax.contrib.adopt with its default ``clip_value_fn``: it clips at ``(t - 1)^0.25``; the case
  below passes ``clip_value_fn = (count + 1)^0.25`` to get the official ``t^0.25``.
- AdaX, CAdam, AdamPower, ACClip, DualAveraging: no torch.optim / optax / pytorch_optimizer
  implementation.

pytorch_optimizer adds ``1e-15`` under the root in AdaBound, LaProp and AdamC
(``apply_ams_bound(..., exp_avg_sq_eps=1e-15)``), which the specs leave out. It is invisible where
the clip binds (AdaBound) or the decay dominates (AdamC) on the test stream, but LaProp puts the
normalized gradient itself into the step, so a near-zero gradient entry shows it at ~1e-10
relative: that case runs at rtol 1e-8.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import optax
import pytorch_optimizer
import torch

from tests.refcases import RefCase

# -- helpers ----------------------------------------------------------------------------------


def _adamc_normalized(params, h):
    """pytorch_optimizer.AdamC for a normalized layer with lr != max_lr.

    AdamC records ``max_lr`` as the lr it is built with and scales the decay of groups flagged
    ``normalized`` by ``lr**2 / max_lr``; building with ``max_lr`` and then setting the group's lr
    (as an lr scheduler would) gives the spec's ``lr`` and ``max_lr``.
    """
    opt = pytorch_optimizer.AdamC(
        params,
        lr=h["max_lr"],
        betas=(h["beta1"], h["beta2"]),
        weight_decay=h["weight_decay"],
        weight_decouple=True,
        fixed_decay=False,
        ams_bound=False,
        eps=h["eps"],
    )
    for group in opt.param_groups:
        group["lr"] = h["lr"]
        group["normalized"] = True
    return opt


def _ademamix_schedules(h):
    """The spec's alpha_t and beta3_t as optax schedules of optax's 0-based count (t = count + 1)."""
    alpha, beta1, beta3, warmup = h["alpha"], h["beta1"], h["beta3"], h["t_alpha_beta3"]
    log_b1, log_b3 = math.log(beta1), math.log(beta3)

    # count is int32: cast before dividing (int32 / int and sqrt(int32) give float32 in jax).
    def alpha_fn(count):
        t = jnp.asarray(count, dtype=jnp.float64) + 1
        return jnp.minimum(t * alpha / warmup, alpha)

    def beta3_fn(count):
        frac = (jnp.asarray(count, dtype=jnp.float64) + 1) / warmup
        return jnp.minimum(jnp.exp(log_b1 * log_b3 / ((1 - frac) * log_b3 + frac * log_b1)), beta3)

    return alpha_fn, beta3_fn


def _optax_ademamix(h):
    alpha_fn, beta3_fn = _ademamix_schedules(h)
    return optax.contrib.ademamix(
        learning_rate=h["lr"],
        b1=h["beta1"],
        b2=h["beta2"],
        b3=beta3_fn,
        alpha=alpha_fn,
        eps=h["eps"],
        eps_root=0.0,
        weight_decay=h["weight_decay"],
    )


_ADEMAMIX_HYPERS = {
    "lr": 1e-2,
    "beta1": 0.85,
    "beta2": 0.99,
    "beta3": 0.995,
    "alpha": 3.0,
    "t_alpha_beta3": 10,
    "eps": 1e-6,
    "weight_decay": 0.1,
}

_RPROP_HYPERS = {
    "lr": 0.05,
    "eta_minus": 0.4,
    "eta_plus": 1.3,
    "min_step_size": 0.03,
    "max_step_size": 0.1,
}


CASES: list[RefCase] = [
    # -- AdaBelief ---------------------------------------------------------------------------------
    RefCase(
        spec="adabelief",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-4, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.AdaBelief(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            rectify=False,
            ams_bound=False,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.AdaBelief(rectify=False, ams_bound=False, weight_decouple=True, "
            "fixed_decay=False): s = beta2*s + (1-beta2)*(g-m)^2 + eps, denominator "
            "sqrt(s)/sqrt(1-beta2^t) + eps = sqrt(s_hat) + eps, step lr/(1-beta1^t); decay "
            "theta*(1 - lr*weight_decay) before the step (the step does not read theta)."
        ),
    ),
    RefCase(
        spec="adabelief",
        library="optax",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-4, "weight_decay": 0.0},
        build=lambda h: optax.adabelief(
            learning_rate=h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"], eps_root=h["eps"]
        ),
        note=(
            "optax.adabelief(b1=beta1, b2=beta2, eps=eps, eps_root=eps): optax's eps_root is "
            "the spec's eps inside s (added after the EMA), its eps the one outside the root; "
            "optax has no weight decay, so weight_decay = 0."
        ),
    ),
    # -- AdaBound --------------------------------------------------------------------------------
    RefCase(
        spec="adabound",
        library="pytorch_optimizer",
        hypers={
            "lr": 1e-2,
            "final_lr": 2e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "gamma": 0.1,
            "eps": 1e-6,
            "weight_decay": 0.1,
        },
        build=lambda params, h: pytorch_optimizer.AdaBound(
            params,
            lr=h["lr"],
            final_lr=h["final_lr"],
            betas=(h["beta1"], h["beta2"]),
            gamma=h["gamma"],
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            ams_bound=False,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.AdaBound(ams_bound=False, weight_decouple=True): "
            "clamp(lr*sqrt(1-beta2^t)/(1-beta1^t) / (sqrt(v + 1e-15) + eps), "
            "final_lr*(1 - 1/(gamma*t+1)), final_lr*(1 + 1/(gamma*t))) * m; final_lr is scaled by "
            "lr/base_lr = 1 (constant lr); decay theta*(1 - lr*weight_decay). gamma = 0.1 and "
            "final_lr = 2*lr make both bounds bind within 20 steps."
        ),
    ),
    # -- Adan ------------------------------------------------------------------------------------
    RefCase(
        spec="adan",
        library="pytorch_optimizer",
        hypers={
            "lr": 1e-2,
            "beta1": 0.9,
            "beta2": 0.85,
            "beta3": 0.95,
            "eps": 1e-6,
            "weight_decay": 0.1,
        },
        build=lambda params, h: pytorch_optimizer.Adan(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"], h["beta3"]),
            weight_decay=h["weight_decay"],
            weight_decouple=False,
            max_grad_norm=0.0,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.Adan(weight_decouple=False, max_grad_norm=0): previous_grad starts "
            "at -g_1 so the first difference is 0; m, v (of differences), n (of "
            "(g + beta2*d)^2) all lerp with weight 1 - beta; step lr*(m/bc1 + beta2*v/bc2) / "
            "(sqrt(n)/sqrt(bc3) + eps), then theta /= 1 + lr*weight_decay (proximal decay)."
        ),
    ),
    # -- AdEMAMix --------------------------------------------------------------------------------
    RefCase(
        spec="ademamix",
        library="pytorch_optimizer",
        hypers=_ADEMAMIX_HYPERS,
        build=lambda params, h: pytorch_optimizer.AdEMAMix(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"], h["beta3"]),
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            alpha=h["alpha"],
            t_alpha_beta3=h["t_alpha_beta3"],
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.AdEMAMix(weight_decouple=True; its default False is coupled L2): "
            "schedule_alpha / schedule_beta3 evaluated at the 1-based step t are the spec's "
            "alpha_t / beta3_t; denominator sqrt(v)/sqrt(1-beta2^t) + eps; decay "
            "theta*(1 - lr*weight_decay). t_alpha_beta3 = 10 covers the warmup and the plateau."
        ),
    ),
    RefCase(
        spec="ademamix",
        library="optax",
        hypers=_ADEMAMIX_HYPERS,
        build=_optax_ademamix,
        note=(
            "optax.contrib.ademamix(b3=schedule, alpha=schedule, eps_root=0, weight_decay): optax "
            "calls the schedules with its 0-based count_m2, so they are the spec's alpha_t / "
            "beta3_t at t = count + 1; m2 is not debiased; -lr*(update + weight_decay*theta)."
        ),
    ),
    # -- Rprop -----------------------------------------------------------------------------------
    RefCase(
        spec="rprop",
        library="torch.optim",
        hypers=_RPROP_HYPERS,
        build=lambda params, h: torch.optim.Rprop(
            params,
            lr=h["lr"],
            etas=(h["eta_minus"], h["eta_plus"]),
            step_sizes=(h["min_step_size"], h["max_step_size"]),
        ),
        note=(
            "torch.optim.Rprop(etas=(eta_minus, eta_plus), step_sizes=(min_step_size, "
            "max_step_size)): factor from sign(g*prev), clamp, gradient zeroed after a sign "
            "change and stored as prev. min 0.03 / max 0.1 around lr 0.05 make both clamps bind."
        ),
    ),
    # -- SignSGD / Signum ------------------------------------------------------------------------
    RefCase(
        spec="signsgd",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.SignSGD(
            params, lr=h["lr"], momentum=0.0, weight_decay=h["weight_decay"], weight_decouple=True
        ),
        note="pytorch_optimizer.SignSGD(momentum=0, weight_decouple=True): theta*(1-lr*wd) - lr*sign(g).",
    ),
    RefCase(
        spec="signsgd",
        library="optax",
        hypers={"lr": 1e-2, "weight_decay": 0.0},
        build=lambda h: optax.sign_sgd(learning_rate=h["lr"]),
        note="optax.sign_sgd(lr): -lr*sign(g); no weight decay in optax, so weight_decay = 0.",
    ),
    RefCase(
        spec="signum",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta": 0.8, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.SignSGD(
            params,
            lr=h["lr"],
            momentum=h["beta"],
            weight_decay=h["weight_decay"],
            weight_decouple=True,
        ),
        note=(
            "pytorch_optimizer.SignSGD(momentum=beta, weight_decouple=True): buffer lerp(g, "
            "1-beta) = EMA, theta*(1-lr*wd) - lr*sign(buffer)."
        ),
    ),
    RefCase(
        spec="signum",
        library="optax",
        hypers={"lr": 1e-2, "beta": 0.8, "weight_decay": 0.0},
        build=lambda h: optax.signum(learning_rate=h["lr"], beta=h["beta"]),
        note="optax.signum(lr, beta): ema(debias=False) then sign; no weight decay, so weight_decay = 0.",
    ),
    # -- Lion / Tiger ----------------------------------------------------------------------------
    RefCase(
        spec="lion",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.Lion(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
        ),
        note=(
            "pytorch_optimizer.Lion(weight_decouple=True, fixed_decay=False): "
            "sign(lerp(m, g, 1-beta1)), m lerps with 1-beta2, decay theta*(1-lr*wd)."
        ),
    ),
    RefCase(
        spec="lion",
        library="optax",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1},
        build=lambda h: optax.lion(
            learning_rate=h["lr"], b1=h["beta1"], b2=h["beta2"], weight_decay=h["weight_decay"]
        ),
        note="optax.lion(b1=beta1, b2=beta2, weight_decay): -lr*(sign(c) + weight_decay*theta).",
    ),
    RefCase(
        spec="tiger",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta": 0.8, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.Tiger(
            params,
            lr=h["lr"],
            beta=h["beta"],
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
        ),
        note="pytorch_optimizer.Tiger(weight_decouple=True): m lerps with 1-beta, theta*(1-lr*wd) - lr*sign(m).",
    ),
    # -- Grams -----------------------------------------------------------------------------------
    RefCase(
        spec="grams",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-4, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.Grams(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.Grams(weight_decouple=True): |m_hat/(sqrt(v)/sqrt(bc2) + eps)| * "
            "sign(g), decay theta*(1-lr*wd) (fixed_decay forced False)."
        ),
    ),
    # -- AdamC -----------------------------------------------------------------------------------
    RefCase(
        spec="adamc",
        library="pytorch_optimizer",
        hypers={
            "lr": 5e-3,
            "max_lr": 2e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-4,
            "weight_decay": 0.5,
        },
        build=_adamc_normalized,
        note=(
            "pytorch_optimizer.AdamC built with lr=max_lr (recorded as max_lr), then the group's "
            "lr set to lr and normalized=True: decay theta*(1 - weight_decay*lr^2/max_lr), step "
            "lr*m_hat / ((sqrt(v + 1e-15) + eps)/sqrt(1-beta2^t))."
        ),
    ),
    # -- LaProp ----------------------------------------------------------------------------------
    RefCase(
        spec="laprop",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-4, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.LaProp(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            centered=False,
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            ams_bound=False,
            eps=h["eps"],
            foreach=False,
        ),
        note=(
            "pytorch_optimizer.LaProp(centered=False, ams_bound=False, weight_decouple=True, "
            "foreach=False: the foreach path keeps the per-step 1/(1-beta1^t) in float32): "
            "m = beta1*m + (1-beta1)*lr*g/((sqrt(v + 1e-15) + eps)/sqrt(1-beta2^t)), theta -= "
            "m/(EMA of lr / lr) = m/(1-beta1^t) for a constant lr, then theta*(1-lr*wd) on the "
            "updated theta. The library's 1e-15 under the root shows at ~1e-10 relative for "
            "near-zero gradient entries: rtol 1e-8."
        ),
        rtol=1e-8,
        atol=1e-10,
    ),
    # -- ADOPT -----------------------------------------------------------------------------------
    RefCase(
        spec="adopt",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-2, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.ADOPT(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.ADOPT(weight_decouple=True, default clip_lambda = step^0.25): "
            "step 1 only sets v = g^2 (after the decay theta*(1-lr*wd)); later steps clamp "
            "g/max(sqrt(v_prev), eps) to +-t^0.25, lerp m, theta -= lr*m, then update v. "
            "eps = 1e-2 makes the floor bind for small |g|."
        ),
    ),
    RefCase(
        spec="adopt",
        library="optax",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-2, "weight_decay": 0.0},
        build=lambda h: optax.contrib.adopt(
            learning_rate=h["lr"],
            b1=h["beta1"],
            b2=h["beta2"],
            eps=h["eps"],
            use_clipping=True,
            clip_value_fn=lambda count: (count + 1) ** 0.25,
        ),
        note=(
            "optax.contrib.adopt(clip_value_fn=(count+1)^0.25): optax's count is t-1, so this is "
            "the spec's t^0.25 (optax's default count^0.25 clips one step behind); on the first "
            "step b1_=1, b2_=0 give m = 0, v = g^2; no weight decay in optax, so weight_decay = 0."
        ),
    ),
    # -- MADGRAD ---------------------------------------------------------------------------------
    RefCase(
        spec="madgrad",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "momentum": 0.8, "eps": 1e-4, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.MADGRAD(
            params,
            lr=h["lr"],
            momentum=h["momentum"],
            weight_decay=h["weight_decay"],
            weight_decouple=False,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.MADGRAD(weight_decouple=False): g += wd*theta; lambda = (lr + eps)*"
            "sqrt(k+1) with k = t-1; x0 = initial theta (momentum > 0); z = x0 - s/(cbrt(nu) + eps); "
            "theta.lerp_(z, 1 - momentum)."
        ),
    ),
    RefCase(
        spec="madgrad",
        library="optax",
        hypers={"lr": 1e-2, "momentum": 0.8, "eps": 1e-4, "weight_decay": 0.1},
        build=lambda h: optax.contrib.madgrad(
            learning_rate=h["lr"],
            momentum=h["momentum"],
            weight_decay=h["weight_decay"],
            eps=h["eps"],
        ),
        note=(
            "optax.contrib.madgrad: add_decayed_weights (coupled L2) then scale_by_madgrad, whose "
            "update is x_new - theta with x_new = (1-momentum)*z + momentum*theta, lambda = "
            "(lr + eps)*sqrt(count + 1); optax takes sqrt of the int32 count, which jax "
            "computes in float32, so lambda carries ~1e-7 relative error: rtol 1e-5."
        ),
        rtol=1e-5,
        atol=1e-7,
    ),
    # -- NAdamW ----------------------------------------------------------------------------------
    RefCase(
        spec="nadamw",
        library="optax",
        hypers={
            "lr": 1e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-6,
            "eps_root": 1e-8,
            "weight_decay": 0.1,
        },
        build=lambda h: optax.nadamw(
            learning_rate=h["lr"],
            b1=h["beta1"],
            b2=h["beta2"],
            eps=h["eps"],
            eps_root=h["eps_root"],
            weight_decay=h["weight_decay"],
        ),
        note=(
            "optax.nadamw = adamw(nesterov=True): m_hat = bias_correction(mu, b1, t+1) blended "
            "with bias_correction(g, b1, t) by b1, m_hat/(sqrt(v_hat + eps_root) + eps), then "
            "add_decayed_weights and -lr."
        ),
    ),
    # -- QHAdam / QHM ----------------------------------------------------------------------------
    RefCase(
        spec="qhadam",
        library="pytorch_optimizer",
        hypers={
            "lr": 1e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "nu1": 0.7,
            "nu2": 0.6,
            "eps": 1e-6,
            "weight_decay": 0.1,
        },
        build=lambda params, h: pytorch_optimizer.QHAdam(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            nus=(h["nu1"], h["nu2"]),
            weight_decay=h["weight_decay"],
            weight_decouple=False,
            fixed_decay=False,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.QHAdam(nus=(nu1, nu2), weight_decouple=False): g += wd*theta; the "
            "moments lerp with weight 1/w_t, w_t = beta*w_{t-1} + 1, which is the debiased EMA; "
            "but w_t is kept in float32, so the weights carry ~1e-7 relative error: tolerances "
            "are loosened to rtol 1e-6."
        ),
        rtol=1e-6,
        atol=1e-8,
    ),
    RefCase(
        spec="qhm",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "momentum": 0.8, "nu": 0.7, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.QHM(
            params,
            lr=h["lr"],
            momentum=h["momentum"],
            nu=h["nu"],
            weight_decay=h["weight_decay"],
            weight_decouple=False,
            fixed_decay=False,
        ),
        note=(
            "pytorch_optimizer.QHM(weight_decouple=False): g += wd*theta, buffer lerp(g, "
            "1-momentum), theta -= lr*(nu*buffer + (1-nu)*g)."
        ),
    ),
    # -- trust-ratio methods (per-tensor reductions) --------------------------------------------
    RefCase(
        spec="lamb",
        library="optax",
        hypers={"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda h: optax.lamb(
            h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"], weight_decay=h["weight_decay"]
        ),
        note=(
            "optax.lamb = scale_by_adam(b1, b2, eps, eps_root=0), add_decayed_weights, "
            "scale_by_trust_ratio (norm(theta) / norm(u), 1 where either is 0), lr."
        ),
    ),
    RefCase(
        spec="lars",
        library="optax",
        hypers={
            "lr": 0.05,
            "weight_decay": 0.1,
            "trust_coefficient": 0.02,
            "eps": 1e-3,
            "momentum": 0.8,
        },
        build=lambda h: optax.lars(
            h["lr"],
            weight_decay=h["weight_decay"],
            trust_coefficient=h["trust_coefficient"],
            eps=h["eps"],
            momentum=h["momentum"],
        ),
        note=(
            "optax.lars = add_decayed_weights, scale_by_trust_ratio(trust_coefficient, eps) "
            "(masks True: every tensor), scale by lr, trace(momentum): the trace holds the "
            "lr-scaled steps, theta -= trace."
        ),
    ),
    RefCase(
        spec="novograd",
        library="optax",
        hypers={"lr": 0.05, "beta1": 0.8, "beta2": 0.6, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda h: optax.novograd(
            h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"], weight_decay=h["weight_decay"]
        ),
        note=(
            "optax.novograd = scale_by_novograd(b1, b2, eps, eps_root=0, weight_decay), lr: nu = "
            "norm(g)^2 on step 1, then an EMA; m = b1*m + g/(sqrt(nu) + eps) + wd*theta."
        ),
    ),
]
