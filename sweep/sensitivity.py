"""How much of a metric's variation each swept axis explains: variance-based main and
total effects over the full factorial grid (a functional ANOVA), per optimizer.

For a response Y on the grid (every cell weighted equally) and a swept axis A,
with ~A the other swept axes::

    main effect   S_A  = Var_A( E_{~A}[Y | A] ) / Var(Y)
    total effect  ST_A = E_{~A}[ Var_A(Y | ~A) ] / Var(Y)

S_A is the share of the variance A explains alone, ST_A the share it takes part
in, interactions included: Σ S_A ≤ 1 ≤ Σ ST_A, and ST_A − S_A is A's share in
interactions. An axis a rule does not read has S = ST = 0 for it. Every grid
dimension with more than one value is a factor: the hyperparameters, and also
``start``, ``seed`` and ``schedule`` when the grid has several.

The response (:func:`metric`): log10 of f − f* for ``final_loss`` and
``best_loss`` (f itself when f* is unknown), floored at ``floor``; log10 of
``distance`` and of a model's ``test_loss``; ``steps_to_tol``, ``test_error``,
``train_error`` (shares in [0, 1]) as they are; the ``diverged`` indicator (0/1).
:func:`available_metrics` lists what a result can show: every per-cell variable
it holds that has a value somewhere (a model's ``distance`` and ``steps_to_tol``
are all missing, so they are left out), and the accuracies ``test_accuracy`` and
``train_accuracy`` (1 − error, higher is better) on request.
Diverged cells have no value, so they are treated explicitly (``diverged=``):

* ``"penalty"`` (default): a diverged cell counts as ``penalty``, by default one
  unit worse than the worst finite cell of the whole dataset (one decade on a
  log scale). For ``steps_to_tol``, a diverged cell and a cell that never
  reached the tolerance both count as ``steps + 1``. The grid stays complete,
  so the decomposition is exact.
* ``"exclude"``: diverged cells are left out of every mean and variance. The
  grid is then incomplete and the indices are an approximation.

No matplotlib here: :func:`sweep.plot.sensitivity_bars` draws the result.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .errors import ConfigError
from .names import LONG_NAME, MINIMUM, NON_GRID, OBJECTIVE, OPTIMIZER, STEPS, TOL, USES_AXIS

LOSSES = ("final_loss", "best_loss")
LOGGED = LOSSES + ("distance", "test_loss")  # metrics spanning decades: log10 by default
# A model's metrics, with what they are. Errors are shares of the set misclassified.
MODEL_LABELS = {"test_error": "test error (share misclassified)",
                "train_error": "training error (share misclassified)",
                "test_loss": "test loss"}
# Metrics derived from a variable on request: name -> (variable, label). 1 − error,
# higher is better.
ACCURACIES = {"test_accuracy": ("test_error", "test accuracy (share correct)"),
              "train_accuracy": ("train_error", "training accuracy (share correct)")}
# The order metrics are offered in: what a user looks at first, first.
PREFERRED = ("test_error", "test_loss", "train_error", "final_loss", "best_loss", "distance",
             "steps_to_tol", "diverged")
# The default metric: a model's test error (its test loss for real targets), else the loss.
DEFAULTS = ("test_error", "test_loss", "final_loss")


class MetricError(ConfigError, ValueError):
    """A metric the dataset cannot provide (unknown, not per cell, or unknown for this objective)."""


@dataclass(frozen=True, kw_only=True)
class Metric:
    """A per-cell metric made ready to plot or analyse.

    Attributes:
        name: the dataset variable.
        label: what the values are, for a colour bar or an axis.
        values: float, NaN where the cell diverged or (``steps_to_tol``) never reached tol;
            losses are f − f* floored at ``floor`` when f* is known.
        diverged: bool, where the cell diverged.
        not_reached: bool, where a cell that did not diverge has no value (never reached tol).
        logged: whether a log scale is the natural one (losses, distance).
        positive: every finite value is > 0 (a log scale is possible).
        floor: the floor applied (None: none).
        floored: some values were raised to the floor.
        censor: the value standing for "never reached" (``steps + 1``), or None.
        higher_is_better: the best value is the largest (an accuracy); every other
            metric is lower-is-better.
    """

    name: str
    label: str
    values: xr.DataArray
    diverged: xr.DataArray
    not_reached: xr.DataArray
    logged: bool
    positive: bool
    floor: float | None
    floored: bool
    censor: float | None
    higher_is_better: bool = False


def is_model(ds) -> bool:
    return ds.attrs.get("objective_kind") == "model" or "test_loss" in ds.data_vars


def per_cell_variables(ds: xr.Dataset) -> list[str]:
    """The numeric variables of ``ds`` with one number per cell, in the dataset's order."""
    return [str(v) for v in ds.data_vars
            if not set(ds[v].dims) & set(NON_GRID) and ds[v].dtype.kind in "biuf"]


