"""Reference cases for factored state and axis reductions (state ``: rows`` / ``: cols``,
``row_mean`` ...): Adafactor, SM3, Nero.

The spec language views a parameter as a matrix of rows = its first dimension by cols = the
product of the others (0-d: 1 x 1, 1-d of n: n x 1). The libraries factor differently beyond two
dimensions (torch.optim.Adafactor: the last two dimensions, the leading ones a batch; optax: the
two largest dimensions, or every axis for SM3), so these cases run 0-d, 1-d and 2-d parameters,
where every convention describes the same algorithm. Mappings read from torch 2.13
(``torch/optim/_adafactor.py``), optax 0.2.8 (``optax/_src/factorized.py``,
``optax/_src/transform.py`` scale_by_sm3) and pytorch_optimizer 4.1.0 (``optimizer/nero.py``).

Left out: pytorch_optimizer.AdaFactor (a variant with a first moment by default, a cap on the
second moment's decay and its own relative step and warm-up options), and 0-d parameters for
optax.sm3 (its per-axis accumulators have no axis to keep: it raises on them).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax
import pytorch_optimizer
import torch
from optax._src import combine, factorized, transform
from optax.transforms import _clipping

from tests.refcases import RefCase

_MATRICES = ((), (7,), (4, 3), (3, 5))  # 0-d, 1-d, tall and wide 2-d

_ADAFACTOR = {
    "lr": 0.05,
    "beta2_decay": -0.8,
    "eps1": 1e-30,
    "eps2": 1e-3,
    "d": 1.0,
    "weight_decay": 0.1,
}
_ADAFACTOR_NOTE = (
    "torch.optim.Adafactor: eps = (eps1, eps2) (its eps1 default None means the dtype's machine "
    "epsilon), beta2_decay, d, weight_decay; r and c are its row_var (R, 1) and col_var (1, C); "
    "for 1-d parameters it keeps a full variance, which the factored form equals exactly "
    "(v = r * c / mean(r) = r up to rounding)."
)


def _torch_adafactor(params, h):
    return torch.optim.Adafactor(
        params,
        lr=h["lr"],
        beta2_decay=h["beta2_decay"],
        eps=(h["eps1"], h["eps2"]),
        d=h["d"],
        weight_decay=h["weight_decay"],
        foreach=False,
    )


# optax.adafactor: lr fixed (no relative step: min(lr, 1/sqrt(t)) = lr while lr <= 1/sqrt(T)),
# eps added to g^2 (1e-30: below the rounding of g^2), decay 1 - t^-decay_rate, the update's
# RMS clipped at clipping_threshold, scaled by max(rms(theta), 1e-3), weight decay
# weight_decay_rate * theta added after the lr scaling (= the spec's lr * weight_decay).
_OPTAX_ADAFACTOR = {**_ADAFACTOR, "lr": 0.01, "weight_decay": 10.0}


def _optax_adafactor(h):
    return optax.adafactor(
        learning_rate=h["lr"],
        min_dim_size_to_factor=1,
        decay_rate=-h["beta2_decay"],
        eps=h["eps1"],
        clipping_threshold=h["d"],
        weight_decay_rate=h["lr"] * h["weight_decay"],
    )


def _decay_rate_float64(step, exponent=0.8):
    """optax's ``_decay_rate_pow`` without its float32 cast of the step count."""
    return 1.0 - jnp.asarray(step + 1, jnp.float64) ** (-exponent)


def _optax_adafactor_float64(h):
    """optax.adafactor's chain, its decay computed in float64 (everything else as optax)."""
    return combine.chain(
        factorized.scale_by_factored_rms(
            True, -h["beta2_decay"], 0, 1, h["eps1"], decay_rate_fn=_decay_rate_float64
        ),
        _clipping.clip_by_block_rms(h["d"]),
        transform.scale_by_learning_rate(h["lr"], flip_sign=False),
        transform.scale_by_param_block_rms(h["eps2"]),
        transform.add_decayed_weights(h["lr"] * h["weight_decay"]),
        transform.scale(-1),
    )


