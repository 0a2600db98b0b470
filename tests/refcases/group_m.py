"""Reference cases for the matrix optimizers (issue 9): specs/muon.opt against torch.optim.Muon,
specs/shampoo.opt against pytorch_optimizer.Shampoo, specs/soap.opt against pytorch_optimizer.SOAP
and heavyball.SOAP. The Muon and SOAP mappings are `optc bench`'s (``optc.bench.counterparts``,
one copy); the cases here change their hypers, shapes and tolerances, and step the libraries in
float64.

Mapping checked against torch 2.13 (``torch/optim/_muon.py``): lr, weight_decay, momentum,
nesterov, eps and ns_steps keep their names, ``ns_coefficients = (ns_a, ns_b, ns_c)``,
``adjust_lr_fn = "original"`` is ``match_rms_adamw = false`` and ``"match_rms_adamw"`` is
``match_rms_adamw = true``; the state ``momentum_buffer`` is the spec's ``buf``. torch.optim.Muon
takes 2-d parameters only; the spec sends the others to AdamW (compared with torch.optim.AdamW).

torch.optim.Muon runs Newton-Schulz in bfloat16 whatever the parameter's dtype
(``ortho_grad = grad.bfloat16()``), where the spec computes in the parameter's dtype. The
float64 cases therefore step torch.optim.Muon with its own ``_zeropower_via_newtonschulz``
minus that cast (``_float64_newton_schulz``, otherwise torch's code line for line) and compare
at 1e-10; one case runs the library unmodified and compares at bfloat16's accuracy.
pytorch_optimizer 4.1.0 ``SOAP`` (``optimizer/soap.py``) is specs/soap.opt with betas = (beta1, beta2),
shampoo_beta, eps, weight_decay, precondition_frequency under their names, merge_dims = False,
precondition_1d = False, correct_bias = True, normalize_gradient = False (max_precondition_dim
and data_format are inert at these shapes). The cases refresh every 3 steps (six power-iteration
refreshes in the 20 steps, the spec's sort_perm and qr against the library's argsort and QR).
The library casts the power step to float32 before its QR, whatever the parameter's dtype
(``power_iter.to(torch.float32)``): one case lifts that cast (its module's ``torch.float32``
read as float64 during the step, ``_float64_qr_soap``) and compares at 1e-10, one runs it
unmodified at the float32 QR's accuracy. Square and 1-d shapes only: the first statistics of a
tall or wide parameter are rank-deficient, where the library keeps LAPACK's null-space basis
and the spec the stated one (tests/test_soap_adadiag.py compares those shapes on gradients that
leave the null space empty). heavyball 3.2.1's ``SOAP`` (the bench's mapping, stepped with
``storage_dtype = "float64"``, uncompiled) agrees with the spec on the same shapes with
weight_decay = 0 (it decays before the step, the spec after) and eps = 1e-12 (it adds eps to
sqrt(v_hat), the spec to sqrt(v)): its statistics start at the first outer product and its
shampoo_beta is debiased, which scales L and R but not their eigenvectors or the power step's
Q; its refresh is the same power step written otherwise (tests/test_soap_adadiag.py), but its
schedule refreshes at t = k, 2k, ..., one step before the spec's t = k + 1, 2k + 1, ..., so
the case gives its ``precond_schedule`` the spec's steps (``_float64_heavyball_soap``).
optax.contrib.muon differs in more than the dtype (bias correction, eps outside the clamp,
the scale's orientation, Nesterov AdamW for the rest): tests/test_muon.py writes its
conventions as a spec and compares there.

pytorch_optimizer.Shampoo (4.1.0, ``optimizer/shampoo.py``) keeps one preconditioner per tensor
dimension, started at ``matrix_eps * I`` and summed (``pre_cond += G Gᵀ``), and recomputes
``pre_cond^(-1/(2·order))`` by SVD every ``preconditioning_compute_steps`` steps from inverse
roots that start at 0. For a 2-d parameter (order 2) that is the spec's sum form exactly:
(eps I + Σ G Gᵀ)^(-1/4) = inv_root(Σ G Gᵀ, 4, eps) (the eigenvalues of a PSD matrix are its
singular values), the step ``lr * PL G PR``, with ``matrix_eps = eps``, ``momentum = 0``,
``weight_decay = 0``, ``preconditioning_compute_steps = precondition_frequency`` and
``moving_average = false`` (the library has no moving-average form). They cannot agree on other
shapes: a 1-d parameter gets full-matrix AdaGrad^(1/2) there and AdamW here, an N-d one one
preconditioner per dimension there and the matrix view's two here.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytorch_optimizer
import torch
import torch.optim._muon as torch_muon

from optc.bench import counterparts
from tests.refcases import RefCase, shared

MATRICES = ((5, 3), (3, 5), (4, 4))  # tall, wide, square


def _float64_newton_schulz(grad, ns_coefficients, ns_steps, eps):
    """torch.optim.Muon's ``_zeropower_via_newtonschulz`` without the cast to bfloat16."""
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


