"""Logistic regression's pieces: the blobs data set, softplus and σ, and f* by Newton's method.

The model objective ``logistic`` (:mod:`sweep.kernels.models`) trains on these: the
generated ``blobs`` (``name = "logistic"`` in a grid file, as before models
existed, is the logistic model on them), with f* and the minimizer computed once
by Newton's method to machine precision when λ > 0.

.. math::

    f(w) = \\frac{1}{n}\\sum_{i} \\log(1 + e^{-y_i\\, w·\\tilde x_i}) + \\frac{λ}{2}\\lVert w\\rVert^2,
    \\qquad \\tilde x_i = (x_i, 1),\\ y_i = ±1.

The last coordinate of w is the bias; every coordinate is regularised, so f is
strongly convex and its minimizer unique.
"""
from __future__ import annotations

import math

import numpy as np

from .elementary import exp, log1p


def make_data(samples: int, features: int, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two unit-variance Gaussian blobs, centred at ±(1, …, 1)/√features (distance 2 apart).

    Returns:
        inputs (samples, features + 1) with a last column of ones, labels (samples,) of ±1.
    """
    rng = np.random.default_rng(data_seed)
    labels = np.where(np.arange(samples) % 2 == 0, 1.0, -1.0)
    centres = labels[:, None] * np.full(features, 1.0 / math.sqrt(features))
    points = centres + rng.standard_normal((samples, features))
    inputs = np.hstack([points, np.ones((samples, 1))])
    return np.ascontiguousarray(inputs), labels


def softplus(z):
    """log(1 + e^z) without overflow (e^x and log1p: :mod:`sweep.kernels.elementary`, which
    vectorize)."""
    if z > 0.0:
        return z + log1p(exp(-z))
    return log1p(exp(z))


def sigmoid(z):
    """1/(1 + e^{−z}) without overflow, as a select (both sides are one exp)."""
    ez = exp(-abs(z))
    return 1.0 / (1.0 + ez) if z >= 0.0 else ez / (1.0 + ez)


def solve(inputs: np.ndarray, labels: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """The minimizer and f*, by Newton's method on the full-data loss (deterministic)."""
    samples, dim = inputs.shape
    w = np.zeros(dim)
    for _ in range(100):
        margins = labels * (inputs @ w)
        p = 1.0 / (1.0 + np.exp(margins))  # σ(−y z)
        grad = -(inputs * (labels * p)[:, None]).mean(axis=0) + l2 * w
        hessian = (inputs.T * (p * (1 - p))) @ inputs / samples + l2 * np.eye(dim)
        step = np.linalg.solve(hessian, grad)
        w = w - step
        if np.abs(step).max() < 1e-15 * max(1.0, np.abs(w).max()):
            break
    margins = labels * (inputs @ w)
    value = np.logaddexp(0.0, -margins).mean() + 0.5 * l2 * (w @ w)
    return w, float(value)
