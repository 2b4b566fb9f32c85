"""``sweep.run``: config → plan → execute → assemble → store."""
from __future__ import annotations

import contextlib
import math
import re
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import config as config_module
from . import tunables
from .config import SweepConfig
from .errors import ConfigError
from .plan import make_plan
from .store import exists

if TYPE_CHECKING:  # xarray takes half a second to import: not before validation
    import numpy as np
    import xarray as xr


def load_config(config: str | Path | dict | SweepConfig) -> SweepConfig:
    """A validated :class:`SweepConfig` from a path, a dict shaped like the TOML, or itself."""
    if isinstance(config, SweepConfig):
        return config
    if isinstance(config, dict):
        return config_module.validate(config)
    return config_module.load(config)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``message`` says what was kept and how to resume."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def run(config: str | Path | dict | SweepConfig, *, output: str | Path | None = None,
        n_jobs: int | None = None, block_cells: int | None = None,
        progress: bool = False, kernel: str | None = None, resume: bool = False,
        overwrite: bool = False, scheduler: str | None = None, backend: str | None = None,
        dtype: str | None = None) -> xr.Dataset:
    """Run a sweep and return its dataset.

    ``sweep.run("examples/beale.toml", output="beale.nc")`` runs every cell of the
    grid file (each optimizer × start × α × β₁ × β₂ × ε, ``steps`` steps) and writes
    the dataset to ``beale.nc``. Everything is checked before any work starts.

    Args:
        config: a grid file's path, a dict shaped like it, or a :class:`SweepConfig`.
        output: where to write (``.zarr`` or ``.nc``); overrides ``sweep.output``.
            Nothing is written when neither names an output; missing parent
            directories are created. A ``.zarr`` store
            is filled block by block as the sweep goes (memory holds a few
            blocks, not the grid) and the dataset returned reads from it lazily.
        n_jobs: local worker threads; None for every core. Results do not depend on it.
        block_cells: dataset cells per block, at most (default: sized by
            :mod:`sweep.tunables`). Results do not depend on it either.
        progress: show a progress bar on stderr.
        kernel: ``"lockstep"`` (default: cells in lockstep, vectorized) or ``"simple"``
            (one cell at a time, the reference); the results are the same bits.
        resume: continue the ``.zarr`` store at ``output``: compute only the blocks
            it has not marked done (a store of another grid is refused).
        overwrite: replace an existing output (without it, and without
            ``resume``, an existing output is an error).
        scheduler: run the blocks on the Dask cluster at this address
            (overrides ``sweep.scheduler``); results are the same bits.
        backend: ``"cpu"``, ``"cuda"`` or ``"auto"`` (overrides ``sweep.backend``);
            ``"cuda"`` without a usable GPU is a :class:`ConfigError`.
        dtype: ``"float64"`` or ``"float32"`` (overrides ``sweep.dtype``).

    Returns:
        xarray.Dataset: the result (``docs/results.md`` describes it), with dims
        ``optimizer, start, alpha, beta1, beta2, eps`` (plus ``schedule`` and ``seed`` when
        swept, ``dim``, and ``step`` when trajectories are recorded); variables ``final_loss``,
        ``best_loss``, ``final_x``, ``distance``, ``steps_to_tol``, ``diverged``
        (and ``trajectory``, ``loss``).

    Raises:
        ConfigError: a mistake in the grid or the arguments (nothing is written).
        Interrupted: Ctrl-C; a ``.zarr`` store keeps every block finished.
        sweep.execute.BlockFailed: a block raised (a store keeps the finished ones).
    """
    # config → plan → execute → assemble → store, each step once. Everything the
    # caller can get wrong (output included) is refused before numba is imported.
    sweep_config = load_config(config)
    destination = _destination(sweep_config, output, resume, overwrite)
    engine = _engine(sweep_config, backend, dtype, kernel)  # imports numba
    stored = _stored_fingerprint(destination) if resume else None
    plan = _plan(sweep_config, engine, n_jobs, block_cells, stored)
    scheduler = scheduler or sweep_config.scheduler
    compile_time = _compile(plan, engine, locally=scheduler is None)
    steps = dict(plan=plan, n_jobs=n_jobs, scheduler=scheduler, progress=progress, engine=engine)
    if destination is not None and Path(destination).suffix == ".zarr":
        return _run_into_store(destination, stored, compile_time, **steps)
    dataset = _run_in_memory(compile_time, **steps)
    if destination is not None:
        from .store import write

        write(dataset, destination)
        dataset.attrs["output"] = str(destination)
    return dataset


