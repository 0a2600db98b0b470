"""torch.optim's conventions on the generated optimizers: drop-in for a torch.optim user.

Checkpoints, names (``betas``), flags (``maximize``, ``foreach``...), complex parameters, LR
schedulers and gradients reused in place. Expected values come from torch.optim itself (the
counterpart each spec declares), from a real-valued run of the same spec (for complex
parameters), or from the reference interpreter — never from the code under test alone.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import optc
from optc.backends.reference.interpreter import init_state, step
from optc.backends.torch.runtime import SpecOptimizer
from tests.refcases import group_a, group_b, group_c, group_g, group_h, group_p

SPECS = Path(__file__).resolve().parent.parent / "specs"
ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.opt") if p.stem != "prelude")


@functools.cache
def program(spec: str):
    return optc.load_program(SPECS / f"{spec}.opt")


@functools.cache
def optimizer_class(spec: str) -> type[SpecOptimizer]:
    return optc.load(SPECS / f"{spec}.opt", backend="torch")


# Hypers that exercise every term, taken from the torch.optim reference cases.
TORCH_CASES = {
    case.spec: case.hypers
    for case in group_a.CASES
    + group_b.CASES
    + group_c.CASES
    + group_g.CASES
    + group_h.CASES
    + group_p.CASES
    if case.library == "torch.optim" and program(case.spec).counterpart("torch") is not None
}
COUNTERPART_SPECS = sorted(s for s in ALL_SPECS if program(s).counterpart("torch") is not None)


def library_class(spec: str) -> type[torch.optim.Optimizer]:
    library = program(spec).counterpart("torch").library
    return getattr(torch.optim, library.removeprefix("torch.optim."))


def library_keywords(spec: str, hypers: dict) -> dict:
    """The counterpart's constructor keywords for spec hypers, from the spec's declaration."""
    prog = program(spec)
    counterpart = prog.counterpart("torch")
    values = {h.name: hypers.get(h.name, h.default) for h in prog.hypers}
    keywords: dict = dict(counterpart.fixed)
    for name, value in values.items():
        key, index = counterpart.library_name(name)
        if index is None:
            keywords[key] = value
        else:
            members = counterpart.hypers[key]
            keywords[key] = tuple(values[m] for m in members)
    return keywords


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    """torch.optim keeps scalar state (NAdam's mu_product, ``step``) in the default dtype."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def make_model(seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).to(
        dtype
    )


def batch(k: int, dtype: torch.dtype = torch.float64):
    gen = torch.Generator().manual_seed(100 + k)
    return torch.randn(8, 4, generator=gen, dtype=dtype), torch.randn(
        8, 2, generator=gen, dtype=dtype
    )


def train(model, opt, steps: int, start: int = 0, scheduler=None) -> None:
    for k in range(start, start + steps):
        x, y = batch(k, next(model.parameters()).dtype)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()


