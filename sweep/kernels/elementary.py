"""exp, expm1, tanh, log and log1p written in arithmetic, so that the training kernel's lane loops vectorize.

numba lowers ``math.exp`` and ``math.tanh`` to calls of libm, one lane at a
time: in a model's forward and backward passes (a tanh per hidden unit and
sample, an exp per class and sample) those calls were most of the time, and
they stop the vectorizer. These are the textbook double-precision
implementations (as fdlibm's): x = k·ln 2 + r with ln 2 split in two
(Cody–Waite), a polynomial for e^r on |r| ≤ ln 2 / 2 (Taylor to degree 13:
truncation below 1e-17 relative), and 2^k made from its bits; log as fdlibm's
``__ieee754_log`` (x = 2^k·(1 + f), √½ ≤ 1 + f < √2, and its minimax polynomial
in s = f/(2 + f)), log1p as log(1 + x) plus the rounding of 1 + x. Integers
(k, the exponent) are taken from and made into bit patterns, never converted
(AVX2 has no float64–int64 vector conversion). They are not libm's bits: exp and
log within 1 ulp of them, expm1, tanh and log1p within 4
(``tests/test_elementary.py`` measures it).
The same code runs for one lane and for many, so the training kernel's bits do
not depend on the lane count.

Written with selects, not branches, for the vectorizer; NaN gives NaN, ±inf and
overflow what libm gives.
"""
from __future__ import annotations

import math
import struct

from . import maths

LN2_HI = 6.93147180369123816490e-01  # ln 2 = LN2_HI + LN2_LO, LN2_HI with 21 zero low bits
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e+00
# Past these e^x is inf (or 0); inside them k keeps 2^k's halves normal numbers.
EXP_HIGH = 710.0
EXP_LOW = -746.0
HALF_LN2 = 0.34657359027997264
# tanh(20) is 1 to double precision (1 − 8.5e-18).
TANH_ONE = 20.0
# 1.5·2^52: an integral float k plus this is exact, with k in the low bits.
ROUND_TO_INTEGER = 6755399441055744.0
ROUND_TO_INTEGER_BITS = 0x4338000000000000
# fdlibm's e_log.c: log(1 + f) = f − ½f² + s·(½f² + R(s²)), R's minimax coefficients.
LG1 = 6.666666666666735130e-01
LG2 = 3.999999999940941908e-01
LG3 = 2.857142874366239149e-01
LG4 = 2.222219843214978396e-01
LG5 = 1.818357216161805012e-01
LG6 = 1.531383769920937332e-01
LG7 = 1.479819860511658591e-01
MANTISSA_BITS = 0x000FFFFFFFFFFFFF
ONE_BITS = 0x3FF0000000000000  # 1.0: the exponent field of [1, 2)
SQRT2_ROUNDING = 0x00095F6400000000  # added to the mantissa: carries into bit 52 when 1 + f ≥ √2
TWO_52 = 4503599627370496.0  # 2^52: its bits OR an integer 0 ≤ e < 2^52 are 2^52 + e
TWO_54 = 18014398509481984.0  # scales a subnormal into the normal range
SMALLEST_NORMAL = 2.2250738585072014e-308


def float_from_bits(bits):
    """The float64 whose IEEE-754 bits are the int64 ``bits`` (compiled: one bitcast)."""
    return struct.unpack("<d", struct.pack("<q", int(bits)))[0]


def bits_of_float(x):
    """The int64 whose bits are those of the float64 ``x`` (compiled: one bitcast)."""
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]


def power_of_two(k):
    """2^k for an integral float −1022 ≤ k ≤ 1023, from its exponent bits.

    k + 1.5·2^52 holds k in its low mantissa bits (exactly, for |k| < 2^51), so the
    integer k is a difference of two bit patterns: no float-to-integer conversion,
    which AVX2 has not for float64 (it made the lane loops scalar there)."""
    integer = bits_of_float(k + ROUND_TO_INTEGER) - ROUND_TO_INTEGER_BITS
    return float_from_bits((integer + 1023) << 52)


def exp_polynomial(r):
    """e^r − 1 for |r| ≤ ln 2 / 2: Taylor's polynomial of degree 13 (Horner), r + r²·q(r)."""
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    return p * r * r + r  # e^r − 1 = r + r²·(½ + r/6 + …)


def exp(x):
    """e^x (NaN for NaN, inf past ~709.78, 0 below ~−745.13)."""
    clamped = x if x < EXP_HIGH else EXP_HIGH
    clamped = clamped if clamped > EXP_LOW else EXP_LOW
    k = maths.floor(clamped * INV_LN2 + 0.5)  # an integral float
    r = (clamped - k * LN2_HI) - k * LN2_LO
    half = maths.floor(k * 0.5)
    value = (1.0 + exp_polynomial(r)) * power_of_two(half) * power_of_two(k - half)
    return value if x == x else x


def log(x):
    """ln x (−inf for 0, NaN below 0 and for NaN, inf for inf), within 1 ulp of libm."""
    subnormal = x < SMALLEST_NORMAL
    scaled = x * TWO_54 if subnormal else x
    bits = bits_of_float(scaled)
    mantissa = bits & MANTISSA_BITS
    carry = (mantissa + SQRT2_ROUNDING) & (MANTISSA_BITS + 1)  # 2^52 when 1 + f ≥ √2
    # 1 + f in [√½, √2): the mantissa with the exponent of 1 (or of ½ past √2).
    f = float_from_bits(mantissa | (carry ^ ONE_BITS)) - 1.0
    exponent = float_from_bits(((bits >> 52) + (carry >> 52)) | bits_of_float(TWO_52)) - TWO_52
    k = exponent - (1023.0 + 54.0 if subnormal else 1023.0)
    half_square = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    odd = w * (LG2 + w * (LG4 + w * LG6))
    even = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    value = k * LN2_HI - ((half_square - (s * (half_square + (even + odd)) + k * LN2_LO)) - f)
    value = value if x < math.inf else x
    value = value if x > 0.0 else (-math.inf if x == 0.0 else math.nan)
    return value if x == x else x


def log1p(x):
    """ln(1 + x), accurate for small |x| too: log of w = 1 + x rounded, plus
    (x − (w − 1)) / w, the first-order term of what the rounding lost."""
    w = 1.0 + x
    correction = (x - (w - 1.0)) / w if w != 0.0 else 0.0  # w = 0: log(0) = −inf
    value = log(w) + correction
    return value if w < math.inf else w


def expm1(x):
    """e^x − 1, accurate for small |x| too (where e^x − 1 would cancel)."""
    small = exp_polynomial(x if abs(x) <= HALF_LN2 else 0.0)
    return small if abs(x) <= HALF_LN2 else exp(x) - 1.0


def tanh(x):
    """tanh x = (e^{2x} − 1)/(e^{2x} + 1), through expm1 (no cancellation near 0)."""
    a = abs(x)
    a = a if a < TANH_ONE else TANH_ONE
    e = expm1(a + a)
    t = e / (e + 2.0)
    t = t if x >= 0.0 else -t
    return t if x == x else x