def _destination(config: SweepConfig, output, resume: bool, overwrite: bool) -> str | None:
    """Where the dataset goes (None: nowhere), refusing what would lose or mix results."""
    destination = output if output is not None else config.output
    if output is not None:
        config_module.check_output(str(output), "-o")
    elif destination is not None:
        config_module.check_output(destination, config.source, "sweep.output")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite: choose one")
    if destination is None:
        if resume:
            raise ConfigError("--resume needs an output (-o OUT.zarr or sweep.output)")
    else:
        destination = str(destination)
        if resume and Path(destination).suffix != ".zarr":
            raise ConfigError(f"--resume: {destination}: only a .zarr store can be resumed "
                              "(a .nc file is written whole at the end)")
        if exists(destination) and not (resume or overwrite):
            resumable = "--resume to continue it or " if Path(destination).suffix == ".zarr" else ""
            raise ConfigError(f"{destination} exists: pass {resumable}--overwrite to replace it")
    if destination is None or Path(destination).suffix != ".zarr":
        # The dataset is assembled in memory (a .nc is written at the end): will it fit?
        # (The disk bound, which no output could exceed, was checked with the grid.)
        config_module.check_size(config, streaming=False)
    return destination


def _engine(config: SweepConfig, backend: str | None, dtype: str | None, kernel: str | None):
    """The :class:`~sweep.execute.Engine` of the run: the arguments, else the grid file's
    ``sweep.backend`` and ``sweep.dtype`` (checked with the file)."""
    if dtype is not None and dtype not in config_module.DTYPES:
        raise ConfigError(f"--dtype = {dtype}: must be one of " + ", ".join(config_module.DTYPES))
    from .execute import Engine  # imports numba

    if config.spec.kind == "model" and dtype == "float32":  # the training kernels: float64
        raise ConfigError("--dtype float32: models train in float64 only (for now)")
    return Engine(backend=_backend(backend or config.backend, backend is not None),
                  dtype=dtype or config.dtype, kernel=kernel)


def _backend(asked: str, from_caller: bool) -> str:
    """``"cpu"`` or ``"cuda"``: ``"auto"`` is CUDA when numba-cuda finds a device."""
    if asked not in config_module.BACKENDS:
        raise ConfigError(f"--backend = {asked}: must be one of " + ", ".join(config_module.BACKENDS))
    if asked == "cpu":
        return "cpu"
    from sweep.kernels.cuda import device_status

    usable, why = device_status()
    if asked == "cuda" and not usable:
        key = "--backend cuda" if from_caller else "sweep.backend = \"cuda\""
        raise ConfigError(f"{key}: {why}")
    return "cuda" if usable else "cpu"


def _stored_fingerprint(destination: str | None) -> dict | None:
    """The fingerprint of the store being resumed at ``destination`` (None: a new one)."""
    if destination is None or not exists(destination):
        return None
    from .store import ChunkStore

    return ChunkStore.stored_fingerprint(destination)


def _plan(config: SweepConfig, engine, n_jobs: int | None, block_cells: int | None,
          stored: dict | None):
    """The blocks of the run; a store being resumed keeps its own chunks, whatever
    ``n_jobs`` and ``block_cells`` say."""
    from .execute import resolve_jobs

    chunks = None if stored is None else tuple(stored["chunks"])
    if engine.backend == "cuda" and block_cells is None and chunks is None:
        block_cells = tunables.CUDA_BLOCK_CELLS  # a GPU wants many cells per launch
    return make_plan(config, n_jobs=resolve_jobs(n_jobs), block_cells=block_cells, chunks=chunks)


