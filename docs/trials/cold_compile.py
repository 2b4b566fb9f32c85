"""Cold compile time of the default grid, checkouts alternating.

    python docs/trials/cold_compile.py [--rounds N] TREE [TREE ...]

Each TREE is a checkout of this repository (e.g. this one and a ``git worktree`` of
an older commit). In each of N rounds (default 3), every tree in turn runs
``python -m sweep sweep/grids/default.toml`` in a new process, with its own empty
``NUMBA_CACHE_DIR`` and ``PYTHONPATH`` set to the tree, and the seconds compiling
are read from its summary line. Alternating is what makes the comparison fair on
a shared machine, whose speed drifts by more than the differences measured. Prints
each run, then each tree's median and range.
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


def compile_seconds(tree: Path) -> float:
    """One cold run of the default grid from ``tree``: its summary line's seconds compiling."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(scratch) / "cache"),
               "PYTHONPATH": str(tree)}
        done = subprocess.run(
            [sys.executable, "-m", "sweep", str(tree / "sweep" / "grids" / "default.toml"),
             "-o", str(Path(scratch) / "out.zarr"), "--quiet"],
            cwd=scratch, env=env, capture_output=True, text=True, check=True)
    found = COMPILING.search(done.stdout + done.stderr)
    if found is None:
        raise RuntimeError(f"no 's compiling' in the output of {tree}:\n{done.stdout}{done.stderr}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.trees]
    seconds: dict[Path, list[float]] = {tree: [] for tree in trees}
    for round_ in range(1, args.rounds + 1):
        for tree in trees:
            seconds[tree].append(compile_seconds(tree))
            print(f"round {round_}  {tree}: {seconds[tree][-1]:.1f} s compiling", flush=True)
    for tree, values in seconds.items():
        print(f"{tree}: median {statistics.median(values):.1f} s "
              f"({min(values):.1f}-{max(values):.1f}) over {len(values)} cold runs")


if __name__ == "__main__":
    main()