class _Float64Muon(torch.optim.Muon):
    def step(self, closure=None):
        with mock.patch.object(torch_muon, "_zeropower_via_newtonschulz", _float64_newton_schulz):
            return super().step(closure)


def _stepped_with(opt: torch.optim.Optimizer, target: Any, name: str, value: Any):
    """``opt`` with ``target.name`` patched to ``value`` during each of its steps."""
    step = opt.step

    def patched_step(closure: Callable | None = None):
        with mock.patch.object(target, name, value):
            return step(closure)

    opt.step = patched_step
    return opt


def _float64_muon(params, h):
    """The shared torch.optim.Muon mapping, its Newton-Schulz in float64 (the module note)."""
    opt = counterparts.counterpart("muon-vs-torch.optim")[1].build(params, h)
    return _stepped_with(opt, torch_muon, "_zeropower_via_newtonschulz", _float64_newton_schulz)


def _float64_heavyball_soap(params, h):
    """The shared heavyball.SOAP mapping with float64 state, uncompiled, refreshing on the
    spec's steps t >= 2 with (t - 1) % precondition_frequency == 0 (the module note)."""
    import heavyball

    opt = counterparts.counterpart("soap-vs-heavyball")[1].build(
        params, h, storage_dtype="float64", compile_step=False, multi_tensor=False
    )
    k = int(h["precondition_frequency"])
    opt.precond_schedule = lambda step: float(step >= 2 and (step - 1) % k == 0)
    return _stepped_with(opt, heavyball.utils, "compile_mode", None)


