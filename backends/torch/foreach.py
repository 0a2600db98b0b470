"""The multi-tensor path (``foreach=True``): ``<name>_foreach``, generated from the IR.

``<name>_foreach(theta, g, *states, **scalars)`` takes lists — the parameters of a param group
that share a device, a dtype and a step count — and updates θ and the state lists in place with
``torch._foreach_*`` ops: one op per list instead of one per tensor. It reads the same per-step
scalars as ``<name>_kernel`` (``<name>_scalars``, computed once per group on the host), here as
Python numbers and bools. Each statement is lowered to a few foreach ops:

- sums and products are flattened into terms ``c * x * y / z`` with a host coefficient ``c``:
  ``a + w * (b - a)`` is ``_foreach_lerp_``; ``a + c * y * z`` ``_foreach_addcmul_``;
  ``a + c * y / z`` ``_foreach_addcdiv_``; ``a + c * y`` ``_foreach_add_(..., alpha=c)``;
  unary functions, ``max``/``min``/``clip`` and powers have ops of their own, and ``norm(x)``
  is ``_foreach_norm``;
- a state (or θ) whose old value nothing reads afterwards is updated in its own buffers
  (``_foreach_lerp_(m, g, s1)``), temporaries that die are updated in place, and a local read
  once is computed where it is read (``lr * m_hat / d`` with ``m_hat = m / s3`` is one
  ``addcdiv_`` with value ``-lr / s3``), so a step allocates only the lists the math needs;
- a condition on per-step scalars is a Python ``if`` (one branch per call); a term that a zero
  hyper switches off (``weight_decay * theta``) is added under ``if weight_decay != 0``;
- what has no foreach form (comparisons, ``where``, reductions other than the ℓ2 norm, axis
  reductions, matrix functions, the parameter's dimensions) is a list comprehension of the
  readable spelling, one statement per tensor.

Specs with a block that tests the parameter's dimensions get no foreach function (the runtime
takes the readable loop for them): such a block would take both branches within one list.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

from optc.backends import hoist, lowering
from optc.backends.torch.kernel import KernelPrinter
from optc.backends.torch.printer import TorchPrinter
from optc.ir.nodes import (
    Binding,
    Const,
    DType,
    Expr,
    Op,
    Program,
    Shape,
    Var,
    broadcast,
    switch_coefficient,
    walk,
)
from optc.ir.ops import SHAPE_NAMES
from optc.ir.printer import Prec

# Elementwise functions with a foreach op of the same name.
_UNARY = ("sqrt", "abs", "sign", "exp", "log", "cos", "sin", "floor", "neg")
# What a local may be built from to be computed where it is read (no fallback inside).
_INLINE_OPS = ("add", "sub", "mul", "div", "neg", "pow", "sqrt")
# The parameter's dimensions, spelled for one tensor ``theta`` of the list.
_SHAPE_LISTS = {
    "numel": "theta.numel()",
    "ndim": "theta.ndim",
    "rows": "theta.shape[0] if theta.ndim else 1",
    "cols": "{math}.prod(theta.shape[1:])",
}


class ElementPrinter(KernelPrinter):
    """Spells one tensor's share of a statement (the list-comprehension fallback): host values
    are the Python numbers of ``<name>_scalars``, named as the kernel names them; every other
    name is the tensor of the list of that name."""

    def __init__(self, kernel: KernelPrinter) -> None:
        super().__init__(kernel, kernel.host)
        self.kernel = kernel
        self.names = dict(kernel.names)  # SSA id → Python name, filled as statements are written

    def on_device(self, expr: Expr) -> bool:
        if hoist.is_host(expr, self.host) and hoist.worth_passing(expr):
            return False
        return TorchPrinter.on_device(self, expr)

    def _argument(self, expr: Expr) -> str:
        return self.kernel._argument(expr)  # one set of scalars for the kernel and foreach


@dataclasses.dataclass(frozen=True)
class Value:
    """A lowered value: a list of tensors that ``text`` names, or a host number (``text`` is
    its Python expression). ``owned``: a list that nothing else reads, which the next op may
    overwrite."""

    text: str
    is_list: bool
    shape: Shape = Shape.SCALAR
    owned: bool = False


@dataclasses.dataclass
class Term:
    """``sign * Π coef / Π coef_den * Π nums / Π dens / Π host_dens``: ``coef`` and
    ``coef_den`` are host values folded into one Python number, ``host_dens`` host values that
    Python might not divide by (divided on the device, where x / 0 is inf); ``guard`` is the
    coefficient of a term a zero hyper switches off."""

    sign: int
    coef: list[Expr]
    coef_den: list[Expr]
    nums: list[Expr]
    dens: list[Expr]
    guard: Expr | None = None
    host_dens: list[Expr] = dataclasses.field(default_factory=list)

    @property
    def is_host(self) -> bool:
        return not self.nums and not self.dens and not self.host_dens

    @property
    def fused_op(self) -> str | None:
        """The foreach op adding this term to a list in one pass, if there is one (a host
        divisor that Python could not divide by is a division of its own)."""
        if self.host_dens:
            return None
        if self.guard is not None or (len(self.nums), len(self.dens)) == (1, 0):
            return "add"
        if (len(self.nums), len(self.dens)) == (2, 0):
            return "addcmul"
        if (len(self.nums), len(self.dens)) == (1, 1):
            return "addcdiv"
        return None


def foreach_function(
    program: Program, kernel: KernelPrinter, update_body: list[Binding], update_extra: str
) -> lowering.FunctionView | None:
    """``<name>_foreach``, or None where a block tests the parameter's dimensions."""
    device_body = [b for b in update_body if b.id not in kernel.host]
    if any(not hoist.is_host(g.cond, kernel.host) for b in device_body for g in b.guards):
        return None
    body, notes = inline_single_uses(program, device_body)
    printer = ElementPrinter(kernel)
    writer = ForeachWriter(program, printer, body, notes, update_body)
    statements = writer.write(body)
    tensors = f"list[{printer.torch}.Tensor]"
    states = "".join(f"{s.name}: {tensors}, " for s in program.states)
    passed = "".join(
        f", {name}: {'bool' if expr.type.dtype is DType.BOOL else 'float'}"
        for expr, name in kernel.passed.items()
    )
    return lowering.FunctionView(
        f"{program.snake_name}_foreach",
        f"theta: {tensors}, g: {tensors}, {states}"
        + (f"*{passed}{update_extra}" if passed or update_extra else "").rstrip(", "),
        "None",
        f"{program.snake_name}_update for lists of tensors of one device, dtype and step, "
        "in place.",
        writer.preamble(),
        statements + writer.write_back(),
        "None",
    )