def _compile(plan, engine, locally: bool) -> float:
    """Compile the kernels once, here (``locally``; on a cluster each worker compiles its
    own), after checking what a user objective is made of: the seconds it took.

    Raises:
        ConfigError: a user objective numba cannot compile, or that returns no float.
    """
    from .execute import compile_kernels

    started = time.perf_counter()
    _check_objective(plan)
    _check_device_memory(plan, engine)
    if locally:
        compile_kernels(plan, engine)
    return time.perf_counter() - started


def _check_objective(plan) -> None:
    """A user objective numba cannot compile is a configuration error (built-ins compile)."""
    spec = plan.config.spec
    if spec.kind in ("builtin", "model"):
        return
    from numba import types
    from numba.core.errors import NumbaError

    from sweep.kernels.compile import check_objective

    key = "objective.function" if spec.kind == "python" else "objective.expr"
    prefix = f'{plan.config.source}: {key} = "{spec.function or spec.name}": '
    try:
        returns = check_objective(plan.problem.value_and_grad)
    except NumbaError as error:
        raise ConfigError(f"{prefix}numba cannot compile it: "
                          f"{_numba_reason(error, spec, plan.problem.value_and_grad)}") from None
    if not isinstance(returns, (types.Float, types.Integer)):
        raise ConfigError(f"{prefix}must return the loss as a float, not {returns}")


def _check_device_memory(plan, engine) -> None:
    """A model whose data do not fit the GPU is refused before any work (on the CPU the
    data are in memory already)."""
    training = plan.problem.model
    if training is None or engine.backend != "cuda":
        return
    from sweep.kernels.cuda_training import DeviceMemoryError, check_device_memory

    from .execute import rule_of

    try:
        for optimizer in plan.config.optimizers:
            check_device_memory(rule_of(optimizer), training.network, training.data,
                                len(plan.record_steps))
    except DeviceMemoryError as error:
        raise ConfigError(f"{plan.config.source}: objective.data = "
                          f"{training.dataset.name!r}: {error}") from None