def params_of(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def assert_close(got, want, rtol=1e-10, atol=1e-12) -> None:
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


def roundtrip(state_dict: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# -- checkpoints: the counterpart's load here, ours load there ---------------------------------


def test_every_torch_counterpart_has_a_reference_case():
    assert sorted(TORCH_CASES) == COUNTERPART_SPECS
    assert len(COUNTERPART_SPECS) >= 10


@pytest.mark.parametrize("spec", COUNTERPART_SPECS)
def test_library_checkpoint_loads_and_training_continues_as_the_library(spec):
    hypers = TORCH_CASES[spec]
    with default_dtype(torch.float64):
        reference = make_model()
        ref_opt = library_class(spec)(
            reference.parameters(), **library_keywords(spec, hypers), foreach=False
        )
        train(reference, ref_opt, 5)
        saved = roundtrip({"model": reference.state_dict(), "opt": ref_opt.state_dict()})

        resumed = make_model(seed=7)
        resumed.load_state_dict(saved["model"])
        opt = optimizer_class(spec)(resumed.parameters())  # hypers come from the checkpoint
        opt.load_state_dict(saved["opt"])
        assert opt.group_hypers(opt.param_groups[0]) == {
            h.name: hypers.get(h.name, h.default) for h in program(spec).hypers
        }
        for p, q in zip(resumed.parameters(), reference.parameters(), strict=True):
            for key, value in ref_opt.state[
                q
            ].items():  # the loaded state is the library's, exactly
                if isinstance(value, torch.Tensor):
                    assert torch.equal(opt.state[p][key], value), key
        train(reference, ref_opt, 10, start=5)
        train(resumed, opt, 10, start=5)
    assert_close(params_of(resumed), params_of(reference))


@pytest.mark.parametrize("spec", COUNTERPART_SPECS)
def test_our_checkpoint_loads_into_the_library(spec):
    hypers = TORCH_CASES[spec]
    with default_dtype(torch.float64):
        ours = make_model()
        opt = optimizer_class(spec)(ours.parameters(), **hypers)
        train(ours, opt, 5)
        saved = roundtrip({"model": ours.state_dict(), "opt": opt.state_dict()})

        library = make_model(seed=7)
        library.load_state_dict(saved["model"])
        lib_opt = library_class(spec)(library.parameters(), foreach=False)
        lib_opt.load_state_dict(saved["opt"])
        for group in lib_opt.param_groups:
            group["foreach"] = False
        train(ours, opt, 10, start=5)
        train(library, lib_opt, 10, start=5)
    assert_close(params_of(library), params_of(ours))


def test_checkpoint_of_another_algorithm_is_refused():
    model = make_model()
    amsgrad = torch.optim.Adam(model.parameters(), amsgrad=True)
    train(model, amsgrad, 2)
    opt = optimizer_class("adam")(model.parameters())
    with pytest.raises(ValueError, match=r"amsgrad=False only \(got amsgrad=True\)"):
        opt.load_state_dict(amsgrad.state_dict())


def test_checkpoint_of_another_optimizer_is_a_clear_error():
    model = make_model()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, sgd, 2)
    with pytest.raises(
        ValueError, match=r"AdamW needs `betas` \(its hyper beta1\) in the checkpoint"
    ):
        optimizer_class("adamw")(model.parameters()).load_state_dict(sgd.state_dict())


def test_checkpoint_with_out_of_domain_hyper_is_refused():
    model = make_model()
    lib = torch.optim.AdamW(model.parameters())
    state = lib.state_dict()
    state["param_groups"][0]["betas"] = (1.5, 0.999)
    with pytest.raises(ValueError, match=r"Invalid beta1: 1.5 .*in the checkpoint"):
        optimizer_class("adamw")(model.parameters()).load_state_dict(state)


# -- names: torch's form and the spec's --------------------------------------------------------


def test_betas_and_spec_names_are_the_same_hypers():
    a, b, c = make_model(), make_model(), make_model()
    by_tuple = optimizer_class("adamw")(a.parameters(), lr=1e-2, betas=(0.8, 0.9))
    by_name = optimizer_class("adamw")(b.parameters(), lr=1e-2, beta1=0.8, beta2=0.9)
    library = torch.optim.AdamW(c.parameters(), lr=1e-2, betas=(0.8, 0.9), foreach=False)
    for model, opt in ((a, by_tuple), (b, by_name), (c, library)):
        train(model, opt, 4)
    assert all(torch.equal(x, y) for x, y in zip(params_of(a), params_of(b), strict=True))
    assert_close(params_of(a), params_of(c))
    assert by_name.param_groups[0]["betas"] == (0.8, 0.9)


def test_three_betas_without_a_counterpart_take_torchs_tuple_form():
    cls = optimizer_class("adan")
    opt = cls(make_model().parameters(), betas=(0.9, 0.8, 0.7), beta2=0.5)
    assert opt.param_groups[0]["betas"] == (0.9, 0.5, 0.7)
    with pytest.raises(
        ValueError, match=r"Invalid betas: \(0.9, 0.8\) \(betas must be a tuple of 3"
    ):
        cls(make_model().parameters(), betas=(0.9, 0.8))
    with pytest.raises(ValueError, match=r"Invalid beta3: 1.0 \(beta3 must be in \[0, 1\)\)"):
        cls(make_model().parameters(), betas=(0.9, 0.8, 1.0))


def test_param_group_may_use_spec_names_and_is_validated():
    model = make_model()
    opt = optimizer_class("adamw")(model[0].parameters())
    opt.add_param_group({"params": model[2].parameters(), "beta1": 0.5})
    assert opt.param_groups[1]["betas"] == (0.5, 0.999)
    with pytest.raises(ValueError, match=r"Invalid lr: -1.0 .* in a param group"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": -1.0})


def test_named_parameters_are_accepted():
    model = make_model()
    opt = optimizer_class("adam")(model.named_parameters(), lr=1e-2)
    train(model, opt, 2)
    assert opt.state_dict()["param_groups"][0]["param_names"][0] == "0.weight"


# -- flags --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["adam", "sgdmomentum", "rprop", "lion"])
def test_maximize_is_gradient_ascent(spec):
    hypers = TORCH_CASES.get(spec, {"lr": 1e-3})
    up, down = make_model(), make_model()
    opt_up = optimizer_class(spec)(up.parameters(), maximize=True, **hypers)
    opt_down = optimizer_class(spec)(down.parameters(), **hypers)
    for k in range(4):
        x, y = batch(k)
        opt_up.zero_grad()
        torch.nn.functional.mse_loss(up(x), y).backward()
        opt_up.step()
        opt_down.zero_grad()
        (-torch.nn.functional.mse_loss(down(x), y)).backward()
        opt_down.step()
    assert all(torch.equal(a, b) for a, b in zip(params_of(up), params_of(down), strict=True))
    if spec in TORCH_CASES:
        lib = make_model()
        lib_opt = library_class(spec)(
            lib.parameters(), **library_keywords(spec, hypers), maximize=True, foreach=False
        )
        train(lib, lib_opt, 4)
        assert_close(params_of(up), params_of(lib))


@pytest.mark.parametrize("flag", ["capturable", "differentiable"])
def test_unavailable_paths_are_a_clear_error(flag):
    cls = optimizer_class("adamw")
    with pytest.raises(ValueError, match=rf"AdamW: {flag}=True is not available"):
        cls(make_model().parameters(), **{flag: True})
    cls(make_model().parameters(), **{flag: False})  # the default is accepted


def test_fixed_counterpart_option_accepts_only_its_value():
    cls = optimizer_class("adamw")
    cls(make_model().parameters(), amsgrad=False)
    with pytest.raises(ValueError, match=r"torch.optim.AdamW with amsgrad=False only"):
        cls(make_model().parameters(), amsgrad=True)


# -- complex and low-precision parameters -------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_complex_parameter_is_its_real_view(spec):
    """torch.optim's rule: a complex parameter is optimized as the pairs (re, im)."""
    gen = torch.Generator().manual_seed(3)
    z0 = torch.randn(3, 2, dtype=torch.complex128, generator=gen)
    grads = [torch.randn(3, 2, dtype=torch.complex128, generator=gen) for _ in range(4)]
    z = torch.nn.Parameter(z0.clone())
    r = torch.nn.Parameter(torch.view_as_real(z0).clone())
    opt_z, opt_r = optimizer_class(spec)([z]), optimizer_class(spec)([r])
    for g in grads:
        z.grad, r.grad = g.clone(), torch.view_as_real(g).clone()
        opt_z.step()
        opt_r.step()
    assert z.is_complex()
    assert torch.equal(torch.view_as_real(z.detach()), r.detach())
    for key, value in opt_r.state[r].items():
        stored = opt_z.state[z][key]
        if stored.is_complex():
            stored = torch.view_as_real(stored)
        assert torch.equal(stored, value), key


def test_complex_adam_matches_torch_optim():
    gen = torch.Generator().manual_seed(4)
    z0 = torch.randn(5, dtype=torch.complex128, generator=gen)
    a, b = torch.nn.Parameter(z0.clone()), torch.nn.Parameter(z0.clone())
    ours = optimizer_class("adam")([a], lr=1e-2)
    lib = torch.optim.Adam([b], lr=1e-2, foreach=False)
    for _ in range(5):
        g = torch.randn(5, dtype=torch.complex128, generator=gen)
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        lib.step()
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert ours.state[a]["exp_avg"].dtype == torch.complex128  # stored as torch.optim stores it


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_bfloat16_parameters_keep_their_dtype_and_follow_float32(spec):
    gen = torch.Generator().manual_seed(5)
    x0 = torch.randn(16, generator=gen)
    grads = [torch.randn(16, generator=gen) for _ in range(3)]
    low = torch.nn.Parameter(x0.to(torch.bfloat16))
    high = torch.nn.Parameter(x0.to(torch.bfloat16).float())
    opt_low, opt_high = optimizer_class(spec)([low]), optimizer_class(spec)([high])
    for g in grads:
        low.grad, high.grad = g.to(torch.bfloat16), g.to(torch.bfloat16).float()
        opt_low.step()
        opt_high.step()
    assert low.dtype == torch.bfloat16
    for value in opt_low.state[low].values():
        if value.shape == low.shape:
            assert value.dtype == torch.bfloat16
    both_finite = torch.isfinite(high.detach())
    assert torch.equal(torch.isfinite(low.detach().float()), both_finite)
    torch.testing.assert_close(
        low.detach().float()[both_finite], high.detach()[both_finite], rtol=0.05, atol=0.05
    )


# -- gradients reused in place ------------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_zero_grad_without_set_to_none_and_accumulation_change_nothing(spec):
    """The gradient tensor reused in place (zero_grad(set_to_none=False), accumulation) or
    overwritten after step() must not reach into the optimizer's state."""
    runs = {}
    for mode in ("fresh", "reused", "accumulated"):
        model = make_model()
        opt = optimizer_class(spec)(model.parameters())
        for k in range(5):
            opt.zero_grad(set_to_none=mode == "fresh")
            x, y = batch(k)
            if mode == "accumulated":  # two half-batches summed into the same .grad
                for half in (slice(0, 4), slice(4, 8)):
                    (
                        torch.nn.functional.mse_loss(model(x[half]), y[half], reduction="sum") / 16
                    ).backward()
            else:
                (torch.nn.functional.mse_loss(model(x), y, reduction="sum") / 16).backward()
            opt.step()
            if mode == "reused":  # garbage written into the gradient after the step
                for p in model.parameters():
                    p.grad.fill_(math.nan)
        runs[mode] = params_of(model)
    assert_close(runs["reused"], runs["fresh"], rtol=0, atol=0)
    assert_close(runs["accumulated"], runs["fresh"], rtol=1e-12, atol=1e-14)


HEAVY_BALL = """
optimizer HeavyBall
cite "Polyak 1964, written with the previous iterate"
hyper lr = 0.1 in (0, inf)
hyper momentum = 0.5 in [0, 1)
state prev = theta
step
  d = theta - prev
  prev <- theta
  theta <- theta - lr * g + momentum * d
"""


def test_heavy_ball_with_previous_iterate_matches_the_reference_interpreter():
    cls = optc.load(HEAVY_BALL, backend="torch")
    prog = optc.load_program(HEAVY_BALL)
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(6)
    p = torch.nn.Parameter(torch.tensor(theta0))
    opt = cls([p])
    hypers = {h.name: h.default for h in prog.hypers}
    ref_theta, ref_state = theta0.copy(), init_state(prog, theta0, hypers)
    p.grad = torch.zeros_like(p)
    for t in range(1, 6):
        g = rng.standard_normal(6)
        p.grad.copy_(torch.tensor(g))  # in place, as zero_grad(set_to_none=False) + backward
        opt.step()
        ref_theta, ref_state = step(prog, ref_theta, g, ref_state, t, hypers)
        np.testing.assert_allclose(p.detach().numpy(), ref_theta, rtol=1e-12)
        np.testing.assert_allclose(opt.state[p]["prev"].numpy(), ref_state["prev"], rtol=1e-12)
    assert opt.state[p]["prev"].untyped_storage().data_ptr() != p.untyped_storage().data_ptr()


# -- names that collide with the generated code's own -------------------------------------------

COLLIDING = """
optimizer Collide
cite "a spec whose names are the generated code's own"
hyper torch = 0.1 in (0, inf)
hyper math = 2 in (0, inf)
hyper self = 0.5 in [0, 1)
hyper Hyper = 1 in [0, inf)
hyper SpecOptimizer = 0 in [0, inf)
hyper delta = 0.3 in [0, inf)
hyper dtype = 1 in (0, inf)
hyper maximize = 0 in [0, 1]
state hypers = 0
state zip = 0
state updates = 0
step
  hypers <- self * hypers + g
  zip <- zip + abs(g) * math
  updates <- updates + Hyper + SpecOptimizer
  theta <- theta - torch * hypers / (sqrt(zip) + dtype) - delta * maximize * g
"""


def test_spec_names_are_public_keywords_exactly_and_internals_move_aside():
    cls = optc.load(COLLIDING, backend="torch")
    prog = optc.load_program(COLLIDING)
    values = {
        "torch": 0.05,
        "math": 3.0,
        "self": 0.7,
        "Hyper": 2.0,
        "SpecOptimizer": 1.0,
        "delta": 0.1,
        "dtype": 0.5,
        "maximize": 0.25,
    }
    p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    opt = cls([p], **values)
    rng = np.random.default_rng(1)
    theta, state = p.detach().numpy().copy(), init_state(prog, p.detach().numpy(), values)
    for t in range(1, 4):
        g = rng.standard_normal(3)
        p.grad = torch.tensor(g)
        opt.step()
        theta, state = step(prog, theta, g, state, t, values)
    np.testing.assert_allclose(p.detach().numpy(), theta, rtol=1e-12)
    for name in ("hypers", "zip", "updates"):
        np.testing.assert_allclose(opt.state[p][name].numpy(), state[name], rtol=1e-12)
    assert opt.param_groups[0]["maximize"] == 0.25  # the spec's hyper, not torch's flag


# -- LR schedulers ------------------------------------------------------------------------------

SCHEDULERS = {
    "StepLR": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "CosineAnnealingLR": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6),
    "OneCycleLR": lambda opt: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.05, total_steps=12, cycle_momentum=True
    ),
    "LambdaLR": lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 / (1 + k)),
    "SequentialLR": lambda opt: torch.optim.lr_scheduler.SequentialLR(
        opt,
        [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=3),
            torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
        ],
        milestones=[3],
    ),
}


