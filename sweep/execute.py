"""Run the planned blocks on the CPU kernels, spread over joblib workers.

The kernels are serial and release the GIL, so the default joblib backend is
threads: one compiled kernel, no pickling, and never more busy threads than
``n_jobs`` (numba's own thread pool is not used). Under
``joblib.parallel_config(backend="dask")`` or ``"loky"`` the same blocks run
in other processes; :func:`run_block` takes and returns only arrays.
"""
from __future__ import annotations

import os
import time

import numpy as np
from joblib import Parallel, delayed
from tqdm import tqdm

from kernels.compile import Metrics, Settings, cpu_kernel, empty_metrics, lockstep_kernel
from kernels.rules import OPTIMIZERS

from . import tuning
from .objectives import ObjectiveSpec, resolve
from .plan import Block, Plan


def kernel_for(optimizer: str, spec: ObjectiveSpec, kind: str | None = None):
    """The compiled CPU kernel of one rule on one objective (cached per process).

    ``kind`` is ``"lockstep"`` (the fast kernel, default :data:`tuning.KERNEL`)
    or ``"simple"`` (one cell at a time); both give the same bits.
    """
    rule = OPTIMIZERS[optimizer]
    function = resolve(spec).value_and_grad
    if (kind or tuning.KERNEL) == "simple":
        return cpu_kernel(rule.update, rule.init, function)
    return lockstep_kernel(rule.update, rule.init, function, tuning.LANES)


def settings_for(plan: Plan, optimizer: str) -> Settings:
    config = plan.config
    lower = np.full(config.dim, -np.inf)
    upper = np.full(config.dim, np.inf)
    if config.bounds is not None:
        lower[:], upper[:] = np.asarray(config.bounds, dtype=np.float64).T
    return Settings(config.steps, config.record_every, config.tol, plan.problem.minimum,
                    plan.bound, config.option(optimizer), config.noise, float(config.warmup),
                    float(config.step_every), config.step_factor, lower, upper)


def run_block(optimizer: str, spec: ObjectiveSpec, x0: np.ndarray, hyper: np.ndarray,
              ids: np.ndarray, settings: Settings, records: int, kind: str | None = None) -> Metrics:
    """Advance ``x0.shape[0]`` cells; returns their :class:`Metrics`."""
    out = empty_metrics(x0.shape[0], x0.shape[1], records)
    kernel_for(optimizer, spec, kind)(x0, hyper, ids, settings, out)
    return out


def resolve_jobs(n_jobs: int | None) -> int:
    """``None`` or a value ≤ 0 means every core (joblib's -1)."""
    if n_jobs is None or n_jobs <= 0:
        return os.cpu_count() or 1
    return n_jobs


def execute(plan: Plan, n_jobs: int | None = None, progress: bool = False,
            kind: str | None = None) -> dict[str, Metrics]:
    """Compute every block of ``plan``.

    Returns:
        per optimizer, the :class:`Metrics` of its computed grid, cells in C
        order over ``plan.shapes[optimizer]``.
    """
    config = plan.config
    records = len(plan.record_steps)
    results = {name: empty_metrics(int(np.prod(shape)), config.dim, records)
               for name, shape in plan.shapes.items()}
    compile_kernels(plan, kind)

    def tasks():
        for block in plan.blocks:
            x0, hyper, ids = plan.hyperparameters(block)
            yield delayed(run_block)(block.optimizer, config.spec, x0, hyper, ids,
                                     settings_for(plan, block.optimizer), records, kind)

    bar = tqdm(total=plan.computed_cells, unit="cell", disable=not progress, dynamic_ncols=True,
               smoothing=0.1)
    started = time.perf_counter()
    jobs = resolve_jobs(n_jobs)
    if jobs == 1 or len(plan.blocks) == 1:
        # One worker: no pool (joblib polls its results every 10 ms, which small
        # sweeps would feel). The same blocks, the same bits.
        finished = (function(*args, **kwargs) for function, args, kwargs in tasks())
    else:
        # Ordered results: blocks arrive as they were planned; joblib still
        # runs up to n_jobs of them at once (or hands them to dask, loky, ...).
        finished = Parallel(n_jobs=jobs, prefer="threads", return_as="generator")(tasks())
    with bar:
        for block, metrics in zip(plan.blocks, finished):
            _store(results[block.optimizer], block, metrics)
            bar.update(block.cells)
            elapsed = time.perf_counter() - started
            bar.set_postfix_str(f"{bar.n * config.steps / max(elapsed, 1e-9) / 1e6:.1f} M steps/s",
                                refresh=False)
    return results


def _store(result: Metrics, block: Block, metrics: Metrics) -> None:
    for whole, part in zip(result, metrics):
        whole[block.start:block.stop] = part


def compile_kernels(plan: Plan, kind: str | None = None) -> None:
    """Compile each kernel of ``plan`` once, in this thread, before workers race to compile it."""
    for name in plan.shapes:
        kernel = kernel_for(name, plan.config.spec, kind)
        if kernel.signatures:
            continue
        x0, hyper, ids = plan.hyperparameters(Block(name, 0, 1))
        out = empty_metrics(1, plan.config.dim, len(plan.record_steps))
        kernel(x0, hyper, ids, settings_for(plan, name)._replace(steps=1), out)
