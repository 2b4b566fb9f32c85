"""The objectives of docs/update_rules.md's table, in plain Python, for the naive references.

The update rules themselves (all of them, as one data spec and one small function per
rule) are in tests/naive_rules.py. Independent of the engine on purpose: plain Python
floats, ``math`` only; numpy holds the arrays and nothing else. Every conversion to a
number goes through this module's ``float`` (tests/test_float32.py replaces it with
numpy.float32, here and in naive_rules, to run objective and rule in float32).
"""
import math

import numpy as np


# --- Objectives, straight from the table -------------------------------------

def _rosenbrock_f(x):
    x0, x1 = float(x[0]), float(x[1])
    return (1.0 - x0) ** 2 + 100.0 * (x1 - x0 ** 2) ** 2


def _rosenbrock_g(x, t=None):
    x0, x1 = float(x[0]), float(x[1])
    return np.array([-2.0 * (1.0 - x0) - 400.0 * x0 * (x1 - x0 ** 2),
                     200.0 * (x1 - x0 ** 2)])


def _beale_f(x):
    x0, x1 = float(x[0]), float(x[1])
    return ((1.5 - x0 + x0 * x1) ** 2 + (2.25 - x0 + x0 * x1 ** 2) ** 2
            + (2.625 - x0 + x0 * x1 ** 3) ** 2)


def _beale_g(x, t=None):
    x0, x1 = float(x[0]), float(x[1])
    a = 1.5 - x0 + x0 * x1
    b = 2.25 - x0 + x0 * x1 ** 2
    c = 2.625 - x0 + x0 * x1 ** 3
    return np.array([2.0 * a * (x1 - 1.0) + 2.0 * b * (x1 ** 2 - 1.0) + 2.0 * c * (x1 ** 3 - 1.0),
                     2.0 * a * x0 + 2.0 * b * 2.0 * x0 * x1 + 2.0 * c * 3.0 * x0 * x1 ** 2])


def _booth_f(x):
    x0, x1 = float(x[0]), float(x[1])
    return (x0 + 2.0 * x1 - 7.0) ** 2 + (2.0 * x0 + x1 - 5.0) ** 2


def _booth_g(x, t=None):
    x0, x1 = float(x[0]), float(x[1])
    p = x0 + 2.0 * x1 - 7.0
    q = 2.0 * x0 + x1 - 5.0
    return np.array([2.0 * p + 4.0 * q, 4.0 * p + 2.0 * q])


def quadratic_eigenvalues(dim=2, kappa=10.0):
    """lambda_i log-spaced from 1 to kappa."""
    return np.logspace(0.0, math.log10(kappa), dim)


def make_quadratic(dim=2, kappa=10.0):
    """(f, grad) of ½·Σ λ_i·x_i², λ as :func:`quadratic_eigenvalues`."""
    lam = [float(v) for v in quadratic_eigenvalues(dim, kappa)]

    def f(x):
        total = 0.0
        for i in range(dim):
            total += lam[i] * float(x[i]) ** 2
        return 0.5 * total

    def g(x, t=None):
        return np.array([lam[i] * float(x[i]) for i in range(dim)])

    return f, g


naive_objectives = {
    "rosenbrock": (_rosenbrock_f, _rosenbrock_g),
    "beale": (_beale_f, _beale_g),
    "booth": (_booth_f, _booth_g),
    "quadratic": make_quadratic(2, 10.0),
}
