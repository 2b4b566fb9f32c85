"""What the model studies of examples/ share (loshchilov2019.py, ma2019.py, chen2023.py):
reading their grid files, running them with a clock, the seed summary of a cell and the
measures read off a table of test errors.

A study's script imports it from its own folder: ``sys.path`` gets examples/ first.
"""
from __future__ import annotations

import copy
import json
import time
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

import sweep

HERE = Path(__file__).resolve().parent
CHANCE = 0.9  # the test error of a network that guesses among digits' 10 classes
METRIC = "test_error"
# The grid axes every dataset carries with one value where the grid leaves them out.
FIXED = ("start", "beta1", "beta2", "eps", "weight_decay", "l2", "warmup")


def grid(name: str, small: dict | None = None) -> dict:
    """The grid file ``examples/<name>.toml`` as a table; ``small`` replaces the values of
    its keys, ``{"sweep.steps": 200, "grid.alpha": [...]}``."""
    with (HERE / f"{name}.toml").open("rb") as file:
        table = copy.deepcopy(tomllib.load(file))
    for key, value in (small or {}).items():
        section, name_ = key.split(".")
        table.setdefault(section, {})[name_] = copy.deepcopy(value)
    return table


def run(table: dict, n_jobs: int | None = None) -> tuple[xr.Dataset, float]:
    """``sweep.run(table)`` and its wall time in seconds."""
    started = time.perf_counter()
    ds = sweep.run(table, n_jobs=n_jobs)
    return ds, time.perf_counter() - started


def trainings(ds: xr.Dataset) -> int:
    """The number of trainings a result ran: its computed cells (each seed is a cell)."""
    return int(ds.attrs["computed_cells"])


def n_test(ds: xr.Dataset) -> int:
    """The number of test samples of the result's data set."""
    from sweep import datasets

    params = json.loads(ds.attrs["objective_params"])
    return datasets.load(params["data"], test_fraction=params["test_fraction"],
                         data_seed=params["data_seed"]).n_test


def _squeeze(table: xr.DataArray, keep) -> xr.DataArray:
    """``table`` without the grid axes of one value, but those in ``keep``."""
    drop = [d for d in table.dims if d in FIXED and table.sizes[d] == 1 and d not in keep]
    return table.squeeze(drop, drop=True)


def seed_mean(ds: xr.Dataset, optimizer: str, metric: str = METRIC, keep=()) -> xr.DataArray:
    """The mean over seeds of ``metric`` per cell of ``optimizer``, the grid axes of one
    value dropped (but those in ``keep``). A seed that diverged counts as chance
    (``CHANCE``); a cell where every seed diverged is +inf (drawn as diverged by
    :mod:`sweep.plot`)."""
    one = ds.sel(optimizer=optimizer)
    values = one[metric].where(~one["diverged"].astype(bool), CHANCE).fillna(CHANCE)
    mean = values.mean("seed") if "seed" in values.dims else values
    every = one["diverged"].astype(bool).all("seed") if "seed" in one.dims else one["diverged"]
    return _squeeze(mean.where(~every, np.inf), keep)


def seed_spread(ds: xr.Dataset, optimizer: str, metric: str = METRIC, keep=()) -> xr.DataArray:
    """The largest minus the smallest seed's ``metric`` per cell (diverged: chance)."""
    one = ds.sel(optimizer=optimizer)
    values = one[metric].where(~one["diverged"].astype(bool), CHANCE).fillna(CHANCE)
    return _squeeze(values.max("seed") - values.min("seed"), keep)


def best_cell(table: xr.DataArray) -> dict:
    """The smallest value of a table and its coordinates (the first in grid order among
    ties): ``{"value": ..., axis: value, ...}``."""
    values = np.where(np.isfinite(table.values), table.values, np.inf)
    index = np.unravel_index(int(np.argmin(values)), values.shape)
    found = {"value": float(values[index])}
    for dim, i in zip(table.dims, index):
        found[dim] = float(table[dim].values[i])
    return found


def largest_near_best(table: xr.DataArray, along: str, delta: float,
                      trains: float) -> xr.DataArray:
    """Per value of the other axis of a 2-D table: the largest ``along`` whose value is
    within ``delta`` of that line's best; NaN where the line's best is above ``trains``
    (the line does not train at all, so it has no good region)."""
    other = next(d for d in table.dims if d != along)
    values = table.transpose(other, along).values
    filled = np.where(np.isfinite(values), values, np.inf)
    best = filled.min(axis=1)
    near = filled <= best[:, None] + delta
    coordinate = table[along].values
    largest = np.array([coordinate[np.flatnonzero(row)].max() for row in near])
    largest = np.where(best <= trains, largest, np.nan)
    return xr.DataArray(largest, dims=[other], coords={other: table[other]}, name=along)


def argmin_along(table: xr.DataArray, along: str, trains: float) -> xr.DataArray:
    """Per value of the other axis: the ``along`` of the line's smallest value (NaN where
    the line's best is above ``trains``)."""
    other = next(d for d in table.dims if d != along)
    values = table.transpose(other, along).values
    filled = np.where(np.isfinite(values), values, np.inf)
    best = table[along].values[np.argmin(filled, axis=1)]
    best = np.where(filled.min(axis=1) <= trains, best, np.nan)
    return xr.DataArray(best, dims=[other], coords={other: table[other]}, name=along)


def log_slope(x, y) -> float:
    """The least-squares slope of log10 y against log10 x over the points where both are
    finite and positive; NaN with fewer than two distinct x."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if len(set(x[keep])) < 2:
        return float("nan")
    return float(np.polyfit(np.log10(x[keep]), np.log10(y[keep]), 1)[0])


def trained_range(line: xr.DataArray, trains: float) -> tuple[float, float]:
    """The smallest and largest coordinate of a 1-D line whose value is at most ``trains``
    ((nan, nan) if none)."""
    values = np.where(np.isfinite(line.values), line.values, np.inf)
    good = line[line.dims[0]].values[values <= trains]
    return (float(good.min()), float(good.max())) if good.size else (float("nan"),) * 2
