"""Reference cases for the spectral family (issue 9): Moonlight, MuonW and MuonCubic against
torch.optim.Muon, Scion against pytorch_optimizer.SCION.

torch.optim.Muon (torch 2.13, ``torch/optim/_muon.py``), stepped with its Newton-Schulz in
float64 (``group_m._Float64Muon``: its bfloat16 cast removed, otherwise its own code):

- ``moonlight``: ``adjust_lr_fn = "match_rms_adamw"`` is the scale 0.2·√max(rows, cols). Moonlight
  keeps ``buf = momentum·buf + g`` and orthogonalizes ``g + momentum·buf`` (Moonlight's code),
  torch.optim.Muon ``buf.lerp_(g, 1 - momentum)`` and ``lerp(g, buf, momentum)``: (1 - momentum)
  times the same values, which the Frobenius normalization before Newton-Schulz cancels. The
  spec divides by ``norm(u) + eps``, torch by ``max(norm(u), eps)``: eps = 1e-30 in both makes
  the two the same division. So θ agrees to rounding (the states differ by the factor).
- ``muonw``: the same, with ``adjust_lr_fn = "original"`` (√max(1, rows / cols)).
- ``muoncubic``: torch.optim.Muon with ``ns_coefficients = (1.5, -0.5, 0)``, ``ns_steps = 20``
  and its own eps; same conventions as the spec, states included.

pytorch_optimizer 4.1.0 ``Muon`` (``optimizer/muon``) with ``use_muon = True`` is torch.optim.Muon's
rule (lerp momentum, ``lerp(g, buf, momentum)`` with Nesterov, decoupled decay before the step,
``max(norm, 1e-7)`` before Newton-Schulz) on the flattened matrix view of any N-d parameter;
``use_adjusted_lr = True`` is Moonlight's 0.2·√max(rows, cols), ``False`` MuonW's
√max(1, rows / cols). Its Newton-Schulz runs in bfloat16 by default; the cases call it with
``dtype = float64`` (its own code otherwise) and compare on 2-d and 4-d parameters.

pytorch_optimizer 4.1.0 ``SCION`` (``optimizer/scion.py``): lr, momentum (the weight of the new
gradient in ``d.lerp_(grad, momentum)``), scale, weight_decay (decoupled, skipped with
``constraint``) keep their names; ``constraint`` is the spec's ``constrained``; the spec's
``lmo`` 0, 1, 2, 3 are ``norm_type`` AUTO, SIGN, COL, ROW with pytorch_optimizer's defaults
(``Sign(normalize=True)`` = sign / d_in, ``Col(normalized=False)`` = √rows · column / ‖column‖,
``Row(normalized=True)`` = row / (√cols ‖row‖), ``Spectral`` = √(rows / cols) · NS5, ``BiasRMS``
for 1-d = x / rms(x)). Two library details are replaced for the comparison, as the spec
states them differently: its Newton-Schulz (5 quintic steps in bfloat16, singular values in
about [0.7, 1.2]) by the exact polar factor U Vᵀ in float64 (the spec's ``dualize(d,
rms_to_rms)``), and its eps = 1e-8 added to the column, row and RMS norms by 0 (the spec has
none; a zero column maps to 0). Shapes are 2-d (its spectral and sign LMOs read
``grad.size(1)``) and 1-d (AUTO's BiasRMS).
"""

from __future__ import annotations

from functools import partial, partialmethod
from unittest import mock

import torch
from pytorch_optimizer.optimizer import scion
from pytorch_optimizer.optimizer.muon import base as muon_base
from pytorch_optimizer.optimizer.muon.muon import Muon as PytorchOptimizerMuon

from tests.refcases import RefCase
from tests.refcases.group_m import MATRICES, _Float64Muon

_TINY_EPS = 1e-30  # Muon's eps where the spec's norm(u) + eps and torch's max(norm(u), eps) agree


def _muon(params, h, *, adjust_lr_fn, ns_coefficients=(3.4445, -4.7750, 2.0315), eps=_TINY_EPS):
    return _Float64Muon(
        params,
        lr=h["lr"],
        weight_decay=h["weight_decay"],
        momentum=h["momentum"],
        nesterov=h["nesterov"],
        ns_coefficients=ns_coefficients,
        eps=eps,
        ns_steps=int(h["ns_steps"]),
        adjust_lr_fn=adjust_lr_fn,
    )


class _Float64PytorchOptimizerMuon(PytorchOptimizerMuon):
    """pytorch_optimizer.Muon with its Newton-Schulz in float64 instead of bfloat16."""

    def step(self, closure=None):
        ns = muon_base.zero_power_via_newton_schulz_5
        float64_ns = partial(ns, dtype=torch.float64)
        with mock.patch.object(muon_base, "zero_power_via_newton_schulz_5", float64_ns):
            return super().step(closure)


def _pytorch_optimizer_muon(params, h, *, moonlight):
    group = {"params": params, "use_muon": True}
    return _Float64PytorchOptimizerMuon(
        [group],
        lr=h["lr"],
        momentum=h["momentum"],
        weight_decay=h["weight_decay"],
        nesterov=h["nesterov"],
        ns_steps=int(h["ns_steps"]),
        use_adjusted_lr=moonlight,
    )


