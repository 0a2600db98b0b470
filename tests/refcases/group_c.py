"""Reference cases for the per-tensor-reduction additions: StableAdamW, AdaNorm, AdamaxW, Fromage,
C-AdamW, Amos and Polyak's heavy ball.

Every mapping below was checked against the installed library source (torch 2.13 ``torch/optim``,
optax 0.2.8 ``optax/_src``, pytorch_optimizer 4.1.0). Hypers are non-default so that every term of
the spec is exercised (the clipping of StableAdamW, the norm correction of AdaNorm, the min_norm
floor of Fromage, the cautious mask of C-AdamW, Amos's decay state and momentum).

Convention differences the cases map around:
- StableAdamW: pytorch_optimizer folds the bias correction into the decay rates
  (``beta_t = beta * (1 - beta^(t-1)) / (1 - beta^t)``), so its moments are the spec's m_hat and
  v_hat; ``kahan_sum`` only acts on float16 / bfloat16 parameters (off here, float64).
- AdaNorm: pytorch_optimizer adds ``1e-15`` under the root (``sqrt(v + 1e-15) + eps``), which the
  spec leaves out; it shows at ~1e-10 relative where a gradient entry is small, so that case runs
  at rtol 1e-8 (as LaProp in group_b).
- C-AdamW: pytorch_optimizer has no plain cautious AdamW; ``AdEMAMix(alpha=0, cautious=True)`` is
  one (its slow EMA is updated but weighted by 0). It masks the first moment instead of the Adam
  step, which has the same sign.
- Amos: pytorch_optimizer derives the target scale from the shape (``get_scale``: 0.5 up to 1-d,
  ``sqrt(2 / shape[1])`` for 2-d, ``sqrt(1 / shape[1])`` above); the spec takes it as the hyper
  ``target_scale``, so the case overrides ``get_scale`` to return it. ``extra_l2`` stays 0 (the
  spec has none: pytorch_optimizer's ``(gamma - extra_l2) / 2`` weakens the decay, the authors'
  earlier code strengthened it by ``extra_l2``).
- Heavy ball: the spec's Polyak form equals torch.optim.SGD / optax.sgd momentum at a constant lr.

Cases left out:
- optax.fromage at its default ``min_norm = 1e-6``: covered by the min_norm cases below (the spec
  takes min_norm as a hyper; only its default, 0 as in the paper, differs).
- heavyball's AdamW with ``caution=True``: heavyball rescales by ``numel / max(count, 1)`` (no + 1),
  masks by sign bit (zeros count as agreeing) and runs its own AdamW form.
- AdamWN (#26), Adalayer (#104), Adam++ (#96), AdaGrad++ (#97): no torch.optim / optax /
  pytorch_optimizer / heavyball / schedulefree implementation.
- pytorch_optimizer.AvaGrad: not specced (its step-size normalization is a reduction over all
  parameters of the group).
"""

from __future__ import annotations

import optax
import pytorch_optimizer

from tests.refcases import RefCase, shared

# -- helpers ----------------------------------------------------------------------------------


def _amos_with_target_scale(params, h):
    """pytorch_optimizer.Amos whose per-tensor target scale is the spec's ``target_scale``.

    Amos reads the scale through ``self.get_scale(p)``; an instance attribute replaces the shape
    heuristic with the hyper, as a per-variable ``eta_fn`` does in the authors' code.
    """
    opt = pytorch_optimizer.Amos(
        params,
        lr=h["lr"],
        beta=h["beta"],
        momentum=h["momentum"],
        extra_l2=0.0,
        c_coef=h["c_coef"],
        d_coef=h["d_coef"],
        eps=h["eps"],
    )
    opt.get_scale = lambda p: h["target_scale"]
    return opt


_AMOS_HYPERS = {
    "lr": 0.1,
    "beta": 0.9,
    "target_scale": 0.3,
    "momentum": 0.5,
    "c_coef": 0.3,
    "d_coef": 0.2,
    "eps": 1e-18,
}

