"""Reference cases for schedule-free SGD, the D-Adaptation versions of pytorch_optimizer, Adai,
Gravity and gradient clipping by value and by per-tensor RMS in front of SGD.

Every case runs three parameters of different shapes (tests/test_reference_libraries.py), so a
spec that reduced per tensor instead of across the group would fail. Mappings checked against
schedulefree 1.4.1 (``sgd_schedulefree.py``), optax 0.2.8 (``optax/contrib/_schedule_free.py``,
``optax/transforms/_clipping.py``), pytorch_optimizer 4.1.0 (``optimizer/dadapt.py``,
``optimizer/adai.py``, ``optimizer/gravity.py``) and torch 2.13 (``torch/nn/utils/clip_grad.py``).

Left out:
- specs/bemaadam.opt: no installed library implements BEMA (TRL's BEMACallback is not a
  dependency; heavyball, optax, pytorch_optimizer and schedulefree have none).
- pytorch_optimizer.DAdaptAdan: its ``exp_avg_sq`` accumulates the square of
  ``(g + beta2 * diff)^2`` (a fourth power, squared twice), unlike Adan's second moment; no spec.
- optax.adaptive_grad_clip: its unit-wise norms reduce over all axes but the last (per column of
  a matrix), which per-tensor reductions cannot state; no spec until axis reductions land.
- heavyball's clipping options (``l2_clip_``, ``rmsnorm_clip_``) add an eps of 1e-8 to the norm.
"""

from __future__ import annotations

import contextlib

import optax
import pytorch_optimizer
import schedulefree
import torch

from tests.refcases import RefCase


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype):
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