# Ops whose readable spelling may return a view of its argument (a reshape between θ's layout
# and the matrix view, a transpose, a square matrix's diagonal): not a list of its own.
VIEW_OPS = frozenset({"as_matrix", "as_param", "transpose", "diag"})


def may_be_a_view(expr: Expr) -> bool:
    """Whether a per-tensor value may share memory with a list it reads, so that an in-place
    op on it would write into that list (``diag(L) + w`` must not add into L's diagonal)."""
    while isinstance(expr, Op) and expr.op in VIEW_OPS:
        if expr.op == "diag":
            return True
        expr = expr.args[0]
    return isinstance(expr, Var)


def inline_single_uses(
    program: Program, body: list[Binding]
) -> tuple[list[Binding], dict[str, list[str]]]:
    """The body with each local that is read once, by a statement in the same blocks, built
    from arithmetic only, and reading no state that is updated before that statement,
    substituted into it (its coefficients then fold into the reader's ops); and the comments of
    the statements removed, by the id of the statement that now holds them."""
    uses: Counter[str] = Counter()
    reader: dict[str, int] = {}
    for k, binding in enumerate(body):
        for node in walk(binding.expr):
            if isinstance(node, Var):
                uses[node.name] += 1
                reader.setdefault(node.name, k)
        for guard in binding.guards:
            uses.update(n.name for n in walk(guard.cond) if isinstance(n, Var))
    version_of = {"theta": "theta"} | {s.name: s.name for s in program.states}
    version_of |= {b.id: b.target for b in body if b.target is not None}
    outputs = set(program.outputs.values())
    values: dict[str, Expr] = {}
    notes: dict[str, list[str]] = {}
    result = []
    for j, binding in enumerate(body):
        binding = dataclasses.replace(binding, expr=_substituted(binding.expr, values))
        k = reader.get(binding.id)
        states_read = {version_of.get(n.name) for n in walk(binding.expr) if isinstance(n, Var)}
        states_read.discard(None)
        if (
            binding.target is None
            and uses[binding.id] == 1
            and binding.id not in outputs
            and k is not None
            and body[k].guards == binding.guards
            and all(not isinstance(n, Op) or n.op in _INLINE_OPS for n in walk(binding.expr))
            and not any(b.target in states_read for b in body[j + 1 : k])
        ):
            values[binding.id] = binding.expr
            moved = notes.pop(binding.id, [])
            notes.setdefault(body[k].id, []).extend([*moved, lowering.comment(binding)])
            continue
        result.append(binding)
    return result, notes


