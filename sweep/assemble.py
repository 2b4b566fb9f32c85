"""Name everything: per-optimizer kernel results → one ``xarray.Dataset``.

The only module that builds the dataset; its names are spelt in :mod:`sweep.names`.
Axes a rule does not read were computed once (length 1) and are broadcast here.
"""
from __future__ import annotations

import functools
import json
import platform
from importlib import metadata
from typing import NamedTuple

import numpy as np
import xarray as xr

from sweep.kernels.layout import Metrics
from sweep.kernels.rules import OPTIMIZERS

from .execute import Engine
from .names import (AXIS, AXIS_NAMES, DIM, DIVERGENCE_BOUND, LONG_NAME, MINIMUM, OBJECTIVE,
                    OBJECTIVE_KIND, OBJECTIVE_PARAMS, OBJECTIVE_SPEC, OPTIMIZER, SCALE, SCHEDULE,
                    SEED, START, STEP, STEPS, TOL, USES_AXIS, X0, spec_to_json)
from .plan import Block, Plan
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
    "test_loss": "the model's loss on the test set after the last step",
    "test_error": "share of the test set misclassified after the last step",
    "train_error": "share of the training set misclassified after the last step",
    "test_loss_curve": "the test loss at the recorded steps",
    "test_error_curve": "the test error at the recorded steps",
}
PACKAGES = ("sweep", "numba", "llvmlite", "numpy", "xarray", "zarr", "h5netcdf", "joblib")


class Timing(NamedTuple):
    """Seconds spent compiling kernels and running them (compilation excluded)."""

    compile: float
    run: float


def assemble(plan: Plan, results: dict[str, Metrics], timing: Timing,
             engine: Engine = Engine()) -> xr.Dataset:
    """The dataset of a finished sweep, in memory.

    Args:
        plan: what was computed.
        results: per optimizer, the :class:`Metrics` of its whole computed grid
            (cells in C order over ``plan.shapes[optimizer]``).
        timing: how long compiling and running took.
        engine: the kernels that ran (the backend and dtype go into the attrs).

    Returns:
        dims ``optimizer, [schedule,] start, [seed,] alpha, beta1, beta2, eps``
        (+ ``dim``, ``step``); ``schedule`` and ``seed`` only when the grid
        file lists several.
    """
    keep = _kept(plan)
    parts = [_variables(plan, results[name], plan.shapes[name], plan.full_shape, keep)
             for name in plan.config.optimizers]
    data = {name: ((OPTIMIZER,) + dims, np.stack([part[name][1] for part in parts]))
            for name, (dims, _) in parts[0].items()}
    return _dataset(plan, data, _attrs(plan, engine, timing))


def template(plan: Plan, engine: Engine = Engine()) -> xr.Dataset:
    """The dataset's layout with no data (lazy fill values, chunked like the plan):
    what a ``.zarr`` store is created from before any block is computed."""
    import dask.array

    keep = _kept(plan)
    chunks = (1,) + tuple(size for size, kept in zip(plan.chunks, keep) if kept)
    shape = (len(plan.config.optimizers),) + tuple(n for n, k in zip(plan.full_shape, keep) if k)
    extra = {DIM: plan.config.dim, STEP: len(plan.record_steps)}
    data = {}
    for name, (trailing, dtype) in _layout(plan).items():
        if trailing and trailing[0] == STEP and not plan.record_steps:
            continue
        full = shape + tuple(extra[d] for d in trailing)
        dtype = np.dtype(engine.dtype if dtype == "float" else dtype)
        fill = False if dtype == np.bool_ else np.nan
        lazy = dask.array.full(full, fill, dtype=dtype, chunks=chunks + full[len(chunks):])
        data[name] = (_grid_dims(plan, keep) + trailing, lazy)
    return _dataset(plan, data, _attrs(plan, engine, None))