class _Float64Scalars:
    """Steps a pytorch_optimizer D-Adaptation optimizer with float64 as torch's default dtype:
        they keep their sums across parameters in ``torch.tensor([0.0])``, float32 by default,
        which would round the float64 run's sums to 1e-7.

    The D-Adaptation cases use a large coupled weight decay: on the shared random gradient stream
    alone d never rises above d0 (no consistent direction), while weight_decay * theta pulls every
    step towards 0, so d grows (DAdaptSGD 1e-3 -> 0.5, DAdaptAdaGrad -> 3.4e-3, DAdaptLion ->
    2.3e-2 over 25 steps) and the estimate itself is compared."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def step(self) -> None:
        with _default_dtype(torch.float64):
            self.optimizer.step()


class _ClipValueThenSGD:
    """torch.nn.utils.clip_grad_value_ on every parameter, then torch.optim.SGD."""

    def __init__(self, params, lr: float, clip_value: float) -> None:
        self.params = list(params)
        self.clip_value = clip_value
        self.sgd = torch.optim.SGD(self.params, lr=lr)

    def step(self) -> None:
        torch.nn.utils.clip_grad_value_(self.params, self.clip_value)
        self.sgd.step()


def _schedulefree_sgd(params, h):
    opt = schedulefree.SGDScheduleFree(
        params,
        lr=h["lr"],
        momentum=h["momentum"],
        weight_decay=h["weight_decay"],
        warmup_steps=h["warmup_steps"],
        r=h["r"],
        weight_lr_power=h["weight_lr_power"],
        foreach=False,
    )
    opt.train()  # schedulefree starts in eval mode
    return opt


_SF_NOTE = (
    "schedulefree.SGDScheduleFree with the same names (momentum = the interpolation weight); "
    "its warmup lr*(k+1)/warmup_steps for k < warmup_steps is lr*t/warmup_steps; ckp1 = c."
)

CASES: list[RefCase] = [
    RefCase(
        spec="sgdschedulefree",
        library="schedulefree",
        hypers={
            "lr": 0.05,
            "momentum": 0.8,
            "weight_decay": 0.1,
            "warmup_steps": 3,
            "r": 0.5,
            "weight_lr_power": 2.0,
        },
        build=_schedulefree_sgd,
        note=_SF_NOTE + " train() is called in the build: schedulefree starts in eval mode.",
        steps=24,
    ),
    RefCase(
        spec="sgdschedulefree",
        library="optax",
        hypers={"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1, "weight_lr_power": 2.0},
        build=lambda h: optax.contrib.schedule_free_sgd(
            learning_rate=h["lr"],
            warmup_steps=None,
            b1=h["momentum"],
            weight_decay=h["weight_decay"],
            weight_lr_power=h["weight_lr_power"],
        ),
        note=(
            "optax.contrib.schedule_free_sgd(learning_rate=lr, b1=momentum, weight_decay, "
            "weight_lr_power), warmup_steps=None and r = 0 (optax has no r): it keeps x "
            "implicit as (y - (1 - b1) * z) / b1 and sets y = b1 * x + (1 - b1) * z, the same "
            "sequence as schedulefree's lerp form; add_decayed_weights before sgd is the coupled "
            "decay at y. With warmup optax's inner sgd gets the schedule at count - 1 and the "
            "averaging weight at count (it starts at 1), one step apart: not compared."
        ),
        id="sgdschedulefree-vs-optax",
    ),
    RefCase(
        spec="dadaptsgd",
        library="pytorch_optimizer",
        hypers={"lr": 0.5, "momentum": 0.8, "d0": 1e-3, "weight_decay": 1.0},
        build=lambda params, h: _Float64Scalars(
            pytorch_optimizer.DAdaptSGD(
                params,
                lr=h["lr"],
                momentum=h["momentum"],
                d0=h["d0"],
                growth_rate=float("inf"),
                weight_decay=h["weight_decay"],
                weight_decouple=False,
                fixed_decay=False,
                foreach=False,
            )
        ),
        note=(
            "pytorch_optimizer.DAdaptSGD (weight_decouple=False, growth_rate=inf), stepped with "
            "float64 as torch's default dtype (its sums are torch.tensor([0.0])). g0_norm = "
            "the global norm of the first gradient, which get_global_gradient_norm computes in "
            "float32 (`.float()`) whatever the dtypes: dlr = d*lr/g0_norm is off by up to 6e-8 "
            "relative at every step and d's ratio amplifies it: rtol 1e-6, atol 1e-7 (largest "
            "seen over 25 steps: 3.1e-8 absolute, 3.8e-7 relative; 1.1e-16 with that norm "
            "computed in float64)."
        ),
        steps=25,
        rtol=1e-6,
        atol=1e-7,
    ),
]


def _dadapt_adagrad(params, h):
    return _Float64Scalars(
        pytorch_optimizer.DAdaptAdaGrad(
            params,
            lr=h["lr"],
            momentum=h["momentum"],
            d0=h["d0"],
            growth_rate=float("inf"),
            weight_decay=h["weight_decay"],
            weight_decouple=False,
            fixed_decay=False,
            eps=h["eps"],
            foreach=False,
        )
    )


_ADAGRAD_NOTE = (
    "pytorch_optimizer.DAdaptAdaGrad, dense path (foreach=False; its foreach update leaves eps "
    "out of the denominator), weight_decouple=False, growth_rate=inf, stepped with float64 as "
    "torch's default dtype (its sums are torch.tensor([0.0])). alpha_k starts at 1e-6 in both; "
    "the library tracks sum of s^2/(sqrt(alpha_k)+eps) and sum |s| by adding each step's "
    "change, which telescopes to the spec's sums over the current s."
)

CASES += [
    RefCase(
        spec="dadaptadagrad",
        library="pytorch_optimizer",
        hypers={"lr": 0.5, "momentum": 0.6, "eps": 1e-6, "d0": 1e-3, "weight_decay": 3.0},
        build=_dadapt_adagrad,
        note=_ADAGRAD_NOTE,
        steps=25,
    ),
    RefCase(
        spec="dadaptadagrad",
        library="pytorch_optimizer",
        hypers={"lr": 0.5, "momentum": 0.0, "eps": 0.0, "d0": 1e-3, "weight_decay": 3.0},
        build=_dadapt_adagrad,
        note=_ADAGRAD_NOTE + " momentum = 0: the library copies z into p, the spec's lerp with "
        "weight 1 gives z up to rounding.",
        steps=25,
        id="dadaptadagrad-defaults-vs-pytorch_optimizer",
    ),
    RefCase(
        spec="dadaptlion",
        library="pytorch_optimizer",
        hypers={"lr": 0.5, "beta1": 0.8, "beta2": 0.95, "d0": 1e-3, "weight_decay": 3.0},
        build=lambda params, h: _Float64Scalars(
            pytorch_optimizer.DAdaptLion(
                params,
                lr=h["lr"],
                betas=(h["beta1"], h["beta2"]),
                d0=h["d0"],
                weight_decay=h["weight_decay"],
                weight_decouple=False,
                fixed_decay=False,
                foreach=False,
            )
        ),
        note=(
            "pytorch_optimizer.DAdaptLion (weight_decouple=False), stepped with float64 as "
            "torch's default dtype (its sums are torch.tensor([0.0])); r = numerator_weighted, "
            "updated with lerp_(acc, 1 - sqrt(beta2)), the spec's sqrt(beta2)*r + (1 - "
            "sqrt(beta2))*acc; the sign's argument is exp_avg.lerp(g, 1 - beta1)."
        ),
        steps=25,
    ),
]


def _adai(params, h):
    return pytorch_optimizer.Adai(
        params,
        lr=h["lr"],
        betas=(h["beta0"], h["beta2"]),
        weight_decay=h["weight_decay"],
        weight_decouple=False,
        fixed_decay=False,
        stable_weight_decay=False,
        dampening=h["dampening"],
        eps=h["eps"],
        foreach=False,
    )


_ADAI_NOTE = (
    "pytorch_optimizer.Adai(betas=(beta0, beta2), stable_weight_decay=False, "
    "weight_decouple=False): the mean of v_hat over param_size, the number of entries of the "
    "whole group (three tensors here), floored at eps; beta1 = clip(1 - beta0*(v_hat/mean)^"
    "(1/(3 - 2*dampening)), 0, 1 - eps) per entry."
)

CASES += [
    RefCase(
        spec="adai",
        library="pytorch_optimizer",
        hypers={"lr": 0.05, "beta0": 0.3, "beta2": 0.9, "eps": 1e-3, "weight_decay": 0.1},
        build=_adai,
        note=_ADAI_NOTE,
    ),
    RefCase(
        spec="adai",
        library="pytorch_optimizer",
        hypers={"lr": 0.05, "beta0": 0.3, "beta2": 0.9, "eps": 1e-3, "dampening": 0.6},
        build=_adai,
        note=_ADAI_NOTE + " dampening 0.6: power 1/1.8 and beta0^0.4 in the step.",
        id="adai-dampening-vs-pytorch_optimizer",
    ),
    RefCase(
        spec="gravity",
        library="pytorch_optimizer",
        hypers={"lr": 0.05, "beta": 0.8},
        build=lambda params, h: pytorch_optimizer.Gravity(
            params, lr=h["lr"], alpha=0.0, beta=h["beta"], foreach=False
        ),
        note=(
            "pytorch_optimizer.Gravity(alpha=0): v starts as normal_(0, alpha/lr) = 0; "
            "zeta = g/(1 + (g/m)^2), m = 1/max|g| per tensor, the spec's g*max|g|."
        ),
    ),
    RefCase(
        spec="sgdclipvalue",
        library="torch.optim",
        hypers={"lr": 0.05, "clip_value": 0.5},
        build=lambda params, h: _ClipValueThenSGD(params, h["lr"], h["clip_value"]),
        note=(
            "torch.nn.utils.clip_grad_value_(params, clip_value) then torch.optim.SGD(lr): "
            "clamp to [-clip_value, clip_value]; 0.5 clips about 60% of this stream's entries."
        ),
    ),
    RefCase(
        spec="sgdclipvalue",
        library="optax",
        hypers={"lr": 0.05, "clip_value": 0.5},
        build=lambda h: optax.chain(optax.clip(h["clip_value"]), optax.sgd(h["lr"])),
        note="optax.chain(clip(max_delta=clip_value), sgd(lr)): jnp.clip to [-max_delta, max_delta].",
    ),
    RefCase(
        spec="sgdclipblockrms",
        library="optax",
        hypers={"lr": 0.05, "threshold": 0.9},
        build=lambda h: optax.chain(optax.clip_by_block_rms(h["threshold"]), optax.sgd(h["lr"])),
        note=(
            "optax.chain(clip_by_block_rms(threshold), sgd(lr)): u / max(1, rms(u)/threshold) "
            "per leaf; threshold 0.9 clips some of the three tensors at most steps."
        ),
    ),
]
