"""How much of a 10⁶-cell sweep is spent outside the kernels, measured in one process.

    python docs/trials/orchestration.py [TRIALS]

Times ``execute`` of every block with nothing saved (the kernels and their
dispatch), ``sweep.run`` of the same grid into a ``.zarr`` store (written
block by block) and into a netCDF file (assembled in memory), after one
warm-up run of each, TRIALS times interleaved (default 5), and prints the
share of each run's median wall time spent outside the kernels.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sweep
from sweep.api import load_config
from sweep.execute import compile_kernels, execute
from sweep.plan import make_plan

# 10^6 cells: Adam on Rosenbrock, 100 × 100 × 10 × 10 over (α, β₁, β₂, ε), 2000 steps.
GRID = {
    "sweep": {"optimizers": ["adam"], "steps": 2000},
    "objective": {"name": "rosenbrock", "start": [[-1.5, 2.0]]},
    "grid": {"alpha": {"min": 1e-4, "max": 1e-1, "num": 100, "scale": "log"},
             "beta1": {"min": 0.0, "max": 0.99, "num": 100},
             "beta2": {"min": 0.9, "max": 0.9999, "num": 10},
             "eps": {"min": 1e-8, "max": 1e-4, "num": 10, "scale": "log"}},
}


def main(trials: int = 5) -> None:
    config = load_config(GRID)
    plan = make_plan(config, n_jobs=2)
    compile_kernels(plan)
    folder = Path(tempfile.mkdtemp(prefix="orchestration-"))

    def kernels_alone():
        execute(plan, plan.blocks, lambda block, metrics: None, n_jobs=2)

    def into(name):
        return lambda: sweep.run(config, output=folder / name, n_jobs=2, overwrite=True,
                                 backend="cpu")

    runs = {"kernels alone": kernels_alone, "zarr": into("r.zarr"), "nc": into("r.nc")}
    for run in runs.values():  # warm-up: the first write imports the zarr and netCDF backends
        run()
    seconds = {name: [] for name in runs}
    for _ in range(trials):  # interleaved, so that the machine's drift hits each alike
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    kernels = statistics.median(seconds["kernels alone"])
    print(f"{len(plan.blocks)} blocks, median of {trials} (range): kernels alone {kernels:.2f} s "
          f"({min(seconds['kernels alone']):.2f}–{max(seconds['kernels alone']):.2f})")
    for name in ("zarr", "nc"):
        whole = statistics.median(seconds[name])
        print(f"  → .{name} {whole:.2f} s ({min(seconds[name]):.2f}–{max(seconds[name]):.2f}): "
              f"{(whole - kernels) / whole:.1%} outside the kernels")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
