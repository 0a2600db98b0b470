"""Reference cases for the low-rank and whitening matrix optimizers (issue 9): specs/galore.opt
against pytorch_optimizer.GaLore (4.1.0, ``pytorch_optimizer/optimizer/galore.py`` and
``optimizer/utils/galore.py``), specs/splus.opt against pytorch_optimizer.SPlus
(``optimizer/splus.py``).

Mapping: lr, eps, weight_decay keep their names, ``betas = (beta1, beta2)``; ``rank``,
``update_proj_gap``, ``scale`` are param-group keys, ``projection_type = "std"`` (project on the
smaller side: ``G @ Vh[:rank].T`` when rows >= cols, ``U[:, :rank].T @ G`` otherwise). Its step
size ``lr * sqrt(1 - beta2^t) / (1 - beta1^t)`` on ``exp_avg / (sqrt(exp_avg_sq) + eps)`` and its
decoupled decay after the step are the spec's conventions. It refreshes the projector when
``step % update_proj_gap == 0`` or at its first step, before projecting, and keeps the moments.

Signs: pytorch_optimizer takes ``torch.linalg.svd``'s singular vectors as they come; the spec
fixes them (largest-magnitude entry of each left singular vector positive, the right one
follows). Within one projector period the step does not depend on the signs (a flipped column
of P flips the same row of both moments), but after a refresh the kept moments meet the new
basis, so the cases below patch the library's SVD with the stated rule, written here with plain
torch indexing (``_signed_svd``), and refresh every 4 steps so that refreshes happen. The
library also computes the SVD of a float64 gradient in float32 (``weights.float()``); the
float64 cases replace its ``get_orthogonal_matrix`` by the same lines without that cast
(``_float64_orthogonal_matrix``), one case keeps it and compares at float32's accuracy.
pytorch_optimizer projects 2-d parameters only and steps the others with its own Adam (eps and
decay conventions of its matrices); the spec sends them to specs/adamw.opt, compared with
torch.optim.AdamW. optax 0.2.8 has no GaLore (neither ``optax`` nor ``optax.contrib``).

SPlus mapping: lr, weight_decay, ema_rate, inverse_steps, nonstandard_constant, eps keep their
names, ``betas = (beta1, beta2)``, ``weight_decouple = True``, ``fixed_decay = False``, and
``max_dim`` above every side; the state ``momentum`` is ``m``, ``ema`` is ``theta_ema``, ``sides``
are ``(L, R)`` and ``q_sides`` ``(QL, QR)``. The step is QL sign(QLᵀ m QR) QRᵀ, which does not
depend on the eigenvectors' signs or order, so the library's ``torch.linalg.eigh`` is compared
as it is, except for two differences patched or bounded here: the library also refreshes the
bases after its first step (the spec refreshes at multiples of inverse_steps only; there the
covariances have rank min(rows, cols) and their null-space eigenvectors are arbitrary), so the
case makes that first refresh return the identity, the bases it already had
(``_FirstRefreshSkippedSPlus``); and the library decomposes in float32 (``sides.float()``), so the
case compares at float32's accuracy. heavyball 3.2.1 and optax 0.2.8 ship no SPlus.
"""

from __future__ import annotations

from unittest import mock

import torch
from pytorch_optimizer import GaLore, SPlus
from pytorch_optimizer.optimizer.utils.galore import GaLoreProjector

from tests.refcases import RefCase

MATRICES = ((5, 3), (3, 5), (4, 4))  # tall (right projection), wide (left), square (right)
_svd = torch.linalg.svd


def _signed_svd(x: torch.Tensor, full_matrices: bool = True):
    """torch's SVD with the stated sign rule: each left singular vector's largest-magnitude
    entry (the first on ties) is made positive and the right one takes the same sign."""
    u, s, vh = _svd(x, full_matrices=full_matrices)
    rows = u.abs().argmax(dim=0)
    signs = torch.where(u[rows, torch.arange(u.shape[1])] < 0, -1.0, 1.0).to(u.dtype)
    return u * signs, s, vh * signs[: vh.shape[0], None]


def _float64_orthogonal_matrix(self, weights, projection_type, from_random_matrix=False):
    """GaLoreProjector.get_orthogonal_matrix for projection_type 'std' without its cast of
    non-float32 weights to float32 (the SVD in the weights' dtype) and with the stated signs."""
    u, _, vh = _signed_svd(weights, full_matrices=False)
    return vh[: self.rank, :].clone() if projection_type == "right" else u[:, : self.rank].clone()


class _SignedGaLore(GaLore):
    """pytorch_optimizer.GaLore whose projector SVD follows the stated sign rule; with
    ``float64_svd`` also computed in float64 (the library computes it in float32)."""

    float64_svd = True

    def step(self, closure=None):
        with mock.patch.object(torch.linalg, "svd", _signed_svd):
            if not self.float64_svd:
                return super().step(closure)
            with mock.patch.object(
                GaLoreProjector, "get_orthogonal_matrix", _float64_orthogonal_matrix
            ):
                return super().step(closure)


