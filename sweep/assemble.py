"""Name everything: per-optimizer kernel results → one ``xarray.Dataset``.

The only module that knows dimension names and attributes. Axes a rule does
not read were computed once (length 1) and are broadcast here.
"""
from __future__ import annotations

import functools
import platform
from importlib import metadata
from typing import NamedTuple

import numpy as np
import xarray as xr

from kernels.compile import Metrics
from kernels.rules import AXES, OPTIMIZERS

from .plan import PLAN_DIMS, Plan

OPTIMIZER, SCHEDULE, START, SEED, STEP, DIM = "optimizer", "schedule", "start", "seed", "step", "dim"

AXIS_NAMES = {"alpha": "step size α", "beta1": "β₁", "beta2": "β₂", "eps": "ε"}
AXIS_DESCRIPTIONS = {
    "alpha": "step size (torch's lr)",
    "beta1": "first-moment decay; the momentum μ of momentum, nesterov and rmsprop",
    "beta2": "second-moment decay; ρ of adadelta; the decay of rmsprop (torch's alpha)",
    "eps": "numerical stabiliser added to the denominator",
}
VARIABLES = {
    "final_loss": "f(θ) after the last step (NaN where diverged)",
    "best_loss": "lowest f(θ_t) over t = 0 … steps, before any divergence",
    "final_x": "θ after the last step (NaN where diverged)",
    "distance": "Euclidean distance from final_x to the nearest known minimizer",
    "steps_to_tol": "first step t with f(θ_t) − f* ≤ tol (NaN if never or f* unknown)",
    "diverged": "non-finite f or θ, or |θ_i| beyond the divergence bound",
    "trajectory": "θ at the recorded steps (NaN from divergence on)",
    "loss": "f(θ) at the recorded steps (NaN from divergence on)",
}
PACKAGES = ("sweep", "numba", "llvmlite", "numpy", "xarray", "zarr", "h5netcdf", "joblib")


class Timing(NamedTuple):
    """Seconds spent compiling kernels and running them (compilation excluded)."""

    compile: float
    run: float


def assemble(plan: Plan, results: dict[str, Metrics], timing: Timing) -> xr.Dataset:
    """The dataset of a finished sweep.

    Args:
        plan: what was computed.
        results: :func:`sweep.execute.execute`'s output.
        timing: how long compiling and running took.

    Returns:
        dims ``optimizer, [schedule,] start, [seed,] alpha, beta1, beta2, eps``
        (+ ``dim``, ``step``); ``schedule`` and ``seed`` only when the grid
        file lists several.
    """
    config = plan.config
    # Dimensions of length 1 that the grid file did not ask for are dropped.
    keep = (True, config.schedule_axis, True, config.seed_axis) + (True,) * len(AXES)
    grid_dims = (OPTIMIZER,) + tuple(d for d, k in zip(PLAN_DIMS, keep[1:]) if k)

    def stack(field: str, extra: tuple[int, ...] = ()) -> np.ndarray:
        parts = []
        for name in config.optimizers:
            computed = getattr(results[name], field).reshape(plan.shapes[name] + extra)
            parts.append(np.broadcast_to(computed, plan.full_shape + extra))
        stacked = np.stack(parts)
        dropped = tuple(i + 1 for i, k in enumerate(keep[1:]) if not k)
        return stacked.squeeze(axis=dropped) if dropped else stacked

    dim = config.dim
    final_x = stack("final_x", (dim,))
    data = {
        "final_loss": (grid_dims, stack("final_loss")),
        "best_loss": (grid_dims, stack("best_loss")),
        "final_x": (grid_dims + (DIM,), final_x),
        "distance": (grid_dims, _distance(final_x, plan.problem.minimizers)),
        "steps_to_tol": (grid_dims, stack("steps_to_tol")),
        "diverged": (grid_dims, stack("diverged")),
    }
    if plan.record_steps:
        records = len(plan.record_steps)
        data["trajectory"] = (grid_dims + (STEP, DIM), stack("trajectory", (records, dim)))
        data["loss"] = (grid_dims + (STEP,), stack("loss", (records,)))
    dataset = xr.Dataset(data, coords=_coords(plan), attrs=_attrs(plan, timing))
    for name, description in VARIABLES.items():
        if name in dataset:
            dataset[name].attrs["long_name"] = description
    dataset["steps_to_tol"].attrs["tol"] = config.tol
    dataset["diverged"].attrs["bound"] = plan.bound
    return dataset


