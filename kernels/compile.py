"""The one place where the scalar rules and objectives meet numba.

:mod:`kernels.rules` and :mod:`kernels.objectives` are plain Python. Here they
are registered as jitable (so compiled code may call them, and they may call
each other, while staying plain functions for the tests) and assembled by
:func:`cpu_kernel` into a kernel that advances a block of grid cells.
"""
from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit
from numba.extending import register_jitable

from . import objectives, rules

# Everything a kernel may call. A rule may call another (adamw calls adam),
# which is why they are registered rather than wrapped.
for _function in (*(o.update for o in rules.OPTIMIZERS.values()),
                  *(o.init for o in rules.OPTIMIZERS.values()),
                  objectives.quadratic_eigenvalue,
                  *(getattr(objectives, name) for name in (
                      "rosenbrock", "rosenbrock_nd", "beale", "himmelblau", "booth", "saddle",
                      "monkey_saddle", "rastrigin", "ackley", "styblinski_tang",
                      "six_hump_camel", "goldstein_price"))):
    register_jitable(_function)


# numba's on-disk cache keys a kernel on its own bytecode and closure, not on
# the rules and objectives it calls: put their source's hash in the closure so
# an edited rule never runs from a stale cache.
SOURCE_FINGERPRINT = hashlib.sha256(
    b"".join(Path(module.__file__).read_bytes() for module in (rules, objectives))).hexdigest()


class Settings(NamedTuple):
    """Scalars shared by every cell of a kernel call.

    Attributes:
        steps: number of update steps (≥ 1).
        record_every: record θ and f every this many steps (0: never).
        tol: ``steps_to_tol`` is the first step with f(θ_t) − f* ≤ tol.
        minimum: f* (NaN if unknown: ``steps_to_tol`` stays NaN).
        bound: |θ_i| > bound, or a non-finite θ_i or f, marks a cell diverged.
        option: the rule's fixed option (see :class:`kernels.rules.Optimizer`).
    """

    steps: int
    record_every: int
    tol: float
    minimum: float
    bound: float
    option: float


class Metrics(NamedTuple):
    """Per-cell results, filled by a kernel. ``n`` cells, ``dim`` coordinates, ``r`` records.

    Attributes:
        final_x: (n, dim) θ after the last step; NaN where diverged.
        final_loss: (n,) f(θ_steps); NaN where diverged.
        best_loss: (n,) min over t of f(θ_t), t = 0 … steps, before any divergence.
        steps_to_tol: (n,) first t with f(θ_t) − f* ≤ tol, as float; NaN if never.
        diverged: (n,) bool.
        trajectory: (n, r, dim) θ at the recorded steps; NaN from divergence on.
        loss: (n, r) f(θ) at the recorded steps; NaN from divergence on.
    """

    final_x: np.ndarray
    final_loss: np.ndarray
    best_loss: np.ndarray
    steps_to_tol: np.ndarray
    diverged: np.ndarray
    trajectory: np.ndarray
    loss: np.ndarray


def empty_metrics(cells: int, dim: int, records: int) -> Metrics:
    """Output arrays for ``cells`` cells; recorded values start as NaN."""
    return Metrics(
        final_x=np.empty((cells, dim)),
        final_loss=np.empty(cells),
        best_loss=np.empty(cells),
        steps_to_tol=np.empty(cells),
        diverged=np.empty(cells, dtype=np.bool_),
        trajectory=np.full((cells, records, dim), np.nan),
        loss=np.full((cells, records), np.nan),
    )


@functools.cache
def cpu_kernel(update, init, value_and_grad):
    """A compiled ``kernel(x0, hyper, settings, out)`` for one rule and one objective.

    Args (of the returned kernel):
        x0: (n, dim) float64 start points, one row per cell.
        hyper: (n, 4) float64 (alpha, beta1, beta2, eps) per cell.
        settings: a :class:`Settings`.
        out: a :class:`Metrics` of arrays for n cells, filled in place.

    The cells are independent and each runs the same instructions whatever
    block it is in, so results do not depend on how the grid is chunked.
    Hyperparameters are data, so a new grid never recompiles. The kernel
    releases the GIL: joblib's threads run blocks side by side.
    """
    register_jitable(value_and_grad)
    fingerprint = SOURCE_FINGERPRINT

    # error_model="numpy": x/0 is inf or NaN as IEEE says (a diverged cell),
    # not a ZeroDivisionError that would stop the whole sweep.
    @njit(nogil=True, cache=True, error_model="numpy")
    def kernel(x0, hyper, settings, out):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        cells, dim = x0.shape
        theta = np.empty(dim)
        grad = np.empty(dim)
        state0 = np.empty(dim)
        state1 = np.empty(dim)
        state2 = np.empty(dim)
        steps = settings.steps
        record_every = settings.record_every
        for cell in range(cells):
            hp = (hyper[cell, 0], hyper[cell, 1], hyper[cell, 2], hyper[cell, 3], settings.option)
            for i in range(dim):
                theta[i] = x0[cell, i]
                state0[i], state1[i], state2[i] = init(settings.option)
            diverged = False
            best = math.inf
            reached = -1
            record = 0
            value = math.nan
            for step in range(steps + 1):
                # f and ∇f at θ_step; the gradient is g_{step+1}, so its t is step + 1.
                value = value_and_grad(theta, grad, float(step + 1), 0)
                if not math.isfinite(value):
                    diverged = True
                    break
                best = min(best, value)
                if reached < 0 and value - settings.minimum <= settings.tol:
                    reached = step
                if record_every > 0 and (step % record_every == 0 or step == steps):
                    for i in range(dim):
                        out.trajectory[cell, record, i] = theta[i]
                    out.loss[cell, record] = value
                    record += 1
                if step == steps:
                    break
                t = float(step + 1)
                for i in range(dim):
                    theta[i], state = update(theta[i], grad[i], t, hp, (state0[i], state1[i], state2[i]))
                    state0[i], state1[i], state2[i] = state
                    # Written so that NaN fails the test too.
                    if not abs(theta[i]) <= settings.bound:
                        diverged = True
                if diverged:
                    break
            out.diverged[cell] = diverged
            out.best_loss[cell] = best if best < math.inf else math.nan
            out.steps_to_tol[cell] = reached if reached >= 0 else math.nan
            out.final_loss[cell] = math.nan if diverged else value
            for i in range(dim):
                out.final_x[cell, i] = math.nan if diverged else theta[i]

    return kernel