class _SignedFloat32GaLore(_SignedGaLore):
    """The library's own float32 SVD, signed by the stated rule."""

    float64_svd = False


def _galore(params, h, cls=_SignedGaLore):
    return cls(
        [
            {
                "params": params,
                "rank": int(h["rank"]),
                "update_proj_gap": int(h["update_proj_gap"]),
                "scale": h["scale"],
                "projection_type": "std",
            }
        ],
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        eps=h["eps"],
        weight_decay=h["weight_decay"],
    )


def _identity_eigh(a: torch.Tensor):
    """An eigendecomposition that keeps the identity basis (the library's step-1 refresh)."""
    return torch.linalg.eigvalsh(a), torch.eye(a.shape[-1], dtype=a.dtype)


class _FirstRefreshSkippedSPlus(SPlus):
    """pytorch_optimizer.SPlus without the basis refresh after its first step."""

    def step(self, closure=None):
        if self.param_groups[0].get("step", 0) > 0:
            return super().step(closure)
        with mock.patch.object(torch.linalg, "eigh", _identity_eigh):
            return super().step(closure)


def _splus(params, h):
    return _FirstRefreshSkippedSPlus(
        params,
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        weight_decay=h["weight_decay"],
        weight_decouple=True,
        fixed_decay=False,
        ema_rate=h["ema_rate"],
        inverse_steps=int(h["inverse_steps"]),
        nonstandard_constant=h["nonstandard_constant"],
        eps=h["eps"],
    )


_NOTE = (
    "pytorch_optimizer.GaLore(lr, betas=(beta1, beta2), eps, weight_decay) with a param group "
    "{rank, update_proj_gap, scale, projection_type='std'}, its SVD in float64 and signed by "
    "the stated rule"
)
_HYPERS = {"lr": 0.01, "update_proj_gap": 4, "scale": 0.5, "weight_decay": 0.1, "eps": 1e-8}

CASES: list[RefCase] = [
    RefCase(
        spec="galore",
        library="pytorch_optimizer",
        hypers={**_HYPERS, "rank": 2},
        build=_galore,
        note=_NOTE + ", rank 2 (a truncated projection)",
        id="galore-vs-pytorch_optimizer-rank2",
        shapes=MATRICES,
    ),
    RefCase(
        spec="galore",
        library="pytorch_optimizer",
        hypers={**_HYPERS, "rank": 8, "beta1": 0.8, "beta2": 0.99},
        build=_galore,
        note=_NOTE + ", rank 8 above min(rows, cols) (the spec pads zero columns)",
        id="galore-vs-pytorch_optimizer-rank8",
        shapes=MATRICES,
    ),
    RefCase(
        spec="galore",
        library="pytorch_optimizer",
        hypers={**_HYPERS, "rank": 2},
        build=lambda params, h: _galore(params, h, _SignedFloat32GaLore),
        note="pytorch_optimizer.GaLore with its own float32 SVD (signed by the stated rule): "
        "float32's accuracy",
        id="galore-vs-pytorch_optimizer-float32-svd",
        shapes=MATRICES,
        rtol=0.0,
        atol=1e-5,
    ),
    RefCase(
        spec="galore",
        library="torch.optim",
        hypers={"adam_lr": 0.01, "adam_beta1": 0.8, "adam_weight_decay": 0.05},
        build=lambda params, h: torch.optim.AdamW(
            params,
            lr=h["adam_lr"],
            betas=(h["adam_beta1"], h["adam_beta2"]),
            eps=h["adam_eps"],
            weight_decay=h["adam_weight_decay"],
        ),
        note="the parameters with fewer than 2 dimensions take specs/adamw.opt's step: "
        "torch.optim.AdamW(adam_lr, betas=(adam_beta1, adam_beta2), adam_eps, adam_weight_decay)",
        id="galore-vectors-vs-torch.optim.AdamW",
        shapes=((7,), (3,)),
    ),
    RefCase(
        spec="splus",
        library="pytorch_optimizer",
        hypers={"lr": 0.1, "weight_decay": 0.1, "ema_rate": 0.9, "inverse_steps": 3},
        build=_splus,
        note="pytorch_optimizer.SPlus(lr, betas=(beta1, beta2), weight_decay, ema_rate, "
        "inverse_steps, nonstandard_constant, eps) without its step-1 refresh, its float32 "
        "eigendecomposition: float32's accuracy",
        id="splus-vs-pytorch_optimizer",
        steps=24,
        shapes=(*MATRICES, (7,)),
        rtol=0.0,
        atol=1e-6,
    ),
]
