"""How fast can *any* float64 Adam kernel go on this machine? A ceiling, measured.

    python benchmarks/divider_bound.py [--cells N] [--steps N] [--repeats N]

Correctly rounded division and square root come only from the core's divider.
The pinned Adam (``docs/update_rules.md``, "How a step is computed") takes
one division and one root per coordinate,

    a = α_t·(1/(1−β₁ᵗ));  c = 1/√(1−β₂ᵗ)           (once per step and (β₁, β₂))
    θ −= a·(m/(√v·c + ε))                           (per coordinate)

where the textbook grouping takes three divisions and the root per coordinate
(m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), θ −= α·m̂/(√v̂ + ε)). This script times the
rule's arithmetic *alone*, with nothing else (the "gradient" is θ itself: no
objective, no metrics, no masks, no divergence checks), vectorized across 64
lanes as the lockstep kernel is, every lane with the same (β₁, β₂) so the step
coefficients cost one division and one root per step for all 64:

- ``pinned``: Adam's arithmetic as pinned;
- ``textbook grouping``: three divisions and the root per coordinate;
- ``no divisions``: the pinned loop with its division and root made
  multiplications (wrong numbers, same everything else): what the divider costs;
- ``divider alone``: the one division and one root per coordinate and nothing
  else (no moments): the divider's ceiling for the pinned grouping;
- ``divider alone, textbook``: three divisions and the root per coordinate, nothing
  else: the ceiling of the textbook grouping.

It prints M cell-steps/s on one thread and on every core (threads: the kernels
release the GIL), the median of REPEATS runs (default 3). The ceiling is the
``divider alone`` figure: no correctly rounded Adam step in this grouping can be
faster. The last line times the engine's own lockstep kernel the same way, in the
same process (Adam on Rosenbrock, ``sweep.bench.sweep_table``'s grid of CELLS cells ×
STEPS steps, by default ``python -m sweep bench``'s 16 384 × 2 000, every metric on,
the kernel alone: no plan, no assembly), and gives it as a share of that ceiling.
This is the measurement behind the performance page's "what bounds a rule like Adam
is the core's divider" and the update rules page's "the fewer a coordinate needs the
faster the rule".
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import threading
import time

import numpy as np
from numba import njit

LANES = 64
DIM = 2
VARIANTS = {"pinned": 0, "textbook grouping": 1, "no divisions": 2, "divider alone": 3,
            "divider alone, textbook": 4}


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
        a = np.empty(LANES)
        total = 0.0
        for first in range(0, cells, LANES):
            power1 = 1.0
            power2 = 1.0
            for lane in range(LANES):
                cell = first + lane
                alpha[lane], beta1[lane] = hyper[cell, 0], hyper[cell, 1]
                beta2[lane], eps[lane] = hyper[cell, 2], hyper[cell, 3]
                for i in range(DIM):
                    theta[i, lane] = theta0[cell, i]
                    m[i, lane] = 0.0
                    v[i, lane] = 0.0
            for step in range(steps):
                # The step coefficients, once for all lanes (they share β here).
                power1 *= beta1[0]
                power2 *= beta2[0]
                scale = 1.0 / (1.0 - power1)
                root = 1.0 / math.sqrt(1.0 - power2)
                for lane in range(LANES):
                    a[lane] = alpha[lane] * scale
                for i in range(DIM):
                    for lane in range(LANES):
                        grad = theta[i, lane]
                        b1, b2 = beta1[lane], beta2[lane]
                        mi = b1 * m[i, lane] + (1.0 - b1) * grad
                        vi = b2 * v[i, lane] + (1.0 - b2) * (grad * grad)
                        if code == 0:    # pinned: one root, one division
                            delta = a[lane] * (mi / (math.sqrt(vi) * root + eps[lane]))
                        elif code == 1:  # textbook grouping: three divisions and a root
                            m_hat = mi / (1.0 - power1)
                            v_hat = vi / (1.0 - power2)
                            delta = alpha[lane] * m_hat / (math.sqrt(v_hat) + eps[lane])
                        elif code == 2:  # the division and the root made multiplications
                            delta = a[lane] * (mi * (vi * root + eps[lane]))
                        elif code == 3:  # the divider's work alone: the moments are not kept
                            delta = grad / (math.sqrt(grad * grad) + eps[lane])
                            mi, vi = m[i, lane], v[i, lane]
                        else:            # the textbook grouping's divider work alone
                            m_hat = grad / (1.0 - power1)
                            v_hat = grad / (1.0 - power2)
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
    # One (β₁, β₂) per block of lanes, as in a grid whose inner axes are α and ε.
    hyper = np.column_stack([10 ** rng.uniform(-4, -1, cells),
                             np.repeat(rng.uniform(0, 0.99, cells // LANES + 1), LANES)[:cells],
                             np.repeat(rng.uniform(0.9, 0.9999, cells // LANES + 1), LANES)[:cells],
                             10 ** rng.uniform(-8, -4, cells)])
    kernel(theta0[:LANES], hyper[:LANES], 1)  # compile
    return threaded_rate(lambda p: kernel(theta0[p], hyper[p], steps), cells, steps, threads,
                         repeats)


def threaded_rate(run, cells: int, steps: int, threads: int, repeats: int) -> float:
    """Median M cell-steps/s of ``run(part)`` over ``cells`` split into ``threads`` parts,
    one thread each (the kernels release the GIL). The parts are whole blocks of
    :data:`LANES` cells, the last taking any rest: the kernels of :func:`build` step
    whole blocks only."""
    ends = [LANES * (cells // LANES * i // threads) for i in range(1, threads)]
    parts = np.split(np.arange(cells), ends)
    rates = []
    for _ in range(repeats):
        workers = [threading.Thread(target=run, args=(part,)) for part in parts]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        rates.append(cells * steps / (time.perf_counter() - started) / 1e6)
    return statistics.median(rates)


def engine_rate(cells: int, steps: int, threads: int, repeats: int = 3) -> float:
    """Median M cell-steps/s of the engine's lockstep kernel, Adam on Rosenbrock, on the
    bench grid of about ``cells`` cells, split over ``threads`` threads."""
    from sweep.api import load_config
    from sweep.bench import sweep_table
    from sweep.execute import kernel_for, settings_for, spec_for
    from sweep.kernels.layout import empty_metrics
    from sweep.plan import make_plan

    plan = make_plan(load_config(sweep_table(cells, steps)), block_cells=10**9)
    block = plan.blocks[0]  # the whole grid
    x0, hyper, ids = plan.hyperparameters(block)
    settings, records = settings_for(plan, block), len(plan.record_steps)
    kernel = kernel_for(block.optimizer, spec_for(plan, block))

    def run(part):
        out = empty_metrics(len(part), x0.shape[1], records)
        kernel(x0[part], hyper[part], ids[part], settings, out)

    run(np.arange(LANES))  # compile, or load the cache
    return threaded_rate(run, len(x0), steps, threads, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=16384, help=f"a multiple of {LANES}")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cells, steps, repeats = args.cells, args.steps, args.repeats
    if cells % LANES:
        parser.error(f"--cells must be a multiple of {LANES}")
    cores = os.cpu_count() or 1
    print(f"Adam's arithmetic alone, {cells} cells × {steps} steps, float64, "
          f"{LANES} lanes (M cell-steps/s, median of {repeats})")
    ceiling = {}
    for kind in VARIANTS:
        kernel = build(kind)
        one = rate(kernel, cells, steps, 1, repeats)
        every = rate(kernel, cells, steps, cores, repeats)
        print(f"  {kind:<24} 1 thread {one:7.1f}   {cores} threads {every:7.1f}")
        if kind == "divider alone":
            ceiling = {1: one, cores: every}
    one = engine_rate(cells, steps, 1, repeats)
    every = engine_rate(cells, steps, cores, repeats)
    print(f"  {'engine lockstep kernel':<24} 1 thread "
          f"{one:7.1f} ({one / ceiling[1]:.0%} of the ceiling)   {cores} threads {every:7.1f} "
          f"({every / ceiling[cores]:.0%})")


if __name__ == "__main__":
    main()
