"""Which library implementations compute the same algorithm as a spec, and how the spec's hypers
translate to their arguments: the one copy of these mappings, read by `optc bench` and by the
reference-library tests (``tests/refcases`` makes a case of every counterpart here, by its id,
and checks it in float64 over 20+ steps against the installed library; the benchmark checks them
again, in float32 over a few steps, before it times anything).

Each entry: the spec, the hypers under which a wrong mapping shows (``probe``: non-default values)
and the counterparts. A counterpart may fix spec hypers it has no argument for (``fixed``: e.g.
optax.adabelief has no weight decay, so it is checked with weight_decay = 0); the benchmark runs
the spec with every counterpart's fixed values (``BenchSpec.fixed``), in the check and in the
timing alike. A torch counterpart is ``build(params, h, **flags) -> Optimizer``; ``paths`` names
the flags under which it is timed (torch.optim: ``foreach=True`` and, where torch has a fused
kernel, ``fused=True``; one that raises is reported unavailable). An optax counterpart is
``build(h) -> GradientTransformation``. ``note`` says the convention mapping in words.

Left out (a library version exists but needs more than a constructor call to match; their cases
live in tests/refcases only): AdamC (lr changed after construction), Amos (a patched get_scale),
Adafactor (shape-dependent factoring), the schedule-based optax.contrib.ademamix, Prodigy,
D-Adaptation, schedule-free, SM3, Nero, SGDP/AdamP, the clipping compositions. torch.optim.NAdam
is here; its float64 check seeds a float64 ``mu_product`` first (torch keeps it in the default
dtype).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Hypers = Mapping[str, float]

TORCH_LIBRARIES = ("torch.optim", "pytorch_optimizer", "heavyball")
JAX_LIBRARIES = ("optax",)


@dataclass(frozen=True)
class Counterpart:
    """One library implementation of a spec and the translation of the spec's hypers ``h``."""

    library: str  # "torch.optim" | "pytorch_optimizer" | "heavyball" | "optax"
    name: str  # "torch.optim.AdamW", "optax.adamw", ...
    build: Callable[..., Any]
    paths: tuple[str, ...] = ("default",)  # torch: "default" | "foreach" | "fused"
    note: str = ""  # the mapping in words
    fixed: dict[str, float] = field(default_factory=dict)  # spec hypers it has no argument for
    id: str = ""  # the reference case's id, where "<spec>-vs-<library>" is not unique
    # The benchmark's agreement check tolerances (relative, and absolute as a fraction of lr)
    # where the library computes in a lower precision on purpose (torch.optim.Muon: bfloat16
    # Newton-Schulz); None keeps optc.bench.check's RTOL and ATOL_LR. The note says why.
    check_rtol: float | None = None
    check_atol_lr: float | None = None

    @property
    def framework(self) -> str:
        return "jax" if self.library in JAX_LIBRARIES else "torch"

    def label(self, path: str) -> str:
        return self.name if path == "default" else f"{self.name}({path}=True)"


@dataclass(frozen=True)
class BenchSpec:
    """A spec, the hypers where a wrong mapping shows, and its library counterparts."""

    spec: str
    probe: dict[str, float]
    counterparts: tuple[Counterpart, ...]
    # The parameter dimensions the benchmark checks and times (the workloads' other tensors are
    # left out): where a library takes some shapes only (torch.optim.Muon: 2-d) or computes a
    # different algorithm on the others. None: every tensor.
    ndim: tuple[int, ...] | None = None
    # The agreement check's shapes, where suite.CHECK_WORKLOAD's cannot agree (SOAP: its tall and
    # wide matrices have rank-deficient statistics, whose null-space basis the library and the
    # spec choose differently). None: suite.CHECK_WORKLOAD's, restricted to ``ndim``.
    check_shapes: tuple[tuple[int, ...], ...] | None = None
    # False: the compiled optc paths (fused, jax) are checked on the check workload with the
    # other paths, not on the timing workload after the timed steps (suite.check_after_timing),
    # where the timing workload's constant gradient makes two correct implementations differ.
    check_after_timing: bool = True
    # False: left out of the default spec list (a default-workload run takes too long on a CPU);
    # `optc bench --specs NAME` or `--all` runs it.
    in_default_run: bool = True

    @property
    def fixed(self) -> dict[str, float]:
        """The hypers some counterpart fixes: the spec runs with them in the benchmark."""
        return {k: v for cp in self.counterparts for k, v in cp.fixed.items()}

    def case_hypers(self, counterpart: Counterpart) -> dict[str, float]:
        """The hypers under which ``counterpart`` is checked against the spec."""
        return {**self.probe, **counterpart.fixed}

    def case_id(self, counterpart: Counterpart) -> str:
        """The reference case's id: ``<spec>-vs-<library>`` unless the counterpart names one."""
        return counterpart.id or f"{self.spec}-vs-{counterpart.library}"


def _torch(
    name: str, paths: tuple[str, ...], build: Callable[..., Any], **info: Any
) -> Counterpart:
    return Counterpart("torch.optim", f"torch.optim.{name}", build, paths, **info)


def _po(name: str, build: Callable[..., Any], **info: Any) -> Counterpart:
    return Counterpart("pytorch_optimizer", f"pytorch_optimizer.{name}", build, **info)


def _optax(name: str, build: Callable[..., Any], **info: Any) -> Counterpart:
    return Counterpart("optax", name, build, **info)


# max_precondition_dim (pytorch_optimizer), max_precond_dim (heavyball): above every dimension, as
# the spec rotates every dimension of a matrix however large
_EVERY_DIM = 2**62

FE = ("foreach",)
FE_FU = ("foreach", "fused")


