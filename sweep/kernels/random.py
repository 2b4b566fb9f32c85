"""A counter-based random generator: a random number is a pure function of its coordinates.

A draw depends only on ``(seed, cell, step, stream, i)``, never on a generator
state, so results are identical whatever the chunking of the grid, the number
of workers, the backend (plain Python, numba CPU, numba CUDA) or the order in
which cells run::

    key = counter_key(seed, cell, step, stream)   # once per (cell, step, stream)
    u = uniform(key, i)                           # the i-th uniform for that key
    z = normal(key, i)                            # the i-th standard normal for that key

The functions are plain Python scalar arithmetic: :mod:`sweep.kernels.compile`
registers every function of this module (the private helpers ``_mix`` …
included: the public three call them) with ``register_jitable`` for CPU
kernels, and :mod:`sweep.kernels.cuda` registers the same list for CUDA. Compiling
one of them elsewhere (``cuda.compile_ptx``, ``njit``) needs the helpers
registered for that target too.

Algorithm: SplitMix64 (Steele, Lea & Flood 2014; Vigna's ``splitmix64.c``).
With ``γ = 0x9E3779B97F4A7C15`` and, all mod 2**64, the finaliser ::

    mix(z): z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB
            return z ^ (z >> 31)

* ``counter_key`` chains SplitMix64 steps, ``h = mix((h ^ x) + γ)`` for
  x = seed, cell, step, stream from h = 0 (so the first is the first output
  of SplitMix64 seeded with ``seed``), and returns the low 63 bits of h;
* ``uniform(key, i) = (mix(key + (i + 1)·γ) >> 11) · 2**-53`` on [0, 1):
  the top 53 bits of the i-th output (from 0) of SplitMix64 seeded with
  ``key``, so published SplitMix64 test vectors apply;
* ``normal(key, i)``: Box–Muller, ``sqrt(-2 ln u1) · cos(2π u2)``, with
  u1 = ``(m + 1) · 2**-53`` on (0, 1] from the top 53 bits m of output 2i
  (so ln 0 cannot happen; |z| ≤ sqrt(106 ln 2) ≈ 8.57) and u2 = ``uniform(key, 2i + 1)``.
  A normal uses the same outputs as uniforms 2i and 2i + 1 of its key: draw
  uniforms and normals from different ``stream``s.

How one source is exact in Python, numba CPU and numba CUDA
------------------------------------------------------------
In numba an integer argument or loop index is int64, and int64 mixed with
uint64 (``+ * & ^``) is typed int64 or float64: a uint64 pipeline cannot be
reached from int64 inputs without a numba/numpy cast, and numpy uint64
scalars warn on overflow in Python. Plain int64 arithmetic that wraps is no
way out either: numba emits signed ``add``/``mul`` with LLVM's ``nsw`` flag,
so an overflow is undefined behaviour the optimiser may exploit.

The trick: **no operation ever overflows, in any backend.** A 64-bit value is
held as two 32-bit halves ``(hi, lo)``, each a non-negative int < 2**32, and
every intermediate is a non-negative int < 2**51, so int64 (numba CPU and
CUDA) and Python's unbounded ints compute the same numbers:

* a 64 x 64-bit product mod 2**64 with a constant ``C = (ch, cl)`` is
  ``lo·cl + 2**32·(lo·ch + hi·cl)``; the constants are split into 16-bit
  pieces (``_M1_0`` … ``_M1_3`` from low to high), so each partial product
  is < 2**48, and only the bits that survive mod 2**64 are kept (``& 0xFFFF``
  before a ``<< 16``, ``& _M32`` at the end);
* ``z >> s`` (s < 32) is ``hi >> s`` and ``((lo >> s) | (hi << (32 - s))) & _M32``;
* sums carry through ``lo >> 32``;
* inputs are split with ``(x >> 32) & _M32`` and ``x & _M32``: the same bits
  of x's two's complement whether x is a Python int, an int64 or a uint64 in
  numba (mixed int64/uint64 bitwise ops are int64 there), or a numpy integer
  in Python (``int()`` first; a no-op in compiled code);
* only non-negative ints < 2**53 become floats, and 2**-53 is a power of two,
  so ``uniform`` is exact: bit-identical on every backend.

``counter_key`` returns ``(hi & 0x7FFFFFFF) << 32 | lo``, a non-negative int
< 2**63: the same number in Python and numba (it fits an int64 array and may
be passed from Python into a kernel). ``uniform``/``normal`` use only a key's
bits mod 2**64, so any int key (even negative, or a numba uint64) works.

``normal`` also calls ``math.log``, ``math.sqrt`` and ``math.cos``: numba on
the CPU calls the same libm as CPython, so it is bit-identical there; CUDA's
libdevice ``log``/``cos`` may differ from libm in the last bit.

No allocation, no Python objects, no globals other than int/float constants.
Counters: 0 ≤ i < 2**62; seed, cell, step, stream are ints, ≥ 0 (< 2**63).
"""
from __future__ import annotations

import math

