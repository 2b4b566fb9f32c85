"""``sweep.run``: config → plan → execute → assemble → store."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import config as config_module
from .config import SweepConfig
from .errors import ConfigError
from .plan import make_plan

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


def run(config: str | Path | dict | SweepConfig, *, output: str | Path | None = None,
        n_jobs: int | None = None, block_cells: int | None = None,
        progress: bool = False, kernel: str | None = None) -> xr.Dataset:
    """Run a sweep and return its dataset.

    Args:
        config: a grid file's path, a dict shaped like it, or a :class:`SweepConfig`.
        output: where to write (``.zarr`` or ``.nc``); overrides ``sweep.output``.
            Nothing is written when neither names an output.
        n_jobs: joblib workers; None for every core. Results do not depend on it.
        block_cells: cells per block (default: sized by :mod:`sweep.tuning`).
            Results do not depend on it either.
        progress: show a progress bar on stderr.
        kernel: ``"lockstep"`` (default: cells in lockstep, vectorized) or ``"simple"``
            (one cell at a time, the reference); the results are the same bits.

    Returns:
        the dataset described in the README (dims ``optimizer, start, alpha,
        beta1, beta2, eps``, plus ``dim`` and ``step``).
    """
    # Validate everything (output included) before numba is imported.
    sweep_config = load_config(config)
    destination = output if output is not None else sweep_config.output
    if output is not None:
        config_module.check_output(str(output), "-o")
    elif destination is not None:
        config_module.check_output(destination, sweep_config.source, "sweep.output")
    from .execute import compile_kernels, execute, resolve_jobs  # imports numba

    plan = make_plan(sweep_config, n_jobs=resolve_jobs(n_jobs), block_cells=block_cells)
    started = time.perf_counter()
    _compile(plan, lambda p: compile_kernels(p, kernel))
    compiled = time.perf_counter()
    results = execute(plan, n_jobs=n_jobs, progress=progress, kind=kernel)
    finished = time.perf_counter()
    from .assemble import Timing, assemble

    dataset = assemble(plan, results, Timing(compiled - started, finished - compiled))
    if destination is not None:
        from .store import write

        write(dataset, destination)
        dataset.attrs["output"] = str(destination)
    return dataset


def _compile(plan, compile_kernels) -> None:
    """Compile the kernels; a user objective numba cannot compile is a configuration error."""
    from numba import types
    from numba.core.errors import NumbaError

    from kernels.compile import check_objective

    spec = plan.config.spec
    if spec.kind != "builtin":
        key = "objective.function" if spec.kind == "python" else "objective.expr"
        prefix = f'{plan.config.source}: {key} = "{spec.function or spec.name}": '
        try:
            returns = check_objective(plan.problem.value_and_grad)
        except NumbaError as error:
            raise ConfigError(f"{prefix}numba cannot compile it: "
                              f"{_numba_reason(error, spec, plan.problem.value_and_grad)}") from None
        if not isinstance(returns, (types.Float, types.Integer)):
            raise ConfigError(f"{prefix}must return the loss as a float, not {returns}")
    compile_kernels(plan)


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


def trajectory(optimizer: str, objective: str, start, steps: int, alpha: float,
               beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
               options: dict | None = None, objective_options: dict | None = None) -> np.ndarray:
    """One trajectory θ_0 … θ_steps, shape (steps + 1, dim): a one-cell sweep.

    ``options`` are the rule's fixed options (``{"weight_decay": 0.1}``),
    ``objective_options`` the objective's (``{"dim": 4, "kappa": 100}``).
    The divergence bound is lifted, so the trajectory is the rule's whole path.
    """
    table = {
        "sweep": {"optimizers": [optimizer], "steps": steps, "record_every": 1},
        "objective": {"name": objective, "start": [list(map(float, start))], "bound": 1e300,
                      **(objective_options or {})},
        "grid": {"alpha": [alpha], "beta1": [beta1], "beta2": [beta2], "eps": [eps]},
        "options": {optimizer: dict(options or {})},
    }
    dataset = run(table, n_jobs=1)
    return dataset["trajectory"].values.reshape(steps + 1, -1)