def block_pieces(plan: Plan, block: Block, metrics: Metrics) -> list[tuple[dict, xr.Dataset]]:
    """A computed block as the dataset's pieces: ``(region, data)`` pairs, ``region``
    mapping each dimension to its slice, ``data`` holding no coordinates. One
    piece per chunk the block fills (several when the rule ignores an axis cut
    by the chunks: its value is broadcast into each)."""
    keep = _kept(plan)
    optimizer = plan.config.optimizers.index(block.optimizer)
    pieces = []
    for region in plan.dataset_regions(block):
        target = tuple(part.stop - part.start for part in region)
        variables = _variables(plan, metrics, block.shape, target, keep)
        where = {OPTIMIZER: slice(optimizer, optimizer + 1)}
        where |= {dim: part for dim, part, kept in zip(plan.dims, region, keep) if kept}
        data = {name: ((OPTIMIZER,) + dims, values[np.newaxis])
                for name, (dims, values) in variables.items()}
        piece = xr.Dataset(data)
        where |= {dim: slice(0, piece.sizes[dim]) for dim in (DIM, STEP) if dim in piece.dims}
        pieces.append((where, piece))
    return pieces


# Per variable: its dimensions after the grid's, and its type ("float": the kernels'
# dtype). A step count stays float64: float32 counts exactly only to 2**24.
_LAYOUT = {
    "final_loss": ((), "float"),
    "best_loss": ((), "float"),
    "final_x": ((DIM,), "float"),
    "distance": ((), "float"),
    "steps_to_tol": ((), np.float64),
    "diverged": ((), np.bool_),
    "trajectory": ((STEP, DIM), "float"),
    "loss": ((STEP,), "float"),
}
# A model's besides (its θ is not recorded: thousands of parameters per step and cell).
_DATA_LAYOUT = {
    "test_loss": ((), "float"),
    "test_error": ((), "float"),
    "train_error": ((), "float"),
    "test_loss_curve": ((STEP,), "float"),
    "test_error_curve": ((STEP,), "float"),
}


def _layout(plan: Plan) -> dict:
    """The variables of ``plan``'s dataset: name → (dimensions after the grid's, type)."""
    if plan.problem.model is None:
        if plan.config.record == "loss":
            return {name: layout for name, layout in _LAYOUT.items() if name != "trajectory"}
        return _LAYOUT
    return {name: layout for name, layout in (_LAYOUT | _DATA_LAYOUT).items()
            if name != "trajectory"}


def _kept(plan: Plan) -> tuple[bool, ...]:
    """Per dimension of :func:`sweep.plan.plan_dims`: whether the dataset has it. Dimensions of
    length 1 that the grid file did not ask for (one schedule, one seed) are dropped."""
    config = plan.config
    return (config.schedule_axis, True, config.seed_axis) + (True,) * len(config.axes)


def _grid_dims(plan: Plan, keep: tuple[bool, ...]) -> tuple[str, ...]:
    return (OPTIMIZER,) + tuple(d for d, k in zip(plan.dims, keep) if k)


def _variables(plan: Plan, metrics: Metrics, computed: tuple[int, ...],
               target: tuple[int, ...], keep: tuple[bool, ...]) -> dict:
    """One optimizer's metrics over a box of its computed grid (shape ``computed``,
    1 on the axes it does not read), broadcast to the dataset's box ``target``:
    ``{name: (dims without optimizer, array)}``."""
    dropped = tuple(i for i, k in enumerate(keep) if not k)
    dims = _grid_dims(plan, keep)[1:]

    def shaped(values, extra=()):
        values = np.broadcast_to(values.reshape(computed + extra), target + extra)
        return values.squeeze(axis=dropped) if dropped else values

    dim = plan.config.dim
    final_x = shaped(metrics.final_x, (dim,))
    variables = {
        "final_loss": (dims, shaped(metrics.final_loss)),
        "best_loss": (dims, shaped(metrics.best_loss)),
        "final_x": (dims + (DIM,), final_x),
        "distance": (dims, _distance(final_x, plan.problem.minimizers)),
        "steps_to_tol": (dims, shaped(metrics.steps_to_tol)),
        "diverged": (dims, shaped(metrics.diverged)),
    }
    records = len(plan.record_steps)
    if records and metrics.test_loss is None and metrics.trajectory.shape[1] == records:
        variables["trajectory"] = (dims + (STEP, DIM), shaped(metrics.trajectory, (records, dim)))
    if records:
        variables["loss"] = (dims + (STEP,), shaped(metrics.loss, (records,)))
    if metrics.test_loss is not None:  # a model on data
        for name in ("test_loss", "test_error", "train_error"):
            variables[name] = (dims, shaped(getattr(metrics, name)))
        if records:
            for name in ("test_loss_curve", "test_error_curve"):
                variables[name] = (dims + (STEP,), shaped(getattr(metrics, name), (records,)))
    return variables