def _substituted(expr: Expr, values: dict[str, Expr]) -> Expr:
    if isinstance(expr, Var):
        return values.get(expr.name, expr)
    if isinstance(expr, Op):
        args = tuple(_substituted(a, values) for a in expr.args)
        if any(a is not b for a, b in zip(args, expr.args, strict=True)):
            return dataclasses.replace(expr, args=args)
    return expr


class ForeachWriter(lowering.BlockWriter):
    """Writes the body as foreach ops (see the module docstring); blocks are Python ``if``\\ s.

    Lists are tracked by *identity*: the Python name a list got when it was allocated (θ, g
    and the state buffers are the arguments). A list may be overwritten by statement ``i``
    when every value it holds is read for the last time there, and it is the statement's own
    buffer or a list this step allocated — never g, never another state's buffer.
    """

    def __init__(
        self,
        program: Program,
        printer: ElementPrinter,
        body: list[Binding],
        notes: dict[str, list[str]],
        update_body: list[Binding],
    ) -> None:
        super().__init__(program, printer, lambda cond: True, "")
        self.el = printer
        self.torch = printer.torch
        self.notes = notes
        self.shapes = {"theta": Shape.TENSOR} | {s.name: s.shape for s in program.states}
        self.buffers = {name: name for name in self.shapes}  # target → its buffer
        self.finals = dict(self.buffers)  # target → the id of its final version
        self.index = {b.id: i for i, b in enumerate(body)}
        # id → where it is read: (statement, the merge reading it or None, argument of that merge)
        self.reads: dict[str, list[tuple[int, Binding | None, int]]] = {}
        for i, binding in enumerate(body):
            if binding.target is not None:
                self.finals[binding.target] = binding.id
            merge = binding if binding.merge else None
            parts = [*enumerate(binding.expr.args if merge else [binding.expr])]
            parts += [(0, g.cond) for g in binding.guards]
            for k, expr in parts:
                for node in walk(expr):
                    if isinstance(node, Var):
                        self.reads.setdefault(node.name, []).append((i, merge, k))
        for final in self.finals.values():
            self.reads.setdefault(final, []).append((len(body), None, 0))
        for binding in body:  # named as they are written
            printer.names.pop(binding.id, None)
        self.list_ids = {"g", *self.shapes, *(b.id for b in body)}
        self.location = {name: name for name in ["g", *self.shapes]}  # id → identity
        self.aliases: dict[str, set[str]] = {}  # merged name → the identities it may be
        self.owned: set[str] = set()  # identities of lists this step allocated
        self.shapes_used = lowering.shape_names_used([b.expr for b in body])
        self.list_names = {"g", *self.shapes, *self.shapes_used}
        self.taken = {
            program.name,
            program.snake_name,
            *(h.name for h in program.hypers),
            *self.shapes,
            *printer.kernel.passed.values(),
            *SHAPE_NAMES,
            "g",
            "t",
            self.torch,
            self.el.math,
            self.el.internal["ieee"],
            *(self.el.internal[name] for name in printer.axes),
        }
        self.current = body[0] if body else None  # the statement being written
        self.definitions = {b.id: b.expr for b in update_body}  # the host locals' values
        self.depth = 0  # lines inside a branch of a statement
        self.comment = ""

    # -- the function's frame -------------------------------------------------------------------
    def preamble(self) -> list[str]:
        """The parameter's dimensions as lists, where statements read them."""
        self.el.uses_math |= "cols" in self.shapes_used
        return [
            f"{name} = [{_SHAPE_LISTS[name].format(math=self.el.math)} for theta in theta]"
            for name in self.shapes_used
        ]

    def write_back(self) -> list[lowering.StatementView]:
        """Copies of the final values that are not in their buffers."""
        views = []
        for target, final in self.finals.items():
            name = self.el.names.get(final, final)
            if name != self.buffers[target]:
                code = f"{self.torch}._foreach_copy_({self.buffers[target]}, {name})"
                views.append(lowering.StatementView("", code))
        return views

    # -- statements -----------------------------------------------------------------------------
    def _statement(self, binding: Binding) -> None:
        self.current = binding
        comments = [*self.notes.get(binding.id, []), lowering.comment(binding)]
        self.comment = f"\n{'    ' * (len(self.open) + 1)}".join(comments)
        i = self.index[binding.id]
        if binding.target is None:
            value = self._root(binding.expr, i, binding.display)
            name = value.text
            if self.comment:  # nothing written: the local is another list under a new name
                name = self._fresh(binding.display)
                self._emit(f"{name} = {value.text}")
            self._bind(binding.id, name, value)
            return
        buffer = self.buffers[binding.target]
        own = self._free(buffer, i, binding.target)
        want = self.shapes[binding.target]
        per_tensor_number = not self._host(binding.expr) and not self.el.on_device(binding.expr)
        if binding.type.shape is not want or per_tensor_number:  # filled per tensor
            value = self._comprehension(binding.expr, binding.display, fill=want)
        else:
            value = self._root(binding.expr, i, binding.display, into=buffer if own else None)
        if not value.is_list:  # a scalar state given a host value
            if own:
                self._emit(f"{self.torch}._foreach_zero_({buffer})")
                self._emit(f"{self.torch}._foreach_add_({buffer}, {value.text})")
                value = Value(buffer, True, want, True)
            else:
                name = self._fresh(binding.display)
                self._emit(f"{name} = [{self.torch}.full_like(x, {value.text}) for x in {buffer}]")
                value = self._allocated(name, want)
        if value.text != buffer and own:
            self._emit(f"{self.torch}._foreach_copy_({buffer}, {value.text})")
            value = Value(buffer, True, want, True)
        elif value.text != buffer and not value.owned:  # never let a state alias another list
            name = self._fresh(binding.display)
            self._emit(f"{name} = [x.clone() for x in {value.text}]")
            value = self._allocated(name, want)
        self._bind(binding.id, value.text, value)

    def _bind(self, id_: str, name: str, value: Value) -> None:
        self.el.names[id_] = name
        self.location[id_] = self._identity(value.text)
        self.list_names.add(name)

    def _identity(self, name: str) -> str:
        return next(
            (at for id_, at in self.location.items() if self.el.names.get(id_) == name), name
        )

    def _name(self, merge: Binding) -> str:
        if merge.id not in self.el.names:
            branches = [self.el.render(a) for a in merge.expr.args[1:]]
            if branches[0] == branches[1]:
                self.el.names[merge.id] = branches[0]
                self.location[merge.id] = self._identity(branches[0])
            else:
                name = self._fresh(merge.display)
                self.el.names[merge.id] = name
                self.location[merge.id] = name
                self.aliases[name] = {self._identity(b) for b in branches}
                self.list_names.add(name)
        return self.el.names[merge.id]

    # -- lines ----------------------------------------------------------------------------------
    def _emit(self, code: str) -> None:
        self._indented(len(self.open) + self.depth, code, self.comment)
        self.comment = ""

    def _fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def _allocated(self, name: str, shape: Shape) -> Value:
        self.owned.add(name)
        return Value(name, True, shape, True)

    def _op(self, base: Value, op: str, args: list[str], shape: Shape, hint: str) -> Value:
        """``torch._foreach_<op>`` of ``base`` and ``args``: in place where ``base`` is owned
        and already has the result's shape, else into a new list."""
        call = ", ".join([base.text, *args])
        if base.owned and base.shape is shape:
            self._emit(f"{self.torch}._foreach_{op}_({call})")
            return base
        name = self._fresh(hint)
        self._emit(f"{name} = {self.torch}._foreach_{op}({call})")
        return self._allocated(name, shape)

    # -- ownership ------------------------------------------------------------------------------
    def _free(self, identity: str, i: int, target: str | None) -> bool:
        """Whether statement ``i`` (updating ``target``) may overwrite the list ``identity``."""
        if identity in self.buffers.values():
            if target is None or self.buffers[target] != identity:
                return False
        elif identity not in self.owned:
            return False
        return not any(
            self._read_after(id_, i)
            for id_, at in self.location.items()
            if at == identity or identity in self.aliases.get(at, ())
        )

    def _read_after(self, id_: str, i: int) -> bool:
        """Whether a statement after ``i`` reads ``id_`` on the path statement ``i`` is on (a
        block's merge reads the value each branch leaves only after that branch)."""
        guards = self.current.guards
        for j, merge, k in self.reads.get(id_, ()):
            other_branch = merge is not None and any(
                g.block == merge.merge and g.taken == (k == 2) for g in guards
            )
            if j > i and not other_branch:
                return True
        return False

    def _var(self, var: Var, i: int, shared_ok: bool = False, avoid: frozenset = frozenset()):
        """A list a statement reads; owned where this read may consume it: its list is free
        and this is its only read in the statement (or, at the statement's root, the last:
        ``shared_ok``, every other read already computed into other lists, none in ``avoid``)."""
        name = self.el.names.get(var.name, var.name)
        identity = self.location.get(var.name)
        owned = identity is not None and self._free(
            identity, self.index[self.current.id], self.current.target
        )
        if owned:
            reads = sum(
                1
                for n in walk(self.current.expr)
                if isinstance(n, Var) and self.location.get(n.name) == identity
            )
            owned = (reads == 1 or shared_ok) and name not in avoid and identity not in avoid
        return Value(name, True, var.type.shape, owned)

    # -- lowering -------------------------------------------------------------------------------
    def _root(self, expr: Expr, i: int, hint: str, into: str | None = None) -> Value:
        """A statement's value. A host condition choosing between two lists is a Python ``if``
        whose branches leave their values in one list: ``into`` (the statement's buffer), or a
        new name."""
        if not (
            isinstance(expr, Op)
            and expr.op in ("ifelse", "where")
            and self._host(expr.args[0])
            and expr.type.is_tensor
        ):
            return self._lower(expr, i, hint, root=True)
        target = into or self._fresh(hint)
        self._emit(f"if {self.el.render(expr.args[0])}:")
        owned = True
        for k, branch in enumerate(expr.args[1:]):
            if k:
                self._emit("else:")
            self.depth += 1
            written = len(self.views)
            if branch.type.shape is not expr.type.shape:
                value = self._comprehension(branch, hint, fill=expr.type.shape)
            else:
                value = self._lower(branch, i, hint, root=True)
            if value.text != target:
                if into is not None:
                    self._emit(f"{self.torch}._foreach_copy_({into}, {value.text})")
                else:
                    self._emit(f"{target} = {value.text}")
            if len(self.views) == written:
                self._emit("pass")
            owned &= value.owned or into is not None
            self.depth -= 1
        if owned and into is None:
            self.owned.add(target)
        return Value(target, True, expr.type.shape, owned)

    def _host(self, expr: Expr) -> bool:
        return isinstance(expr, Const) or hoist.is_host(expr, self.el.host)

    def _plain(self, expr: Expr) -> bool:
        """Neither a list of tensors nor a host number: a single tensor of the group (a global
        state, a sum across parameters) or a number per tensor (from its dimensions)."""
        if self._host(expr):
            return False
        if isinstance(expr, Var) and expr.name not in self.list_ids:
            return True
        return not self.el.on_device(expr)

    def _lower(self, expr: Expr, i: int, hint: str, root: bool = False) -> Value:
        if self._host(expr):
            return Value(self.el.render(expr), False)
        if isinstance(expr, Var):
            return self._var(expr, i)
        if self._plain(expr) or any(self._plain(a) for a in expr.args):
            return self._comprehension(expr, hint)
        op, shape = expr.op, expr.type.shape
        if op == "add" and self._interpolation(expr):
            start, (weight, difference) = expr.args[0], _host_first(expr.args[1], self._host)
            end = self._lower(difference.args[0], i, "tmp")
            base = self._operand(start, i, hint, root, frozenset({end.text}))
            return self._op(base, "lerp", [end.text, self.el.render(weight)], shape, hint)
        if op in ("add", "sub", "neg"):
            terms = self._terms(expr)
            if terms is not None and any(not t.is_host and t.guard is None for t in terms):
                return self._sum(terms, shape, i, hint, root)
        elif op in ("mul", "div") or (op == "pow" and _is_two(expr.args[1])):
            term = self._product(expr)
            if term is not None:
                return self._product_value(term, shape, i, hint, root)
        elif op in _UNARY:
            return self._op(self._lower(expr.args[0], i, hint), op, [], shape, hint)
        elif op == "pow":
            base, exponent = (self._lower(a, i, hint) for a in expr.args)
            if base.is_list:
                return self._op(base, "pow", [exponent.text], shape, hint)
            name = self._fresh(hint)
            self._emit(f"{name} = {self.torch}._foreach_pow({base.text}, {exponent.text})")
            return self._allocated(name, shape)
        elif op in ("max", "min"):
            return self._extremum(expr, i, hint)
        elif op == "clip" and all(self._host(a) for a in expr.args[1:]):
            x = self._lower(expr.args[0], i, hint)
            x = self._op(x, "clamp_min", [self.el.render(expr.args[1])], shape, hint)
            return self._op(x, "clamp_max", [self.el.render(expr.args[2])], shape, hint)
        elif op == "norm2":
            x = self._lower(expr.args[0], i, hint)
            name = self._fresh(hint)
            self._emit(f"{name} = {self.torch}._foreach_norm({x.text})")
            return self._allocated(name, shape)
        return self._comprehension(expr, hint)

    def _constant(self, expr: Expr) -> bool:
        """Whether a host value does not depend on ``t``. A lerp weight must not: torch's lerp
        branches on ``weight < 0.5``, which ``torch.compile`` guards on (a recompile when a
        schedule crosses 0.5)."""
        for node in walk(expr):
            if isinstance(node, Var) and node.name == "t":
                return False
            in_host = isinstance(node, Var) and node.name in self.el.host
            if in_host and not self._constant(self.definitions[node.name]):
                return False
        return True

    def _interpolation(self, expr: Op) -> bool:
        """``a + w * (b - a)`` (the prelude's ``lerp``) with a host ``w`` and a full-shaped
        ``a``: ``_foreach_lerp``."""
        start, step = expr.args
        if (
            not (isinstance(step, Op) and step.op == "mul")
            or start.type.shape is not expr.type.shape
        ):
            return False
        weight, difference = _host_first(step, self._host)
        return (
            self._host(weight)
            and self._constant(weight)
            and isinstance(difference, Op)
            and difference.op == "sub"
            and difference.args[1] == start
            and difference.args[0].type.shape is start.type.shape
        )

    def _extremum(self, expr: Op, i: int, hint: str) -> Value:
        a, b = expr.args
        if self._host(a):
            a, b = b, a
        x = self._lower(a, i, hint)
        if self._host(b):
            op = "clamp_min" if expr.op == "max" else "clamp_max"
            return self._op(x, op, [self.el.render(b)], expr.type.shape, hint)
        y = self._lower(b, i, hint)
        if y.owned and y.shape is expr.type.shape and not x.owned:
            x, y = y, x
        op = "maximum" if expr.op == "max" else "minimum"
        return self._op(x, op, [y.text], expr.type.shape, hint)

    def _comprehension(self, expr: Expr, hint: str, fill: Shape | None = None) -> Value:
        """The readable spelling per tensor, for what has no foreach form."""
        text = self.el.render(expr)
        if fill is not None:
            text = self.el.fill_like_gradient(expr, text, fill)
        names = [
            n for n in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", text)) if n in self.list_names
        ]
        if not names:
            loop = "_ in theta"
        elif len(names) == 1:
            loop = f"{names[0]} in {names[0]}"
        else:
            loop = f"{', '.join(names)} in zip({', '.join(names)}, strict=True)"
        name = self._fresh(hint)
        self._emit(f"{name} = [{text} for {loop}]")
        selects = isinstance(expr, Op) and expr.op in ("ifelse", "where")
        if selects and self._host(expr.args[0]) and fill is None:  # may be one of its branches
            return Value(name, True, expr.type.shape, False)
        if fill is None and may_be_a_view(expr):
            return Value(name, True, expr.type.shape, False)
        return self._allocated(name, fill or expr.type.shape)

    # -- sums and products ----------------------------------------------------------------------
    def _terms(self, expr: Expr, sign: int = 1) -> list[Term] | None:
        if isinstance(expr, Op) and expr.op in ("add", "sub"):
            left = self._terms(expr.args[0], sign)
            right = self._terms(expr.args[1], sign if expr.op == "add" else -sign)
            return None if left is None or right is None else left + right
        if isinstance(expr, Op) and expr.op == "neg":
            return self._terms(expr.args[0], -sign)
        if self._host(expr):
            return [Term(sign, [expr], [], [], [])]
        if self._plain(expr):
            return None
        coefficient = switch_coefficient(expr)
        if coefficient is not None and self.el.facts.may_be_zero(coefficient):
            other = expr.args[1] if expr.args[0] is coefficient else expr.args[0]
            return [Term(sign, [coefficient], [], [other], [], guard=coefficient)]
        term = self._product(expr, sign)
        return None if term is None else [term]

    def _product(self, expr: Expr, sign: int = 1) -> Term | None:
        term = Term(sign, [], [], [], [])
        return term if self._factors(expr, term, up=True) else None

    def _factors(self, expr: Expr, term: Term, up: bool) -> bool:
        """Add ``expr``'s factors to ``term`` (to its denominators where not ``up``); False for
        what a product cannot hold (a single tensor, a term a zero hyper switches off)."""
        if self._host(expr):
            if up:
                term.coef.append(expr)
            elif self.el.facts.python_division_safe(expr):
                term.coef_den.append(expr)
            else:
                term.host_dens.append(expr)
            return True
        if self._plain(expr):
            return False
        if isinstance(expr, Op) and expr.op == "mul":
            coefficient = switch_coefficient(expr)
            if coefficient is not None and self.el.facts.may_be_zero(coefficient):
                return False
            return all(self._factors(a, term, up) for a in expr.args)
        if isinstance(expr, Op) and expr.op == "div":
            return self._factors(expr.args[0], term, up) and self._factors(
                expr.args[1], term, not up
            )
        if isinstance(expr, Op) and expr.op == "neg":
            term.sign = -term.sign
            return self._factors(expr.args[0], term, up)
        if isinstance(expr, Op) and expr.op == "pow" and _is_two(expr.args[1]):
            return self._factors(expr.args[0], term, up) and self._factors(expr.args[0], term, up)
        (term.nums if up else term.dens).append(expr)
        return True

    def _coefficient(self, term: Term) -> str:
        """The host coefficient with its sign as Python text (``-lr / s3``); "1" for none."""
        text = " * ".join(self.el.at(c, Prec.MUL) for c in term.coef) or "1"
        text += "".join(f" / {self.el.at(d, Prec.UNARY)}" for d in term.coef_den)
        text = text.removeprefix("1 * ") if term.coef_den or len(term.coef) > 1 else text
        if term.sign < 0:
            return "-1" if text == "1" else f"-{text}"
        return text

    def _sum(self, terms: list[Term], shape: Shape, i: int, hint: str, root: bool) -> Value:
        """A list plus terms: one op per term on the first list term (every other operand is
        computed before that list may be overwritten)."""
        lists = [t for t in terms if not t.is_host and t.guard is None]
        base_term = min(lists, key=lambda t: self._base_rank(t, shape, i, root))
        prepared = []
        for term in terms:
            if term is base_term or term.is_host:
                prepared.append((term, []))
            elif term.fused_op is None and self._scaled(term):
                scale, big = _split_small(term)
                values = [self._product_value(scale, Shape.SCALAR, i, "scale")]
                values.append(self._lower(big.nums[0], i, "tmp"))  # scale * x: one addcmul
                prepared.append((Term(1, [], [], [big.nums[0]] * 2, []), values))
            elif term.fused_op is None:
                prepared.append((term, [self._product_value(term, _term_shape(term), i, "tmp")]))
            else:
                prepared.append((term, self._lower_all(term.nums + term.dens, i)))
        avoid = frozenset(v.text for _, values in prepared for v in values)
        base = self._product_value(base_term, shape, i, hint, root, avoid)
        for term, values in prepared:
            if term is not base_term:
                base = self._add_term(base, term, values, shape, hint)
        return base

    def _scaled(self, term: Term) -> bool:
        """Whether a term is (numbers per tensor and host values) times one full list."""
        split = _split_small(term)
        return split is not None and split[1].fused_op == "add"

    def _base_rank(self, term: Term, shape: Shape, i: int, root: bool) -> int:
        """Which list term a sum starts from: one that may be overwritten, then a computed one
        (a new list), then a list that is read elsewhere, then one of fewer entries."""
        full = [n for n in term.nums if n.type.shape is shape]
        if not full:
            return 3
        if isinstance(full[0], Var):
            return 0 if self._var(full[0], i, shared_ok=root).owned else 2
        return 1

    def _add_term(self, base: Value, term: Term, values: list[Value], shape: Shape, hint: str):
        coefficient = self._coefficient(term)
        if term.guard is not None:  # the switched-off term: added only where it is not 0
            condition = f"{self.el.at(term.guard, Prec.COMPARE + 1)} != 0"
            call = f"{values[0].text}, alpha={coefficient}"
            if base.owned and base.shape is shape:
                self._emit(f"if {condition}:")
                self.depth += 1
                self._emit(f"{self.torch}._foreach_add_({base.text}, {call})")
                self.depth -= 1
                return base
            name = self._fresh(hint)
            added = f"{self.torch}._foreach_add({base.text}, {call})"
            self._emit(f"{name} = {added} if {condition} else {base.text}")
            return Value(name, True, shape, False)
        if term.is_host:
            return self._op(base, "add", [coefficient], shape, hint)
        op = term.fused_op or "add"
        if op == "add" and term.fused_op is None:
            coefficient = "1"  # the product's value carries its coefficient
        args = [v.text for v in values]
        if op == "add" and coefficient == "-1":
            op, coefficient = "sub", "1"
        if coefficient != "1":
            args.append(f"{'alpha' if op == 'add' else 'value'}={coefficient}")
        return self._op(base, op, args, shape, hint)

    def _lower_all(self, exprs: list[Expr], i: int) -> list[Value]:
        """Operands, each distinct one lowered once (``x^2`` is ``x * x`` of one list)."""
        done: dict[int, Value] = {}
        for expr in exprs:
            if id(expr) not in done:
                done[id(expr)] = self._lower(expr, i, "tmp")
        return [done[id(expr)] for expr in exprs]

    def _operand(self, expr: Expr, i: int, hint: str, root: bool, avoid: frozenset) -> Value:
        if isinstance(expr, Var):
            return self._var(expr, i, shared_ok=root, avoid=avoid)
        return self._lower(expr, i, hint)

    def _product_value(
        self,
        term: Term,
        shape: Shape,
        i: int,
        hint: str,
        root: bool = False,
        avoid: frozenset = frozenset(),
    ) -> Value:
        """A product on its own: its first full-shaped factor, the other factors multiplied
        and divided in, then the coefficient (a host divisor alone stays a division). Factors
        of one number per tensor are multiplied together with the coefficient first, so that
        the full-sized lists take one multiplication by them all."""
        split = _split_small(term)
        host = 1 if term.coef or term.coef_den or term.sign < 0 else 0
        if split and len(split[0].nums) + len(split[0].dens) + host >= 2:
            factor = self._product_value(split[0], Shape.SCALAR, i, "scale")
            base = self._product_value(split[1], shape, i, hint, root, avoid | {factor.text})
            return self._op(base, "mul", [factor.text], shape, hint)
        first = next((k for k, n in enumerate(term.nums) if n.type.shape is shape), 0)
        start = term.nums[first] if term.nums else None
        others = self._lower_all([n for k, n in enumerate(term.nums) if k != first], i)
        divisors = self._lower_all(term.dens, i)
        avoid = avoid | {v.text for v in others + divisors}
        if start is None:  # c / x
            x = divisors.pop(0)
            base = self._op(x, "reciprocal", [], x.shape, hint)
        else:
            base = self._operand(start, i, hint, root, avoid)
        for value in others:
            base = self._op(base, "mul", [value.text], broadcast(base.shape, value.shape), hint)
        for value in divisors:
            base = self._op(base, "div", [value.text], broadcast(base.shape, value.shape), hint)
        for divisor in term.host_dens:
            base = self._op(base, "div", [self.el.at(divisor, Prec.ATOM)], base.shape, hint)
        if term.sign > 0 and not term.coef and len(term.coef_den) == 1:
            return self._op(base, "div", [self.el.at(term.coef_den[0], Prec.ATOM)], shape, hint)
        coefficient = self._coefficient(term)
        if coefficient == "1":
            return base
        if coefficient == "-1":
            return self._op(base, "neg", [], shape, hint)
        return self._op(base, "mul", [coefficient], shape, hint)


def _host_first(product: Op, host) -> tuple[Expr, Expr]:
    """The operands of a product, a host one first where there is one."""
    a, b = product.args
    return (b, a) if host(b) and not host(a) else (a, b)


def _is_two(expr: Expr) -> bool:
    return isinstance(expr, Const) and not isinstance(expr.value, bool) and expr.value == 2


def _split_small(term: Term) -> tuple[Term, Term] | None:
    """A term as (its coefficient times its factors of one number per tensor, the rest), where
    it has both kinds of factors."""
    small = [n for n in term.nums if n.type.shape is Shape.SCALAR]
    small_dens = [d for d in term.dens if d.type.shape is Shape.SCALAR]
    big = [n for n in term.nums if n.type.shape is not Shape.SCALAR]
    if not big or not (small or small_dens):
        return None
    dens = [d for d in term.dens if all(d is not x for x in small_dens)]
    scale = Term(term.sign, term.coef, term.coef_den, small, small_dens)
    return scale, Term(1, [], [], big, dens, host_dens=term.host_dens)


def _term_shape(term: Term) -> Shape:
    return broadcast(*(x.type.shape for x in term.nums + term.dens))