@pytest.mark.parametrize("name", [*SCHEDULERS, "ReduceLROnPlateau"])
@pytest.mark.parametrize("spec", ["adamw", "sgdmomentum", "nadam", "rmsprop"])
def test_lr_schedulers_drive_the_same_trajectory_as_torch_optim(spec, name):
    hypers = TORCH_CASES[spec]
    if name == "OneCycleLR" and spec == "rmsprop":
        pytest.skip("RMSprop with momentum = 0 has no momentum for OneCycleLR to cycle")
    with default_dtype(torch.float64):
        ours, lib = make_model(), make_model()
        opt = optimizer_class(spec)(ours.parameters(), **hypers)
        lib_opt = library_class(spec)(
            lib.parameters(), **library_keywords(spec, hypers), foreach=False
        )
        for model, optimizer in ((ours, opt), (lib, lib_opt)):
            if name == "ReduceLROnPlateau":
                scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                    optimizer, patience=0, factor=0.5
                )
                for k in range(8):
                    train(model, optimizer, 1, start=k)
                    scheduler.step(1.0)  # a loss that never improves: lr halves every step
            else:
                train(model, optimizer, 12, scheduler=SCHEDULERS[name](optimizer))
        assert opt.param_groups[0]["lr"] == pytest.approx(lib_opt.param_groups[0]["lr"], rel=1e-12)
    assert_close(params_of(ours), params_of(lib))


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_every_spec_runs_under_every_scheduler(spec):
    cls = optimizer_class(spec)
    for name, make in SCHEDULERS.items():
        model = make_model()
        opt = cls(model.parameters())
        supports_momentum = "momentum" in opt.defaults or "betas" in opt.defaults
        if name == "OneCycleLR" and not supports_momentum:
            make = lambda o: torch.optim.lr_scheduler.OneCycleLR(  # noqa: E731
                o, max_lr=0.05, total_steps=12, cycle_momentum=False
            )
        scheduler = make(opt)
        before = opt.param_groups[0]["lr"]
        train(model, opt, 3, scheduler=scheduler)
        assert opt.param_groups[0]["lr"] != before, name
        assert all(torch.isfinite(p).all() for p in model.parameters()), name


