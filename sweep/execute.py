"""Run the planned blocks on the CPU kernels: in threads here, or on a Dask cluster.

Locally the default joblib backend is threads: the kernels are serial and
release the GIL, so one compiled kernel serves every thread, nothing is
pickled, and never more than ``n_jobs`` threads are busy (numba's own thread
pool is not used). With a Dask scheduler address, blocks run on the cluster's
workers through ``dask.distributed``; :func:`run_block` takes and returns only
arrays, so it runs in any process.

Either way the blocks come back in the order they finish and are handed, in
this (the main) thread, to a ``save(block, metrics)`` callback: only the main
process writes. Results do not depend on that order.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from tqdm import tqdm

from sweep.kernels.compile import cpu_kernel, lockstep_kernel
from sweep.kernels.layout import Metrics, Settings, empty_metrics, no_box
from sweep.kernels.numba_support import call_kernel, vector_bits
from sweep.kernels.rules import OPTIMIZERS

from . import tunables
from .errors import SweepFailure
from .objectives import ObjectiveSpec, resolve
from .plan import Block, Plan


class BlockFailed(SweepFailure):
    """A block raised; the message names the first cell that fails alone and the error."""


@dataclass(frozen=True, kw_only=True)
class Engine:
    """Which kernels run a sweep.

    Attributes:
        backend: ``"cpu"`` or ``"cuda"`` (resolved: never ``"auto"`` here).
        dtype: ``"float64"`` or ``"float32"``: the kernels' arithmetic and the results'.
        kernel: on the CPU, ``"lockstep"`` (the fast kernel, default
            :data:`tunables.KERNEL`) or ``"simple"`` (one cell at a time); both
            give the same bits.
    """

    backend: str = "cpu"
    dtype: str = "float64"
    kernel: str | None = None


def rule_of(optimizer):
    """The rule a block names: a built-in's name, or a user's rule's
    :class:`sweep.kernels.rules.RuleSpec` (loaded, in any process, from its file)."""
    if isinstance(optimizer, str):
        return OPTIMIZERS[optimizer]
    from .user_rules import load

    return load(optimizer)


def kernel_for(optimizer, spec: ObjectiveSpec, engine: Engine = Engine()):
    """The compiled kernel of one rule (a name or a user's :class:`RuleSpec`) on one
    objective (cached per process)."""
    rule = rule_of(optimizer)
    problem = resolve(spec)
    if problem.model is not None:
        training = problem.model
        if engine.backend == "cuda":
            from sweep.kernels.cuda_training import cuda_training_kernel

            return cuda_training_kernel(rule, training.network, training.data)
        from sweep.kernels.training import training_kernel

        lanes = 1 if (engine.kernel or tunables.KERNEL) == "simple" else tunables.MODEL_LANES
        return training_kernel(rule, training.network, training.data, lanes)
    function = problem.value_and_grad
    if engine.backend == "cuda":
        from sweep.kernels.cuda import cuda_kernel

        return cuda_kernel(rule, function, engine.dtype)
    if (engine.kernel or tunables.KERNEL) == "simple":
        return cpu_kernel(rule, function, engine.dtype)
    return lockstep_kernel(rule, function, tunables.LANES, engine.dtype,
                           chunk=lane_chunk(rule.name), fixed_dim=tunables.LOCKSTEP_FIXED_DIM)


def lane_chunk(optimizer: str) -> int | None:
    """The lanes a lockstep step advances at a time for ``optimizer`` on this machine
    (:data:`tunables.LANE_CHUNK` for the vector width LLVM uses here), None for all."""
    return tunables.LANE_CHUNK.get(vector_bits(), {}).get(optimizer)


def settings_for(plan: Plan, block: Block) -> Settings:
    """The kernel settings of ``block`` of ``plan`` (its values of the setting axes)."""
    config = plan.config
    values = plan.setting_values(block)
    lower, upper = no_box(config.dim)
    if config.bounds is not None:
        lower[:], upper[:] = np.asarray(config.bounds, dtype=np.float64).T
    noise, noise_scale = values.get("noise", config.noise), np.ones(config.dim)
    own = resolve(spec_for(plan, block)) if config.spec.kind == "builtin" else None
    if own is not None and own.noise_scale is not None:  # the nqm's minibatch of the block
        noise, noise_scale = own.noise, own.noise_scale
    return Settings(steps=config.steps, record_every=config.record_every, tol=config.tol,
                    minimum=plan.problem.minimum, bound=plan.bound, noise=noise,
                    noise_scale=noise_scale,
                    warmup=float(values.get("warmup", config.warmup)),
                    step_every=float(config.step_every),
                    step_factor=values.get("factor", config.step_factor), lower=lower,
                    upper=upper)


def spec_for(plan: Plan, block: Block) -> ObjectiveSpec:
    """The objective of ``block``: the grid's, with the block's values of a model's setting
    axes (``batch_size``, ``l2``): data of the training kernel, never compiled in."""
    values = {name: value for name, value in plan.setting_values(block).items()
              if name in ("batch_size", "l2")}
    spec = plan.config.spec
    if not values:
        return spec
    params = tuple((key, int(values[key]) if key == "batch_size" else values[key])
                   if key in values else (key, value) for key, value in spec.params)
    return dataclasses.replace(spec, params=params)


def run_block(optimizer: str, spec: ObjectiveSpec, x0: np.ndarray, hyper: np.ndarray,
              ids: np.ndarray, settings: Settings, records: int,
              engine: Engine = Engine(), theta: bool = True) -> Metrics:
    """Advance ``x0.shape[0]`` cells (x0 (n, dim) and hyper (n, 4) float64, ids (n, 3)
    int64); returns their :class:`Metrics`, floats in ``engine.dtype``. ``records``
    recorded steps of f, and of θ with ``theta``."""
    out = empty_metrics(x0.shape[0], x0.shape[1], records, engine.dtype,
                        data=spec.kind == "model", theta=theta)
    x0, hyper = x0.astype(engine.dtype, copy=False), hyper.astype(engine.dtype, copy=False)
    call_kernel(kernel_for(optimizer, spec, engine), x0, hyper, ids, settings, out)
    return out


def resolve_jobs(n_jobs: int | None) -> int:
    """``None`` or a value ≤ 0 means every core (joblib's -1)."""
    if n_jobs is None or n_jobs <= 0:
        return os.cpu_count() or 1
    return n_jobs


def execute(plan: Plan, blocks: Iterable[Block], save: Callable[[Block, Metrics], None], *,
            n_jobs: int | None = None, scheduler: str | None = None, progress: bool = False,
            engine: Engine = Engine()) -> None:
    """Compute ``blocks`` of ``plan`` and hand each to ``save`` as soon as it is done.

    Compile the kernels first (:func:`compile_kernels`, as :func:`sweep.run` does):
    threads that found them uncompiled would each compile them. On a cluster each
    worker compiles its own.

    Args:
        plan: the sweep.
        blocks: the blocks to compute (all of ``plan.blocks``, or those a store lacks).
        save: called in this thread with each block and its metrics, in the
            order the blocks finish.
        n_jobs: local worker threads (None: every core); ignored with ``scheduler``.
        scheduler: a Dask scheduler's address (``tcp://host:8786``) to run on, or None.
        progress: show a progress bar on stderr.
        engine: the kernels (see :class:`Engine`). CUDA blocks run one after the
            other from this thread (each fills the GPUs); ``n_jobs`` is then unused.

    Raises:
        BlockFailed: a block raised; every block finished before it was saved.
    """
    blocks = list(blocks)
    # Built as they are dispatched: the grid's hyperparameters are never all in memory.
    calls = ((number, _call(plan, block, engine)) for number, block in enumerate(blocks))
    if scheduler is not None:
        finished = _on_cluster(scheduler, calls)
    else:
        jobs = 1 if engine.backend == "cuda" else resolve_jobs(n_jobs)
        finished = _on_threads(calls, len(blocks), jobs)
    bar = tqdm(total=sum(block.cells for block in blocks), unit="cell", disable=not progress,
               dynamic_ncols=True, smoothing=0.1)
    started = time.perf_counter()
    with bar, warnings.catch_warnings():
        # On Ctrl-C or a failure joblib warns, when the results are closed, that
        # finished blocks went unused: the caller says what was kept.
        warnings.filterwarnings("ignore", message=r".*tasks? (have|has|which) ", module="joblib")
        saved = 0
        try:
            for number, metrics in finished:
                if isinstance(metrics, BaseException):
                    why = _describe_failure(plan, blocks[number], engine, metrics)
                    raise BlockFailed(why) from metrics
                save(blocks[number], metrics)
                saved += 1
                bar.update(blocks[number].cells)
                elapsed = time.perf_counter() - started
                bar.set_postfix_str(f"{bar.n * plan.config.steps / max(elapsed, 1e-9) / 1e6:.1f}"
                                    " M steps/s", refresh=False)
        finally:
            if hasattr(finished, "close"):
                finished.close()
    if saved != len(blocks):  # never silently short: a lost block would read as data
        raise SweepFailure(f"{len(blocks) - saved} of {len(blocks)} blocks never came back")


def _call(plan: Plan, block: Block, engine: Engine) -> tuple:
    """The arguments of :func:`run_block` for one block (arrays, a spec, tuples)."""
    x0, hyper, ids = plan.hyperparameters(block)
    users = {spec.name: spec for spec in plan.config.rules}
    return (users.get(block.optimizer, block.optimizer), spec_for(plan, block), x0, hyper, ids,
            settings_for(plan, block), len(plan.record_steps), engine,
            plan.config.record == "trajectory")


def _numbered(number: int, arguments: tuple) -> tuple[int, Metrics | BaseException]:
    """Run one block; an error is returned, not raised, so the finished blocks are still saved."""
    try:
        return number, run_block(*arguments)
    except Exception as error:  # the caller names the cell and fails the run
        return number, error


def _on_threads(calls: Iterator[tuple[int, tuple]], count: int,
                jobs: int) -> Iterator[tuple[int, Metrics]]:
    if jobs == 1 or count == 1:
        # One worker: no pool (joblib polls its results every 10 ms, which small
        # sweeps would feel). The same blocks, the same bits.
        return (_numbered(number, arguments) for number, arguments in calls)
    # Results as they finish, up to n_jobs blocks at once; joblib dispatches only a
    # few ahead (pre_dispatch), so memory holds a few blocks, not the grid.
    return Parallel(n_jobs=jobs, prefer="threads", return_as="generator_unordered")(
        delayed(_numbered)(number, arguments) for number, arguments in calls)


def _on_cluster(address: str, calls: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, Metrics]]:
    """Run the calls on the Dask cluster at ``address``, a bounded number in flight.

    A worker that dies takes its running blocks with it; the scheduler runs them
    again elsewhere (``retries`` covers errors raised while a worker is lost).
    """
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout=tunables.CLUSTER_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise SweepFailure(f"cannot reach the Dask scheduler at {address}: {error}") from None
    with client:
        threads = max(1, sum(client.nthreads().values()))
        window = tunables.CLUSTER_BLOCKS_PER_THREAD * threads
        pending = iter(calls)
        run = uuid.uuid4().hex[:8]

        def submit(number, arguments):
            return client.submit(_numbered, number, arguments, pure=False, retries=2,
                                 key=f"sweep-{run}-block-{number}")

        running = as_completed([submit(*item) for item in itertools.islice(pending, window)])
        try:
            for future in running:
                yield future.result()
                for item in pending:  # one finished: one more in flight
                    running.add(submit(*item))
                    break
        finally:
            client.cancel(list(running.futures))


def _describe_failure(plan: Plan, block: Block, engine: Engine, error: BaseException) -> str:
    """Which cell of the block fails (each is tried alone, here) and with what error."""
    optimizer, spec, x0, hyper, ids, settings, records, engine, theta = _call(plan, block,
                                                                              engine)
    cell, failure = None, error
    for row in range(block.cells):
        try:
            run_block(optimizer, spec, x0[row:row + 1], hyper[row:row + 1], ids[row:row + 1],
                      settings, records, engine, theta)
        except Exception as alone:
            cell, failure = row, alone
            break
    where = "a block of " + optimizer
    if cell is not None:
        index = np.unravel_index(cell, block.shape)
        coordinates = [f"{dim}={_value(plan, dim, part.start + i)}"
                       for dim, part, i in zip(plan.dims, block.region, index)
                       if plan.full_shape[plan.dims.index(dim)] > 1
                       and plan.shapes[optimizer][plan.dims.index(dim)] > 1]
        where = f"cell optimizer={optimizer}" + "".join(f", {c}" for c in coordinates)
    return f"{where} failed: {type(failure).__name__}: {failure}"


def _value(plan: Plan, dim: str, index: int):
    config = plan.config
    values = {"schedule": config.schedules, "start": range(len(config.starts)),
              "seed": config.seeds, **{axis.name: axis.values for axis in config.axes}}[dim]
    return values[index]


def compile_kernels(plan: Plan, engine: Engine = Engine()) -> None:
    """Compile each kernel of ``plan`` once, in this thread, before workers race to compile it
    (a kernel with compiled ``signatures`` is not run again)."""
    for name in plan.shapes:
        if kernel_for(name, plan.config.spec, engine).signatures:
            continue
        first = next(block for block in plan.blocks if block.optimizer == name)
        optimizer, spec, x0, hyper, ids, settings, records, _, theta = _call(plan, first, engine)
        run_block(optimizer, spec, x0[:1], hyper[:1], ids[:1], settings._replace(steps=1), records,
                  engine, theta)
