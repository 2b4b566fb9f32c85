"""Every update rule on Rosenbrock at the engine's target size, fast kernel against reference.

    python docs/trials/rules_speed.py [CELLS] [STEPS]

For each rule: ``sweep.run`` end to end on all cores with the lockstep kernel
(median of 3, after a warm-up run) and with the one-cell reference kernel
(one run), in M trajectory-steps/s, and their ratio. The grids come from
``sweep.bench.sweep_table``: about CELLS computed cells (default 16 384) over
the axes each rule reads, STEPS steps (default 2 000).
"""
from __future__ import annotations

import os
import sys

from sweep.kernels.rules import OPTIMIZERS
from sweep import bench


def main(cells: int = 16384, steps: int = 2000) -> None:
    cores = os.cpu_count() or 1
    print(f"Rosenbrock, ~{cells} cells × {steps} steps, {cores} threads (M trajectory-steps/s)")
    for name in OPTIMIZERS:
        table = bench.sweep_table(cells, steps, name, "rosenbrock")
        fast = bench.time_sweep(table, 3, n_jobs=cores, backend="cpu")["median"] / 1e6
        simple = bench.time_sweep(table, 1, n_jobs=cores, backend="cpu",
                                  kernel="simple")["median"] / 1e6
        print(f"  {name:<10} lockstep {fast:7.1f}   reference {simple:6.1f}   ×{fast / simple:.1f}",
              flush=True)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]))