def _distance(final_x: np.ndarray, minimizers: tuple) -> np.ndarray:
    if not minimizers:
        return np.full(final_x.shape[:-1], np.nan)
    points = np.asarray(minimizers, dtype=np.float64)
    gaps = final_x[..., None, :] - points  # (..., minimizer, dim)
    return np.sqrt((gaps * gaps).sum(axis=-1)).min(axis=-1)


def _coords(plan: Plan) -> dict:
    config = plan.config
    coords = {}
    if config.schedule_axis:
        coords[SCHEDULE] = (SCHEDULE, list(config.schedules), {"long_name": "step-size schedule"})
    if config.seed_axis:
        coords[SEED] = (SEED, np.asarray(config.seeds, dtype=np.int64),
                        {"long_name": "random seed"})
    coords |= {
        OPTIMIZER: (OPTIMIZER, list(config.optimizers), {"long_name": "update rule"}),
        START: (START, np.arange(len(config.starts)), {"long_name": "start point index"}),
        "x0": ((START, DIM), np.asarray(config.starts, dtype=np.float64),
               {"long_name": "start point θ₀"}),
        DIM: (DIM, np.arange(config.dim), {"long_name": "coordinate"}),
        "uses_axis": ((OPTIMIZER, "axis"),
                      np.array([[axis in OPTIMIZERS[name].axes for axis in AXES]
                                for name in config.optimizers]),
                      {"long_name": "whether the rule reads the axis (else its values are broadcast)"}),
        "axis": ("axis", list(AXES)),
    }
    for axis in config.axes:
        attrs = {"long_name": AXIS_NAMES[axis.name], "description": AXIS_DESCRIPTIONS[axis.name],
                 "scale": axis.scale}
        coords[axis.name] = (axis.name, np.asarray(axis.values, dtype=np.float64), attrs)
    if plan.record_steps:
        coords[STEP] = (STEP, np.asarray(plan.record_steps), {"long_name": "step t (0 is the start)"})
    return coords


def _attrs(plan: Plan, timing: Timing) -> dict:
    config = plan.config
    steps = plan.computed_cells * config.steps
    return {
        "title": f"sweep of {', '.join(config.optimizers)} on {config.objective}",
        "grid_file": config.source,
        "grid_toml": config.text,
        "objective": config.objective,
        "objective_kind": config.spec.kind,
        "noise": config.noise,
        "seeds": ", ".join(map(str, config.seeds)),
        "schedule": ", ".join(config.schedules),
        "schedule_params": f"warmup = {config.warmup}, every = {config.step_every}, "
                           f"factor = {config.step_factor}",
        "bounds": "none" if config.bounds is None else str([list(b) for b in config.bounds]),
        "objective_params": ", ".join(f"{k} = {v}" for k, v in config.objective_params),
        "minimum": plan.problem.minimum,
        "steps": config.steps,
        "tol": config.tol,
        "record_every": config.record_every,
        "divergence_bound": plan.bound,
        "options": ", ".join(f"{k}.{OPTIMIZERS[k].option} = {v}" for k, v in config.options),
        "backend": "cpu",
        "dtype": "float64",
        "cells": plan.full_cells,
        "computed_cells": plan.computed_cells,
        "wall_time_s": timing.compile + timing.run,
        "compile_time_s": timing.compile,
        # Throughput of the kernels at work: compilation is a one-off, reported apart.
        "trajectory_steps_per_s": steps / timing.run if timing.run > 0 else float("nan"),
        "versions": _versions(),
    }


@functools.cache
def _versions() -> str:
    found = [f"python {platform.python_version()}"]
    for package in PACKAGES:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)
