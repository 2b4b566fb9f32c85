"""The rules' rates in two or more checkouts, alternating: is any rule slower than before?

    python benchmarks/rules_versus.py [--rounds N] [--rules a,b,...] [--cells N] [--steps N]
        TREE [TREE ...]

Each TREE is a checkout of this repository (e.g. this one and a ``git worktree`` of an
older commit). In each of N rounds (default 3), every tree in turn times every rule in
a new process (``PYTHONPATH`` set to the tree, its numba cache warmed by a first run):
``sweep.bench.sweep_table``'s grid on Rosenbrock (by default 16 384 cells × 2 000 steps,
as ``python -m sweep bench``), lockstep kernel, every core, end to end, the median of 3
runs. The rules are by default the eleven that every checkout has. Alternating is what
makes the comparison fair on a shared machine. Prints each round, then per rule each
tree's median over the rounds and its ratio to the first tree's: the check that a change
leaves no rule slower.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ORIGINAL = "sgd,momentum,nesterov,adagrad,adadelta,rmsprop,adam,amsgrad,adamw,nadam,adamax"

MEASURE = """
import json, os, sys
from sweep import bench
rates = {}
cells, steps = int(sys.argv[2]), int(sys.argv[3])
for name in sys.argv[1].split(","):
    table = bench.sweep_table(cells, steps, name, "rosenbrock")
    rates[name] = bench.time_sweep(table, 3, n_jobs=os.cpu_count(), backend="cpu")["median"]
print(json.dumps(rates))
"""


def rates(tree: Path, rules: str, cells: int, steps: int) -> dict[str, float]:
    """Each rule's median rate (trajectory-steps/s) in ``tree``, measured in a new process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", MEASURE, rules, str(cells), str(steps)],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rules", default=ORIGINAL)
    parser.add_argument("--cells", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.trees]
    seen: dict[Path, dict[str, list[float]]] = {tree: {} for tree in trees}
    for round_ in range(1, args.rounds + 1):
        for tree in trees:
            for name, rate in rates(tree, args.rules, args.cells, args.steps).items():
                seen[tree].setdefault(name, []).append(rate)
            print(f"round {round_} {tree}: " + ", ".join(
                f"{name} {values[-1] / 1e6:.0f}" for name, values in seen[tree].items()),
                flush=True)
    first = trees[0]
    print("M trajectory-steps/s, median over rounds (range); ratio to " + str(first))
    for name in seen[first]:
        base = statistics.median(seen[first][name])
        cells = []
        for tree in trees:
            values = seen[tree][name]
            median = statistics.median(values)
            cells.append(f"{tree.name}: {median / 1e6:.0f} ({min(values) / 1e6:.0f}-"
                         f"{max(values) / 1e6:.0f}) ×{median / base:.2f}")
        print(f"  {name:<10} " + "   ".join(cells))


if __name__ == "__main__":
    main()
