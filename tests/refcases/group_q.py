"""Reference cases for specs with per-row (channel) reductions added after the axis-reductions
merge. Mappings checked against pytorch_optimizer 4.1.0 (``optimizer/sgdp.py``, ``adamp.py``).

Two cases: delta = 2 projects every row of the 2-d and 3-d parameters on every step (a cosine
is at most 1 < 2 / sqrt(cols)), delta = 0.3 leaves the choice to the random stream; the 1-d
parameter is never projected.
"""

from __future__ import annotations

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