def _float64_qr_soap(params, h):
    """The shared pytorch_optimizer.SOAP mapping, its power step's QR in float64 (the cast to
    float32 lifted: the module note)."""
    import pytorch_optimizer.optimizer.soap as library_module

    opt = counterparts.counterpart("soap-vs-pytorch_optimizer")[1].build(params, h)
    names = {k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")}
    lifted = SimpleNamespace(**{**names, "float32": torch.float64})
    return _stepped_with(opt, library_module, "torch", lifted)


_NOTE = (
    "torch.optim.Muon(lr, weight_decay, momentum, nesterov, ns_coefficients=(ns_a, ns_b, ns_c), "
    "eps, ns_steps, adjust_lr_fn) with Newton-Schulz in float64 (its bfloat16 cast removed; see "
    "the module note)"
)
# the bench's probe hypers (lr 0.02, weight_decay 0.1, momentum 0.9) unless a case changes them
_MUON_PROBE = counterparts.BY_SPEC["muon"].probe
_SOAP_HYPERS = {
    "lr": 0.01,
    "beta1": 0.9,
    "beta2": 0.99,
    "shampoo_beta": 0.9,
    "eps": 1e-8,
    "weight_decay": 0.1,
    "precondition_frequency": 3,
}

CASES: list[RefCase] = [
    shared(
        "muon-vs-torch.optim",
        build=_float64_muon,
        note=_NOTE + ", nesterov, adjust_lr_fn = original",
        id="muon-vs-torch.optim-float64-ns",
        shapes=MATRICES,
    ),
    shared(
        "muon-vs-torch.optim",
        hypers={**_MUON_PROBE, "nesterov": False, "match_rms_adamw": True, "ns_steps": 3},
        build=_float64_muon,
        note=_NOTE + ", nesterov = False, adjust_lr_fn = match_rms_adamw, 3 steps",
        id="muon-vs-torch.optim-match-rms",
        shapes=MATRICES,
    ),
    shared(
        "muon-vs-torch.optim",
        note="torch.optim.Muon unmodified: Newton-Schulz in bfloat16, so bfloat16's accuracy",
        id="muon-vs-torch.optim-bfloat16-ns",
        shapes=MATRICES,
        rtol=0.0,
        atol=5e-3,
    ),
    RefCase(
        spec="muon",
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
        id="muon-vectors-vs-torch.optim.AdamW",
        shapes=((7,), (3,)),
    ),
    shared(
        "soap-vs-pytorch_optimizer",
        hypers=_SOAP_HYPERS,
        build=_float64_qr_soap,
        note="pytorch_optimizer.SOAP(lr, betas=(beta1, beta2), shampoo_beta, eps, weight_decay, "
        "precondition_frequency, merge_dims=False, precondition_1d=False, correct_bias=True, "
        "normalize_gradient=False) with its QR in float64 (module note): first step only builds "
        "L, R and the eigenbases; six power-iteration refreshes in the 20 steps",
        id="soap-vs-pytorch_optimizer-float64-qr",
        shapes=((7,), (4, 4), (5, 5)),
    ),
    shared(
        "soap-vs-pytorch_optimizer",
        hypers=_SOAP_HYPERS,
        note="pytorch_optimizer.SOAP unmodified: its power step's QR in float32, so θ to ~3e-8 "
        "over the six refreshes (measured 1.9e-8)",
        id="soap-vs-pytorch_optimizer-float32-qr",
        shapes=((7,), (4, 4), (5, 5)),
        rtol=0.0,
        atol=1e-7,
    ),
    shared(
        "soap-vs-heavyball",
        hypers={**_SOAP_HYPERS, "weight_decay": 0.0, "eps": 1e-12},
        build=_float64_heavyball_soap,
        note="heavyball.SOAP(lr, betas=(beta1, beta2), shampoo_beta, eps, weight_decay, "
        "precondition_frequency, merge_dims=False, precondition_1d=False, storage_dtype=float64,"
        " uncompiled, refreshing on the spec's steps) with weight_decay = 0 and eps = 1e-12 "
        "(module note); six power-iteration refreshes in the 20 steps (measured 6.6e-9, of the "
        "size it has without refreshes, not traced to one term)",
        shapes=((7,), (4, 4), (5, 5)),
        rtol=0.0,
        atol=3e-8,
    ),
]


def _shampoo(params, h):
    return pytorch_optimizer.Shampoo(
        params,
        lr=h["lr"],
        momentum=0.0,
        weight_decay=0.0,
        preconditioning_compute_steps=int(h["precondition_frequency"]),
        matrix_eps=h["eps"],
    )


_SHAMPOO_NOTE = (
    "pytorch_optimizer.Shampoo(lr, momentum = 0, weight_decay = 0, matrix_eps = eps, "
    "preconditioning_compute_steps = precondition_frequency) on 2-d parameters, the spec's sum "
    "form (see the module note)"
)

CASES += [
    RefCase(
        spec="shampoo",
        library="pytorch_optimizer",
        hypers={"lr": 0.02, "eps": 1e-4},
        build=_shampoo,
        note=_SHAMPOO_NOTE + ", inverse roots every step",
        id="shampoo-vs-pytorch_optimizer",
        shapes=MATRICES,
    ),
    RefCase(
        spec="shampoo",
        library="pytorch_optimizer",
        hypers={"lr": 0.02, "eps": 1e-3, "precondition_frequency": 3},
        build=_shampoo,
        note=_SHAMPOO_NOTE + ", inverse roots every 3 steps (zero steps before the first)",
        id="shampoo-vs-pytorch_optimizer-every-3",
        shapes=MATRICES,
    ),
]