_NERO = {"lr": 0.05, "beta": 0.9, "eps": 1e-8}


def _pytorch_optimizer_nero(params, h):
    return pytorch_optimizer.Nero(
        params,
        lr=h["lr"],
        beta=h["beta"],
        eps=h["eps"],
        constraints=h["constraints"],
        foreach=False,
    )


_NERO_NOTE = (
    "pytorch_optimizer.Nero: exp_avg_sq = v, one number per neuron (row; per entry for 0-d and "
    "1-d parameters); scale = the mean neuron norm after its initial projection; its "
    "nan_to_num of the update changes only non-finite values (eps > 0 here)."
)

CASES: list[RefCase] = [
    RefCase(
        spec="adafactor",
        library="torch.optim",
        hypers=_ADAFACTOR,
        build=_torch_adafactor,
        note=_ADAFACTOR_NOTE,
        steps=25,
        shapes=_MATRICES,
    ),
    RefCase(
        spec="adafactor",
        library="torch.optim",
        hypers={**_ADAFACTOR, "lr": 0.5, "d": 2.0, "eps2": 0.5, "weight_decay": 0.0},
        build=_torch_adafactor,
        note=_ADAFACTOR_NOTE + " lr 0.5 > 1/sqrt(t) from t = 5: the relative step takes over.",
        steps=25,
        shapes=_MATRICES,
        id="adafactor-relative-step-vs-torch.optim",
    ),
    RefCase(
        spec="adafactor",
        library="optax",
        hypers=_OPTAX_ADAFACTOR,
        build=_optax_adafactor,
        note="optax.adafactor(min_dim_size_to_factor=1) with weight_decay_rate = lr * "
        "weight_decay; rtol 1e-6: optax computes the decay 1 - t^-0.8 from a float32 step "
        "count, 3e-7 relative from the float64 spec (the float64 chain below agrees to 2e-14).",
        steps=20,
        rtol=1e-6,
        shapes=_MATRICES,
    ),
    RefCase(
        spec="adafactor",
        library="optax",
        hypers=_OPTAX_ADAFACTOR,
        build=_optax_adafactor_float64,
        note="optax.adafactor's own chain (scale_by_factored_rms, clip_by_block_rms, "
        "scale_by_learning_rate, scale_by_param_block_rms, add_decayed_weights) with the decay "
        "schedule computed in float64.",
        steps=20,
        shapes=_MATRICES,
        id="adafactor-vs-optax-float64-decay",
    ),
    RefCase(
        spec="sm3",
        library="optax",
        hypers={"lr": 0.05, "momentum": 0.9, "eps": 1e-8},
        build=lambda h: optax.sm3(h["lr"], momentum=h["momentum"]),
        note="optax.sm3 (scale_by_sm3 with b2 = 1, eps 1e-8): its per-axis accumulators mu are "
        "the spec's r (axis 0) and c (axis 1) without the size-1 axes; a 1-d parameter keeps "
        "one accumulator, which min(r, c) = r reproduces (c is its maximum).",
        steps=20,
        shapes=((7,), (4, 3), (3, 5)),
    ),
    RefCase(
        spec="nero",
        library="pytorch_optimizer",
        hypers={**_NERO, "constraints": True},
        build=_pytorch_optimizer_nero,
        note=_NERO_NOTE,
        steps=20,
        shapes=_MATRICES,
    ),
    RefCase(
        spec="nero",
        library="pytorch_optimizer",
        hypers={**_NERO, "constraints": False},
        build=_pytorch_optimizer_nero,
        note=_NERO_NOTE + " Without constraints: no projection.",
        steps=20,
        shapes=_MATRICES,
        id="nero-unconstrained-vs-pytorch_optimizer",
    ),
]
