"""The Triton kernels' arithmetic where ``triton.language`` differs from torch's.

The generated Triton kernels (``generated/triton/<name>.py``) call these where the plain
``tl`` spelling would compute something else than the readable torch update: Triton's ``/``
and ``tl.sqrt`` of float32 are approximate on NVIDIA GPUs (``div.full.f32``, ``sqrt.approx``;
the IEEE-rounded forms are float32-only builtins), ``tl.minimum`` drops NaNs unless told, and
torch's ``sign`` and ``remainder`` have no ``tl`` function. Importing this module imports
triton; only the generated Triton modules do.
"""

from __future__ import annotations

import triton
import triton.language as tl

INF = tl.constexpr(float("inf"))


@triton.jit
def div(x, y):
    """``x / y`` rounded as IEEE 754 says (torch's division), in float32 and float64."""
    if x.dtype == tl.float32:
        return tl.div_rn(x, y)
    return x / y


@triton.jit
def sqrt(x):
    """The IEEE 754 square root (torch's), in float32 and float64."""
    if x.dtype == tl.float32:
        return tl.sqrt_rn(x)
    return tl.sqrt(x)


@triton.jit
def minimum(x, y):
    """torch.minimum: NaN if either operand is NaN."""
    return tl.minimum(x, y, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def maximum(x, y):
    """torch.maximum: NaN if either operand is NaN."""
    return tl.maximum(x, y, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def clip(x, lo, hi):
    """torch.clamp(x, lo, hi): ``hi`` where ``lo > hi``, NaN propagated."""
    return minimum(maximum(x, lo), hi)


@triton.jit
def sign(x):
    """torch.sign: -1, 0 or 1 (0 for NaN, as torch)."""
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


@triton.jit
def mod(x, y):
    """torch.remainder (Python's ``%``), as torch computes it: ``fmod(x, y)``, moved by ``y``
    where its sign differs from ``y``'s (so ``x % inf`` is ``x`` for ``x >= 0``)."""
    quotient = div(x, y)
    truncated = tl.where(quotient < 0, -tl.floor(-quotient), tl.floor(quotient))
    remainder = tl.where((tl.abs(y) == INF) & (tl.abs(x) != INF), x, x - y * truncated)
    return tl.where((remainder != 0) & ((y < 0) != (remainder < 0)), remainder + y, remainder)


@triton.jit
def pow(x, y):
    """torch.pow of real numbers for an exponent other than a small integer constant.

    ``exp(y log|x|)`` in float64 with torch's signs and special cases (a negative base to an
    integer power, ``x ** 0 == 1 ** y == (-1) ** inf == 1``), rounded to ``x``'s type: libdevice's ``pow`` is
    not available under ``TRITON_INTERPRET``, and float64 keeps float32 results exact to the
    last place for exponents of moderate size. (No NaN constant: Triton compares the values
    of the globals a kernel reads between compilations, and NaN != NaN.)"""
    base = x.to(tl.float64)
    exponent = tl.zeros_like(base) + y
    integer = tl.floor(exponent) == exponent
    odd = integer & (tl.floor(exponent * 0.5) * 2 != exponent)
    magnitude = tl.exp(exponent * tl.log(tl.abs(base)))
    signed = tl.where(odd & (base < 0), -magnitude, magnitude)
    # A fractional power of a finite negative base is NaN, as log(base) is.
    result = tl.where(integer | (base == -INF), signed, tl.exp(exponent * tl.log(base)))
    one = (exponent == 0) | (base == 1) | ((base == -1) & (tl.abs(exponent) == INF))
    result = tl.where(one, 1.0, result)
    return result.to(x.dtype)
