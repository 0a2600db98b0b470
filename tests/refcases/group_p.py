"""Reference cases for specs with blocks (`every k:`) and averaged parameters.

Mappings checked against pytorch_optimizer 4.1.0 (``optimizer/lookahead.py``) and torch 2.13
(``torch/optim/asgd.py``).
"""

from __future__ import annotations

import pytorch_optimizer
import torch

from tests.refcases import RefCase

CASES: list[RefCase] = [
    RefCase(
        spec="lookaheadadam",
        library="pytorch_optimizer",
        hypers={"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "k": 3, "alpha": 0.4},
        build=lambda params, h: pytorch_optimizer.Lookahead(
            torch.optim.Adam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"]),
            k=h["k"],
            alpha=h["alpha"],
            pullback_momentum="none",
        ),
        note=(
            "pytorch_optimizer.Lookahead(torch.optim.Adam(...), k, alpha, pullback_momentum="
            "'none'): after every k-th inner step p.lerp_(slow, 1 - alpha) then slow <- p, i.e. "
            "slow + alpha * (p - slow); its counter counts the steps as t does."
        ),
        steps=24,
    ),
    RefCase(
        spec="asgd",
        library="torch.optim",
        hypers={"lr": 0.05, "lambd": 0.01, "alpha": 0.6, "t0": 5.0, "weight_decay": 0.1},
        build=lambda params, h: torch.optim.ASGD(
            params,
            lr=h["lr"],
            lambd=h["lambd"],
            alpha=h["alpha"],
            t0=h["t0"],
            weight_decay=h["weight_decay"],
        ),
        note=(
            "torch.optim.ASGD with the same names; t0 = 5 so that averaging starts within the "
            "run (mu < 1 from step 7 on). rtol 1e-6, atol 1e-8 (largest seen: 4e-9 absolute, 2.2e-7 relative at an entry near 0.018): torch keeps eta and mu as float32 tensors "
            "(_get_scalar_dtype()) even for float64 parameters, the spec in the parameter's "
            "dtype: eta = 0.05 is 0.0500000007 there, 1.5e-9 relative at step 1."
        ),
        rtol=1e-6,
        atol=1e-8,
    ),
]
