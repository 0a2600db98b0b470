"""Reference cases for specs with per-row (channel) reductions added after the axis-reductions
merge. Mappings checked against pytorch_optimizer 4.1.0 (``optimizer/sgdp.py``, ``adamp.py``).

Two cases: delta = 2 projects every row of the 2-d and 3-d parameters on every step (a cosine
is at most 1 < 2 / sqrt(cols)), delta = 0.3 leaves the choice to the random stream; the 1-d
parameter is never projected.
"""

from __future__ import annotations

import optax
import pytorch_optimizer

from tests.refcases import RefCase

CASES: list[RefCase] = [
    RefCase(
        spec="sgdp",
        library="pytorch_optimizer",
        hypers={
            "lr": 0.05,
            "momentum": 0.8,
            "dampening": 0.1,
            "weight_decay": 0.1,
            "delta": 0.3,
            "wd_ratio": 0.2,
        },
        build=lambda params, h: pytorch_optimizer.SGDP(
            params,
            lr=h["lr"],
            momentum=h["momentum"],
            dampening=h["dampening"],
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            delta=h["delta"],
            wd_ratio=h["wd_ratio"],
            nesterov=False,
            eps=h.get("eps", 1e-8),
            foreach=False,
        ),
        note=(
            "pytorch_optimizer.SGDP(weight_decouple=True, nesterov=False, foreach=False): the "
            "same names; its decay is p *= 1 - lr * weight_decay * wd_ratio / (1 - momentum)."
        ),
        id="sgdp-mixed-vs-pytorch_optimizer",
    ),
]
CASES.append(
    RefCase(
        spec="sgdp",
        library="pytorch_optimizer",
        hypers={**CASES[0].hypers, "delta": 2.0, "nesterov": True},
        build=lambda params, h: pytorch_optimizer.SGDP(
            params,
            lr=h["lr"],
            momentum=h["momentum"],
            dampening=h["dampening"],
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            delta=h["delta"],
            wd_ratio=h["wd_ratio"],
            nesterov=True,
            eps=h.get("eps", 1e-8),
            foreach=False,
        ),
        note="delta = 2: every row of every matrix is projected; Nesterov form",
        id="sgdp-rows-nesterov-vs-pytorch_optimizer",
    )
)


def _adamp(params, h):
    return pytorch_optimizer.AdamP(
        params,
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        weight_decay=h["weight_decay"],
        weight_decouple=True,
        fixed_decay=False,
        delta=h["delta"],
        wd_ratio=h["wd_ratio"],
        nesterov=h["nesterov"],
        eps=h["eps"],
        foreach=False,
    )


_ADAMP = {
    "lr": 0.01,
    "beta1": 0.8,
    "beta2": 0.95,
    "eps": 1e-6,
    "weight_decay": 0.1,
    "wd_ratio": 0.2,
}
CASES += [
    RefCase(
        spec="adamp",
        library="pytorch_optimizer",
        hypers={**_ADAMP, "delta": 0.3, "nesterov": False},
        build=_adamp,
        note="pytorch_optimizer.AdamP(weight_decouple=True, foreach=False): the same names",
        id="adamp-mixed-vs-pytorch_optimizer",
    ),
    RefCase(
        spec="adamp",
        library="pytorch_optimizer",
        hypers={**_ADAMP, "delta": 2.0, "nesterov": True},
        build=_adamp,
        note="delta = 2: every row of every matrix is projected; Nesterov form",
        id="adamp-rows-nesterov-vs-pytorch_optimizer",
    ),
]

CASES.append(
    RefCase(
        spec="sgdagc",
        library="optax",
        hypers={"lr": 0.1, "clipping": 1.0, "eps": 1e-3},
        build=lambda h: optax.chain(
            optax.adaptive_grad_clip(h["clipping"], eps=h["eps"]), optax.sgd(h["lr"])
        ),
        note=(
            "optax.chain(adaptive_grad_clip(clipping, eps), sgd(lr)): units are optax's axis-0 "
            "slices for the 2-d and 3-d parameters here (our columns) and the whole vector for "
            "the 1-d one; clipping 1: gradient and parameter norms are alike on this stream, so "
            "some units are clipped and some are not"
        ),
    )
)
