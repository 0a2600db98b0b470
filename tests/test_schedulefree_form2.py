"""Schedule-Free AdamW, Form 2 (catalogue #94, 000 section 7.1: the y / x recurrence without z)
against Form 1 (specs/adamwschedulefree.opt, the y / z form) and schedulefree.AdamWScheduleFree.

The two forms are equal in exact arithmetic (z = (y - beta1 * x) / (1 - beta1)); in float64 they
must give the same y (the point gradients are taken at, held by the parameters) and the same
evaluation point x (after ``eval()``) after every step, with warmup, r > 0 and weight decay.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import schedulefree
import torch

import optc
from optc.backends.hypers import resolve_hypers
from optc.verify import gradient_stream, initial_params

SPECS = Path(__file__).resolve().parent.parent / "specs"
SHAPES = ((), (7,), (4, 3), (2, 3, 2))
STEPS = 25
HYPERS = {"lr": 0.05, "beta1": 0.8, "warmup_steps": 3, "weight_decay": 0.1, "r": 0.5}


def _optimizer(spec: str, tensors):
    program = optc.load_program(SPECS / f"{spec}.opt")
    return optc.load(SPECS / f"{spec}.opt", backend="torch")(
        tensors, **resolve_hypers(program, HYPERS)
    )


def _library(tensors):
    h = resolve_hypers(optc.load_program(SPECS / "adamwschedulefree.opt"), HYPERS)
    opt = schedulefree.AdamWScheduleFree(
        tensors,
        lr=h["lr"],
        betas=(h["beta1"], h["beta2"]),
        eps=h["eps"],
        weight_decay=h["weight_decay"],
        warmup_steps=h["warmup_steps"],
        r=h["r"],
        weight_lr_power=h["weight_lr_power"],
        foreach=False,
    )
    opt.train()  # schedulefree starts in eval mode
    return opt


def _points(opt, tensors):
    """(y, x): the parameters in train mode, then after eval(); back to train mode."""
    y = [t.detach().numpy().copy() for t in tensors]
    opt.eval()
    x = [t.detach().numpy().copy() for t in tensors]
    opt.train()
    return y, x


def _rel(a, b) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def test_form2_equals_form1_and_schedulefree_every_step():
    runs = {}
    for name in ("form2", "form1", "library"):
        tensors = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
        opt = (
            _library(tensors)
            if name == "library"
            else _optimizer(
                "adamwschedulefreeform2" if name == "form2" else "adamwschedulefree", tensors
            )
        )
        runs[name] = (opt, tensors)
    worst = {"form1": 0.0, "library": 0.0}
    for step, grads in enumerate(gradient_stream(SHAPES, STEPS, seed=5), start=1):
        points = {}
        for name, (opt, tensors) in runs.items():
            for t, g in zip(tensors, grads, strict=True):
                t.grad = torch.tensor(g)  # fresh: schedulefree divides its grad in place
            opt.step()
            points[name] = _points(opt, tensors)
        y2, x2 = points["form2"]
        for other, rtol in (("form1", 1e-12), ("library", 1e-10)):
            y, x = points[other]
            for a, b, what in ((y2, y, "y"), (x2, x, "x")):
                for got, want in zip(a, b, strict=True):
                    np.testing.assert_allclose(
                        got, want, rtol=rtol, atol=1e-14, err_msg=f"step {step}: {what} vs {other}"
                    )
                    worst[other] = max(worst[other], _rel(got, want))
        # the evaluation point and y really differ (x is an average, not y itself)
        if step > 3:
            assert max(float(np.abs(a - b).max()) for a, b in zip(x2, y2, strict=True)) > 1e-3
    print(f"max relative deviation: {worst}")


def test_form2_state_x_is_the_evaluation_point_of_form1():
    """Form 2's state x equals (y - (1 - beta1) * z) / beta1 from Form 1's state z."""
    beta1 = HYPERS["beta1"]
    a = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    b = [torch.tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    form2, form1 = _optimizer("adamwschedulefreeform2", a), _optimizer("adamwschedulefree", b)
    for grads in gradient_stream(SHAPES, STEPS, seed=9):
        for opt, tensors in ((form2, a), (form1, b)):
            for t, g in zip(tensors, grads, strict=True):
                t.grad = torch.tensor(g)
            opt.step()
        for p2, p1 in zip(a, b, strict=True):
            x1 = (p1.detach() - (1 - beta1) * form1.state[p1]["z"]) / beta1
            np.testing.assert_allclose(
                form2.state[p2]["x"].numpy(), x1.numpy(), rtol=1e-12, atol=1e-14
            )
