"""Reference cases added for issue 7 (item 10): optax.lookahead, pytorch_optimizer's Lamb, LARS
and NovoGrad, and Schedule-Free AdamW (both forms) against schedulefree.

Mappings checked against optax 0.2.8 (``optax/_src/lookahead.py``), pytorch_optimizer 4.1.0
(``optimizer/lamb.py``, ``lars.py``, ``novograd.py``) and schedulefree 1.4.1
(``adamw_schedulefree.py``). Where a library's convention differs from the spec's, the case
fixes the flags and hypers on which the two compute the same thing and its note says what
differs elsewhere:

- pytorch_optimizer.Lamb does not debias v (update = m / (sqrt(v) + eps)), puts eps into the
  trust ratio's denominator too (||p|| / (||update|| + eps)), clamps ||p|| at 10, and applies
  weight decay either decoupled (p *= 1 - lr * wd, before the ratio is taken) or coupled onto
  the undebiased update; specs/lamb.opt (optax.lamb) adds wd * theta to the debiased Adam
  direction. The trust ratio makes the step lr * ||theta|| * u / ||u||, so the missing debias of
  v only scales u, and with adam_debias = True (no 1 / (1 - beta1^t) on the step size) the two
  agree up to the eps terms when weight_decay = 0: compared with eps = 1e-30 and ||theta|| < 10.
  No flag makes the decay terms agree (both of its forms weight wd * theta against an undebiased
  direction, or scale theta before the ratio).
- pytorch_optimizer.Lars applies the trust ratio and the weight decay only to parameters with
  more than one dimension, and its ratio is tc * ||p|| / (||g|| + wd * ||p||) (the norms added,
  no eps), where specs/lars.opt (optax.lars) takes tc * ||theta|| / (||g + wd * theta|| + eps)
  on every tensor: compared on 2-d and 3-d parameters with weight_decay = 0 and eps = 0. Its
  momentum buffer holds ratio * u and p -= lr * buf, the spec's buffer lr * ratio * u: equal for
  a constant lr.
- pytorch_optimizer.NovoGrad(grad_averaging=False, weight_decouple=False) is the spec exactly
  (coupled decay on the normalized gradient, m = g_hat on the first step = beta1 * 0 + g_hat).
"""

from __future__ import annotations

from typing import NamedTuple

import optax
import pytorch_optimizer
import schedulefree

from tests.refcases import RefCase


class _LookaheadState(NamedTuple):
    inner: optax.LookaheadState
    slow: optax.Params


def _lookahead_on_fast_params(inner: optax.GradientTransformation) -> optax.GradientTransformation:
    """optax.lookahead steps a LookaheadParams(fast, slow) pair; the harness (like the spec)
    steps the fast parameters only. This keeps the slow ones in the state and applies
    lookahead's slow updates to them, so the parameters are lookahead's fast parameters."""

    def init(params):
        return _LookaheadState(inner.init(optax.LookaheadParams(fast=params, slow=params)), params)

    def update(grads, state, params):
        pair = optax.LookaheadParams(fast=params, slow=state.slow)
        updates, inner_state = inner.update(grads, state.inner, pair)
        return updates.fast, _LookaheadState(
            inner_state, optax.apply_updates(state.slow, updates.slow)
        )

    return optax.GradientTransformation(init, update)


def _schedulefree_adamw(params, h):
    opt = schedulefree.AdamWScheduleFree(
        params,
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        eps=h["eps"],
        weight_decay=h["weight_decay"],
        warmup_steps=h["warmup_steps"],
        r=h["r"],
        weight_lr_power=h["weight_lr_power"],
        foreach=False,
    )
    opt.train()  # schedulefree starts in eval mode
    return opt


_SF_HYPERS = {
    "lr": 0.05,
    "beta1": 0.8,
    "beta2": 0.95,
    "weight_decay": 0.1,
    "warmup_steps": 3,
    "r": 0.5,
    "weight_lr_power": 2.0,
}
_SF_NOTE = (
    "schedulefree.AdamWScheduleFree(lr, betas=(beta1, beta2), eps, weight_decay, warmup_steps, "
    "r, weight_lr_power, foreach=False): the parameters are y in train mode; train() is called "
    "in the build (schedulefree starts in eval mode)."
)

