"""Scalar maths the rules share, with one compiled form per target.

``sqrt`` is ``math.sqrt`` in plain Python. numba's CPU target lowers
``math.sqrt`` to a call of libm's ``sqrt``, which LLVM must assume may set
``errno`` and so will not vectorize; :mod:`kernels.compile` gives this
``sqrt`` the ``llvm.sqrt`` intrinsic instead. Both are IEEE-754 correctly
rounded, so the bits are the same.
"""
import math


def sqrt(x):
    """√x, correctly rounded (NaN for x < 0)."""
    return math.sqrt(x)
