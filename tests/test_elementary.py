"""exp, expm1 and tanh in arithmetic (sweep.kernels.elementary) against libm, in Python and compiled."""
import math

import numpy as np
import pytest
from numba import njit

import sweep.kernels.compile  # noqa: F401  (registers the compiled forms)
from sweep.kernels import elementary

CASES = {
    "exp": (elementary.exp, math.exp, 1.0, [(-745, 709), (-1, 1), (-30, 30), (-1e-8, 1e-8)]),
    "expm1": (elementary.expm1, math.expm1, 4.0, [(-40, 40), (-1e-3, 1e-3), (-0.5, 0.5)]),
    "tanh": (elementary.tanh, math.tanh, 4.0, [(-25, 25), (-1e-4, 1e-4), (-2, 2)]),
    "log": (elementary.log, math.log, 1.0, [(1e-300, 1e-290), (0.5, 2), (1, 11), (1e3, 1e300),
                                            (1e-320, 1e-308)]),
    "log1p": (elementary.log1p, math.log1p, 4.0, [(-0.9, 1), (-1e-5, 1e-5), (1e-20, 1e-10),
                                                  (1, 1e10)]),
}


def _points(ranges, count=4000):
    rng = np.random.default_rng(7)
    return np.concatenate([rng.uniform(low, high, count) for low, high in ranges])


@pytest.mark.parametrize("name", CASES)
def test_within_a_few_ulp_of_libm(name):
    ours, libm, allowed, ranges = CASES[name]
    worst = 0.0
    for x in _points(ranges):
        want = libm(float(x))
        worst = max(worst, abs(ours(float(x)) - want) / math.ulp(want))
    assert worst <= allowed


@pytest.mark.parametrize("name", CASES)
def test_compiled_gives_the_plain_functions_bits(name):
    ours = CASES[name][0]

    @njit
    def over(xs, out):
        for i in range(xs.shape[0]):  # a loop LLVM vectorizes: the same bits as scalar code
            out[i] = ours(xs[i])

    xs = np.concatenate([_points(CASES[name][3], 500), [0.0, -0.0, np.inf, -np.inf, np.nan,
                                                        800.0, -800.0, 709.78, -745.1]])
    out = np.empty_like(xs)
    over(xs, out)
    plain = np.array([ours(float(x)) for x in xs])
    np.testing.assert_array_equal(out, plain)


def test_edges_are_libm_s():
    assert elementary.exp(1000.0) == math.inf and elementary.exp(-1000.0) == 0.0
    assert math.isnan(elementary.exp(math.nan)) and math.isnan(elementary.tanh(math.nan))
    assert elementary.tanh(math.inf) == 1.0 and elementary.tanh(-math.inf) == -1.0
    assert elementary.expm1(-1000.0) == -1.0 and elementary.exp(0.0) == 1.0
    assert elementary.exp(-745.0) == math.exp(-745.0)  # the smallest subnormal


def test_log_edges_are_libm_s():
    assert elementary.log(0.0) == -math.inf and elementary.log(-0.0) == -math.inf
    assert math.isnan(elementary.log(-1.0)) and math.isnan(elementary.log(-math.inf))
    assert math.isnan(elementary.log(math.nan)) and elementary.log(math.inf) == math.inf
    assert elementary.log(1.0) == 0.0 and elementary.log(5e-324) == math.log(5e-324)
    assert elementary.log1p(-1.0) == -math.inf and math.isnan(elementary.log1p(-2.0))
    assert elementary.log1p(0.0) == 0.0 and elementary.log1p(1e-300) == 1e-300
    assert elementary.log1p(math.inf) == math.inf and math.isnan(elementary.log1p(math.nan))