def _o():
    import optax

    return optax


def _t():
    import torch

    return torch.optim


def _p():
    import pytorch_optimizer

    return pytorch_optimizer


def _soap_keywords(h: dict[str, float]) -> dict[str, Any]:
    """The keywords pytorch_optimizer.SOAP and heavyball.SOAP name alike, from the spec's hypers
    (no merging of dimensions, no preconditioning of 1-d parameters, as the spec)."""
    return {
        "lr": h["lr"],
        "betas": (h["beta1"], h["beta2"]),
        "shampoo_beta": h["shampoo_beta"],
        "eps": h["eps"],
        "weight_decay": h["weight_decay"],
        "precondition_frequency": int(h["precondition_frequency"]),
        "merge_dims": False,
        "precondition_1d": False,
    }


def _heavyball():
    import heavyball

    return heavyball


def _coupled(wd, inner):
    optax = _o()
    return optax.chain(optax.add_decayed_weights(wd), inner)


_ADAM_PROBE = {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3}
_ADAMW_PROBE = {**_ADAM_PROBE, "weight_decay": 0.1}

SPECS: tuple[BenchSpec, ...] = (
    # -- SGD family ----------------------------------------------------------------------------
    BenchSpec(
        "sgd",
        {"lr": 0.05, "weight_decay": 0.1},
        (
            _torch(
                "SGD",
                FE_FU,
                lambda ps, h, **kw: _t().SGD(
                    ps, lr=h["lr"], momentum=0.0, weight_decay=h["weight_decay"], **kw
                ),
                note="torch.optim.SGD(momentum=0): lr, weight_decay coupled into the gradient.",
            ),
            _optax(
                "optax.chain(add_decayed_weights, sgd)",
                lambda h: _coupled(h["weight_decay"], _o().sgd(h["lr"])),
                note="optax.chain(add_decayed_weights(weight_decay), sgd(lr)): coupled L2 then SGD.",
            ),
        ),
    ),
    BenchSpec(
        "momentum",
        {"lr": 0.05, "momentum": 0.8},
        (
            _torch(
                "SGD",
                FE_FU,
                lambda ps, h, **kw: _t().SGD(ps, lr=h["lr"], momentum=h["momentum"], **kw),
                note=(
                    "torch.optim.SGD(momentum, dampening=0): torch's buffer b = momentum*b + g is "
                    "the spec's m / lr (constant lr), so theta -= lr*b equals theta -= m; torch's "
                    "first-step b = g coincides with momentum*0 + g."
                ),
            ),
            _optax(
                "optax.sgd",
                lambda h: _o().sgd(h["lr"], momentum=h["momentum"]),
                note="optax.sgd(lr, momentum): trace t = g + momentum*t (= m / lr), update -lr*t.",
            ),
        ),
    ),
    BenchSpec(
        "sgdmomentum",
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
        (
            _torch(
                "SGD",
                FE_FU,
                lambda ps, h, **kw: _t().SGD(
                    ps,
                    lr=h["lr"],
                    momentum=h["momentum"],
                    dampening=h["dampening"],
                    weight_decay=h["weight_decay"],
                    **kw,
                ),
                note=(
                    "torch.optim.SGD(momentum, dampening, weight_decay): same names; buf = g "
                    "(undampened) on step 1, buf = momentum*buf + (1 - dampening)*g after; "
                    "weight_decay coupled."
                ),
            ),
            _optax(
                "optax.chain(add_decayed_weights, sgd)",
                lambda h: _coupled(h["weight_decay"], _o().sgd(h["lr"], momentum=h["momentum"])),
                note=(
                    "optax.chain(add_decayed_weights(weight_decay), sgd(lr, momentum)); optax has "
                    "no dampening, so dampening = 0 here (its trace starts at 0: momentum*0 + g = g"
                    " on step 1)."
                ),
                id="sgdmomentum-vs-optax-undampened",
                fixed={"dampening": 0.0},
            ),
        ),
    ),
    BenchSpec(
        "sgdnesterov",
        {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1},
        (
            _torch(
                "SGD",
                FE_FU,
                lambda ps, h, **kw: _t().SGD(
                    ps,
                    lr=h["lr"],
                    momentum=h["momentum"],
                    nesterov=True,
                    weight_decay=h["weight_decay"],
                    **kw,
                ),
                note=(
                    "torch.optim.SGD(nesterov=True, dampening=0): buf = momentum*buf + g, step "
                    "lr*(g + momentum*buf); weight_decay coupled."
                ),
            ),
            _optax(
                "optax.chain(add_decayed_weights, sgd)",
                lambda h: _coupled(
                    h["weight_decay"], _o().sgd(h["lr"], momentum=h["momentum"], nesterov=True)
                ),
                note=(
                    "optax.chain(add_decayed_weights(weight_decay), sgd(lr, momentum, "
                    "nesterov=True)): trace t = g + momentum*t, update -lr*(g + momentum*t)."
                ),
            ),
        ),
    ),
    BenchSpec(
        "heavyball",
        {"lr": 0.05, "rho": 0.8},
        (
            _torch(
                "SGD",
                FE_FU,
                lambda ps, h, **kw: _t().SGD(
                    ps, lr=h["lr"], momentum=h["rho"], dampening=0.0, nesterov=False, **kw
                ),
                note=(
                    "torch.optim.SGD(momentum=rho, dampening=0): buf = rho*buf + g, theta -= "
                    "lr*buf, i.e. theta - lr*g + rho*(theta - prev) at a constant lr (buf = (prev -"
                    " theta)/lr)."
                ),
            ),
            _optax(
                "optax.sgd",
                lambda h: _o().sgd(h["lr"], momentum=h["rho"]),
                note=(
                    "optax.sgd(lr, momentum=rho): trace t = g + rho*t, update -lr*t; the Polyak "
                    "form at a constant lr."
                ),
            ),
        ),
    ),
    # -- AdaGrad / AdaDelta / RMSProp ----------------------------------------------------------
    BenchSpec(
        "adagrad",
        {
            "lr": 0.05,
            "lr_decay": 0.01,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.2,
            "eps": 1e-3,
        },
        (
            _torch(
                "Adagrad",
                FE_FU,
                lambda ps, h, **kw: _t().Adagrad(
                    ps,
                    lr=h["lr"],
                    lr_decay=h["lr_decay"],
                    weight_decay=h["weight_decay"],
                    initial_accumulator_value=h["initial_accumulator_value"],
                    eps=h["eps"],
                    **kw,
                ),
                note=(
                    "torch.optim.Adagrad: same names; clr = lr/(1 + (t-1)*lr_decay), eps outside "
                    "the root, weight_decay coupled, sum starts at initial_accumulator_value."
                ),
            ),
        ),
    ),
    BenchSpec(
        "adadelta",
        {"lr": 0.5, "rho": 0.8, "eps": 1e-3, "weight_decay": 0.1},
        (
            _torch(
                "Adadelta",
                FE,
                lambda ps, h, **kw: _t().Adadelta(
                    ps, lr=h["lr"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"], **kw
                ),
                note=(
                    "torch.optim.Adadelta: same names; delta = sqrt(u + eps)/sqrt(v + eps)*g, u "
                    "accumulates delta before lr, weight_decay coupled."
                ),
            ),
            _optax(
                "optax.adadelta",
                lambda h: _o().adadelta(
                    h["lr"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"]
                ),
                note=(
                    "optax.adadelta(learning_rate=lr, rho, eps, weight_decay): add_decayed_weights "
                    "(coupled) then scale_by_adadelta, identical to torch's form."
                ),
            ),
        ),
    ),
    BenchSpec(
        "rmsprop",
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.1},
        (
            _torch(
                "RMSprop",
                FE,
                lambda ps, h, **kw: _t().RMSprop(
                    ps,
                    lr=h["lr"],
                    alpha=h["alpha"],
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                    **kw,
                ),
                note=(
                    "torch.optim.RMSprop(momentum=0, centered=False): same names; eps outside the "
                    "root."
                ),
            ),
            _optax(
                "optax.chain(add_decayed_weights, rmsprop)",
                lambda h: _coupled(
                    h["weight_decay"],
                    _o().rmsprop(h["lr"], decay=h["alpha"], eps=h["eps"], eps_in_sqrt=False),
                ),
                note=(
                    "optax.chain(add_decayed_weights(weight_decay), rmsprop(lr, decay=alpha, eps, "
                    "eps_in_sqrt=False)); initial_scale = 0 as the spec's v = 0."
                ),
            ),
        ),
    ),
    BenchSpec(
        "rmspropdebiased",
        {"lr": 0.01, "beta2": 0.9, "eps": 1e-3},
        (
            _torch(
                "Adam",
                FE_FU,
                lambda ps, h, **kw: _t().Adam(
                    ps, lr=h["lr"], betas=(0.0, h["beta2"]), eps=h["eps"], **kw
                ),
                note="torch.optim.Adam(betas=(0, beta2)): Adam with beta1 = 0 is debiased RMSProp.",
            ),
            _optax(
                "optax.rmsprop",
                lambda h: _o().rmsprop(
                    h["lr"], decay=h["beta2"], eps=h["eps"], eps_in_sqrt=False, bias_correction=True
                ),
                note="optax.rmsprop(lr, decay=beta2, eps, eps_in_sqrt=False, bias_correction=True).",
            ),
        ),
    ),
    # -- Adam family ---------------------------------------------------------------------------
    BenchSpec(
        "adam",
        _ADAM_PROBE,
        (
            _torch(
                "Adam",
                FE_FU,
                lambda ps, h, **kw: _t().Adam(
                    ps, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], **kw
                ),
                note="torch.optim.Adam(weight_decay=0, amsgrad=False): betas = (beta1, beta2).",
            ),
            _optax(
                "optax.adam",
                lambda h: _o().adam(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"]),
                note="optax.adam(lr, b1=beta1, b2=beta2, eps, eps_root=0).",
            ),
        ),
    ),
    BenchSpec(
        "adamw",
        _ADAMW_PROBE,
        (
            _torch(
                "AdamW",
                FE_FU,
                lambda ps, h, **kw: _t().AdamW(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                    **kw,
                ),
                note="torch.optim.AdamW: theta *= 1 - lr*weight_decay before the Adam step.",
            ),
            _optax(
                "optax.adamw",
                lambda h: _o().adamw(
                    h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                ),
                note=(
                    "optax.adamw: update -lr*(adam_update + weight_decay*theta), algebraically the "
                    "same as torch's theta*(1 - lr*wd) - lr*adam_update."
                ),
            ),
        ),
    ),
    BenchSpec(
        "amsgrad",
        _ADAM_PROBE,
        (
            _torch(
                "Adam",
                FE_FU,
                lambda ps, h, **kw: _t().Adam(
                    ps, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], amsgrad=True, **kw
                ),
                note=(
                    "torch.optim.Adam(amsgrad=True, weight_decay=0): max of the raw v, then "
                    "sqrt(v_max)/sqrt(1 - beta2^t) + eps."
                ),
            ),
        ),
    ),
    BenchSpec(
        "adamax",
        _ADAMW_PROBE,
        (
            _torch(
                "Adamax",
                FE,
                lambda ps, h, **kw: _t().Adamax(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                    **kw,
                ),
                note="torch.optim.Adamax: u = max(beta2*u, |g| + eps); weight_decay coupled.",
            ),
            _optax(
                "optax.chain(add_decayed_weights, adamax)",
                lambda h: _coupled(
                    h["weight_decay"],
                    _o().adamax(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"]),
                ),
                note=(
                    "optax.chain(add_decayed_weights(weight_decay), adamax(lr, b1, b2, eps)): nu = "
                    "max(|g| + eps, b2*nu), as torch."
                ),
            ),
        ),
    ),
    BenchSpec(
        "adamaxw",
        {**_ADAMW_PROBE, "eps": 1e-4},
        (
            _optax(
                "optax.adamaxw",
                lambda h: _o().adamaxw(
                    learning_rate=h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                ),
                note=(
                    "optax.adamaxw(b1=beta1, b2=beta2, eps, weight_decay): nu = max(|g| + eps, "
                    "b2*nu), update m_hat/nu + weight_decay*theta, scaled by -lr."
                ),
            ),
        ),
    ),
    BenchSpec(
        "nadam",
        {**_ADAMW_PROBE, "momentum_decay": 0.05},
        (
            _torch(
                "NAdam",
                FE,
                lambda ps, h, **kw: _t().NAdam(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                    momentum_decay=h["momentum_decay"],
                    **kw,
                ),
                note=(
                    "torch.optim.NAdam(decoupled_weight_decay=False): same names; torch's "
                    "mu_product is the spec's scalar state mu_prod (seeded in float64: torch keeps "
                    "it in the default dtype)."
                ),
            ),
        ),
    ),
    BenchSpec(
        "nadamdozat",
        _ADAM_PROBE,
        (
            _optax(
                "optax.nadam",
                lambda h: _o().nadam(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"]),
                note=(
                    "optax.nadam = adam(nesterov=True): m_hat = b1*m/(1 - b1^(t+1)) + (1 - b1)*g/(1"
                    " - b1^t)."
                ),
            ),
        ),
    ),
    BenchSpec(
        "nadamw",
        {
            "lr": 1e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "eps": 1e-6,
            "eps_root": 1e-8,
            "weight_decay": 0.1,
        },
        (
            _optax(
                "optax.nadamw",
                lambda h: _o().nadamw(
                    learning_rate=h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    eps=h["eps"],
                    eps_root=h["eps_root"],
                    weight_decay=h["weight_decay"],
                ),
                note=(
                    "optax.nadamw = adamw(nesterov=True): m_hat = bias_correction(mu, b1, t+1) "
                    "blended with bias_correction(g, b1, t) by b1, m_hat/(sqrt(v_hat + eps_root) + "
                    "eps), then add_decayed_weights and -lr."
                ),
            ),
        ),
    ),
    BenchSpec(
        "radam",
        _ADAMW_PROBE,
        (
            _torch(
                "RAdam",
                FE,
                lambda ps, h, **kw: _t().RAdam(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                    **kw,
                ),
                note=(
                    "torch.optim.RAdam(decoupled_weight_decay=False): rectified branch when rho_t >"
                    " 5 (beta2 = 0.95 reaches it at step 6, so both branches run in 20 steps); eps "
                    "added to sqrt(v) with sqrt(1 - beta2^t) in the numerator."
                ),
            ),
        ),
    ),
    BenchSpec(
        "yogi",
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-2, "initial_accumulator_value": 0.05},
        (
            _po(
                "Yogi",
                lambda ps, h: _p().Yogi(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    eps=h["eps"],
                    initial_accumulator=h["initial_accumulator_value"],
                    weight_decay=0.0,
                ),
                note=(
                    "pytorch_optimizer.Yogi(initial_accumulator=initial_accumulator_value, "
                    "weight_decay=0): m, v start at initial_accumulator; denominator sqrt(v)/sqrt(1"
                    " - beta2^t) + eps, step size lr/(1 - beta1^t)."
                ),
            ),
            _optax(
                "optax.chain(scale_by_yogi, scale_by_learning_rate)",
                lambda h: _o().chain(
                    _o().scale_by_yogi(
                        b1=h["beta1"],
                        b2=h["beta2"],
                        eps=h["eps"],
                        initial_accumulator_value=h["initial_accumulator_value"],
                    ),
                    _o().scale_by_learning_rate(h["lr"]),
                ),
                note=(
                    "optax.yogi is chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(lr)); "
                    "built from the parts to pass initial_accumulator_value (m and v both start "
                    "there)."
                ),
            ),
        ),
    ),
    BenchSpec(
        "adabelief",
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-4, "weight_decay": 0.1},
        (
            _po(
                "AdaBelief",
                lambda ps, h: _p().AdaBelief(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    fixed_decay=False,
                    rectify=False,
                    ams_bound=False,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.AdaBelief(rectify=False, ams_bound=False, "
                    "weight_decouple=True, fixed_decay=False): s = beta2*s + (1-beta2)*(g-m)^2 + "
                    "eps, denominator sqrt(s)/sqrt(1-beta2^t) + eps = sqrt(s_hat) + eps, step "
                    "lr/(1-beta1^t); decay theta*(1 - lr*weight_decay) before the step (the step "
                    "does not read theta)."
                ),
            ),
            _optax(
                "optax.adabelief",
                lambda h: _o().adabelief(
                    learning_rate=h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    eps=h["eps"],
                    eps_root=h["eps"],
                ),
                note=(
                    "optax.adabelief(b1=beta1, b2=beta2, eps=eps, eps_root=eps): optax's eps_root "
                    "is the spec's eps inside s (added after the EMA), its eps the one outside the "
                    "root; optax has no weight decay, so weight_decay = 0."
                ),
                fixed={"weight_decay": 0.0},
            ),
        ),
    ),
    BenchSpec(
        "adabound",
        {
            "lr": 1e-2,
            "final_lr": 2e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "gamma": 0.1,
            "eps": 1e-6,
            "weight_decay": 0.1,
        },
        (
            _po(
                "AdaBound",
                lambda ps, h: _p().AdaBound(
                    ps,
                    lr=h["lr"],
                    final_lr=h["final_lr"],
                    betas=(h["beta1"], h["beta2"]),
                    gamma=h["gamma"],
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    fixed_decay=False,
                    ams_bound=False,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.AdaBound(ams_bound=False, weight_decouple=True): "
                    "clamp(lr*sqrt(1-beta2^t)/(1-beta1^t) / (sqrt(v + 1e-15) + eps), final_lr*(1 - "
                    "1/(gamma*t+1)), final_lr*(1 + 1/(gamma*t))) * m; final_lr is scaled by "
                    "lr/base_lr = 1 (constant lr); decay theta*(1 - lr*weight_decay). gamma = 0.1 "
                    "and final_lr = 2*lr make both bounds bind within 20 steps."
                ),
            ),
        ),
    ),
    BenchSpec(
        "adan",
        {"lr": 1e-2, "beta1": 0.9, "beta2": 0.85, "beta3": 0.95, "eps": 1e-6, "weight_decay": 0.1},
        (
            _po(
                "Adan",
                lambda ps, h: _p().Adan(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"], h["beta3"]),
                    weight_decay=h["weight_decay"],
                    weight_decouple=False,
                    max_grad_norm=0.0,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.Adan(weight_decouple=False, max_grad_norm=0): previous_grad "
                    "starts at -g_1 so the first difference is 0; m, v (of differences), n (of (g +"
                    " beta2*d)^2) all lerp with weight 1 - beta; step lr*(m/bc1 + beta2*v/bc2) / "
                    "(sqrt(n)/sqrt(bc3) + eps), then theta /= 1 + lr*weight_decay (proximal decay)."
                ),
            ),
        ),
    ),
    BenchSpec(
        "ademamix",
        {
            "lr": 1e-2,
            "beta1": 0.85,
            "beta2": 0.99,
            "beta3": 0.995,
            "alpha": 3.0,
            "t_alpha_beta3": 10,
            "eps": 1e-6,
            "weight_decay": 0.1,
        },
        (
            _po(
                "AdEMAMix",
                lambda ps, h: _p().AdEMAMix(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"], h["beta3"]),
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    fixed_decay=False,
                    alpha=h["alpha"],
                    t_alpha_beta3=h["t_alpha_beta3"],
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.AdEMAMix(weight_decouple=True; its default False is coupled "
                    "L2): schedule_alpha / schedule_beta3 evaluated at the 1-based step t are the "
                    "spec's alpha_t / beta3_t; denominator sqrt(v)/sqrt(1-beta2^t) + eps; decay "
                    "theta*(1 - lr*weight_decay). t_alpha_beta3 = 10 covers the warmup and the "
                    "plateau."
                ),
                fixed={"t_alpha_beta3": 10.0},
            ),
        ),
    ),
    BenchSpec(
        "stableadamw",
        {**_ADAMW_PROBE, "eps": 1e-4},
        (
            _po(
                "StableAdamW",
                lambda ps, h: _p().StableAdamW(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    kahan_sum=False,
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.StableAdamW(weight_decouple=True, kahan_sum=False): m, v "
                    "lerp with the debiased rates 1 - beta_t, so they are m_hat, v_hat; lr_t = lr /"
                    " max(1, sqrt(mean(g^2 / max(v_hat, eps^2)))); theta*(1 - lr_t*wd) then "
                    "-lr_t*m_hat/(sqrt(v_hat) + eps). beta2 = 0.95 makes the clipping bind on some "
                    "steps."
                ),
            ),
        ),
    ),
    BenchSpec(
        "grams",
        {**_ADAMW_PROBE, "eps": 1e-4},
        (
            _po(
                "Grams",
                lambda ps, h: _p().Grams(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.Grams(weight_decouple=True): |m_hat/(sqrt(v)/sqrt(bc2) + "
                    "eps)| * sign(g), decay theta*(1-lr*wd) (fixed_decay forced False)."
                ),
            ),
        ),
    ),
    BenchSpec(
        "laprop",
        {**_ADAMW_PROBE, "eps": 1e-4},
        (
            _po(
                "LaProp",
                lambda ps, h, **kw: _p().LaProp(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    centered=False,
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    fixed_decay=False,
                    ams_bound=False,
                    eps=h["eps"],
                    **kw,
                ),
                note=(
                    "pytorch_optimizer.LaProp(centered=False, ams_bound=False, "
                    "weight_decouple=True; checked in float64 with foreach=False: the foreach path "
                    "keeps the per-step 1/(1-beta1^t) in float32): m = beta1*m + (1-beta1)*lr*g/((sqrt(v + 1e-15) + "
                    "eps)/sqrt(1-beta2^t)), theta -= m/(EMA of lr / lr) = m/(1-beta1^t) for a "
                    "constant lr, then theta*(1-lr*wd) on the updated theta. The library's 1e-15 "
                    "under the root shows at ~1e-10 relative for near-zero gradient entries: rtol "
                    "1e-8."
                ),
            ),
        ),
    ),
    BenchSpec(
        "adopt",
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-2, "weight_decay": 0.1},
        (
            _po(
                "ADOPT",
                lambda ps, h: _p().ADOPT(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    fixed_decay=False,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.ADOPT(weight_decouple=True, default clip_lambda = "
                    "step^0.25): step 1 only sets v = g^2 (after the decay theta*(1-lr*wd)); later "
                    "steps clamp g/max(sqrt(v_prev), eps) to +-t^0.25, lerp m, theta -= lr*m, then "
                    "update v. eps = 1e-2 makes the floor bind for small |g|."
                ),
            ),
            _optax(
                "optax.contrib.adopt",
                lambda h: _o().contrib.adopt(
                    learning_rate=h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    eps=h["eps"],
                    use_clipping=True,
                    clip_value_fn=lambda count: (count + 1) ** 0.25,
                ),
                note=(
                    "optax.contrib.adopt(clip_value_fn=(count+1)^0.25): optax's count is t-1, so "
                    "this is the spec's t^0.25 (optax's default count^0.25 clips one step behind); "
                    "on the first step b1_=1, b2_=0 give m = 0, v = g^2; no weight decay in optax, "
                    "so weight_decay = 0."
                ),
                fixed={"weight_decay": 0.0},
            ),
        ),
    ),
    # -- sign methods --------------------------------------------------------------------------
    BenchSpec(
        "signsgd",
        {"lr": 1e-2, "weight_decay": 0.1},
        (
            _po(
                "SignSGD",
                lambda ps, h: _p().SignSGD(
                    ps,
                    lr=h["lr"],
                    momentum=0.0,
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                ),
                note=(
                    "pytorch_optimizer.SignSGD(momentum=0, weight_decouple=True): theta*(1-lr*wd) -"
                    " lr*sign(g)."
                ),
            ),
            _optax(
                "optax.sign_sgd",
                lambda h: _o().sign_sgd(learning_rate=h["lr"]),
                note=(
                    "optax.sign_sgd(lr): -lr*sign(g); no weight decay in optax, so weight_decay = "
                    "0."
                ),
                fixed={"weight_decay": 0.0},
            ),
        ),
    ),
    BenchSpec(
        "signum",
        {"lr": 1e-2, "beta": 0.8, "weight_decay": 0.1},
        (
            _po(
                "SignSGD",
                lambda ps, h: _p().SignSGD(
                    ps,
                    lr=h["lr"],
                    momentum=h["beta"],
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                ),
                note=(
                    "pytorch_optimizer.SignSGD(momentum=beta, weight_decouple=True): buffer lerp(g,"
                    " 1-beta) = EMA, theta*(1-lr*wd) - lr*sign(buffer)."
                ),
            ),
            _optax(
                "optax.signum",
                lambda h: _o().signum(learning_rate=h["lr"], beta=h["beta"]),
                note=(
                    "optax.signum(lr, beta): ema(debias=False) then sign; no weight decay, so "
                    "weight_decay = 0."
                ),
                fixed={"weight_decay": 0.0},
            ),
        ),
    ),
    BenchSpec(
        "lion",
        {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1},
        (
            _po(
                "Lion",
                lambda ps, h: _p().Lion(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    fixed_decay=False,
                ),
                note=(
                    "pytorch_optimizer.Lion(weight_decouple=True, fixed_decay=False): sign(lerp(m, "
                    "g, 1-beta1)), m lerps with 1-beta2, decay theta*(1-lr*wd)."
                ),
            ),
            _optax(
                "optax.lion",
                lambda h: _o().lion(
                    learning_rate=h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    weight_decay=h["weight_decay"],
                ),
                note=(
                    "optax.lion(b1=beta1, b2=beta2, weight_decay): -lr*(sign(c) + "
                    "weight_decay*theta)."
                ),
            ),
        ),
    ),
    BenchSpec(
        "tiger",
        {"lr": 1e-2, "beta": 0.8, "weight_decay": 0.1},
        (
            _po(
                "Tiger",
                lambda ps, h: _p().Tiger(
                    ps,
                    lr=h["lr"],
                    beta=h["beta"],
                    weight_decay=h["weight_decay"],
                    weight_decouple=True,
                    fixed_decay=False,
                ),
                note=(
                    "pytorch_optimizer.Tiger(weight_decouple=True): m lerps with 1-beta, "
                    "theta*(1-lr*wd) - lr*sign(m)."
                ),
            ),
        ),
    ),
    # -- dual averaging, quasi-hyperbolic ------------------------------------------------------
    BenchSpec(
        "madgrad",
        {"lr": 1e-2, "momentum": 0.8, "eps": 1e-4, "weight_decay": 0.1},
        (
            _po(
                "MADGRAD",
                lambda ps, h: _p().MADGRAD(
                    ps,
                    lr=h["lr"],
                    momentum=h["momentum"],
                    weight_decay=h["weight_decay"],
                    weight_decouple=False,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.MADGRAD(weight_decouple=False): g += wd*theta; lambda = (lr "
                    "+ eps)*sqrt(k+1) with k = t-1; x0 = initial theta (momentum > 0); z = x0 - "
                    "s/(cbrt(nu) + eps); theta.lerp_(z, 1 - momentum)."
                ),
            ),
            _optax(
                "optax.contrib.madgrad",
                lambda h: _o().contrib.madgrad(
                    learning_rate=h["lr"],
                    momentum=h["momentum"],
                    weight_decay=h["weight_decay"],
                    eps=h["eps"],
                ),
                note=(
                    "optax.contrib.madgrad: add_decayed_weights (coupled L2) then scale_by_madgrad,"
                    " whose update is x_new - theta with x_new = (1-momentum)*z + momentum*theta, "
                    "lambda = (lr + eps)*sqrt(count + 1); optax takes sqrt of the int32 count, "
                    "which jax computes in float32, so lambda carries ~1e-7 relative error: rtol "
                    "1e-5."
                ),
            ),
        ),
    ),
    BenchSpec(
        "qhadam",
        {
            "lr": 1e-2,
            "beta1": 0.8,
            "beta2": 0.95,
            "nu1": 0.7,
            "nu2": 0.6,
            "eps": 1e-6,
            "weight_decay": 0.1,
        },
        (
            _po(
                "QHAdam",
                lambda ps, h: _p().QHAdam(
                    ps,
                    lr=h["lr"],
                    betas=(h["beta1"], h["beta2"]),
                    nus=(h["nu1"], h["nu2"]),
                    weight_decay=h["weight_decay"],
                    weight_decouple=False,
                    fixed_decay=False,
                    eps=h["eps"],
                ),
                note=(
                    "pytorch_optimizer.QHAdam(nus=(nu1, nu2), weight_decouple=False): g += "
                    "wd*theta; the moments lerp with weight 1/w_t, w_t = beta*w_{t-1} + 1, which is"
                    " the debiased EMA; but w_t is kept in float32, so the weights carry ~1e-7 "
                    "relative error: tolerances are loosened to rtol 1e-6."
                ),
            ),
        ),
    ),
    BenchSpec(
        "qhm",
        {"lr": 1e-2, "momentum": 0.8, "nu": 0.7, "weight_decay": 0.1},
        (
            _po(
                "QHM",
                lambda ps, h: _p().QHM(
                    ps,
                    lr=h["lr"],
                    momentum=h["momentum"],
                    nu=h["nu"],
                    weight_decay=h["weight_decay"],
                    weight_decouple=False,
                    fixed_decay=False,
                ),
                note=(
                    "pytorch_optimizer.QHM(weight_decouple=False): g += wd*theta, buffer lerp(g, "
                    "1-momentum), theta -= lr*(nu*buffer + (1-nu)*g)."
                ),
            ),
        ),
    ),
    # -- per-tensor norms (trust ratios) -------------------------------------------------------
    BenchSpec(
        "lamb",
        {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1},
        (
            _optax(
                "optax.lamb",
                lambda h: _o().lamb(
                    h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                ),
                note=(
                    "optax.lamb = scale_by_adam(b1, b2, eps, eps_root=0), add_decayed_weights, "
                    "scale_by_trust_ratio (norm(theta) / norm(u), 1 where either is 0), lr."
                ),
            ),
        ),
    ),
    BenchSpec(
        "lars",
        {"lr": 0.05, "weight_decay": 0.1, "trust_coefficient": 0.02, "eps": 1e-3, "momentum": 0.8},
        (
            _optax(
                "optax.lars",
                lambda h: _o().lars(
                    h["lr"],
                    weight_decay=h["weight_decay"],
                    trust_coefficient=h["trust_coefficient"],
                    eps=h["eps"],
                    momentum=h["momentum"],
                ),
                note=(
                    "optax.lars = add_decayed_weights, scale_by_trust_ratio(trust_coefficient, eps)"
                    " (masks True: every tensor), scale by lr, trace(momentum): the trace holds the"
                    " lr-scaled steps, theta -= trace."
                ),
            ),
        ),
    ),
    BenchSpec(
        "novograd",
        {"lr": 0.05, "beta1": 0.8, "beta2": 0.6, "eps": 1e-3, "weight_decay": 0.1},
        (
            _optax(
                "optax.novograd",
                lambda h: _o().novograd(
                    h["lr"],
                    b1=h["beta1"],
                    b2=h["beta2"],
                    eps=h["eps"],
                    weight_decay=h["weight_decay"],
                ),
                note=(
                    "optax.novograd = scale_by_novograd(b1, b2, eps, eps_root=0, weight_decay), lr:"
                    " nu = norm(g)^2 on step 1, then an EMA; m = b1*m + g/(sqrt(nu) + eps) + "
                    "wd*theta."
                ),
            ),
        ),
    ),
    BenchSpec(
        "fromage",
        {"lr": 0.05, "min_norm": 0.0},
        (
            _po(
                "Fromage",
                lambda ps, h: _p().Fromage(ps, lr=h["lr"], p_bound=None),
                note=(
                    "pytorch_optimizer.Fromage(p_bound=None): theta - lr*g*norm(theta)/norm(g) "
                    "(plain g where either norm is 0), then divided by sqrt(1 + lr^2); min_norm = 0"
                    " (it has none)."
                ),
                fixed={"min_norm": 0.0},
            ),
            _optax(
                "optax.fromage",
                lambda h: _o().fromage(learning_rate=h["lr"], min_norm=h["min_norm"]),
                note=(
                    "optax.fromage(lr, min_norm=0): scale_by_trust_ratio (ratio "
                    "norm(theta)/norm(g), 1 where either is 0), scaled by lr*mult, plus (mult - "
                    "1)*theta with mult = 1/sqrt(1 + lr^2)."
                ),
                id="fromage-vs-optax-min_norm-0",
            ),
        ),
    ),
    BenchSpec(
        "rprop",
        {
            "lr": 0.05,
            "eta_minus": 0.4,
            "eta_plus": 1.3,
            "min_step_size": 0.03,
            "max_step_size": 0.1,
        },
        (
            _torch(
                "Rprop",
                FE,
                lambda ps, h, **kw: _t().Rprop(
                    ps,
                    lr=h["lr"],
                    etas=(h["eta_minus"], h["eta_plus"]),
                    step_sizes=(h["min_step_size"], h["max_step_size"]),
                    **kw,
                ),
                note=(
                    "torch.optim.Rprop(etas=(eta_minus, eta_plus), step_sizes=(min_step_size, "
                    "max_step_size)): factor from sign(g*prev), clamp, gradient zeroed after a sign"
                    " change and stored as prev. min 0.03 / max 0.1 around lr 0.05 make both clamps"
                    " bind."
                ),
            ),
        ),
    ),
    # -- matrix optimizers ----------------------------------------------------------------------
    BenchSpec(
        "muon",
        {"lr": 0.02, "weight_decay": 0.1, "momentum": 0.9},
        (
            _torch(
                "Muon",
                ("default",),  # no foreach / fused flag
                lambda ps, h: _t().Muon(
                    ps,
                    lr=h["lr"],
                    weight_decay=h["weight_decay"],
                    momentum=h["momentum"],
                    nesterov=bool(h["nesterov"]),
                    ns_coefficients=(h["ns_a"], h["ns_b"], h["ns_c"]),
                    eps=h["eps"],
                    ns_steps=int(h["ns_steps"]),
                    adjust_lr_fn="match_rms_adamw" if h["match_rms_adamw"] else "original",
                ),
                note=(
                    "torch.optim.Muon(lr, weight_decay, momentum, nesterov, ns_coefficients=(ns_a,"
                    " ns_b, ns_c), eps, ns_steps, adjust_lr_fn = match_rms_adamw if "
                    "match_rms_adamw else original), on 2-d parameters only (it refuses the "
                    "others; the spec sends them to AdamW). Its Newton-Schulz runs in bfloat16, "
                    "the spec's in the parameter's dtype: the benchmark checks it at rtol 3e-2, "
                    "atol 3e-2 * lr per step (measured: 0.43 of that at the probe; 58x over "
                    "the default rtol 1e-3); the float64 reference case patches the cast out."
                ),
                check_rtol=3e-2,
                check_atol_lr=3e-2,
            ),
        ),
        ndim=(2,),
        # 5 Newton-Schulz steps on the default workload's matrices take 30 s or more per step
        # on a 2-core CPU (docs/benchmarks.md): minutes per implementation
        in_default_run=False,
    ),
    BenchSpec(
        "soap",
        {"lr": 2e-3, "beta1": 0.9, "beta2": 0.99, "shampoo_beta": 0.9, "weight_decay": 0.05},
        (
            _po(
                "SOAP",
                lambda ps, h: _p().SOAP(
                    ps,
                    **_soap_keywords(h),
                    max_precondition_dim=_EVERY_DIM,
                    correct_bias=True,
                    normalize_gradient=False,
                ),
                note=(
                    "pytorch_optimizer.SOAP(lr, betas=(beta1, beta2), shampoo_beta, eps, "
                    "weight_decay, precondition_frequency, merge_dims=False, precondition_1d="
                    "False, correct_bias=True, normalize_gradient=False, max_precondition_dim "
                    "above every dimension): step 1 only builds L, R and their eigh eigenbases, "
                    "and the later refreshes take one power-iteration step (argsort, QR), as the "
                    "spec (sort_perm, qr); its QR runs in float32 even for float64 parameters. "
                    "The benchmark's agreement check covers 3 steps (precondition_frequency 10: "
                    "before the first refresh; tests/refcases/group_m.py compares six refreshes),"
                    " on square and 1-d shapes (check_shapes); the timed steps are not compared "
                    "with the library."
                ),
            ),
            Counterpart(
                "heavyball",
                "heavyball.SOAP",
                lambda ps, h, **kw: _heavyball().SOAP(
                    ps, **_soap_keywords(h), max_precond_dim=_EVERY_DIM, **kw
                ),
                note=(
                    "heavyball.SOAP(lr, betas=(beta1, beta2), shampoo_beta, eps, weight_decay, "
                    "precondition_frequency, merge_dims=False, precondition_1d=False, "
                    "max_precond_dim above every dimension), torch.compile'd as it ships: its "
                    "statistics start at the first outer product with a debiased shampoo_beta "
                    "(the same eigenbases). It adds eps to sqrt(v_hat), the spec to sqrt(v) "
                    "before the bias correction (no constant maps one to the other): eps = 1e-12 "
                    "here, where neither matters (at 1e-8 a small rotated gradient entry made "
                    "them differ by 4x the check's tolerance). It decays theta before the step, "
                    "the spec after: lr * weight_decay (1e-4 at the probe) of a step apart. Its "
                    "refreshes are the spec's power-iteration step written otherwise, on steps "
                    "t = k, 2k, ... (the spec's: t = k + 1, 2k + 1, ...): the check's 3 steps "
                    "come before either; tests/refcases/group_m.py compares refreshes with its "
                    "schedule moved to the spec's steps."
                ),
                fixed={"eps": 1e-12},
            ),
        ),
        ndim=(1, 2),  # the spec takes an N-d tensor's matrix view, the libraries one basis per dim
        check_shapes=((16, 16), (12, 12), (16,)),
        # Under one gradient repeated, the rotated gradient QLᵀ G QR is diagonal (QL, QR are G's
        # singular vectors): its off-diagonal entries, and so their m / sqrt(v), are rounding
        # noise over rounding noise, which the readable, fused and jax paths round differently
        # (measured: 5.7e3 x the tolerance on an 8x4 matrix after 3 steps). Their steps agree
        # on the check's varying gradients.
        check_after_timing=False,
    ),
)

BY_SPEC: dict[str, BenchSpec] = {s.spec: s for s in SPECS}


def counterpart(case_id: str) -> tuple[BenchSpec, Counterpart]:
    """The counterpart whose reference case has this id (``"adamw-vs-optax"``)."""
    for bench in SPECS:
        for cp in bench.counterparts:
            if bench.case_id(cp) == case_id:
                return bench, cp
    raise KeyError(f"no counterpart with the reference case id {case_id!r}")