def available_metrics(ds: xr.Dataset, *, diverged: bool = True,
                      accuracies: bool = False) -> list[str]:
    """The metrics :func:`metric` can give for ``ds``, in :data:`PREFERRED` order then the
    dataset's: every per-cell variable that has a value somewhere (not ``distance``
    without a known minimizer, nor ``steps_to_tol`` without f*, nor a model's
    ``test_error`` on real targets). ``diverged``: include the diverged indicator;
    ``accuracies``: include ``test_accuracy`` and ``train_accuracy`` where the errors are.
    """
    names = per_cell_variables(ds)
    ordered = [n for n in PREFERRED if n in names] + [n for n in names if n not in PREFERRED]
    if accuracies:
        ordered += [n for n, (source, _) in ACCURACIES.items() if source in names]
    have = []
    for name in ordered:
        if name == "diverged" and not diverged:
            continue
        try:
            metric(ds, name)
        except MetricError:
            continue
        have.append(name)
    return have


def default_metric(ds: xr.Dataset) -> str:
    """A model's test error (its test loss where the targets are real numbers), else
    ``final_loss``: the first of :data:`DEFAULTS` that :func:`available_metrics` offers."""
    have = available_metrics(ds)
    for name in DEFAULTS:
        if name in have:
            return name
    if not have:
        raise MetricError("this result has no metric with a value: every cell is missing")
    return have[0]


def metric(ds: xr.Dataset, name: str, floor: float | None = None) -> Metric:
    """The values of ``ds[name]`` per cell, losses as f − f* (floored), with their masks.

    ``floor`` (losses and distance): values below it are raised to it; default
    ``1e-16 · max(1, |f*|)``, the resolution of a float64 f near f*.
    """
    if name in ACCURACIES and ACCURACIES[name][0] in ds.data_vars:
        source, label = ACCURACIES[name]
        error = metric(ds, source)
        values = 1.0 - error.values
        return Metric(name=name, label=label, values=values.rename(name),
                      diverged=error.diverged, not_reached=error.not_reached, logged=False,
                      positive=error.positive, floor=None, floored=False, censor=None,
                      higher_is_better=True)
    if name not in ds.data_vars:
        usable = available_metrics(ds, accuracies=True) if name != "final_loss" else \
            per_cell_variables(ds)
        raise MetricError(f"unknown metric {name!r}: this result has {', '.join(usable)}")
    data = ds[name]
    if set(data.dims) & set(NON_GRID):
        raise MetricError(f"{name} is not one number per cell (dims {', '.join(data.dims)}); "
                          f"use final_loss, best_loss, distance, steps_to_tol or diverged")
    diverged = ds["diverged"].astype(bool) if "diverged" in ds else xr.zeros_like(data, dtype=bool)
    diverged = diverged.broadcast_like(data)
    none = xr.zeros_like(diverged)
    fstar = float(ds.attrs.get(MINIMUM, math.nan))
    steps = ds.attrs.get(STEPS)
    if name == "diverged":
        values = data.astype(np.float64)
        return Metric(name=name, label="diverged (share of cells)", values=values,
                      diverged=none, not_reached=none, logged=False, positive=False, floor=None,
                      floored=False, censor=None)
    values = data.astype(np.float64).where(~diverged)
    censor, not_reached = None, none
    if name == "steps_to_tol":
        if not math.isfinite(fstar):
            raise MetricError("steps_to_tol is unknown for this objective: its minimum f* is not known")
        tol = ds["steps_to_tol"].attrs.get(TOL, ds.attrs.get(TOL))
        label = f"steps to f − f* ≤ {tol:g}" if tol is not None else "steps to tol"
        not_reached = values.isnull() & ~diverged
        censor = float(steps) + 1 if steps is not None else None
        return Metric(name=name, label=label, values=values, diverged=diverged,
                      not_reached=not_reached, logged=False, positive=True, floor=None,
                      floored=False, censor=censor)
    logged = name in LOGGED
    if name in LOSSES:
        what = "final loss" if name == "final_loss" else "best loss"
        if is_model(ds):  # the objective is the training set's loss
            what = "final training loss" if name == "final_loss" else "best training loss"
        if math.isfinite(fstar):
            values = values - fstar
            label = f"{what} f(θ) − f*"
            floor = 1e-16 * max(1.0, abs(fstar)) if floor is None else floor
        else:
            label = f"{what} f(θ)"
            floor = None
    elif name == "distance":
        if bool(values.isnull().where(~diverged, False).all()) and not bool(diverged.all()):
            raise MetricError("distance is unknown for this objective: it has no known minimizer")
        label = "distance to the nearest minimizer"
        floor = 1e-16 if floor is None else floor
    else:
        label = MODEL_LABELS.get(name) or data.attrs.get(LONG_NAME, name)
        floor = None
        if not bool(values.notnull().any()) and not bool(diverged.all()):
            why = " (its targets are real numbers: no classes)" if name.endswith("_error") else ""
            raise MetricError(f"{name} has no value in this result{why}")
    floored = False
    if floor is not None:
        floored = bool((values < floor).any())
        values = values.where(~(values < floor), floor)
    finite = values.values[np.isfinite(values.values)]
    positive = bool(finite.size == 0 or finite.min() > 0)
    return Metric(name=name, label=label, values=values, diverged=diverged,
                  not_reached=not_reached, logged=logged, positive=positive, floor=floor,
                  floored=floored, censor=censor)