# -- sparse gradients ---------------------------------------------------------------------------

SPARSE = {
    "sgd": {"lr": 0.1, "weight_decay": 0.0},
    "sgdmomentum": {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.0},
    "sgdnesterov": {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0},
    "adagrad": {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.0},
}


def _embedding_run(make_optimizer, steps: int = 4) -> torch.Tensor:
    torch.manual_seed(0)
    emb = torch.nn.Embedding(10, 3, sparse=True).double()
    opt = make_optimizer(emb.parameters())
    for k in range(steps):
        opt.zero_grad()
        rows = torch.tensor([k % 3, 4, 4, 7 - k])
        (emb(rows) ** 2).sum().backward()
        assert emb.weight.grad.is_sparse
        opt.step()
    return emb.weight.detach()


@pytest.mark.parametrize("spec", sorted(SPARSE))
def test_sparse_gradients_where_torch_optim_takes_them(spec):
    hypers = SPARSE[spec]
    ours = _embedding_run(lambda ps: optimizer_class(spec)(ps, **hypers))
    lib = _embedding_run(lambda ps: library_class(spec)(ps, **library_keywords(spec, hypers)))
    torch.testing.assert_close(ours, lib, rtol=1e-12, atol=1e-14)


def test_sparse_gradients_elsewhere_are_a_clear_error():
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients"):
        _embedding_run(lambda ps: optimizer_class("adam")(ps))
    with pytest.raises(RuntimeError, match="weight_decay != 0 is not compatible with sparse"):
        _embedding_run(lambda ps: optimizer_class("adagrad")(ps, weight_decay=0.1))


