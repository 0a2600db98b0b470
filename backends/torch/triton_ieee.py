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
NAN = tl.constexpr(float("nan"))


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
    """torch.remainder (Python's ``%``): ``x - y * floor(x / y)``, the sign of ``y``."""
    return x - y * tl.floor(div(x, y))


@triton.jit
def pow(x, y):
    """torch.pow of real numbers for an exponent other than a small integer constant.

    ``exp(y log|x|)`` in float64 with torch's signs and special cases (a negative base to an
    integer power, ``x ** 0 == 1 ** y == 1``), rounded to ``x``'s type: libdevice's ``pow`` is
    not available under ``TRITON_INTERPRET``, and float64 keeps float32 results exact to the
    last place for exponents of moderate size."""
    base = x.to(tl.float64)
    exponent = tl.zeros_like(base) + y
    magnitude = tl.exp(exponent * tl.log(tl.abs(base)))
    integer = tl.floor(exponent) == exponent
    odd = integer & (tl.floor(exponent * 0.5) * 2 != exponent)
    signed = tl.where(odd, -magnitude, magnitude)
    result = tl.where(base < 0, tl.where(integer, signed, NAN), magnitude)
    result = tl.where((exponent == 0) | (base == 1), 1.0, result)
    return result.to(x.dtype)