CASES: list[RefCase] = [
    # -- StableAdamW -------------------------------------------------------------------------------
    shared("stableadamw-vs-pytorch_optimizer"),
    # -- AdaNorm ---------------------------------------------------------------------------------
    RefCase(
        spec="adanorm",
        library="pytorch_optimizer",
        hypers={
            "lr": 1e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "r": 0.5,
            "eps": 1e-4,
            "weight_decay": 0.1,
        },
        build=lambda params, h: pytorch_optimizer.AdaNorm(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            r=h["r"],
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            ams_bound=False,
            eps=h["eps"],
        ),
        note=(
            "pytorch_optimizer.AdaNorm(ams_bound=False, weight_decouple=True, fixed_decay=False): "
            "exp_grad_norm = r*e + (1-r)*norm(g); s = g*e/norm(g) where norm(g) > 0 and e > "
            "norm(g); m lerps to s, v to g^2; step lr/(1-beta1^t) * m / ((sqrt(v + 1e-15) + eps) "
            "/ sqrt(1-beta2^t)); decay theta*(1 - lr*wd) first. r = 0.5 makes the correction "
            "bind within 20 steps. The 1e-15 under the root (left out of the spec) shows at "
            "~1e-10 relative on the smallest gradient entries: rtol 1e-8."
        ),
        rtol=1e-8,
    ),
    # -- AdamaxW ---------------------------------------------------------------------------------
    shared("adamaxw-vs-optax"),
    # -- Fromage ---------------------------------------------------------------------------------
    shared("fromage-vs-pytorch_optimizer"),
    shared("fromage-vs-optax-min_norm-0"),
    RefCase(
        spec="fromage",
        library="optax",
        hypers={"lr": 0.05, "min_norm": 3.0},
        build=lambda h: optax.fromage(learning_rate=h["lr"], min_norm=h["min_norm"]),
        id="fromage-vs-optax-min_norm-3",
        note=(
            "optax.fromage(lr, min_norm=3): safe_norm floors both norms at min_norm "
            "(max(norm, min_norm)); 3 binds for the two smaller parameter norms (~2.0, ~1.6) "
            "and for most gradient norms of the 7-entry tensor (~2.6), not for the rest."
        ),
    ),
    # -- C-AdamW ---------------------------------------------------------------------------------
    RefCase(
        spec="cadamw",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-4, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.AdEMAMix(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"], 0.9999),
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            alpha=0.0,
            t_alpha_beta3=None,
            eps=h["eps"],
            cautious=True,
        ),
        note=(
            "pytorch_optimizer.AdEMAMix(alpha=0, cautious=True, weight_decouple=True): "
            "apply_cautious masks exp_avg where exp_avg*g > 0 and scales by numel/(count + 1), "
            "then /(1-beta1^t) and /(sqrt(v)/sqrt(1-beta2^t) + eps); the slow EMA (beta3) is "
            "weighted by alpha = 0; decay theta*(1 - lr*wd) first, not rescaled by the mask."
        ),
    ),
    # -- Amos ------------------------------------------------------------------------------------
    RefCase(
        spec="amos",
        library="pytorch_optimizer",
        hypers=_AMOS_HYPERS,
        build=_amos_with_target_scale,
        note=(
            "pytorch_optimizer.Amos(extra_l2=0) with get_scale returning target_scale: v lerps to "
            "mean(g^2), r = (1-beta^t)/(v + eps), c = rsqrt(1 + c_coef*sqrt(lr)*b), d = 1/(1 + "
            "d_coef*sqrt(lr*target_scale)*b), gamma = c*lr^2*r*mean(g^2), update = d*(gamma/2*theta"
            " + lr*target_scale*sqrt(r)*g), b <- b*(1+gamma) + gamma, exp_avg lerps to the update "
            "with 1 - momentum. lr = 0.1 makes b grow."
        ),
    ),
    # -- Heavy ball ------------------------------------------------------------------------------
    shared("heavyball-vs-torch.optim"),
    shared("heavyball-vs-optax"),
]
