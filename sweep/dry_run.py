"""``python -m sweep GRID.toml --dry-run``: the plan, its sizes and a calibrated time estimate.

Nothing is written. The estimate runs each rule's kernel on real cells of the
grid (the first cells of its first block) for a fraction of a second, and
scales the measured rate to the whole grid; it assumes the threads scale
linearly (on this project's 2-core machine they give 1.6–1.7×, so the
estimate errs short by up to ~20%).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from . import tuning
from .config import SweepConfig, _bytes, result_bytes
from .plan import PLAN_DIMS, make_plan

# Trajectory-steps each rule runs to calibrate: ~10 ms at the kernels' speed.
CALIBRATION_STEPS = 1 << 22


def dry_run(config: SweepConfig, output: str | None = None, n_jobs: int | None = None,
            block_cells: int | None = None) -> str:
    """The plan of ``config`` as text: cells, trajectory-steps, blocks, output size,
    memory, and the estimated wall time (from a short calibration run)."""
    from .execute import _call, compile_kernels, resolve_jobs, run_block

    jobs = resolve_jobs(n_jobs)
    plan = make_plan(config, n_jobs=jobs, block_cells=block_cells)
    steps = config.steps
    computed_steps = plan.computed_cells * steps
    started = time.perf_counter()
    compile_kernels(plan)
    compile_time = time.perf_counter() - started

    seconds, rates = 0.0, []
    for name, shape in plan.shapes.items():
        first = next(block for block in plan.blocks if block.optimizer == name)
        optimizer, spec, x0, hyper, ids, settings, records, kind = _call(plan, first, None)
        # Enough cells that the kernel's per-call overhead does not count, few
        # enough steps that it takes a fraction of a second.
        cells = min(len(x0), max(tuning.LANES, CALIBRATION_STEPS // steps))
        calibration = settings._replace(steps=max(1, min(steps, CALIBRATION_STEPS // cells)))
        began = time.perf_counter()
        run_block(optimizer, spec, x0[:cells], hyper[:cells], ids[:cells], calibration, records)
        rate = cells * calibration.steps / max(time.perf_counter() - began, 1e-9)
        rates.append(f"{name} {rate / 1e6:.0f} M")
        seconds += math.prod(shape) * steps / rate
    estimate = seconds / min(jobs, len(plan.blocks))

    streaming = output is not None and Path(output).suffix == ".zarr"
    block_bytes = max(block.cells for block in plan.blocks) * result_bytes(config) / plan.full_cells
    in_flight = 2 * jobs if streaming else len(plan.blocks)
    memory = in_flight * block_bytes if streaming else 2 * result_bytes(config)
    chunk = ", ".join(f"{dim} {size}" for dim, size, full in
                      zip(PLAN_DIMS, plan.chunks, plan.full_shape) if full > 1)
    shared = (f" ({plan.computed_cells:,} computed: unused axes broadcast)"
              if plan.computed_cells != plan.full_cells else "")
    where = output or "nowhere (no output given)"
    how = "written block by block" if streaming else "assembled in memory, written at the end"
    lines = [
        f"plan of {config.source} → {where}",
        f"  cells           {plan.full_cells:,}{shared} × {steps:,} steps "
        f"= {computed_steps:.3g} trajectory-steps",
        f"  blocks          {len(plan.blocks):,}, chunks of ({chunk or 'one cell'})",
        f"  output          {_bytes(result_bytes(config))} before compression"
        + (f" ({how})" if output else ""),
        f"  memory          ~{_bytes(memory)} for results "
        + (f"({in_flight} blocks in flight)" if streaming else "(the grid, then the dataset)"),
        f"  estimated time  {_duration(estimate + compile_time)} on {jobs} thread"
        f"{'s' if jobs > 1 else ''} ({_duration(compile_time)} compiling; measured per thread: "
        f"{', '.join(rates)} trajectory-steps/s)",
    ]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"

