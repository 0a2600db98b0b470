"""The hand-written part of every generated ``torch.optim.Optimizer``.

A generated module keeps what is specific to its spec — the pure ``<name>_update`` (the readable
ground truth), ``<name>_init``, the hyperparameters with their domains, the names the torch.optim
counterpart uses, and the docs — and subclasses :class:`SpecOptimizer`, which owns everything
the optimizers share: param groups and their validation, torch.optim's flags, lazy state
creation, the step loop, complex parameters, and checkpoints in the counterpart's format.

The step loop is the *readable* path: it calls ``update`` once per parameter, out of place, and
copies the results into the optimizer's own buffers. Copying (rather than storing the returned
tensors) is what makes a state never share storage with θ, the gradient or another state — a
spec may write ``g_prev <- g`` or ``prev <- theta`` — and keeps every state tensor the same
object from step to step, as torch.optim's in-place kernels do. Faster paths plug in by
overriding :meth:`SpecOptimizer._step_group`. ``fused=True`` takes the compiled path of
:mod:`optc.backends.torch.fused`; ``foreach=True`` the multi-tensor path of
:mod:`optc.backends.torch.lists` (2-4x faster than the readable loop on CPU, docs/design.md),
and ``foreach=None`` (the default) too; ``foreach=False`` the readable loop.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from optc.backends.torch import batched, chunks, fused, lists

__all__ = ["Hyper", "SpecOptimizer"]

# torch.optim's per-group flags. optc accepts each with the value its readable path implements
# and refuses the others with a ValueError naming the flag (never a TypeError).
FLAGS: dict[str, Any] = {
    "maximize": False,
    "foreach": None,
    "fused": None,
    "capturable": False,
    "differentiable": False,
}
_UNAVAILABLE = {
    "capturable": (True, "CUDA-graph capture (capturable) is not supported yet"),
    "differentiable": (True, "differentiating through step() is not supported"),
}


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter as the generated class declares it: its spec name and domain.

    ``kind`` is "real", "int" or "bool"; the interval's open infinite ends exclude ±inf.
    ``key``/``index`` say where the value lives in a param group: ``group[key]``, or
    ``group[key][index]`` for a member of a tuple such as torch's ``betas``.
    """

    name: str
    kind: str
    lo: float = -math.inf
    hi: float = math.inf
    lo_closed: bool = False
    hi_closed: bool = False
    key: str = ""
    index: int | None = None

    @property
    def group_key(self) -> str:
        return self.key or self.name

    def domain(self) -> str:
        if self.kind == "bool":
            return "a bool"
        lo = "-inf" if self.lo == -math.inf else _number(self.lo)
        hi = "inf" if self.hi == math.inf else _number(self.hi)
        interval = f"{'[' if self.lo_closed else '('}{lo}, {hi}{']' if self.hi_closed else ')'}"
        return f"an integer in {interval}" if self.kind == "int" else f"in {interval}"

    def check(self, value: Any) -> None:
        """Raise ValueError naming the hyper and its domain unless ``value`` lies in it."""
        if not self._contains(value):
            raise ValueError(
                f"Invalid {self.name}: {value!r} ({self.name} must be {self.domain()})"
            )

    def _contains(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if isinstance(value, torch.Tensor):
            if value.numel() != 1 or value.is_complex():
                return False
            value = value.item()
        if not isinstance(value, (int, float)):
            return False
        value = float(value)
        if self.kind == "int" and not value.is_integer():  # nan and inf are not integers
            return False
        if math.isnan(value) or (math.isinf(value) and not _closed_at(self, value)):
            return False
        above = value >= self.lo if self.lo_closed else value > self.lo
        below = value <= self.hi if self.hi_closed else value < self.hi
        return above and below


def _closed_at(hyper: Hyper, value: float) -> bool:
    """Whether an infinite value is admitted: only as a closed, infinite bound."""
    return (value == hyper.lo and hyper.lo_closed) or (value == hyper.hi and hyper.hi_closed)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class SpecOptimizer(torch.optim.Optimizer):
    """Base class of the generated optimizers (see the module docstring).

    Subclasses set the class attributes below; their ``__init__`` only spells the signature and
    calls :meth:`_setup`.
    """

    hypers: ClassVar[tuple[Hyper, ...]]
    states: ClassVar[tuple[str, ...]]  # spec state names, in the order ``update`` takes them
    state_keys: ClassVar[Mapping[str, str]] = {}  # spec state → key in ``self.state[p]``
    # States holding one number per row or per column of θ's matrix view: of a complex
    # parameter, the view of its real view (its re/im pairs are columns), stored real.
    axis_states: ClassVar[tuple[str, ...]] = ()
    # States only some parameters have (optc.ir.allocation: their step alone uses them, e.g. a
    # matrix preconditioner or the AdamW fallback's moments): no key elsewhere, passed as None.
    conditional_states: ClassVar[tuple[str, ...]] = ()
    fixed: ClassVar[Mapping[str, Any]] = {}  # counterpart options with their one valid value
    counterpart: ClassVar[str | None] = None  # e.g. "torch.optim.AdamW"
    # Whether sparse gradients are accepted: where the counterpart accepts them (torch.optim.SGD,
    # Adagrad). They are densified, which is exact: with weight_decay = 0 (which torch requires
    # too) rows without gradient evolve as torch.optim's sparse kernels leave them.
    sparse_gradients: ClassVar[bool] = False
    init_state: ClassVar[Callable[..., dict[str, torch.Tensor]]]
    update_state: ClassVar[Callable[..., tuple[torch.Tensor, ...]]]
    # The update split for the fused path: per-step scalars, and the tensor work reading them.
    kernel_scalars: ClassVar[Callable[..., dict[str, Any]]]
    kernel: ClassVar[fused.Kernel]
    compile_fused: ClassVar[bool] = True  # False runs the fused path's kernels eagerly
    # The spec's Triton kernel ("module:function"; None: its step is not elementwise), which
    # fused=True runs on CUDA (optc.backends.torch.chunks); on the CPU only with triton_on_cpu
    # (the tests, under TRITON_INTERPRET=1).
    triton_kernel: ClassVar[str | None] = None
    triton_on_cpu: ClassVar[bool] = False
    # The multi-tensor path (foreach=True) on lists of tensors; None where the spec has none
    # (a block testing the parameter's dimensions): the readable loop stands in.
    foreach_kernel: ClassVar[Callable[..., None] | None] = None
    # A step with matrix functions and no foreach kernel: its multi-tensor path stacks the
    # parameters of one shape and vmaps ``update`` over them (optc.backends.torch.batched).
    batch_by_shape: ClassVar[bool] = False
    # A step reading across parameters (optc.ir.phases): global states, kept in the param group
    # under their names as 0-d tensors, and the rounds of (terms, their names, group values).
    global_states: ClassVar[tuple[str, ...]] = ()
    init_globals: ClassVar[Callable[..., dict[str, float]]]
    global_outputs: ClassVar[Mapping[str, str]] = {}
    # The spec's `eval` / `train` sections: θ to the evaluation point and back (None: none, or
    # no `train`, which restores a copy of θ taken by ``eval()``).
    eval_point: ClassVar[Callable[..., torch.Tensor] | None] = None
    train_point: ClassVar[Callable[..., torch.Tensor] | None] = None
    rounds: ClassVar[
        tuple[tuple[Callable[..., Any] | None, tuple[str, ...], Callable[..., Any]], ...]
    ] = ()

    # -- construction ---------------------------------------------------------------------------
    def _setup(self, params_: Any, /, **arguments: Any) -> None:
        """Validate the constructor's arguments and build the param groups.

        ``arguments`` holds every keyword of the generated signature: group keys (``betas``),
        spec-name aliases (``beta1``, None when not given), fixed counterpart options and flags.
        """
        spec_names = {h.name for h in self.hypers} | {h.group_key for h in self.hypers}
        flags = {
            name: arguments.pop(name, default)
            for name, default in FLAGS.items()
            if name not in spec_names  # a spec's own hyper wins over torch's flag of that name
        }
        for name, value in flags.items():
            _check_flag(type(self).__name__, name, value)
        if flags.get("foreach") and flags.get("fused"):
            raise ValueError(
                f"{type(self).__name__}: `fused` and `foreach` cannot be `True` together."
            )
        for name, value in self.fixed.items():
            self._check_fixed(name, arguments.pop(name, value))
        defaults = self._group_values(arguments, where="")
        super().__init__(params_, {**defaults, **self.fixed, **flags})

    def _group_values(self, arguments: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Group keys → values, from keys and/or spec-name aliases; every hyper validated."""
        values: dict[str, Any] = {}
        for hyper in self.hypers:
            key = hyper.group_key
            alias = arguments.get(hyper.name) if hyper.name != key else None
            if alias is None and key not in arguments:  # e.g. another optimizer's checkpoint
                raise ValueError(
                    f"{type(self).__name__} needs `{key}` (its hyper {hyper.name}){where}, "
                    f"which has {', '.join(sorted(k for k in arguments if k != 'params'))}"
                )
            if hyper.index is None:
                value = arguments[key] if alias is None else alias
                values[key] = value
            else:
                members = values.setdefault(key, _as_list(key, arguments[key], self._arity(key)))
                if alias is not None:
                    members[hyper.index] = alias
                value = members[hyper.index]
            try:
                hyper.check(value)
            except ValueError as err:
                raise ValueError(f"{err}{where}") from None
        for key in values:
            if isinstance(values[key], list):
                values[key] = tuple(values[key])
        return values

    def _arity(self, key: str) -> int:
        return sum(1 for h in self.hypers if h.key == key and h.index is not None)

    def _check_fixed(self, name: str, value: Any) -> None:
        want = self.fixed[name]
        if value != want or isinstance(value, bool) != isinstance(want, bool):
            raise ValueError(
                f"{type(self).__name__} is {self.counterpart} with {name}={want!r} only "
                f"(got {name}={value!r}); the spec library has other optimizers for other forms"
            )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch.optim's add_param_group, also taking spec names (``beta1``) and validating."""
        group = dict(param_group)
        given = {
            h.name: group.pop(h.name)
            for h in self.hypers
            if h.name != h.group_key and h.name in group
        }
        if given or any(h.group_key in group for h in self.hypers):
            filled = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}, **given}
            group.update(self._group_values(filled, where=" in a param group"))
        super().add_param_group(group)

    # -- the step -------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        if not all(group.get("train_mode", True) for group in self.param_groups):
            raise RuntimeError(
                f"{type(self).__name__}.step() in eval mode: call optimizer.train() before "
                "training again (θ holds the evaluation point)"
            )
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    # -- the evaluation point (schedule-free's x, averaged or slow weights) ----------------------
    def eval(self) -> None:
        """Move every parameter to the point the model is evaluated at (the spec's ``eval``
        section), as ``schedulefree``'s ``optimizer.eval()``; a no-op for specs without one and
        in eval mode. Call it next to ``model.eval()``, and :meth:`train` before stepping."""
        self._switch(to_train=False)

    def train(self) -> None:
        """Move every parameter back to the point the gradients are taken at (the ``train``
        section, or the copy ``eval()`` kept); a no-op in train mode."""
        self._switch(to_train=True)

    @torch.no_grad()
    def _switch(self, to_train: bool) -> None:
        if self.eval_point is None:
            return
        for group in self.param_groups:
            if group.get("train_mode", True) == to_train:
                continue
            hypers = self.group_hypers(group)
            shared = {name: group[name] for name in self.global_states if name in group}
            for p in group["params"]:
                state = self.state[p]
                if not state:  # never stepped: θ is its own evaluation point
                    continue
                theta = torch.view_as_real(p) if p.is_complex() else p
                if to_train and self.train_point is None:
                    theta.copy_(state.pop("theta_train"))
                    continue
                if not to_train and self.train_point is None:
                    state["theta_train"] = theta.clone()
                move = self.train_point if to_train else self.eval_point
                buffers = self._buffers(state)
                t = int(state["step"])
                theta.copy_(move(theta, *buffers, t=t, **hypers, **shared))
            group["train_mode"] = to_train

    def group_hypers(self, group: Mapping[str, Any]) -> dict[str, Any]:
        """Spec hyper name → value, read from the group's torch-named keys."""
        values = {}
        for hyper in self.hypers:
            value = group[hyper.group_key]
            values[hyper.name] = value if hyper.index is None else value[hyper.index]
        return values

    def _step_group(self, group: dict[str, Any]) -> None:
        """The readable path: ``update`` per parameter (after the rounds of sums across the
        group's parameters, if the spec has them), copied into the optimizer's buffers."""
        hypers = self.group_hypers(group)
        members = list(self._members(group, hypers))
        if not members:
            return
        shared: dict[str, Any] = {}
        if self.global_states or self.rounds:
            shared = self._group_round_values(group, hypers, members)
        if group.get("fused"):
            self._fused_update(members, hypers, shared)
        elif self.foreach_kernel is not None and group.get("foreach") is not False:
            lists.apply(
                members, hypers, shared, scalars=self.kernel_scalars, update=self.foreach_kernel
            )
        elif self.batch_by_shape and group.get("foreach") is not False:
            batched.apply(members, hypers, shared, update=self.update_state)
        else:
            for theta, grad, buffers, t in members:
                new_theta, *new_states = self.update_state(
                    theta, grad, *buffers, t=t, **hypers, **shared
                )
                for buffer, value in zip(buffers, new_states, strict=True):
                    if buffer is not None:
                        buffer.copy_(value)
                theta.copy_(new_theta)
        for name, value in self.global_outputs.items():
            group[name].copy_(shared[value])

    def _fused_update(
        self, members: list, hypers: Mapping[str, Any], shared: Mapping[str, Any]
    ) -> None:
        """The fused path: the per-step scalars once per (t, dtype, device), then every
        parameter's kernel in one compiled call (optc.backends.torch.fused), or on CUDA the
        spec's Triton kernel, one launch per group (optc.backends.torch.chunks)."""
        if self.triton_kernel is not None and chunks.usable(members, self.triton_on_cpu):
            scalars_at = functools.partial(self.kernel_scalars, **hypers)
            chunks.step(self.triton_kernel, members, scalars_at)
            return
        arguments: dict[tuple, dict[str, Any]] = {}
        scalars = []
        for theta, _, _, t in members:
            key = (t, theta.dtype == torch.float64, theta.device)
            if key not in arguments:
                values = self.kernel_scalars(t=t, **hypers)
                arguments[key] = fused.scalar_arguments(values, theta)
            scalars.append(arguments[key])
        if self.compile_fused:
            run = fused.compiled(self.kernel)
        else:
            run = functools.partial(fused.apply, kernel=self.kernel)
        thetas, grads, buffers, _ = zip(*members, strict=True)
        fused.write_back(run(thetas, grads, buffers, scalars, shared))

    def _members(self, group: dict[str, Any], hypers: Mapping[str, Any]):
        """(θ, gradient, state buffers, t) of each parameter with a gradient, its step counted:
        real views of complex ones, the gradient negated under ``maximize``."""
        maximize = "maximize" not in hypers and group.get("maximize", False)
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = self._dense(p.grad, hypers)
            grad = -grad if maximize else grad
            theta = torch.view_as_real(p) if p.is_complex() else p
            if grad.is_complex():
                grad = torch.view_as_real(grad)
            state = self.state[p]
            if not state:
                self._init_state(p, theta, state, hypers)
            buffers = self._buffers(state)
            step = state["step"]
            if not isinstance(step, torch.Tensor):  # a step count set by hand, or an old checkpoint
                step = state["step"] = torch.tensor(float(step), dtype=_step_dtype())
            step += 1
            yield theta, grad, buffers, int(step.item())

    def _group_round_values(
        self, group: dict[str, Any], hypers: Mapping[str, Any], members: list
    ) -> dict[str, Any]:
        """The group's global states at step entry and every value computed once per group:
        each round sums its terms over the parameters, then computes its group values. ``t`` of
        the group functions is the first parameter's (all parameters step together)."""
        like = members[0][0]
        for name, value in self.init_globals(**hypers).items() if self.global_states else ():
            if name not in group:  # created at the first step, like the per-parameter states
                group[name] = torch.tensor(value, dtype=like.dtype, device=like.device)
        values = {name: group[name] for name in self.global_states}
        t = members[0][3]
        for partials, names, group_values in self.rounds:
            sums = None
            for theta, grad, buffers, t_p in members if partials is not None else ():
                terms = partials(theta, grad, *buffers, t=t_p, **hypers, **values)
                sums = terms if sums is None else [a + b for a, b in zip(sums, terms, strict=True)]
            values.update(zip(names, sums or (), strict=True))
            values.update(group_values(t=t, **hypers, **values))
        return values

    def _dense(self, grad: torch.Tensor, hypers: Mapping[str, Any]) -> torch.Tensor:
        if not grad.is_sparse:
            return grad
        name = type(self).__name__
        if not self.sparse_gradients:
            raise RuntimeError(
                f"{name} does not support sparse gradients (torch.optim.SGD and Adagrad do, "
                "and so do their optc counterparts)"
            )
        if hypers.get("weight_decay", 0) != 0:
            raise RuntimeError(f"{name}: weight_decay != 0 is not compatible with sparse gradients")
        return grad.to_dense()

    def _key(self, name: str) -> str:
        return self.state_keys.get(name, name)

    def _buffers(self, state: Mapping[str, Any]) -> list[torch.Tensor | None]:
        """A parameter's state buffers in ``update``'s order (real views; None where a
        conditional state is not allocated)."""
        buffers = []
        for name in self.states:
            key = self._key(name)
            absent = key not in state and name in self.conditional_states
            buffers.append(None if absent else _real(state[key]))
        return buffers

    def _init_state(
        self, p: torch.Tensor, theta: torch.Tensor, state: dict[str, Any], hypers: dict[str, Any]
    ) -> None:
        """Create a parameter's state: ``step`` as torch.optim keeps it, and fresh buffers.

        θ-shaped buffers of a complex parameter are stored complex (as torch.optim stores them)
        and updated through their real view; per-row and per-column ones (``axis_states``) are
        those of the real view's matrix (a complex (R, C) parameter is R x 2C) and stored real.
        """
        state["step"] = torch.tensor(0.0, dtype=_step_dtype())
        taken: set[int] = {theta.untyped_storage().data_ptr()}
        for name, value in self.init_state(theta, **hypers).items():
            if value.untyped_storage().data_ptr() in taken:  # never share storage
                value = value.clone()
            taken.add(value.untyped_storage().data_ptr())
            if p.is_complex() and name not in self.axis_states and value.shape == theta.shape:
                value = torch.view_as_complex(value)
            state[self._key(name)] = value

    # -- checkpoints ----------------------------------------------------------------------------
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch.optim's load_state_dict, also for the counterpart's checkpoints.

        The state keys already are the counterpart's, so its ``state_dict`` loads as is and
        ours loads into it. Checked here: fixed options (a torch.optim.Adam checkpoint with
        amsgrad=True is refused by optc's Adam) and every hyper's domain. torch.optim.SGD keeps
        no ``step``: such a state resumes at t = 2, since the buffer exists only after step 1.
        """
        for group in state_dict["param_groups"]:
            for name in self.fixed:
                if name in group:
                    self._check_fixed(name, group[name])
            self._group_values(group, where=" in the checkpoint")
        state_dict = {**state_dict, "state": dict(state_dict["state"])}
        for index, state in state_dict["state"].items():
            state = {k: v for k, v in state.items() if v is not None}
            if state and "step" not in state:
                state["step"] = torch.tensor(1.0, dtype=_step_dtype())
            state_dict["state"][index] = state
        super().load_state_dict(state_dict)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for name, default in FLAGS.items():
                group.setdefault(name, default)


def _check_flag(optimizer: str, name: str, value: Any) -> None:
    if name in _UNAVAILABLE and value == _UNAVAILABLE[name][0]:
        raise ValueError(f"{optimizer}: {name}={value!r} is not available: {_UNAVAILABLE[name][1]}")
    if name == "maximize" and not isinstance(value, bool):
        raise ValueError(f"Invalid maximize: {value!r} (maximize must be a bool)")


def _as_list(key: str, value: Any, arity: int) -> list[Any]:
    if not isinstance(value, (tuple, list)) or len(value) != arity:
        raise ValueError(f"Invalid {key}: {value!r} ({key} must be a tuple of {arity} numbers)")
    return list(value)


def _real(value: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(value) if value.is_complex() else value


def _step_dtype() -> torch.dtype:
    """torch.optim's dtype for ``state["step"]``: float64 if that is the default, else float32."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