def _dataset(plan: Plan, data: dict, attrs: dict) -> xr.Dataset:
    dataset = xr.Dataset(data, coords=_coords(plan), attrs=attrs)
    for name, description in VARIABLES.items():
        if name in dataset:
            dataset[name].attrs["long_name"] = description
    dataset["steps_to_tol"].attrs["tol"] = plan.config.tol
    dataset["diverged"].attrs["bound"] = plan.bound
    return dataset


def _distance(final_x: np.ndarray, minimizers: tuple) -> np.ndarray:
    if not minimizers:
        return np.full(final_x.shape[:-1], np.nan)
    points = np.asarray(minimizers, dtype=final_x.dtype)  # in the kernels' dtype
    gaps = final_x[..., None, :] - points  # (..., minimizer, dim)
    return np.sqrt((gaps * gaps).sum(axis=-1)).min(axis=-1)


def _declared(config, name: str):
    """The declaration of hyperparameter ``name`` by the first swept rule that has it."""
    return next(OPTIMIZERS[rule].hyperparameter(name) for rule in config.optimizers
                if name in OPTIMIZERS[rule].names)


# The axes over a parameter of the objective, the model or the schedule.
SETTING_NAMES = {
    "noise": ("gradient noise σ", "σ of the Gaussian noise added to every gradient component"),
    "batch_size": ("batch size", "samples per minibatch (0: the whole training set)"),
    "l2": ("L2 penalty λ", "(λ/2)·‖θ‖² added to the model's training objective"),
    "warmup": ("warm-up steps", "linear warm-up of α over this many steps"),
    "factor": ("step schedule factor", "the step schedule multiplies α by this every period"),
}


def axis_long_name(config, name: str) -> str:
    """An axis's ``long_name``: the four of every grid's, a setting's, else its rule's
    declaration."""
    if name in SETTING_NAMES:
        return SETTING_NAMES[name][0]
    return AXIS_NAMES.get(name) or _declared(config, name).long_name or name


def axis_description(config, name: str) -> str:
    """What an axis is, and which of the swept rules read it (under which name)."""
    if name in AXIS_DESCRIPTIONS:
        return AXIS_DESCRIPTIONS[name]
    if name in SETTING_NAMES:
        return SETTING_NAMES[name][1] + "; every rule's cells differ along it"
    readers = [f"{rule} ({OPTIMIZERS[rule].hyperparameter(name).reference or name})"
               for rule in config.optimizers if name in OPTIMIZERS[rule].names]
    return f"{axis_long_name(config, name)}; read by " + ", ".join(readers)