def _exact_polar(matrix: torch.Tensor, num_steps: int = 5, **_: object) -> torch.Tensor:
    """U Vᵀ of the reduced SVD (batched), in place of pytorch_optimizer's NS5 in bfloat16."""
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    return u @ vh


class _ExactSCION(scion.SCION):
    """pytorch_optimizer.SCION with the exact polar factor and eps = 0 (see the module note)."""

    def step(self, closure=None):
        patches = [mock.patch.object(scion, "zero_power_via_newton_schulz_5", _exact_polar)]
        patches += [
            mock.patch.object(cls, "lmo", partialmethod(cls.lmo, eps=0.0))
            for cls in (scion.Col, scion.Row, scion.BiasRMS)
        ]
        for patch in patches:
            patch.start()
        try:
            return super().step(closure)
        finally:
            for patch in reversed(patches):
                patch.stop()


_NORM_TYPES = {
    0: scion.LMONorm.AUTO,
    1: scion.LMONorm.SIGN,
    2: scion.LMONorm.COL,
    3: scion.LMONorm.ROW,
}


def _scion(params, h):
    return _ExactSCION(
        params,
        lr=h["lr"],
        momentum=h["momentum"],
        constraint=h["constrained"],
        norm_type=_NORM_TYPES[h["lmo"]],
        scale=h["scale"],
        weight_decay=h["weight_decay"],
        weight_decouple=True,
    )


_MUON_HYPERS = {"lr": 0.02, "weight_decay": 0.1, "momentum": 0.9, "eps": _TINY_EPS}
_SCION_NOTE = (
    "pytorch_optimizer.SCION(lr, momentum, constraint = constrained, norm_type = AUTO / SIGN / "
    "COL / ROW for lmo = 0 / 1 / 2 / 3, scale, weight_decay) with the exact polar factor and "
    "eps = 0 (module note)"
)

CASES: list[RefCase] = [
    RefCase(
        spec="moonlight",
        library="torch.optim",
        hypers=_MUON_HYPERS,
        build=lambda params, h: _muon(params, h, adjust_lr_fn="match_rms_adamw"),
        note="torch.optim.Muon(adjust_lr_fn = match_rms_adamw, eps = 1e-30), float64 Newton-Schulz",
        id="moonlight-vs-torch.optim.Muon-match-rms",
        shapes=MATRICES,
    ),
    RefCase(
        spec="moonlight",
        library="torch.optim",
        hypers={**_MUON_HYPERS, "nesterov": False, "ns_steps": 3},
        build=lambda params, h: _muon(params, h, adjust_lr_fn="match_rms_adamw"),
        note="torch.optim.Muon(nesterov = False, 3 steps, match_rms_adamw), float64 Newton-Schulz",
        id="moonlight-vs-torch.optim.Muon-plain-momentum",
        shapes=MATRICES,
    ),
    RefCase(
        spec="muonw",
        library="torch.optim",
        hypers=_MUON_HYPERS,
        build=lambda params, h: _muon(params, h, adjust_lr_fn="original"),
        note="torch.optim.Muon(adjust_lr_fn = original, eps = 1e-30), float64 Newton-Schulz",
        id="muonw-vs-torch.optim.Muon",
        shapes=MATRICES,
    ),
    *(
        RefCase(
            spec=spec,
            library="pytorch_optimizer",
            hypers=_MUON_HYPERS,
            build=lambda params, h, moonlight=(spec == "moonlight"): _pytorch_optimizer_muon(
                params, h, moonlight=moonlight
            ),
            note=f"pytorch_optimizer.Muon(use_muon = True, use_adjusted_lr = {spec == 'moonlight'}),"
            " Newton-Schulz in float64",
            id=f"{spec}-vs-pytorch_optimizer.Muon",
            shapes=(*MATRICES, (3, 2, 2, 2)),
        )
        for spec in ("moonlight", "muonw")
    ),
    RefCase(
        spec="muoncubic",
        library="torch.optim",
        hypers={"lr": 0.02, "weight_decay": 0.1, "momentum": 0.9},
        build=lambda params, h: _muon(
            params, h, adjust_lr_fn="original", ns_coefficients=(1.5, -0.5, 0.0), eps=h["eps"]
        ),
        note="torch.optim.Muon(ns_coefficients = (1.5, -0.5, 0), ns_steps = 20), float64 NS",
        id="muoncubic-vs-torch.optim.Muon",
        shapes=MATRICES,
    ),
    *(
        RefCase(
            spec="scion",
            library="pytorch_optimizer",
            hypers={"lr": 0.05, "momentum": 0.2, "scale": 3.0, "lmo": lmo, **extra},
            build=_scion,
            note=f"{_SCION_NOTE}; lmo = {lmo}, {extra}",
            id=f"scion-vs-pytorch_optimizer.SCION-lmo{lmo}-{label}",
            shapes=(*MATRICES, (7,)) if lmo == 0 else MATRICES,
        )
        for lmo in range(4)
        for label, extra in (
            ("unconstrained", {"weight_decay": 0.1}),
            ("constrained", {"constrained": True, "weight_decay": 0.1}),
        )
    ),
]
