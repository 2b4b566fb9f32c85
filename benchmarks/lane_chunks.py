"""The lockstep kernel in whole blocks of lanes against chunks of them, rule by rule.

    python benchmarks/lane_chunks.py [VARIANTS] [RULES] [--cells N] [--steps N] [--rounds N]

VARIANTS is a comma-separated list of ``{lanes}x{chunk}`` (a chunk of 0: the whole
block), by default ``64x0,64x16,64x32``; RULES a comma-separated list of rules (by
default all). For each rule, every variant's kernel is built in this process
(:func:`sweep.kernels.compile.lockstep_kernel` with those lanes and that chunk, whatever
``sweep.tunables.LANE_CHUNK`` says for this machine), then they run in turn, ROUNDS
rounds (default 7), and each prints its median. Interleaving them is what makes the
comparison fair on a shared machine, whose speed drifts by more than the differences
measured. The grid is ``sweep.bench.sweep_table(CELLS, STEPS, rule)`` (default 16 384
cells × 2 000 steps): the kernel alone, one thread, M trajectory-steps/s.

This is what the figures of ``sweep/tunables.py``'s ``LANES`` and ``LANE_CHUNK`` come
from (``32x0,64x0,128x0 adam`` and the default variants).
"""
from __future__ import annotations

import argparse
import statistics
import time

from sweep import tunables
from sweep.api import load_config
from sweep.bench import sweep_table
from sweep.execute import settings_for, spec_for
from sweep.kernels.compile import lockstep_kernel
from sweep.kernels.layout import empty_metrics
from sweep.kernels.numba_support import vector_bits
from sweep.kernels.rules import OPTIMIZERS
from sweep.objectives import resolve
from sweep.plan import make_plan


def rates(rule: str, variants: list[tuple[int, int]], cells: int = 16384, steps: int = 2000,
          rounds: int = 7) -> dict[tuple[int, int], float]:
    """Median M trajectory-steps/s of each ``(lanes, chunk)`` variant on one thread."""
    plan = make_plan(load_config(sweep_table(cells, steps, rule)), block_cells=10**9)
    block = plan.blocks[0]  # the whole grid
    x0, hyper, ids = plan.hyperparameters(block)
    settings, records = settings_for(plan, block), len(plan.record_steps)
    value_and_grad = resolve(spec_for(plan, block)).value_and_grad
    kernels = {}
    for lanes, chunk in variants:
        kernel = lockstep_kernel(OPTIMIZERS[rule], value_and_grad, lanes, chunk=chunk or lanes,
                                 fixed_dim=tunables.LOCKSTEP_FIXED_DIM)
        kernel(x0[:lanes], hyper[:lanes], ids[:lanes], settings,
               empty_metrics(lanes, x0.shape[1], records))  # compile, or load the cache
        kernels[lanes, chunk] = kernel
    out = empty_metrics(len(x0), x0.shape[1], records)
    timed = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant, kernel in kernels.items():
            started = time.perf_counter()
            kernel(x0, hyper, ids, settings, out)
            timed[variant].append(len(x0) * steps / (time.perf_counter() - started) / 1e6)
    return {variant: statistics.median(runs) for variant, runs in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="?", default="64x0,64x16,64x32",
                        help="{lanes}x{chunk},... (a chunk of 0: the whole block)")
    parser.add_argument("rules", nargs="?", default=",".join(OPTIMIZERS),
                        help="rule,... (default: every built-in rule)")
    parser.add_argument("--cells", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    chosen = [tuple(int(part) for part in variant.split("x"))
              for variant in args.variants.split(",")]
    print(f"the lockstep kernel alone, one thread, {vector_bits()}-bit vectors, median of "
          f"{args.rounds} interleaved runs (M trajectory-steps/s; lanes x chunk, 'all' = "
          "whole block)")
    for rule in args.rules.split(","):
        measured = rates(rule, chosen, args.cells, args.steps, args.rounds)
        print(f"  {rule:<9}" + "  ".join(f"{lanes}x{chunk or 'all'}: {rate:6.0f}"
                                         for (lanes, chunk), rate in measured.items()),
              flush=True)


if __name__ == "__main__":
    main()