def sensitivity(ds: xr.Dataset, metric_name: str = "final_loss", *, log: bool | None = None,
                diverged: str = "penalty", penalty: float | None = None,
                floor: float | None = None) -> xr.Dataset:
    """Main and total effect of each swept axis on a metric, per optimizer.

    Args:
        ds: a sweep's dataset (or any dataset with an ``optimizer`` dimension and
            one number per grid cell in ``ds[metric_name]``).
        metric_name: ``final_loss`` (default), ``best_loss``, ``distance``,
            ``steps_to_tol``, ``diverged`` or any per-cell variable.
        log: analyse log10 of the metric; default: yes for losses and distance
            (when every value is positive, else the values themselves).
        diverged: ``"penalty"`` or ``"exclude"`` (see the module's docstring).
        penalty: the value (after the log, if any) a diverged cell counts as;
            default: one unit worse than the dataset's worst finite cell.
        floor: losses and distance below it are raised to it (see :func:`metric`).

    Returns:
        ``main`` and ``total`` (dims ``optimizer × axis``), ``variance`` and ``mean``
        of the response and ``diverged_share`` (dim ``optimizer``). ``axis`` carries
        a ``label`` coordinate (the axes' long names); the attributes say how the
        response was made: ``response`` (``log10(final loss f(θ) − f*)``),
        ``treatment`` (floor, censoring, diverged cells) and ``penalty``.
        Indices are NaN for an optimizer whose response does not vary.
    """
    if diverged not in ("penalty", "exclude"):
        raise MetricError(f'diverged = {diverged!r}: must be "penalty" or "exclude"')
    found = metric(ds, metric_name, floor)
    values = found.values
    response = found.label
    if log is None:
        log = found.logged and found.positive
    if log:
        if not found.positive:
            raise MetricError(f"log = True: {metric_name} has values ≤ 0, and f* is not known "
                              f"to subtract; use log = False")
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.log10(values)
        response = f"log10({found.label})"
    notes = []
    if found.floored:
        notes.append(f"floored at {found.floor:.0e}")
    if found.censor is not None:
        values = values.where(~found.not_reached, found.censor)
        notes.append(f"never reached: {found.censor:.6g} (steps + 1)")
    mask = found.diverged
    used_penalty = math.nan
    if bool(mask.any()):
        share = float(mask.mean())
        share_text = f"{share:.0%}" if share >= 0.01 else f"{share:.1%}"
        if diverged == "exclude":
            notes.append(f"diverged cells ({share_text}) excluded "
                         f"(approximate: the grid is incomplete)")
        else:
            if penalty is not None:
                used_penalty, why = float(penalty), "given"
            elif found.censor is not None:
                used_penalty, why = found.censor, "steps + 1"
            else:
                finite = values.values[np.isfinite(values.values)]
                if finite.size == 0:
                    used_penalty, why = 1.0, "no finite cell"
                else:
                    spread = 1.0 if log else max(float(finite.max() - finite.min()), 1.0)
                    # "Worse" is lower for an accuracy.
                    used_penalty = float(finite.min()) - spread if found.higher_is_better \
                        else float(finite.max()) + spread
                    where = "below" if found.higher_is_better else "above"
                    why = f"one decade {where} the worst finite cell" if log else \
                        f"one range {where} the worst finite cell"
            values = values.where(~mask, used_penalty)
            # The penalty is on the response's scale: say so, and what it is on the metric's.
            if log:
                amount = (f"log10 = {used_penalty:.3g}, i.e. {found.label} = "
                          f"{10.0 ** used_penalty:.2g}")
            else:
                amount = f"{found.label} = {used_penalty:.6g}"
            notes.append(f"diverged cells ({share_text}) count as {amount} ({why})")
    treatment = "; ".join(notes) if notes else "no cell diverged"
    grid = [d for d in values.dims if d != OPTIMIZER]
    factors = [d for d in grid if values.sizes[d] > 1]
    if OPTIMIZER not in values.dims:
        values = values.expand_dims({OPTIMIZER: ["(all)"]})
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        variance = values.var(grid)
        mains, totals = [], []
        for axis in factors:
            rest = [d for d in grid if d != axis]
            mains.append(values.mean(rest).var(axis) / variance)
            totals.append(values.var(axis).mean(rest) / variance)
        constant = ~(variance > 0)
        if factors:
            main = xr.concat(mains, dim="axis").assign_coords(axis=factors).where(~constant)
            total = xr.concat(totals, dim="axis").assign_coords(axis=factors).where(~constant)
        else:
            main = total = xr.DataArray(np.zeros((values.sizes[OPTIMIZER], 0)),
                                        dims=(OPTIMIZER, "axis"),
                                        coords={OPTIMIZER: values[OPTIMIZER].values, "axis": []})
        mean = values.mean(grid)
    if USES_AXIS in ds.coords and factors and OPTIMIZER in ds[USES_AXIS].dims:
        # An axis a rule does not read was broadcast: its effect is exactly 0, not rounding.
        read = ds[USES_AXIS].sel({OPTIMIZER: main[OPTIMIZER].values})
        for axis in factors:
            if axis in read["axis"].values:
                unread = ~read.sel(axis=axis, drop=True) & ~constant
                main.loc[{"axis": axis}] = main.sel(axis=axis).where(~unread, 0.0)
                total.loc[{"axis": axis}] = total.sel(axis=axis).where(~unread, 0.0)
    labels = [str(ds[a].attrs.get(LONG_NAME, a)) if a in ds.coords else a for a in factors]
    result = xr.Dataset(
        {
            "main": main.transpose(OPTIMIZER, "axis").assign_attrs(
                long_name="main effect: Var_A(E[Y | A]) / Var(Y)"),
            "total": total.transpose(OPTIMIZER, "axis").assign_attrs(
                long_name="total effect: E_{~A}[Var_A(Y | ~A)] / Var(Y)"),
            "variance": variance.assign_attrs(long_name="Var(Y) over the grid"),
            "mean": mean.assign_attrs(long_name="mean of Y over the grid"),
            "diverged_share": found.diverged.astype(np.float64).mean(grid)
            if OPTIMIZER in found.diverged.dims
            else xr.DataArray([float(found.diverged.mean())], dims=OPTIMIZER),
        },
        coords={"axis": factors, "label": ("axis", labels), OPTIMIZER: values[OPTIMIZER].values},
        attrs={
            "metric": metric_name,
            "response": response,
            "log": int(bool(log)),
            "treatment": treatment,
            "penalty": used_penalty,
            OBJECTIVE: ds.attrs.get(OBJECTIVE, ""),
            STEPS: ds.attrs.get(STEPS, -1),
        },
    )
    return result
