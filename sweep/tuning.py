"""The tuning protocol "random search with a budget of k trials", read off one exhaustive grid.

Choi et al. (2019), *On Empirical Comparisons of Optimizers for Deep Learning*, and
Schmidt, Schneider & Hennig (2021), *Descending through a Crowded Valley*, compare
optimizers by what a practitioner would find when tuning each with k random trials.
A sweep has already run every cell of the grid, so the expected outcome of such a
search is exact, not sampled: draw k cells uniformly **with replacement** from one
optimizer's n distinct cells and keep the best.

With the values sorted, v_(1) ≤ … ≤ v_(n) (minimisation), the best of k draws is
v_(i) with probability::

    P(best = v_(i)) = ((n − i + 1)/n)^k − ((n − i)/n)^k,
    E[best of k]    = Σ_i v_(i) · P(best = v_(i)).

Ties need no special care: tied values share the probability of their run. The sum is
computed in its Abel-summed (survival) form, the same number::

    E[best of k] = v_(1) + Σ_{i=2..n} (v_(i) − v_(i−1)) · ((n − i + 1)/n)^k,

whose terms are all ≥ 0: no probability is a difference of two nearly equal powers,
the rounding scales with the spread of the values rather than their magnitude, and the
result lies in [v_(1), v_(n)] and never increases with k. k = 1 gives the mean of the
cells; k → ∞ gives v_(1), the best cell of the grid.

The search space of an optimizer is its *distinct* cells: along an axis its rule does
not read (the dataset's ``uses_axis``), the sweep broadcast one trajectory to every
value, and drawing from the copies would weigh nothing differently but would misstate n
(and the budget k that n cells are worth). Only the first value of such an axis is kept.

No matplotlib here: :func:`sweep.plot.tuning_curves` draws the result.
"""
from __future__ import annotations

import numbers

import numpy as np
import xarray as xr

from .names import AXIS, LONG_NAME, NON_GRID, OBJECTIVE, OPTIMIZER, USES_AXIS
from .sensitivity import MetricError

BUDGET = "budget"
CELLS = "cells"  # the number of cells each search drew from (after de-duplication and drops)
MISSING_MODES = ("worst", "drop")


def expected_best(ds: xr.Dataset, metric: str, budgets, *, over=None, maximize: bool = False,
                  missing="worst") -> xr.DataArray:
    """The expected best value of ``metric`` among k cells drawn at random, per optimizer.

    Args:
        ds: a sweep's dataset: dims ``optimizer`` and the grid's (``alpha``, ``beta1``,
            ``beta2``, ``eps``, possibly ``start``, ``seed``, ``schedule``).
        metric: a variable of ``ds`` with one number per cell (``final_loss``,
            ``best_loss``, ``steps_to_tol``, ``test_error``, …; ``diverged`` counts as
            0/1, so its expected best is the chance that every draw diverged).
        budgets: the budgets k, positive ints (one int or a sequence of distinct ones).
        over: the dims that form the search space, one name or several; default every
            dim of ``ds[metric]`` except ``optimizer``. The dims left out (say ``seed``)
            are kept in the result: one search per optimizer and per value of them.
        maximize: the best value is the largest (accuracy), not the smallest (a loss).
        missing: what a non-finite value (NaN: a diverged cell, or ``steps_to_tol`` never
            reached; ±inf) counts as. ``"worst"`` (default): the worst finite value
            of the same search (same optimizer and kept coordinates), the convention
            that a trial which failed is no better than the worst one that finished. A
            float: that value (e.g. ``steps + 1`` for ``steps_to_tol``, where the worst
            finite step count would understate a cell that never reached tol).
            ``"drop"``: the search draws only from the finite cells.

    Returns:
        A float DataArray with dims ``(optimizer, budget, *kept)``, ``budget`` holding
        the k's in the order given. Its ``cells`` coordinate ``(optimizer, *kept)`` is
        the number n of cells each search drew from; a search with no value to draw
        (every cell non-finite with ``"worst"`` or ``"drop"``) is NaN. The attrs say
        what was computed: ``metric``, ``maximize``, ``missing`` (the treatment, in
        words), ``over`` and the dataset's ``objective``.

    Raises:
        MetricError (a ValueError): ``metric`` is not a variable, or not one number per
            cell; ``budgets``, ``over`` or ``missing`` is not one of the values above.
    """
    data = _variable(ds, metric)
    ks = _budgets(budgets)
    over = _over(data, over)
    fill = _missing(missing)
    if OPTIMIZER not in data.dims:
        name = str(data[OPTIMIZER].values) if OPTIMIZER in data.coords else "(all)"
        data = data.drop_vars(OPTIMIZER, errors="ignore").expand_dims({OPTIMIZER: [name]})
    kept = [d for d in data.dims if d != OPTIMIZER and d not in over]
    results, counts = [], []
    for name in data[OPTIMIZER].values:
        cells = _distinct(ds, data.sel({OPTIMIZER: name}), name, over)
        # One row per search: the kept dims first, the search space flattened last.
        rows = cells.transpose(*kept, *over).values.reshape(-1, _size(cells, over))
        best, n = _expected_best_rows(rows.astype(np.float64), ks, maximize, fill)
        shape = [cells.sizes[d] for d in kept]
        results.append(best.reshape(len(ks), *shape))
        counts.append(n.reshape(shape))
    coords = {OPTIMIZER: data[OPTIMIZER].values,
              BUDGET: (BUDGET, np.asarray(ks, dtype=np.int64),
                       {LONG_NAME: "budget k: cells drawn uniformly with replacement"})}
    coords.update({d: data[d].variable for d in kept if d in data.coords})
    coords[CELLS] = ((OPTIMIZER, *kept), np.stack(counts),
                     {LONG_NAME: "distinct cells each search drew from"})
    word = "largest" if maximize else "smallest"
    return xr.DataArray(
        np.stack(results), dims=(OPTIMIZER, BUDGET, *kept), coords=coords,
        name=f"expected_best_{metric}",
        attrs={LONG_NAME: f"expected best {metric} of k random cells",
               "metric": metric, "maximize": int(bool(maximize)),
               "missing": _treatment(missing, maximize), "over": " ".join(over),
               "protocol": f"E[{word} of k cells drawn uniformly with replacement]",
               OBJECTIVE: ds.attrs.get(OBJECTIVE, "")})