def _coords(plan: Plan) -> dict:
    config = plan.config
    coords = {}
    if config.schedule_axis:
        coords[SCHEDULE] = (SCHEDULE, list(config.schedules), {LONG_NAME: "step-size schedule"})
    if config.seed_axis:
        coords[SEED] = (SEED, np.asarray(config.seeds, dtype=np.int64),
                        {LONG_NAME: "random seed"})
    coords |= {
        OPTIMIZER: (OPTIMIZER, list(config.optimizers), {LONG_NAME: "update rule"}),
        START: (START, np.arange(len(config.starts)), {LONG_NAME: "start point index"}),
        X0: ((START, DIM), np.asarray(config.starts, dtype=np.float64),
             {LONG_NAME: "start point θ₀"}),
        DIM: (DIM, np.arange(config.dim), {LONG_NAME: "coordinate"}),
        USES_AXIS: ((OPTIMIZER, AXIS),
                    np.array([[config.reads(name, axis.name) for axis in config.axes]
                              for name in config.optimizers]),
                    {LONG_NAME: "whether the rule reads the axis (else its values are broadcast)"}),
        AXIS: (AXIS, [axis.name for axis in config.axes]),
    }
    for axis in config.axes:
        attrs = {LONG_NAME: axis_long_name(config, axis.name),
                 "description": axis_description(config, axis.name), SCALE: axis.scale}
        coords[axis.name] = (axis.name, np.asarray(axis.values, dtype=np.float64), attrs)
    if plan.record_steps:
        coords[STEP] = (STEP, np.asarray(plan.record_steps), {LONG_NAME: "step t (0 is the start)"})
    return coords


def _attrs(plan: Plan, engine: Engine, timing: Timing | None) -> dict:
    config = plan.config
    attrs = {
        "title": f"sweep of {', '.join(config.optimizers)} on {config.objective}",
        "grid_file": config.source,
        "grid_toml": config.text,
        OBJECTIVE: config.objective,
        OBJECTIVE_KIND: config.spec.kind,
        # The noisy quadratic model's noise is its minibatch's (batch_size), not σ.
        "noise": config.noise if plan.problem.noise_scale is None else
        "the minibatch's: √(hᵢ/batch_size)·zᵢ per coordinate",
        "seeds": ", ".join(map(str, config.seeds)),
        "schedule": ", ".join(config.schedules),
        "schedule_params": f"warmup = {config.warmup}, every = {config.step_every}, "
                           f"factor = {config.step_factor}",
        "bounds": "none" if config.bounds is None else str([list(b) for b in config.bounds]),
        # JSON, so that a reader (sweep.plot) rebuilds the objective without parsing prose.
        OBJECTIVE_PARAMS: json.dumps(dict(config.objective_params)),
        OBJECTIVE_SPEC: spec_to_json(config.spec),
        MINIMUM: plan.problem.minimum,
        STEPS: config.steps,
        TOL: config.tol,
        "record_every": config.record_every,
        "record": config.record,
        DIVERGENCE_BOUND: plan.bound,
        # The values each rule ran at for the hyperparameters it does not read from a
        # dimension: its [options], else its own default.
        "options": fixed_values_text(config),
        "backend": engine.backend,
        "dtype": engine.dtype,
        "cells": plan.full_cells,
        "computed_cells": plan.computed_cells,
        "versions": _versions(),
    }
    return attrs | (timing_attrs(timing, plan.computed_cells * config.steps) if timing else {})


def fixed_values_text(config) -> str:
    """``"adamw.weight_decay = 0.01, rmsprop.centered = false"``: per rule, the value of each
    hyperparameter it ran at that is not a dimension it reads (flags as true/false)."""
    parts = []
    for name in config.optimizers:
        rule = OPTIMIZERS[name]
        for key, value in config.values(name).items():
            shown = ("true" if value else "false") if rule.hyperparameter(key).flag else \
                f"{value:g}"
            parts.append(f"{name}.{key} = {shown}")
    return ", ".join(parts)


def timing_attrs(timing: Timing, steps: int) -> dict:
    """The attrs that say how long a run took; ``steps`` trajectory-steps were computed."""
    return {
        "wall_time_s": timing.compile + timing.run,
        "compile_time_s": timing.compile,
        # Throughput of the kernels at work: compilation is a one-off, reported apart.
        "trajectory_steps_per_s": steps / timing.run if timing.run > 0 else float("nan"),
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
