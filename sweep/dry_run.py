"""``python -m sweep GRID.toml --dry-run``: the plan, its sizes and a measured time estimate.

Nothing is written where the real run would write. The estimate has two parts,
both measured here, on this machine, rather than assumed:

* what a run costs besides computing (importing xarray and zarr, finding the
  backend, compiling or loading the kernels, creating the output, making each
  block's hyperparameters, saving each block, opening the result): measured by
  running the same sweep cut to its first block of each rule (real blocks, the
  same kinds of variables) and a few steps, through the real pipeline, into a
  scratch output in a temporary directory that is then deleted;
* the computing: each rule's kernel is timed on real cells of the grid, on as
  many threads at once as the run will use (after an untimed warm-up, so that
  the first call's costs are not counted as speed), and scaled to the grid's
  trajectory-steps. Timing the threads together measures what they gain on
  this machine as loaded now: other work on the cores can take most of the
  second thread's gain.

Both are measured because neither can be assumed: on a small grid the fixed
costs are most of the run (the default grid spends far more time outside the
kernels than in them), and a short single-thread calibration scaled linearly
underestimates such runs several times over.
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from . import tunables
from .config import SweepConfig, _bytes, result_bytes
from .plan import make_plan, record_steps

# Trajectory-steps each rule runs to calibrate its speed (~40 ms at 200 M/s).
CALIBRATION_STEPS = 1 << 23
# Steps of the miniature run that measures the fixed costs (one block per rule),
# at least; more when trajectories are recorded, so that it records as many steps.
MINIATURE_STEPS = 10


def estimate_seconds(fixed: float, per_block: float, blocks: int,
                     work: Mapping[str, float], rates: Mapping[str, float]) -> float:
    """The wall time of a run, in seconds.

    Args:
        fixed: seconds a run takes besides its blocks (imports, kernels, output).
        per_block: seconds each block costs besides its computing (its
            hyperparameters, dispatch, saving: done in the main thread, one at a time).
        blocks: how many blocks the run has.
        work: trajectory-steps each rule computes.
        rates: trajectory-steps per second, per rule, of all the run's threads together.

    Returns:
        ``fixed + blocks · per_block + Σ work / rate``.
    """
    return fixed + blocks * per_block + sum(steps / rates[name] for name, steps in work.items())


def dry_run(config: SweepConfig, output: str | None = None, n_jobs: int | None = None,
            block_cells: int | None = None, *, resume: bool = False, overwrite: bool = False,
            backend: str | None = None, dtype: str | None = None,
            say: Callable[[str], None] | None = None) -> str:
    """The plan of ``config`` as text: where it would write, cells, trajectory-steps,
    blocks, output size, memory, and the estimated wall time.

    The arguments are :func:`sweep.run`'s; the output is resolved (and refused) as
    the real run would. ``say`` is told what is being compiled and timed before it
    starts (default: a line on stderr), as that takes seconds the first time.
    """
    from .api import _destination

    destination = _destination(config, output, resume, overwrite)  # as the real run does
    from .execute import resolve_jobs

    jobs = resolve_jobs(n_jobs)
    plan = make_plan(config, n_jobs=jobs, block_cells=block_cells)
    kernels = len(plan.shapes)
    (say or _to_stderr)(f"dry run: compiling {kernels} kernel{'s' if kernels > 1 else ''} "
                        "(cached on disk after the first time) and timing a small run of "
                        f"{'each' if kernels > 1 else 'it'}; nothing is written…")
    miniature = _miniature(config, plan.chunks)
    fixed, compile_time, executing, engine = _fixed_costs(miniature, destination, jobs,
                                                          _cells(plan.chunks), backend, dtype)
    if engine.backend == "cuda":
        jobs = 1  # CUDA blocks run one after the other, each filling the GPUs
    threads = max(1, min(jobs, len(plan.blocks)))  # no more threads work than there are blocks
    rates = _rates(plan, engine, threads)
    # The miniature's blocks cost what real blocks cost, less their (few) steps' computing.
    small = make_plan(miniature, n_jobs=jobs, block_cells=_cells(plan.chunks))
    computing = sum(_cells(shape) * miniature.steps / rates[name]
                    for name, shape in small.shapes.items())
    per_block = max(0.0, executing - computing) / len(small.blocks)
    steps = config.steps
    work = {name: _cells(shape) * steps for name, shape in plan.shapes.items()}
    estimate = estimate_seconds(fixed, per_block, len(plan.blocks), work, rates)
    return "\n".join(_lines(config, plan, destination, jobs, threads, engine, estimate,
                            compile_time, rates))


def _cells(shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _miniature(config: SweepConfig, chunks: tuple[int, ...]) -> SweepConfig:
    """The same sweep (rules, objective, kernels, kinds of output) cut to the first
    chunk of the grid (``chunks`` over :data:`~sweep.plan.PLAN_DIMS`: one block per
    rule) and a few steps: a run that costs all that a run of it costs but computing."""
    schedules, starts, seeds, *axes = chunks
    recorded = len(record_steps(config.steps, config.record_every))
    return dataclasses.replace(
        config, steps=min(config.steps, max(MINIATURE_STEPS, recorded - 1)),
        record_every=min(config.record_every, 1), schedules=config.schedules[:schedules],
        starts=config.starts[:starts], seeds=config.seeds[:seeds], scheduler=None,
        axes=tuple(dataclasses.replace(axis, values=axis.values[:size])
                   for axis, size in zip(config.axes, axes)))


def _fixed_costs(miniature: SweepConfig, destination: str | None, jobs: int, block_cells: int,
                 backend, dtype):
    """(seconds besides executing the blocks, of which compiling, seconds executing
    them, the engine) of a run of ``miniature`` through the real pipeline, into a
    scratch output of the kind ``destination`` is (nothing if None)."""
    from .api import run
    from .execute import Engine

    with tempfile.TemporaryDirectory(prefix="sweep-dry-run-") as scratch:
        target = None if destination is None else Path(scratch) / f"plan{Path(destination).suffix}"
        started = time.perf_counter()
        dataset = run(miniature, output=target, n_jobs=jobs, block_cells=block_cells,
                      backend=backend, dtype=dtype)
        total = time.perf_counter() - started
        attrs = dict(dataset.attrs)
        dataset.close()
    compiling = attrs["compile_time_s"]
    executing = attrs["wall_time_s"] - compiling
    return total - executing, compiling, executing, Engine(backend=attrs["backend"], dtype=attrs["dtype"])


def _rates(plan, engine, threads: int) -> dict[str, float]:
    """Trajectory-steps per second, per rule, of ``threads`` threads running its kernel
    at once, each on the first cells of the rule's first block: a warm-up call on
    each thread, then a timed one."""
    from concurrent.futures import ThreadPoolExecutor

    from .execute import _call, run_block

    steps = plan.config.steps
    rates = {}
    with ThreadPoolExecutor(threads) as pool:  # the kernels release the GIL
        for name in plan.shapes:
            first = next(block for block in plan.blocks if block.optimizer == name)
            optimizer, spec, x0, hyper, ids, settings, records, _, _ = _call(plan, first, engine)
            # Enough cells that the kernel's per-call overhead does not count, few
            # enough steps that it takes a fraction of a second.
            cells = min(len(x0), max(tunables.LANES, CALIBRATION_STEPS // steps))
            calibration = settings._replace(steps=max(1, min(steps, CALIBRATION_STEPS // cells)))
            arguments = (optimizer, spec, x0[:cells], hyper[:cells], ids[:cells])

            def call(settings, arguments=arguments, records=records):
                return run_block(*arguments, settings, records, engine)

            list(pool.map(call, [settings._replace(steps=1)] * threads))  # warm-up
            began = time.perf_counter()
            list(pool.map(call, [calibration] * threads))
            elapsed = max(time.perf_counter() - began, 1e-9)
            rates[name] = threads * cells * calibration.steps / elapsed
    return rates


def _lines(config, plan, destination, jobs, threads, engine, estimate, compile_time,
           rates) -> list[str]:
    steps = config.steps
    streaming = destination is not None and Path(destination).suffix == ".zarr"
    block_bytes = max(block.cells for block in plan.blocks) * result_bytes(config) / plan.full_cells
    in_flight = 2 * jobs if streaming else len(plan.blocks)
    memory = in_flight * block_bytes if streaming else 2 * result_bytes(config)
    chunk = ", ".join(f"{dim} {size}" for dim, size, full in
                      zip(plan.dims, plan.chunks, plan.full_shape) if full > 1)
    shared = (f" ({plan.computed_cells:,} computed: unused axes broadcast)"
              if plan.computed_cells != plan.full_cells else "")
    where = destination or "nowhere (no output given: -o or sweep.output)"
    how = "written block by block" if streaming else "assembled in memory, written at the end"
    engine_text = "" if (engine.backend, engine.dtype) == ("cpu", "float64") else \
        f" on {engine.backend} in {engine.dtype}"
    return [
        f"plan of {config.source} → {where}",
        f"  cells           {plan.full_cells:,}{shared} × {steps:,} steps "
        f"= {plan.computed_cells * steps:.3g} trajectory-steps",
        f"  blocks          {len(plan.blocks):,}, chunks of ({chunk or 'one cell'})",
        f"  output          {_bytes(result_bytes(config))} before compression"
        + (f" ({how})" if destination else ""),
        f"  memory          ~{_bytes(memory)} for results "
        + (f"({in_flight} blocks in flight)" if streaming else "(the grid, then the dataset)"),
        f"  estimated time  {_duration(estimate)} on {jobs} thread{'s' if jobs > 1 else ''}"
        f"{engine_text} ({_duration(compile_time)} of it compiling or loading kernels; "
        f"measured on {threads} thread{'s' if threads > 1 else ''} at once: "
        f"{', '.join(f'{n} {r / 1e6:.0f} M' for n, r in rates.items())} trajectory-steps/s)",
    ]


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
