"""Bounded SymPy work: a time budget and a cap on exact powers, so every check ends.

SymPy evaluates ``9^(9^9)`` or ``(1/2)^(10^300)`` exactly, in one C-level big-integer
operation that no timer can interrupt. Inside :func:`bounded`, an exact power whose result
would need more than :data:`MAX_POWER_BITS` bits stays unevaluated (still exact, just not
expanded; floating-point evaluation of it works as usual). The time budget counts this
process's CPU time (so a busy machine does not turn proofs into "undecided") and is enforced
twice: cooperatively (:func:`check`, called by the interval evaluator and the translator) and,
in the main thread, by a ``SIGPROF`` CPU timer that interrupts long pure-Python SymPy work.
When it runs out, :class:`BudgetExceeded` is raised and the caller reports "undecided".
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

from sympy.core import numbers

MAX_POWER_BITS = 100_000  # an exact power with a larger result stays unevaluated


class BudgetExceeded(Exception):
    """The analysis ran out of its time budget."""


_deadline: float | None = None
_depth = 0  # nesting of `bounded` blocks (the patch is installed once, by the outermost)
_lock = threading.Lock()


def check() -> None:
    """Raise :class:`BudgetExceeded` when the innermost budget has run out."""
    if _deadline is not None and time.process_time() > _deadline:
        raise BudgetExceeded


def _too_big(base: numbers.Rational, expt: object) -> bool:
    if not isinstance(expt, numbers.Rational) or (base.p in (0, 1, -1) and base.q == 1):
        return False
    bits = max(abs(base.p).bit_length(), base.q.bit_length())
    return abs(expt.p) * bits > MAX_POWER_BITS * expt.q


def _guard(original):
    def _eval_power(self, expt):
        if _depth and _too_big(self, expt):
            return None  # Pow stays unevaluated
        return original(self, expt)

    _eval_power.__wrapped__ = original
    return _eval_power


# Installed at import: inactive (a no-op test of one global) outside `bounded` blocks.
for _cls in (numbers.Integer, numbers.Rational):
    if not hasattr(_cls.__dict__["_eval_power"], "__wrapped__"):
        _cls._eval_power = _guard(_cls.__dict__["_eval_power"])


@contextlib.contextmanager
def bounded(seconds: float | None) -> Iterator[None]:
    """Run SymPy work with exact powers capped and, if ``seconds`` is given, a time budget.

    Raises :class:`BudgetExceeded` (from inside the block, or as it ends) when it runs out.
    """
    global _deadline, _depth
    previous, depth = _deadline, _depth
    with _lock:
        _depth += 1
    if seconds is not None:
        end = time.process_time() + seconds
        _deadline = end if previous is None else min(previous, end)
    alarm = _start_alarm(seconds)
    try:
        yield
    finally:
        while True:  # the timer may fire here too: retry until the state is restored
            try:
                _stop_alarm(alarm)
                _deadline, _depth = previous, depth
                break
            except BudgetExceeded:
                continue


def _expire(signum, frame) -> None:
    if _deadline is not None and time.process_time() > _deadline:
        raise BudgetExceeded


def _start_alarm(seconds: float | None):
    """A CPU-time timer (SIGPROF, repeating every 50 ms once due) raising BudgetExceeded, when
    this is the main thread and the signal is free; returns what to restore, or None."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        return None
    if not hasattr(signal, "setitimer"):
        return None
    previous = signal.getsignal(signal.SIGPROF)
    if previous not in (signal.SIG_DFL, signal.SIG_IGN, None):
        return None  # someone else's timer (or an enclosing budget): cooperative checks only
    signal.signal(signal.SIGPROF, _expire)
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 1e-3), 0.05)
    return previous


def _stop_alarm(previous) -> None:
    if previous is None:
        return
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.signal(signal.SIGPROF, previous)