CASES: list[RefCase] = [
    RefCase(
        spec="lookaheadadam",
        library="optax",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "k": 3, "alpha": 0.4},
        build=lambda h: _lookahead_on_fast_params(
            optax.lookahead(
                optax.adam(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"]),
                sync_period=h["k"],
                slow_step_size=h["alpha"],
                reset_state=False,
            )
        ),
        note=(
            "optax.lookahead(optax.adam(lr, b1, b2, eps), sync_period=k, slow_step_size=alpha, "
            "reset_state=False) on LookaheadParams(fast=theta, slow=slow state): on the k-th "
            "step since the last sync slow += alpha * (fast + update - slow) and fast <- slow; "
            "the fast Adam state is kept; compared on the fast parameters."
        ),
        id="lookaheadadam-vs-optax",
        steps=24,
    ),
    RefCase(
        spec="lamb",
        library="pytorch_optimizer",
        hypers={"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-30, "weight_decay": 0.0},
        build=lambda params, h: pytorch_optimizer.Lamb(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            weight_decay=0.0,
            eps=h["eps"],
            adam_debias=True,
            grad_averaging=True,
            rectify=False,
            adam=False,
            pre_norm=False,
            foreach=False,
        ),
        note=(
            "pytorch_optimizer.Lamb(adam_debias=True, grad_averaging=True, rectify=False, "
            "adam=False, pre_norm=False, foreach=False), weight_decay = 0, eps = 1e-30 in both "
            "(it leaves v undebiased and adds eps to the ratio's denominator; see the module "
            "note), parameters below its weight-norm clamp of 10."
        ),
        id="lamb-vs-pytorch_optimizer",
    ),
    RefCase(
        spec="lars",
        library="pytorch_optimizer",
        hypers={
            "lr": 0.05,
            "weight_decay": 0.0,
            "trust_coefficient": 0.02,
            "eps": 0.0,
            "momentum": 0.8,
        },
        build=lambda params, h: pytorch_optimizer.LARS(
            params,
            lr=h["lr"],
            weight_decay=0.0,
            momentum=h["momentum"],
            dampening=0.0,
            trust_coefficient=h["trust_coefficient"],
            nesterov=False,
            foreach=False,
        ),
        note=(
            "pytorch_optimizer.LARS(dampening=0, nesterov=False, foreach=False), weight_decay = "
            "0 and eps = 0, on parameters of 2 and more dimensions only (it skips the ratio on "
            "1-d ones; see the module note); its buffer is the spec's divided by lr."
        ),
        id="lars-vs-pytorch_optimizer",
        shapes=((4, 3), (2, 3, 2), (3, 5)),
    ),
    RefCase(
        spec="novograd",
        library="pytorch_optimizer",
        hypers={"lr": 0.05, "beta1": 0.8, "beta2": 0.6, "eps": 1e-3, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.NovoGrad(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            weight_decay=h["weight_decay"],
            weight_decouple=False,
            fixed_decay=False,
            grad_averaging=False,
            eps=h["eps"],
            foreach=False,
        ),
        note=(
            "pytorch_optimizer.NovoGrad(weight_decouple=False, grad_averaging=False, "
            "foreach=False): grads_ema = ||g||^2 on the first step then lerp by 1 - beta2; g / "
            "(sqrt(grads_ema) + eps) + wd * p; moments = that on the first step, then beta1 * "
            "moments + that; p -= lr * moments."
        ),
        id="novograd-vs-pytorch_optimizer",
    ),
    RefCase(
        spec="adamwschedulefree",
        library="schedulefree",
        hypers=_SF_HYPERS,
        build=_schedulefree_adamw,
        note=_SF_NOTE,
        steps=24,
    ),
    RefCase(
        spec="adamwschedulefreeform2",
        library="schedulefree",
        hypers=_SF_HYPERS,
        build=_schedulefree_adamw,
        note=_SF_NOTE + " Form 2 keeps x instead of z; y is the same sequence.",
        steps=24,
    ),
]
