"""Reference cases for specs with global state or sums across parameters (``total``).

Every case runs three parameters of different shapes (tests/test_reference_libraries.py), so a
spec that reduced per tensor instead of across the group would fail. Mappings checked against
optax 0.2.8 (``optax/contrib/_prodigy.py``, ``optax/transforms/_clipping.py``) and
pytorch_optimizer 4.1.0 (``optimizer/prodigy.py``).

Left out: torch.nn.utils.clip_grad_norm_ in front of torch.optim.SGD, because it scales by
``max_norm / (norm + 1e-6)`` (an eps the spec, like optax, does not have): it agrees to ~1e-6
relative only.
"""

from __future__ import annotations

import optax
import pytorch_optimizer

from tests.refcases import RefCase

_PRODIGY = {
    "lr": 0.5,
    "beta1": 0.8,
    "beta2": 0.95,
    "beta3": 0.9,
    "eps": 1e-6,
    "d0": 1e-3,
    "d_coef": 2.0,
    "weight_decay": 0.1,
}


def _optax_prodigy(h):
    return optax.contrib.prodigy(
        learning_rate=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        beta3=h["beta3"],
        eps=h["eps"],
        estim_lr0=h["d0"],
        estim_lr_coef=h["d_coef"],
        weight_decay=h["weight_decay"],
        safeguard_warmup=h["safeguard_warmup"],
    )


def _pytorch_optimizer_prodigy(params, h):
    return pytorch_optimizer.Prodigy(
        params,
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        beta3=h["beta3"],
        d0=h["d0"],
        d_coef=h["d_coef"],
        growth_rate=float("inf"),
        weight_decay=h["weight_decay"],
        weight_decouple=True,
        fixed_decay=False,
        bias_correction=True,
        safeguard_warmup=h["safeguard_warmup"],
        eps=h["eps"],
        foreach=False,
    )


_PRODIGY_NOTE = (
    "d (optax: estim_lr) and r (numerator_weighted) are one value for the whole tree / group; "
    "d0 = estim_lr0, d_coef = estim_lr_coef; dlr = d*lr*sqrt(1-beta2^t)/(1-beta1^t); "
    "pytorch_optimizer needs bias_correction=True (its default False drops the correction), "
    "growth_rate=inf and weight_decouple=True; its d = max over the d_hat so far equals "
    "max(d, d_hat) each step."
)

CASES: list[RefCase] = [
    RefCase(
        spec="prodigy",
        library="optax",
        hypers={**_PRODIGY, "safeguard_warmup": False},
        build=_optax_prodigy,
        note=_PRODIGY_NOTE,
        steps=25,
    ),
    RefCase(
        spec="prodigy",
        library="optax",
        hypers={**_PRODIGY, "safeguard_warmup": True},
        build=_optax_prodigy,
        note=_PRODIGY_NOTE + " safeguard_warmup weights s by d instead of dlr.",
        steps=25,
        id="prodigy-safeguard-vs-optax",
    ),
    RefCase(
        spec="prodigy",
        library="pytorch_optimizer",
        hypers={**_PRODIGY, "safeguard_warmup": False},
        build=_pytorch_optimizer_prodigy,
        note=_PRODIGY_NOTE
        + " rtol 1e-8: it accumulates r with add_(dot, alpha=...) and d is a ratio of sums, "
        "so other roundings grow to 1.05e-10 relative by step 15.",
        steps=25,
        rtol=1e-8,
    ),
    RefCase(
        spec="sgdclipglobal",
        library="optax",
        hypers={"lr": 0.05, "max_norm": 5.0},
        build=lambda h: optax.chain(optax.clip_by_global_norm(h["max_norm"]), optax.sgd(h["lr"])),
        note=(
            "optax.chain(clip_by_global_norm(max_norm), sgd(lr)): the norm is over the whole "
            "tree (three leaves here); max_norm 5 clips about half of the steps of this "
            "stream (||g|| of the 31 entries is 4.1 to 6.4)."
        ),
    ),
]

CASES.append(
    RefCase(
        spec="dadaptadamw",
        library="optax",
        hypers={
            "lr": 0.5,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-6,
            "d0": 1e-3,
            "weight_decay": 0.1,
        },
        build=lambda h: optax.contrib.dadapt_adamw(
            learning_rate=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            eps=h["eps"],
            estim_lr0=h["d0"],
            weight_decay=h["weight_decay"],
        ),
        note=(
            "optax.contrib.dadapt_adamw: d = estim_lr, r = numerator_weighted, s = grad_sum, "
            "all three across the whole tree; d0 = estim_lr0."
        ),
        steps=25,
    )
)

CASES.append(
    RefCase(
        spec="avagrad",
        library="pytorch_optimizer",
        hypers={"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 0.05, "weight_decay": 0.1},
        build=lambda params, h: pytorch_optimizer.AvaGrad(
            params,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            eps=h["eps"],
            weight_decay=h["weight_decay"],
            weight_decouple=True,
            fixed_decay=False,
            foreach=False,
        ),
        note=(
            "pytorch_optimizer.AvaGrad (adam_debias=False, weight_decouple=True): gamma = "
            "1/sqrt(sum of 1/a^2 / N) over all entries of the group (here three tensors), used "
            "one step late; the spec writes it sqrt(N / sum), the same value."
        ),
    )
)

CASES.append(
    RefCase(
        spec="clipadam",
        library="optax",
        hypers={"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "max_norm": 5.0},
        build=lambda h: optax.chain(
            optax.clip_by_global_norm(h["max_norm"]),
            optax.adam(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"]),
        ),
        note=(
            "optax.chain(clip_by_global_norm(max_norm), adam(lr, b1, b2, eps)): specs/clipadam.opt "
            "is `use adam` run on the clipped gradient; max_norm 5 clips about half of the steps."
        ),
    )
)
