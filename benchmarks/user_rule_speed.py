"""A rule written by a user against the built-in rule it copies: the same sweep, timed.

    python benchmarks/user_rule_speed.py [--cells N] [--steps N] [--rounds N]

The user's rule is heavy-ball momentum (``buffer ← β₁·buffer + g``, θ ← θ − α_t·buffer),
the built-in ``momentum``'s arithmetic, in a file read through ``[rules.NAME]``; both
run the same grid on Rosenbrock (α × β₁, lockstep kernel, every core, end to end, no
file written). The runs alternate, built-in then user, after a warm-up run of each
(which compiles); each round times both once. Prints each rate (trajectory-steps/s),
then each one's median and range and the median ratio of the rounds. Defaults: about
16 384 cells, 2 000 steps, 5 rounds.

This is the measurement behind docs/update_rules.md's "Rules of your own": the engine
compiles a user's rule as written, for every kernel, so a grid sweeps it as fast as
the built-in rule with the same arithmetic.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import sweep

RULE = '''
def my_momentum(theta, grad, state, t, h):
    buffer = h.beta1 * state[0] + grad
    return theta - h.alpha * buffer, (buffer,)
'''


def table(optimizer: str, rules_file: Path, cells: int, steps: int) -> dict:
    side = max(1, round(cells ** 0.5))
    return {
        "sweep": {"optimizers": [optimizer], "steps": steps},
        "objective": {"name": "rosenbrock"},
        "grid": {"alpha": {"min": 1e-5, "max": 1e-3, "num": side, "scale": "log"},
                 "beta1": {"min": 0.0, "max": 0.99, "num": side}},
        "rules": {"my_momentum": {"file": str(rules_file), "function": "my_momentum",
                                  "hyperparameters": {"alpha": 1e-3, "beta1": 0.9},
                                  "state": ["buffer"]}},
    }


def rate(grid: dict) -> float:
    started = time.perf_counter()
    result = sweep.run(grid, n_jobs=os.cpu_count(), kernel="lockstep")
    seconds = time.perf_counter() - started
    return result.attrs["computed_cells"] * grid["sweep"]["steps"] / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rules_file = Path(folder) / "my_rules.py"
        rules_file.write_text(RULE)
        grids = {name: table(name, rules_file, args.cells, args.steps)
                 for name in ("momentum", "my_momentum")}
        for grid in grids.values():
            rate(grid)  # compiles, or loads the cache
        rates = {name: [] for name in grids}
        for round_ in range(1, args.rounds + 1):
            for name, grid in grids.items():
                rates[name].append(rate(grid))
            print(f"round {round_}: " + ", ".join(
                f"{name} {values[-1] / 1e6:.1f} M/s" for name, values in rates.items()),
                flush=True)
    for name, values in rates.items():
        print(f"{name}: median {statistics.median(values) / 1e6:.1f} M trajectory-steps/s "
              f"({min(values) / 1e6:.1f}-{max(values) / 1e6:.1f}) over {len(values)} rounds")
    ratios = [user / built for user, built in zip(rates["my_momentum"], rates["momentum"])]
    print(f"user rule / built-in: median {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