def _numba_reason(error: Exception, spec, function) -> str:
    """The first line of numba's message, and the user's file and line it points at."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # numba's first line names its pipeline stage; the next says what is wrong.
    reasons = [line for line in lines if not line.startswith(("Failed in", "During:", "File"))]
    reason = reasons[0] if reasons else lines[0]
    where = ""
    if spec.file is not None:
        found = re.findall(r'File "([^"]+)", line (\d+)', text)
        mine = [(path, line) for path, line in found if Path(path).resolve() == Path(spec.file)]
        line = mine[-1][1] if mine else f"{function.__code__.co_firstlineno} (the def)"
        where = f" ({Path(spec.file).name}, line {line})"
    return reason + where


def _run_in_memory(compile_time: float, *, plan, n_jobs, scheduler, progress,
                   engine) -> xr.Dataset:
    """Every block into arrays of the whole grid, then one dataset."""
    from sweep.kernels.layout import empty_metrics

    from .assemble import Timing, assemble
    from .execute import execute

    config = plan.config
    results = {name: empty_metrics(math.prod(shape), config.dim, len(plan.record_steps),
                                   engine.dtype, data=config.spec.kind == "model",
                                   theta=config.record == "trajectory")
               for name, shape in plan.shapes.items()}

    def save(block, metrics):
        whole = results[block.optimizer]
        shape = plan.shapes[block.optimizer]
        for target, part in zip(whole, metrics):
            if target is None:  # a field of model objectives only
                continue
            extra = target.shape[1:]
            target.reshape(shape + extra)[block.region] = part.reshape(block.shape + extra)

    started = time.perf_counter()
    execute(plan, plan.blocks, save, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
            engine=engine)
    timing = Timing(compile=compile_time, run=time.perf_counter() - started)
    return assemble(plan, results, timing, engine)


def _run_into_store(destination: str, stored: dict | None, compile_time: float, *, plan, n_jobs,
                    scheduler, progress, engine) -> xr.Dataset:
    """Each block into its chunks of the store as soon as it is done (see :mod:`sweep.store`).
    ``stored`` is the fingerprint of the store being resumed, or None for a new store."""
    import xarray

    from sweep.kernels.compile import SOURCE_FINGERPRINT

    from .assemble import Timing, block_pieces, template, timing_attrs
    from .distribution import version as installed_version
    from .execute import BlockFailed, execute
    from .store import ChunkStore, fingerprint

    version = f"sweep {installed_version()}, kernels {SOURCE_FINGERPRINT[:16]}"
    expected = fingerprint(plan.config, plan.chunks, version, engine.backend, engine.dtype)
    if stored is not None:
        store = ChunkStore.resume(destination, stored, expected, plan.config.source)
    else:
        store = ChunkStore.create(destination, template(plan, engine), expected, len(plan.blocks))
    done = store.done()
    todo = [block for block in plan.blocks if block.number not in done]
    started = time.perf_counter()

    def save(block, metrics):
        pieces = block_pieces(plan, block, metrics)
        with _uninterrupted():  # Ctrl-C waits for the block's flag: no write is cut short
            store.save(block.number, pieces)

    try:
        execute(plan, todo, save, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
                engine=engine)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {_kept(store, plan, destination)}") from None
    except BlockFailed as error:
        raise BlockFailed(f"{error}\n  {_kept(store, plan, destination)}") from error.__cause__
    computed = sum(block.cells for block in todo)
    store.finish(timing_attrs(Timing(compile=compile_time, run=time.perf_counter() - started),
                              computed * plan.config.steps)
                 | {"resumed_blocks": len(plan.blocks) - len(todo), "blocks": len(plan.blocks)})
    dataset = xarray.open_zarr(destination, consolidated=True)
    dataset.attrs["output"] = destination
    return dataset


@contextlib.contextmanager
def _uninterrupted():
    """Hold back Ctrl-C (SIGINT) until the block ends, then raise it; elsewhere than in
    the main thread, or under another SIGINT handler than Python's, do nothing."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    caught = []
    signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def _kept(store, plan, destination: str) -> str:
    """What a stopped run kept, and the command that finishes it."""
    return (f"{len(store.done())} of {len(plan.blocks)} blocks are saved in {destination}; "
            f"to finish the sweep, run:\n  {_resume_command(plan, destination)}")


def _resume_command(plan, destination: str) -> str:
    import shlex

    source = plan.config.source
    grid = shlex.quote(source) if source != "<config>" else "GRID.toml"
    return f"python -m sweep {grid} -o {shlex.quote(destination)} --resume"


def trajectory(optimizer: str, objective: str, start, steps: int, alpha: float,
               beta1: float | None = None, beta2: float | None = None, eps: float | None = None,
               options: dict | None = None, objective_options: dict | None = None,
               kernel: str | None = None) -> np.ndarray:
    """One trajectory θ_0 … θ_steps, shape (steps + 1, dim): a one-cell sweep.

    ``beta1``, ``beta2``, ``eps``: None (the default) runs the rule at its own default
    (``python -m sweep list``); ``options`` are its other hyperparameters
    (``{"weight_decay": 0.1}``),
    ``objective_options`` the objective's (``{"dim": 4, "kappa": 100}``);
    ``kernel`` the CPU kernel (``"lockstep"``, the default, or ``"simple"``).
    The divergence bound is lifted, so the trajectory is the rule's whole path.
    """
    table = {
        "sweep": {"optimizers": [optimizer], "steps": steps, "record_every": 1},
        "objective": {"name": objective, "start": [list(map(float, start))], "bound": 1e300,
                      **(objective_options or {})},
        "grid": {"alpha": [alpha], **{name: [value] for name, value in
                                      (("beta1", beta1), ("beta2", beta2), ("eps", eps))
                                      if value is not None}},
        "options": {optimizer: dict(options or {})},
    }
    dataset = run(table, n_jobs=1, kernel=kernel)
    return dataset["trajectory"].values.reshape(steps + 1, -1)
