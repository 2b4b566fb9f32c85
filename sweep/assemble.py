"""Name everything: per-optimizer kernel results → one ``xarray.Dataset``.

The only module that knows dimension names and attributes. Axes a rule does
not read were computed once (length 1) and are broadcast here.
"""
from __future__ import annotations

import platform
from importlib import metadata
from typing import NamedTuple

import numpy as np
import xarray as xr

from kernels.compile import Metrics
from kernels.rules import AXES, OPTIMIZERS

from .plan import Plan

OPTIMIZER, START, STEP, DIM = "optimizer", "start", "step", "dim"
GRID_DIMS = (OPTIMIZER, START, *AXES)

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
        dims ``optimizer, start, alpha, beta1, beta2, eps`` (+ ``dim``, ``step``).
    """
    config = plan.config
    full_shape = (len(config.optimizers), len(config.starts), *(len(a.values) for a in config.axes))

    def stack(field: str, extra: tuple[int, ...] = ()) -> np.ndarray:
        parts = []
        for name in config.optimizers:
            computed = getattr(results[name], field).reshape(plan.shapes[name] + extra)
            parts.append(np.broadcast_to(computed, full_shape[1:] + extra))
        return np.stack(parts)

    dim = config.dim
    final_x = stack("final_x", (dim,))
    data = {
        "final_loss": (GRID_DIMS, stack("final_loss")),
        "best_loss": (GRID_DIMS, stack("best_loss")),
        "final_x": (GRID_DIMS + (DIM,), final_x),
        "distance": (GRID_DIMS, _distance(final_x, plan.problem.minimizers)),
        "steps_to_tol": (GRID_DIMS, stack("steps_to_tol")),
        "diverged": (GRID_DIMS, stack("diverged")),
    }
    if plan.record_steps:
        records = len(plan.record_steps)
        data["trajectory"] = (GRID_DIMS + (STEP, DIM), stack("trajectory", (records, dim)))
        data["loss"] = (GRID_DIMS + (STEP,), stack("loss", (records,)))
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
    coords = {
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


def _versions() -> str:
    found = [f"python {platform.python_version()}"]
    for package in PACKAGES:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)
