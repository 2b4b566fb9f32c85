"""How fast can *any* float64 Adam kernel go on this machine? A ceiling, measured.

Issue 4 asks for 400 M trajectory-steps/s on Adam/Rosenbrock, bit-identical to
the simple kernel. The pinned rule (``shared/UPDATE_RULES.md``) divides three
times and takes one square root per coordinate:

    m̂ = m/(1−β₁ᵗ);  v̂ = v/(1−β₂ᵗ);  θ −= α·m̂/(√v̂ + ε)

and IEEE division and square root can only be had, correctly rounded, from the
core's divider. This script times the rule's arithmetic *alone*, with nothing
else (the "gradient" is θ itself: no objective, no metrics, no masks, no
divergence checks), vectorized across 64 lanes as the lockstep kernel is:

- ``pinned``: Adam's arithmetic, three divisions and the square root as pinned;
- ``no divisions``: the same loop with each division replaced by a
  multiplication (wrong numbers, same everything else): what the divider costs;
- ``one division``: the bias corrections as multiplications by per-step
  reciprocals (the ``fast_division`` idea), one division and the root left;
- ``divider alone``: the three divisions and the root per coordinate and
  nothing else (no moments): the divider's ceiling.

``python docs/trials/divider_bound.py`` prints M cell-steps/s on one thread and
on every core (threads: the kernel releases the GIL). The ceiling is the
``divider alone`` figure: no correctly rounded Adam step can be faster. The
``pinned`` loop came out *below* the engine's real kernel (110 against 132 M/s
on one thread here: LLVM schedules the real kernel better), so it is a
comparison for the other variants, not a bound.
"""
from __future__ import annotations

import math
import os
import statistics
import threading
import time

import numpy as np
from numba import njit

LANES = 64
DIM = 2
VARIANTS = {"pinned": 0, "no divisions": 1, "one division": 2, "divider alone": 3}


def build(kind: str):
    """One compiled kernel per variant (the variant a compile-time constant)."""
    code = VARIANTS[kind]

    @njit(nogil=True, error_model="numpy")
    def kernel(theta0, hyper, steps):
        cells = theta0.shape[0]
        theta = np.empty((DIM, LANES))
        m = np.empty((DIM, LANES))
        v = np.empty((DIM, LANES))
        alpha = np.empty(LANES)
        beta1 = np.empty(LANES)
        beta2 = np.empty(LANES)
        eps = np.empty(LANES)
        power1 = np.empty(LANES)
        power2 = np.empty(LANES)
        inverse1 = np.empty(LANES)
        inverse2 = np.empty(LANES)
        total = 0.0
        for first in range(0, cells, LANES):
            for lane in range(LANES):
                cell = first + lane
                alpha[lane], beta1[lane] = hyper[cell, 0], hyper[cell, 1]
                beta2[lane], eps[lane] = hyper[cell, 2], hyper[cell, 3]
                power1[lane] = 1.0
                power2[lane] = 1.0
                for i in range(DIM):
                    theta[i, lane] = theta0[cell, i]
                    m[i, lane] = 0.0
                    v[i, lane] = 0.0
            for step in range(steps):
                for lane in range(LANES):
                    power1[lane] *= beta1[lane]
                    power2[lane] *= beta2[lane]
                    if code == 2:
                        inverse1[lane] = 1.0 / (1.0 - power1[lane])
                        inverse2[lane] = 1.0 / (1.0 - power2[lane])
                for i in range(DIM):
                    for lane in range(LANES):
                        grad = theta[i, lane]
                        b1, b2 = beta1[lane], beta2[lane]
                        mi = b1 * m[i, lane] + (1.0 - b1) * grad
                        vi = b2 * v[i, lane] + (1.0 - b2) * (grad * grad)
                        if code == 0:    # pinned: three divisions and a root
                            m_hat = mi / (1.0 - power1[lane])
                            v_hat = vi / (1.0 - power2[lane])
                            delta = alpha[lane] * m_hat / (math.sqrt(v_hat) + eps[lane])
                        elif code == 1:  # every division a multiplication
                            m_hat = mi * (1.0 - power1[lane])
                            v_hat = vi * (1.0 - power2[lane])
                            delta = alpha[lane] * m_hat * (math.sqrt(v_hat) + eps[lane])
                        elif code == 2:  # bias corrections by reciprocals
                            m_hat = mi * inverse1[lane]
                            v_hat = vi * inverse2[lane]
                            delta = alpha[lane] * m_hat / (math.sqrt(v_hat) + eps[lane])
                        else:            # the divider's work alone: the moments are not kept
                            m_hat = grad / (1.0 - power1[lane])
                            v_hat = grad / (1.0 - power2[lane])
                            delta = m_hat / (math.sqrt(v_hat) + eps[lane])
                            mi, vi = m[i, lane], v[i, lane]
                        theta[i, lane] -= delta
                        m[i, lane] = mi
                        v[i, lane] = vi
            for lane in range(LANES):
                total += theta[0, lane]
        return total

    return kernel


def rate(kernel, cells: int, steps: int, threads: int, repeats: int = 3) -> float:
    """Median M cell-steps/s with ``threads`` threads, each on cells/threads cells."""
    rng = np.random.default_rng(0)
    theta0 = rng.uniform(-2, 2, (cells, DIM))
    hyper = np.column_stack([10 ** rng.uniform(-4, -1, cells), rng.uniform(0, 0.99, cells),
                             rng.uniform(0.9, 0.9999, cells), 10 ** rng.uniform(-8, -4, cells)])
    parts = np.array_split(np.arange(cells), threads)
    kernel(theta0[:LANES], hyper[:LANES], 1)  # compile
    rates = []
    for _ in range(repeats):
        workers = [threading.Thread(target=kernel, args=(theta0[p], hyper[p], steps))
                   for p in parts]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        rates.append(cells * steps / (time.perf_counter() - started) / 1e6)
    return statistics.median(rates)


def main() -> None:
    cells, steps = 16384, 2000
    cores = os.cpu_count() or 1
    print(f"Adam's arithmetic alone, {cells} cells × {steps} steps, float64, "
          f"{LANES} lanes (M cell-steps/s, median of 3)")
    for kind in VARIANTS:
        kernel = build(kind)
        one = rate(kernel, cells, steps, 1)
        every = rate(kernel, cells, steps, cores)
        print(f"  {kind:<14} 1 thread {one:7.1f}   {cores} threads {every:7.1f}")


if __name__ == "__main__":
    main()
