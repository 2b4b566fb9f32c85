"""A small real training problem: L2-regularised logistic regression on two Gaussian blobs.

The data are generated from ``data_seed`` (so they ship with the grid file,
not as a file), the gradient is that of a minibatch of ``batch_size`` samples
drawn with replacement by the counter-based generator (so a sweep looks like
training and stays reproducible), and the value returned — the one the
metrics see — is the full-data loss. f* and the minimizer are computed once
by Newton's method to machine precision.

.. math::

    f(w) = \\frac{1}{n}\\sum_{i} \\log(1 + e^{-y_i\\, w·\\tilde x_i}) + \\frac{λ}{2}\\lVert w\\rVert^2,
    \\qquad \\tilde x_i = (x_i, 1),\\ y_i = ±1.

The last coordinate of w is the bias; every coordinate is regularised, so f is
strongly convex and its minimizer unique.
"""
from __future__ import annotations

import math

import numpy as np

from .random import uniform


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
    """log(1 + e^z) without overflow."""
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


def sigmoid(z):
    """1/(1 + e^{−z}) without overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def make_logistic(inputs: np.ndarray, labels: np.ndarray, l2: float, batch_size: int):
    """``value_and_grad(w, grad, t, key)``: full-data loss, minibatch gradient.

    ``batch_size`` ≥ the number of samples (or 0) gives the full-data gradient.
    """
    samples, dim = inputs.shape
    full = batch_size <= 0 or batch_size >= samples

    def logistic(w, grad, t, key):
        value = 0.0
        for i in range(samples):
            margin = 0.0
            for j in range(dim):
                margin += w[j] * inputs[i, j]
            value += softplus(-labels[i] * margin)
        value /= samples
        penalty = 0.0
        for j in range(dim):
            penalty += w[j] * w[j]
            grad[j] = l2 * w[j]
        count = samples if full else batch_size
        for k in range(count):
            # Sample k of this step's minibatch: a pure function of (seed, start, t).
            i = k if full else min(int(uniform(key, k) * samples), samples - 1)
            margin = 0.0
            for j in range(dim):
                margin += w[j] * inputs[i, j]
            weight = -labels[i] * sigmoid(-labels[i] * margin) / count
            for j in range(dim):
                grad[j] += weight * inputs[i, j]
        return value + 0.5 * l2 * penalty

    return logistic


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
