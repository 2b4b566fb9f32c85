"""The lockstep kernel in whole blocks of lanes against chunks of them, rule by rule.

    python benchmarks/lane_chunks.py [VARIANTS] [RULES]

VARIANTS is a comma-separated list of ``{lanes}x{chunk}`` (a chunk of 0: the whole
block), by default ``64x0,64x16,64x32``; RULES a comma-separated list of rules (by
default all). For each rule, every variant's kernel is built in this process
(:func:`sweep.kernels.compile._lockstep_kernel`, whatever ``sweep.tunables.LANE_CHUNK``
says for this machine), then they run in turn, seven rounds, and each prints its
median. Interleaving them is what makes the comparison fair on a shared machine,
whose speed drifts by more than the differences measured. The grid is
``sweep.bench.sweep_table(16384, 2000, rule)``: the kernel alone, one thread,
M trajectory-steps/s. This is what ``sweep/tunables.py``'s ``LANE_CHUNK`` figures
come from.
"""
from __future__ import annotations

import statistics
import sys
import time

from sweep.kernels.compile import _lockstep_kernel
from sweep.kernels.layout import empty_metrics
from sweep.kernels.numba_support import vector_bits
from sweep.kernels.rules import OPTIMIZERS
from sweep import tunables
from sweep.api import load_config
from sweep.bench import sweep_table
from sweep.execute import Engine, _call
from sweep.objectives import resolve
from sweep.plan import make_plan

ROUNDS = 7


def rates(rule: str, variants: list[tuple[int, int]], cells: int = 16384,
          steps: int = 2000) -> dict[tuple[int, int], float]:
    """Median M trajectory-steps/s of each ``(lanes, chunk)`` variant on one thread."""
    plan = make_plan(load_config(sweep_table(cells, steps, rule)), block_cells=10**9)
    _, spec, x0, hyper, ids, settings, records, _ = _call(plan, plan.blocks[0], Engine())
    value_and_grad = resolve(spec).value_and_grad
    kernels = {}
    for lanes, chunk in variants:
        kernel = _lockstep_kernel(OPTIMIZERS[rule], value_and_grad, lanes, chunk or lanes,
                                  tunables.LOCKSTEP_FIXED_DIM, "float64")
        kernel(x0[:lanes], hyper[:lanes], ids[:lanes], settings,
               empty_metrics(lanes, x0.shape[1], records))  # compile, or load the cache
        kernels[lanes, chunk] = kernel
    out = empty_metrics(len(x0), x0.shape[1], records)
    timed = {variant: [] for variant in variants}
    for _ in range(ROUNDS):
        for variant, kernel in kernels.items():
            started = time.perf_counter()
            kernel(x0, hyper, ids, settings, out)
            timed[variant].append(len(x0) * steps / (time.perf_counter() - started) / 1e6)
    return {variant: statistics.median(runs) for variant, runs in timed.items()}


def main(variants: str = "64x0,64x16,64x32", rules: str = ",".join(OPTIMIZERS)) -> None:
    chosen = [tuple(int(part) for part in variant.split("x")) for variant in variants.split(",")]
    print(f"the lockstep kernel alone, one thread, {vector_bits()}-bit vectors, median of "
          f"{ROUNDS} interleaved runs (M trajectory-steps/s; lanes x chunk, 'all' = whole block)")
    for rule in rules.split(","):
        measured = rates(rule, chosen)
        print(f"  {rule:<9}" + "  ".join(f"{lanes}x{chunk or 'all'}: {rate:6.0f}"
                                         for (lanes, chunk), rate in measured.items()),
              flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
