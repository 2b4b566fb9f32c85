"""Scalar maths the rules share, with one compiled form per target.

``sqrt`` is ``math.sqrt`` in plain Python. numba's CPU target lowers
``math.sqrt`` to a call of libm's ``sqrt``, which LLVM must assume may set
``errno`` and so will not vectorize; :mod:`sweep.kernels.compile` gives this
``sqrt`` the ``llvm.sqrt`` intrinsic instead. Both are IEEE-754 correctly
rounded, so the bits are the same.

``floor`` is ⌊x⌋ as a float on every target (Python's ``math.floor`` gives an
int, CUDA's a float; the CPU's is the ``llvm.floor`` intrinsic, which
vectorizes where a float-to-integer conversion would not).
"""
import math


def sqrt(x):
    """√x, correctly rounded (NaN for x < 0)."""
    return math.sqrt(x)


def floor(x):
    """⌊x⌋ as a float64 (exact: every integral float is representable)."""
    return float(math.floor(x))
