"""Cold compile time of grids, checkouts alternating.

    python benchmarks/cold_compile.py [--rounds N] [--grid FILE ...] TREE [TREE ...]

Each TREE is a checkout of this repository (e.g. this one and a ``git worktree`` of
an older commit). In each of N rounds (default 3), every tree in turn runs
``python -m sweep GRID`` for each ``--grid`` in order (default: the tree's
``sweep/grids/default.toml``), each in a new process, all of them with one new empty
``NUMBA_CACHE_DIR`` and ``PYTHONPATH`` set to the tree, and the seconds compiling
are read from each summary line. Grids in sequence measure what a further one costs
once the first has filled the cache (e.g. ``--grid benchmarks/grids/logistic_adam.toml
--grid benchmarks/grids/logistic_sgd.toml``: a second rule on the same model).
Alternating is what makes the comparison fair on a shared machine, whose speed drifts
by more than the differences measured. Prints each run, then each tree's median and
range. With one TREE it measures that checkout alone.

This is the measurement behind the compile times the documentation gives (the
performance page: "each (rule, objective) kernel compiles in a few seconds the first
time"), and the check that a change to the kernels does not make them compile slower.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COMPILING = re.compile(r"\(([\d.]+) s compiling")


def compile_seconds(tree: Path, grids: list[Path]) -> list[float]:
    """Runs of ``grids`` in order from ``tree``, on one new cache: each summary line's
    seconds compiling."""
    seconds = []
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(scratch) / "cache"),
               "PYTHONPATH": str(tree)}
        for number, grid in enumerate(grids):
            done = subprocess.run(
                [sys.executable, "-m", "sweep", str(grid),
                 "-o", str(Path(scratch) / f"out{number}.zarr"), "--quiet"],
                cwd=scratch, env=env, capture_output=True, text=True, check=True)
            found = COMPILING.search(done.stdout + done.stderr)
            if found is None:
                raise RuntimeError(f"no 's compiling' in the output of {tree} on {grid}:\n"
                                   f"{done.stdout}{done.stderr}")
            seconds.append(float(found.group(1)))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--grid", type=Path, action="append", default=[],
                        help="a grid file, run in order on one cache (repeatable)")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.trees]
    grids = [grid.resolve() for grid in args.grid]
    seconds: dict[tuple[Path, str], list[float]] = {}
    for round_ in range(1, args.rounds + 1):
        for tree in trees:
            runs = grids or [tree / "sweep" / "grids" / "default.toml"]
            for grid, value in zip(runs, compile_seconds(tree, runs)):
                seconds.setdefault((tree, grid.name), []).append(value)
                print(f"round {round_}  {tree} {grid.name}: {value:.1f} s compiling", flush=True)
    for (tree, grid), values in seconds.items():
        print(f"{tree} {grid}: median {statistics.median(values):.1f} s "
              f"({min(values):.1f}-{max(values):.1f}) over {len(values)} cold runs")


if __name__ == "__main__":
    main()