def expected_best_sorted(values, budget: int) -> float:
    """E[min of ``budget`` uniform draws with replacement] of a sorted 1-D array (n ≥ 1).

    The survival form of the module's docstring: v_(1) + Σ_{i≥2} (v_(i) − v_(i−1)) ·
    ((n − i + 1)/n)^k. The numerical core of :func:`expected_best`, on plain arrays.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    # ((n − i + 1)/n)^k for i = 2..n: the chance that all k draws rank i or worse.
    survival = (np.arange(n - 1, 0, -1, dtype=np.float64) / n) ** budget
    return float(values[0] + np.dot(np.diff(values), survival))


# --- the search spaces ---------------------------------------------------------------

def _expected_best_rows(rows, ks, maximize, fill):
    """Expected best per row (a search) and budget: (len(ks), rows) values, (rows,) counts."""
    if maximize:
        rows = -rows  # the largest of v is minus the smallest of −v
    best = np.full((len(ks), rows.shape[0]), np.nan)
    counts = np.zeros(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        finite = np.isfinite(row)
        if not finite.any():
            if fill is None or fill == "worst":
                continue  # nothing to draw, nor a worst finite value to stand in: NaN
        if fill == "worst":
            row = np.where(finite, row, row[finite].max())
        elif fill is None:
            row = row[finite]
        else:
            row = np.where(finite, row, -fill if maximize else fill)
        values = np.sort(row)
        counts[r] = values.size
        for j, k in enumerate(ks):
            best[j, r] = expected_best_sorted(values, k)
    return (-best if maximize else best), counts


def _distinct(ds, cells, name, over):
    """One optimizer's cells with a single value kept along each axis its rule does not read."""
    if USES_AXIS not in ds.coords or OPTIMIZER not in ds[USES_AXIS].dims \
            or name not in ds[USES_AXIS][OPTIMIZER].values:
        return cells  # no record of which axes the rule reads: every cell is its own
    uses = ds[USES_AXIS].sel({OPTIMIZER: name})
    unread = [str(a) for a in uses[AXIS].values
              if str(a) in over and not bool(uses.sel({AXIS: a}))]
    return cells.isel({a: slice(0, 1) for a in unread})


def _size(cells, dims) -> int:
    return int(np.prod([cells.sizes[d] for d in dims], dtype=np.int64))


# --- checking the arguments ------------------------------------------------------------

def _variable(ds, metric):
    usable = [str(v) for v in ds.data_vars if not set(ds[v].dims) & set(NON_GRID)]
    if not isinstance(metric, str) or metric not in ds.data_vars:
        raise MetricError(f"unknown metric {metric!r}: this result has {', '.join(usable)}")
    data = ds[metric]
    if set(data.dims) & set(NON_GRID):
        raise MetricError(f"{metric} is not one number per cell (dims {', '.join(data.dims)}); "
                          f"use one of {', '.join(usable)}")
    if data.dtype.kind not in "biuf":
        raise MetricError(f"{metric} is not numeric (dtype {data.dtype})")
    return data


def _budgets(budgets) -> list[int]:
    items = [budgets] if np.ndim(budgets) == 0 else list(budgets)
    if not items:
        raise MetricError("budgets is empty: give one or more positive ints (the k's)")
    ks = []
    for i, k in enumerate(items):
        # bool is an Integral too, and budgets=True is a mistake, not k = 1.
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1:
            raise MetricError(f"budgets[{i}] = {k!r}: every budget must be a positive int")
        ks.append(int(k))
    if len(set(ks)) != len(ks):
        raise MetricError(f"budgets {ks}: a budget appears twice")
    return ks


def _over(data, over) -> list[str]:
    grid = [d for d in data.dims if d != OPTIMIZER]
    if over is None:
        return grid
    names = [over] if isinstance(over, str) else list(over)
    for name in names:
        if name == OPTIMIZER:
            raise MetricError("over = optimizer: each optimizer is searched on its own; "
                              "name only grid dims")
        if name not in grid:
            raise MetricError(f"over: {name!r} is not a dim of {data.name} "
                              f"({', '.join(grid)})")
    if len(set(names)) != len(names):
        raise MetricError(f"over {names}: a dim appears twice")
    return [d for d in grid if d in names]  # the dataset's order, whatever the caller's


def _missing(missing):
    """"worst", None (drop) or a finite float."""
    if isinstance(missing, str):
        if missing not in MISSING_MODES:
            raise MetricError(f"missing = {missing!r}: must be \"worst\", \"drop\" or a number")
        return None if missing == "drop" else missing
    if isinstance(missing, (bool, np.bool_)) or not isinstance(missing, numbers.Real) \
            or not np.isfinite(missing):
        raise MetricError(f"missing = {missing!r}: must be \"worst\", \"drop\" or a finite number")
    return float(missing)


def _treatment(missing, maximize) -> str:
    if missing == "worst":
        return (f"non-finite cells count as the worst finite cell of their search "
                f"({'smallest' if maximize else 'largest'} value)")
    if missing == "drop":
        return "non-finite cells dropped from the search"
    return f"non-finite cells count as {float(missing):.6g}"
