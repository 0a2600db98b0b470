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

from tests.refcases import RefCase, shared

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

CASES: list[RefCase] = [
    # -- AdaBelief ---------------------------------------------------------------------------------
    shared("adabelief-vs-pytorch_optimizer"),
    shared("adabelief-vs-optax"),
    # -- AdaBound --------------------------------------------------------------------------------
    shared("adabound-vs-pytorch_optimizer"),
    # -- Adan ------------------------------------------------------------------------------------
    shared("adan-vs-pytorch_optimizer"),
    # -- AdEMAMix --------------------------------------------------------------------------------
    shared("ademamix-vs-pytorch_optimizer"),
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
    shared("rprop-vs-torch.optim"),
    # -- SignSGD / Signum ------------------------------------------------------------------------
    shared("signsgd-vs-pytorch_optimizer"),
    shared("signsgd-vs-optax"),
    shared("signum-vs-pytorch_optimizer"),
    shared("signum-vs-optax"),
    # -- Lion / Tiger ----------------------------------------------------------------------------
    shared("lion-vs-pytorch_optimizer"),
    shared("lion-vs-optax"),
    shared("tiger-vs-pytorch_optimizer"),
    # -- Grams -----------------------------------------------------------------------------------
    shared("grams-vs-pytorch_optimizer"),
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
    shared("laprop-vs-pytorch_optimizer", flags={"foreach": False}, rtol=1e-8, atol=1e-10),
    # -- ADOPT -----------------------------------------------------------------------------------
    shared("adopt-vs-pytorch_optimizer"),
    shared("adopt-vs-optax"),
    # -- MADGRAD ---------------------------------------------------------------------------------
    shared("madgrad-vs-pytorch_optimizer"),
    shared("madgrad-vs-optax", rtol=1e-5, atol=1e-7),
    # -- NAdamW ----------------------------------------------------------------------------------
    shared("nadamw-vs-optax"),
    # -- QHAdam / QHM ----------------------------------------------------------------------------
    shared("qhadam-vs-pytorch_optimizer", rtol=1e-6, atol=1e-8),
    shared("qhm-vs-pytorch_optimizer"),
    # -- trust-ratio methods (per-tensor reductions) --------------------------------------------
    shared("lamb-vs-optax"),
    shared("lars-vs-optax"),
    shared("novograd-vs-optax"),
]