# -- torch.compile -----------------------------------------------------------------------------


COMPILE_CASES = [(spec, "eager") for spec in ALL_SPECS] + [("adamw", "inductor")]
# Specs whose foreach path (the default) branches on a condition of t that first changes value
# within the six steps (every 5 steps; RAdam's rho_t > 5 from t = 6): a Python `if` once per
# list, so torch.compile builds one more graph the first time the other branch is taken.
STEP_BRANCHES = {"lookaheadadam": 1, "radam": 1}


@pytest.mark.parametrize(("spec", "backend"), COMPILE_CASES)
def test_compiled_training_step_does_not_recompile_per_step(spec, backend):
    """The step count is a tensor in the state (as torch.optim keeps it), so dynamo does not
    specialise on its value: after the first two steps (state creation, then the steady step)
    no new graph is compiled, and the compiled run equals the eager one. Recompiles are
    dynamo's (guards), so the eager backend counts them for every spec in a fraction of the
    time; AdamW also runs the inductor kernels."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    graphs, results = [], []
    for compiled in (True, False):
        model = make_model(dtype=torch.float32)
        opt = optimizer_class(spec)(model.parameters())
        x, y = batch(0, torch.float32)

        def train_step(model=model, opt=opt, x=x, y=y):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        run = torch.compile(train_step, backend=backend) if compiled else train_step
        for _ in range(6):
            run()
            if compiled:
                graphs.append(counters["stats"]["unique_graphs"])
        results.append(params_of(model))
    torch._dynamo.reset()
    extra = STEP_BRANCHES.get(spec, 0)  # nothing else compiled after step 2
    assert graphs[1] > 0 and graphs[1] <= graphs[-1] <= graphs[1] + extra, graphs
    assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("hyper params = 0.1 in (0, inf)", "hyper `params` would be the param-group key `params`"),
        ("hyper step = 0.1 in (0, inf)", "hyper `step` would be the param-group key `step`"),
        ("state step = 0", "state `step` would be the key torch.optim keeps the step count under"),
    ],
)
def test_names_torch_optim_reserves_are_located_errors(declaration, message):
    name = declaration.split()[1]
    text = f'optimizer P\ncite "x"\n{declaration}\nstep\n  theta <- theta - 0.1 * {name} * g\n'
    with pytest.raises(optc.SpecError) as err:
        optc.load(text, backend="torch")
    rendered = str(err.value)
    assert message in rendered and "<spec>:3:1" in rendered
    assert f"   3 | {declaration}" in rendered and "^~~" in rendered
