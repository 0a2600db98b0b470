"""Reference cases for the classical optimizers: SGD family, AdaGrad/AdaDelta/RMSProp, Adam family.

Every mapping here (and in ``optc.bench.counterparts``, where the cases shared with `optc bench`
live) was checked against the installed library source (torch 2.13 ``torch/optim``,
optax 0.2.8 ``optax/_src``, pytorch_optimizer 4.1.0). Hypers are non-default so that every term of
the spec is exercised. Cases left out (library form differs from the spec): optax.adagrad (eps
inside the root, ``where(r > 0, ...)``), optax.amsgrad (max of the debiased v), optax.radam (eps
added to sqrt(v_hat), threshold >= 5), pytorch_optimizer.PAdam (no running max, debiased).
"""

from __future__ import annotations

import torch

from optc.bench import counterparts
from tests.refcases import RefCase, shared


def _nadam_float64(params, h):
    """torch.optim.NAdam (the shared mapping), with its scalar state seeded in float64.

    NAdam keeps ``mu_product`` as a tensor of the *default* dtype (float32 unless the caller changed
    it) and multiplies it in place every step, so its product of mu_t would be rounded to float32.
    Seeding the lazily created state (exactly what ``_init_group`` would create) keeps it float64.
    """
    opt = counterparts.counterpart("nadam-vs-torch.optim")[1].build(params, h)
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
    shared("sgd-vs-torch.optim"),
    shared("sgd-vs-optax"),
    shared("momentum-vs-torch.optim"),
    shared("momentum-vs-optax"),
    shared("sgdmomentum-vs-torch.optim"),
    shared("sgdmomentum-vs-optax-undampened"),
    shared("sgdnesterov-vs-torch.optim"),
    shared("sgdnesterov-vs-optax"),
    # -- AdaGrad / AdaDelta / RMSProp ------------------------------------------------------------
    shared("adagrad-vs-torch.optim"),
    shared("adadelta-vs-torch.optim"),
    shared("adadelta-vs-optax"),
    shared("rmsprop-vs-torch.optim"),
    shared("rmsprop-vs-optax"),
    shared("rmspropdebiased-vs-optax"),
    shared("rmspropdebiased-vs-torch.optim"),
    # -- Adam family -----------------------------------------------------------------------------
    shared("adam-vs-torch.optim"),
    shared("adam-vs-optax"),
    shared("adamw-vs-torch.optim"),
    shared("adamw-vs-optax"),
    shared("amsgrad-vs-torch.optim"),
    shared("adamax-vs-torch.optim"),
    shared("adamax-vs-optax"),
    shared("yogi-vs-optax"),
    shared("yogi-vs-pytorch_optimizer"),
    shared("nadam-vs-torch.optim", build=_nadam_float64),
    shared("nadamdozat-vs-optax"),
    shared("radam-vs-torch.optim", steps=30),
]