_M32 = 0xFFFFFFFF
# SplitMix64's constants, each as four 16-bit pieces _X_0 (lowest) … _X_3 (highest).
_GAMMA = 0x9E3779B97F4A7C15  # golden-ratio increment γ
_G_0 = _GAMMA & 0xFFFF
_G_1 = (_GAMMA >> 16) & 0xFFFF
_G_2 = (_GAMMA >> 32) & 0xFFFF
_G_3 = (_GAMMA >> 48) & 0xFFFF
_MIX1 = 0xBF58476D1CE4E5B9
_M1_0 = _MIX1 & 0xFFFF
_M1_1 = (_MIX1 >> 16) & 0xFFFF
_M1_2 = (_MIX1 >> 32) & 0xFFFF
_M1_3 = (_MIX1 >> 48) & 0xFFFF
_MIX2 = 0x94D049BB133111EB
_M2_0 = _MIX2 & 0xFFFF
_M2_1 = (_MIX2 >> 16) & 0xFFFF
_M2_2 = (_MIX2 >> 32) & 0xFFFF
_M2_3 = (_MIX2 >> 48) & 0xFFFF
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53, exact
_TWO_PI = 2.0 * math.pi


def _times(hi, lo, c0, c1, c2, c3):
    """z·C mod 2**64 for z = (hi, lo) and a constant C given as four 16-bit pieces
    c0 (lowest) … c3: ``lo·cl + 2**32·(lo·ch + hi·cl)``, each partial product < 2**48."""
    y = lo * c1
    t = lo * c0 + ((y & 0xFFFF) << 16)  # the low half of lo·cl
    hi = ((t >> 32) + (y >> 16)  # its high half ...
          + lo * c2 + (((lo * c3) & 0xFFFF) << 16)  # ... + lo·ch mod 2**32
          + hi * c0 + (((hi * c1) & 0xFFFF) << 16)) & _M32  # ... + hi·cl mod 2**32
    return hi, t & _M32


def _shift_xor(hi, lo, s):
    """z ^ (z >> s) for z = (hi, lo) and 0 < s < 32."""
    return hi ^ (hi >> s), lo ^ (((lo >> s) | (hi << (32 - s))) & _M32)


def _mix(hi, lo):
    """SplitMix64's finaliser mix(z) of z = (hi, lo) (see the module doc)."""
    hi, lo = _shift_xor(hi, lo, 30)
    hi, lo = _times(hi, lo, _M1_0, _M1_1, _M1_2, _M1_3)
    hi, lo = _shift_xor(hi, lo, 27)
    hi, lo = _times(hi, lo, _M2_0, _M2_1, _M2_2, _M2_3)
    return _shift_xor(hi, lo, 31)


def _absorb(hi, lo, x):
    """One step of :func:`counter_key`'s chain: h = mix((h ^ x) + γ) for h = (hi, lo)."""
    lo = (lo ^ (int(x) & _M32)) + (_G_0 | (_G_1 << 16))
    hi = ((hi ^ ((int(x) >> 32) & _M32)) + (_G_2 | (_G_3 << 16)) + (lo >> 32)) & _M32
    return _mix(hi, lo & _M32)


def _output(key, c):
    """The top 53 bits of mix(c·γ + key), an int < 2**53: output c − 1 of SplitMix64
    seeded with ``key`` (0 < c < 2**63)."""
    hi, lo = _times((c >> 32) & _M32, c & _M32, _G_0, _G_1, _G_2, _G_3)
    lo = lo + (key & _M32)
    hi = (hi + ((key >> 32) & _M32) + (lo >> 32)) & _M32
    hi, lo = _mix(hi, lo & _M32)
    return (hi << 21) | (lo >> 11)  # all of hi, the top 21 bits of lo


def counter_key(seed, cell, step, stream):
    """The key of (seed, cell, step, stream): ints, ≥ 0 and < 2**63.

    Returns a non-negative int < 2**63 (int64 in numba), the same number in
    plain Python and compiled code. Each argument goes through a full
    SplitMix64 mix, so keys differing in any one argument are unrelated.
    """
    hi, lo = _absorb(0, 0, seed)
    hi, lo = _absorb(hi, lo, cell)
    hi, lo = _absorb(hi, lo, step)
    hi, lo = _absorb(hi, lo, stream)
    return ((hi & 0x7FFFFFFF) << 32) | lo


def uniform(key, i):
    """The i-th float64 uniform on [0, 1) for ``key`` (53 random bits; 0 ≤ i < 2**62)."""
    return _output(int(key), int(i) + 1) * _TWO_M53


def normal(key, i):
    """The i-th float64 standard normal for ``key`` (0 ≤ i < 2**62); always finite.

    Box–Muller on SplitMix64 outputs 2i and 2i + 1 of ``key``.
    """
    k = int(key)
    u1 = (_output(k, 2 * int(i) + 1) + 1) * _TWO_M53  # (0, 1]: log(u1) is finite and ≤ 0
    u2 = _output(k, 2 * int(i) + 2) * _TWO_M53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)
