"""Figures of a sweep over its grid: heatmaps, pair matrices, sensitivity bars.

Conventions shared by the heatmaps:

* An axis whose coordinate says ``scale = "log"`` is drawn on a log axis; an
  evenly spaced linear axis on a linear one; an unevenly spaced linear axis
  (β₂ = 0.9, 0.99, 0.999) as equally wide cells labelled with their values, so
  that no cell is a sliver. A log or linear axis of at most six values is
  labelled with its values.
* Replicate axes (``seed``) are summarised first, cell by cell: ``seeds="median"``
  by default (``"mean"`` for ``diverged``: the share). The median, not the mean,
  because a seed that diverged has no value to average: ranked worse than any
  value, it moves the median by one rank, and the median is "diverged" only when
  at least half the seeds diverged. Never the best over seeds by default: with
  gradient noise the best of a few seeds reads decades below what a run gives.
* Axes that are neither plotted nor selected (``select={"beta2": 0.999}``,
  nearest value) are then reduced: ``"best"``/``"min"`` (the best over the rest,
  in the metric's direction: the largest accuracy), ``"median"``, ``"mean"``,
  ``"max"`` (the worst).
  A diverged cell ranks worse than any value, so the best is diverged only
  when every cell reduced into it diverged, and the median when at least
  half did.
* Diverged cells are drawn in their own colour (``DIVERGED_COLOR``) and named
  in the figure's legend, never as a number; cells that never reached the
  tolerance (``steps_to_tol``) in another (``NOT_REACHED_COLOR``).
* Losses are shown as f − f* (when f* is known) on a log colour scale, floored
  at 1e-16·max(1, |f*|); without f*, f itself (symmetric-log when some values are ≤ 0).
* Facets (one per optimizer, per optimizer and start with ``by="start"``, or the panels
  of :func:`pairs`) share one colour scale.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr

from ..names import (AXIS, OBJECTIVE, OPTIMIZER, REPLICATES, SCALE, START, STEPS, SYMBOLS,
                     USES_AXIS, X0)
from ..sensitivity import Metric, default_metric, metric as _metric
from .common import (DIVERGED_COLOR, NOT_REACHED_COLOR, PlotError, _figure, _fmt, _label,
                     _distinct_labels, _optimizer_colors, _optimizers, _pyplot, _ranked, _sel_one,
                     _unranked, swept_axes)

REDUCTIONS = ("best", "min", "median", "mean", "max")


def _axis_mode(ds, dim) -> str:
    """``"log"``, ``"linear"`` (evenly spaced) or ``"index"`` (equal cells, value labels)."""
    values = ds[dim].values
    if values.dtype.kind not in "fiu" or values.size < 2:
        return "index"
    if ds[dim].attrs.get(SCALE) == "log" and values.min() > 0:
        return "log"
    steps = np.diff(values.astype(np.float64))
    if np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-6):
        return "linear"
    return "index"


def _edges(values: np.ndarray, mode: str) -> np.ndarray:
    if mode == "index":
        return np.arange(len(values) + 1) - 0.5
    v = np.log10(values) if mode == "log" else values.astype(np.float64)
    mids = (v[1:] + v[:-1]) / 2
    edges = np.concatenate([[v[0] - (mids[0] - v[0])], mids, [v[-1] + (v[-1] - mids[-1])]])
    return 10.0 ** edges if mode == "log" else edges


def _null_locator():
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _set_axis(ax, which: str, ds, dim: str, mode: str, edges, label=True) -> None:
    values = ds[dim].values
    set_scale, set_lim = getattr(ax, f"set_{which}scale"), getattr(ax, f"set_{which}lim")
    set_ticks, set_label = getattr(ax, f"set_{which}ticks"), getattr(ax, f"set_{which}label")
    if mode == "log":
        set_scale("log")
    if mode != "index" and len(values) <= 6:
        # Few values: label them, not the decades or round numbers between them (a linear
        # β₂ = 0.99, 0.999 got ticks 0.9875 … 1.0025 from matplotlib, past 1).
        set_ticks(values, [_fmt(v) for v in values])
        getattr(ax, f"{which}axis").set_minor_locator(_null_locator())
    set_lim(edges[0], edges[-1])
    if mode == "index":
        every = max(1, math.ceil(len(values) / 8))
        positions = np.arange(0, len(values), every)
        texts = _distinct_labels(values)
        set_ticks(positions, [texts[i] for i in positions])
        if which == "x" and sum(len(texts[i]) for i in positions) > 4 * len(positions) + 4:
            for text in ax.get_xticklabels():  # long labels: slanted, so that they never overlap
                text.set(rotation=40, ha="right", rotation_mode="anchor")
    if label:
        set_label(_label(ds, dim))


# --- selecting and reducing ----------------------------------------------------

def _check_reduce(reduce: str, what: str = "reduce") -> None:
    if reduce not in REDUCTIONS:
        raise PlotError(f"{what} = {reduce!r}: must be one of {', '.join(REDUCTIONS)}")


def _seeds_default(found: Metric, seeds: str | None) -> str:
    """The summary over replicates: as given, else the median (the share for ``diverged``)."""
    if seeds is None:
        return "mean" if found.name == "diverged" else "median"
    _check_reduce(seeds, "seeds")
    return seeds


def _over_replicates(ranked: xr.DataArray, how: str, censor, keep=()) -> tuple:
    """``ranked`` summarised over its replicate dims (``seed``) not in ``keep``, cell by
    cell; and those dims (with more than one value)."""
    dims = [d for d in REPLICATES if d in ranked.dims and d not in keep]
    if not dims:
        return ranked, []
    rest = [d for d in ranked.dims if d not in dims]
    summary = _reduce(ranked, rest, how, censor)
    return summary, [d for d in dims if ranked.sizes[d] > 1]


WORDS = {"best": "best", "min": "best", "median": "median", "mean": "mean", "max": "worst"}


def _select(da: xr.DataArray, select: dict | None, keep: tuple) -> xr.DataArray:
    """``da`` at the nearest value of each selected axis (a scalar each)."""
    for dim, value in (select or {}).items():
        if dim not in da.dims:
            known = [d for d in da.dims if d not in keep]
            raise PlotError(f"select: unknown axis {dim!r} (axes: {', '.join(known)})")
        if dim in keep:
            raise PlotError(f"select: {dim} is plotted and cannot also be selected")
        if isinstance(value, (list, tuple, np.ndarray)):
            raise PlotError(f"select: {dim} = {value!r}: give one value")
        da = _sel_one(da, dim, value)
    return da


def _reduce(values: xr.DataArray, keep: list[str], how: str, censor=None) -> xr.DataArray:
    """Reduce every dim but ``keep``; an even median averages two values only when both are
    real numbers, not +inf (diverged) or ``censor`` (never reached): else it takes the worse
    of the two, so that categories never blend into numbers."""
    rest = [d for d in values.dims if d not in keep]
    values = values.transpose(*keep, *rest)
    shape = [values.sizes[d] for d in keep]
    flat = values.values.reshape(shape + [-1])
    if how == "mean":
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.nanmean(flat, axis=-1)
    else:
        ordered = np.sort(flat, axis=-1)  # NaN last
        count = np.sum(~np.isnan(flat), axis=-1)

        def pick(i):
            return np.take_along_axis(ordered, np.maximum(i, 0)[..., None], -1)[..., 0]

        if how in ("best", "min"):
            out = pick(np.zeros_like(count))
        elif how == "max":
            out = pick(count - 1)
        else:  # median
            low, high = pick((count - 1) // 2), pick(count // 2)
            real = np.isfinite(low) & np.isfinite(high)
            if censor is not None:
                real &= (low != censor) & (high != censor)
            out = np.where(real, (low + high) / 2, high)
        out = np.where(count > 0, out, np.nan)
    return xr.DataArray(out, dims=keep, coords={d: values[d].values for d in keep})


def _categories(grid: np.ndarray, censor) -> tuple[np.ndarray, np.ndarray]:
    """(values masked where not a number, category: 1 diverged, 0 no value, NaN a value)."""
    diverged = np.isposinf(grid)
    missing = np.isnan(grid) | (grid == censor if censor is not None else False)
    category = np.where(diverged, 1.0, np.where(missing, 0.0, np.nan))
    return np.ma.masked_where(diverged | missing, grid), category


# --- colour scales ---------------------------------------------------------------

def _norm(found: Metric, grids: list[np.ndarray]):
    from matplotlib import colors

    finite = np.concatenate([g[np.isfinite(g) & ((g != found.censor) if found.censor else True)]
                             for g in grids] + [np.empty(0)])
    if found.name == "diverged":
        return colors.Normalize(0.0, 1.0), "neither"
    if finite.size == 0:
        return (colors.LogNorm(1e-3, 1.0) if found.logged else colors.Normalize(0.0, 1.0)), "neither"
    low, high = float(finite.min()), float(finite.max())
    if found.logged and found.positive:
        if low == high:
            low, high = low / 10, high * 10
        extend = "min" if found.floored and np.any(finite <= found.floor) else "neither"
        return colors.LogNorm(low, high), extend
    if found.logged:  # f without f*, some values ≤ 0: symmetric log
        magnitude = np.abs(finite[finite != 0])
        linthresh = 10.0 ** math.floor(math.log10(np.quantile(magnitude, 0.05))) \
            if magnitude.size else 1.0
        return colors.SymLogNorm(linthresh, vmin=low, vmax=high, base=10), "neither"
    if low == high:
        low, high = low - 0.5, high + 0.5
    return colors.Normalize(low, high), "neither"


def _colormap(found: Metric, cmap):
    if cmap is not None:
        return cmap
    return "Reds" if found.name == "diverged" else "viridis"


def _legend_handles(grids: list[np.ndarray], found: Metric, missing_label: str | None = None):
    from matplotlib.patches import Patch

    handles = []
    if any(np.isposinf(g).any() for g in grids):
        handles.append(Patch(facecolor=DIVERGED_COLOR, edgecolor="none", label="diverged"))
    if found.censor is not None and any((g == found.censor).any() for g in grids):
        steps = int(found.censor) - 1
        handles.append(Patch(facecolor=NOT_REACHED_COLOR, edgecolor="none",
                             label=f"did not reach tol in {steps:,} steps"))
    if any(np.isnan(g).any() for g in grids):
        handles.append(Patch(facecolor=NOT_REACHED_COLOR, edgecolor="none",
                             label=missing_label or "no value"))
    return handles


def _figure_legend(fig, grids: list[np.ndarray], found: Metric) -> None:
    """The legend of the special colours (diverged, never reached) under the panels, if any."""
    handles = _legend_handles(grids, found)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                   frameon=False, fontsize="small")


def _mesh(ax, ds, x, y, grid: np.ndarray, norm, cmap, censor, label_x=True, label_y=True):
    """One heatmap panel: ``grid`` has dims (y, x)."""
    from matplotlib.colors import ListedColormap

    xmode, ymode = _axis_mode(ds, x), _axis_mode(ds, y)
    xe, ye = _edges(ds[x].values, xmode), _edges(ds[y].values, ymode)
    values, category = _categories(grid, censor)
    if np.isfinite(category).any():
        ax.pcolormesh(xe, ye, np.ma.masked_invalid(category), vmin=0, vmax=1,
                      cmap=ListedColormap([NOT_REACHED_COLOR, DIVERGED_COLOR]),
                      gid="categories", rasterized=True)
    ax.pcolormesh(xe, ye, values, norm=norm, cmap=cmap, gid="values", rasterized=True)
    _set_axis(ax, "x", ds, x, xmode, xe, label_x)
    _set_axis(ax, "y", ds, y, ymode, ye, label_y)


def _bar_label(found: Metric, extend: str) -> str:
    return found.label + (f" (floored at {found.floor:.0e})" if extend == "min" else "")


def _ignored(ds, name: str, dims) -> str:
    """A panel-title note naming the plotted axes the rule does not read."""
    if USES_AXIS not in ds.coords:
        return ""
    axes = [str(a) for a in ds[AXIS].values]
    unused = [SYMBOLS.get(d, d) for d in dims
              if d in axes and not bool(ds[USES_AXIS].sel({OPTIMIZER: name, AXIS: d}))]
    return f"\n(does not read {', '.join(unused)})" if unused else ""


def _colorbar(fig, axes, norm, cmap, label, extend, shrink=0.9):
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=label, extend=extend,
                       shrink=shrink, pad=0.02)
    return bar


def _seeds_text(ds, replicates: list[str], how: str) -> str:
    """``median over 3 seeds`` (empty without replicates)."""
    return "; ".join(f"{WORDS[how]} over {ds.sizes[d]} {SYMBOLS.get(d, d)}s" for d in replicates)


def _describe(ds, reduced: list[str], how: str, selected: dict,
              replicates: tuple = ((), "median")) -> str:
    parts = []
    seeds_text = _seeds_text(ds, list(replicates[0]), replicates[1])
    if seeds_text:
        parts.append(seeds_text)
    swept = [d for d in reduced if d in ds.dims and ds.sizes[d] > 1 and d not in replicates[0]]
    if swept:
        word = WORDS[how] if how != "min" else "min"
        parts.append(f"{'then ' if seeds_text else ''}{word} over "
                     f"{', '.join(SYMBOLS.get(d, d) for d in swept)}")
    for dim, value in selected.items():
        parts.append(f"{SYMBOLS.get(dim, dim)} = {_fmt(value)}")
    return "; ".join(parts)


def _facet_label(ds, by: str, value) -> str:
    """``start 1: θ₀ = (1, 4)``, or ``seed 3``."""
    text = f"{SYMBOLS.get(by, by)} {_fmt(value)}"
    if by == START and X0 in ds.coords:
        point = ds[X0].sel({START: value}).values
        text += ": θ₀ = (" + ", ".join(_fmt(v) for v in point[:4]) + \
            (", …" if len(point) > 4 else "") + ")"
    return text


def _title(ds, found: Metric) -> str:
    objective = ds.attrs.get(OBJECTIVE, "")
    steps = ds.attrs.get(STEPS)
    where = f" on {objective}" if objective else ""
    when = f", {int(steps):,} steps" if steps is not None else ""
    return f"{found.label}{where}{when}"


# --- heatmap ---------------------------------------------------------------------

def heatmap(ds: xr.Dataset, x: str = "alpha", y: str = "beta1", metric: str | None = None,
            reduce: str = "best", select: dict | None = None, *, seeds: str | None = None,
            optimizers=None, floor: float | None = None, cmap=None, ncols: int | None = None,
            title: str | None = None, panel_size=(3.3, 2.8), by: str | None = None):
    """One heatmap of ``metric`` over ``x`` × ``y`` per optimizer, on one colour scale.

    Args:
        ds: a sweep's dataset.
        x, y: the plotted axes (any grid dimension; hyperparameters usually).
        metric: ``final_loss``, ``best_loss``, ``distance``, ``steps_to_tol``,
            ``diverged`` (with ``reduce="mean"``: the share that diverged), a model's
            ``test_error``, ``test_loss``, ``train_error`` (or ``test_accuracy``, higher
            is better), or any per-cell variable. Default: a model's test error, else
            the final loss (:func:`sweep.sensitivity.default_metric`).
        reduce: how the other axes are reduced, after the seeds: ``best`` (= ``min``),
            ``median``, ``mean``, ``max`` (the worst).
        seeds: how replicate axes (``seed``) are summarised, cell by cell, before
            ``reduce``: ``median`` (default; ``mean`` for ``diverged``), ``mean``,
            ``best``, ``max``. Select a seed (``select={"seed": 0}``) or facet by it
            (``by="seed"``) to see one.
        select: ``{axis: value}``: the nearest value of these axes instead of a
            reduction (``{"beta2": 0.999, "start": 0}``).
        optimizers: the facets (default: every optimizer in ``ds``).
        floor: losses below it are drawn at it (default 1e-16·max(1, ``|f*|``)).
        cmap: a matplotlib colour map (default viridis; Reds for ``diverged``).
        ncols: facets per row (default up to 4; with ``by``, one per optimizer).
        title: the figure's title (default: the metric, objective and steps).
        by: an axis not plotted (``"start"``) to facet by instead of reducing it: a
            row of panels per value, a column per optimizer.

    A ``diverged`` panel where nothing diverged says so in its middle.

    Returns:
        the Figure.
    """
    _pyplot()  # first: without matplotlib nothing else matters
    _check_reduce(reduce)
    metric = metric or default_metric(ds)
    found = _metric(ds, metric, floor)
    seeds = _seeds_default(found, seeds)
    for dim in (x, y):
        if dim not in found.values.dims or dim == OPTIMIZER:
            axes = [d for d in found.values.dims if d != OPTIMIZER]
            raise PlotError(f"unknown axis {dim!r} (axes: {', '.join(axes)})")
    if x == y:
        raise PlotError(f"x and y are both {x!r}")
    if by is not None:
        if by not in found.values.dims or by in (OPTIMIZER, x, y):
            axes = [d for d in found.values.dims if d not in (OPTIMIZER, x, y)]
            raise PlotError(f"by = {by!r}: must be an axis not plotted (axes: {', '.join(axes)})")
        if by in (select or {}):
            raise PlotError(f"by = {by!r}: is also selected")
    names = _optimizers(ds, optimizers)
    ranked = _ranked(found).sel({OPTIMIZER: names})
    ranked = _select(ranked, select, (OPTIMIZER, x, y) + ((by,) if by else ()))
    selected = {d: ranked[d].values.item() for d in (select or {})}
    ranked, replicates = _over_replicates(ranked, seeds, found.censor, (x, y, by))
    reduced = [d for d in ranked.dims if d not in (OPTIMIZER, x, y, by)]
    keep = [OPTIMIZER, by, y, x] if by else [OPTIMIZER, y, x]
    table = _reduce(ranked, keep, reduce, found.censor)
    table = table.copy(data=_unranked(found, table.values))
    # Facets: one per optimizer, or (by=) a row per value of ``by`` and a column per optimizer.
    rows = [None] if by is None else list(ranked[by].values)
    facets = [(name, value) for value in rows for name in names]
    grids = [table.sel({OPTIMIZER: n, **({by: v} if by else {})}).values for n, v in facets]
    norm, extend = _norm(found, grids)
    cmap = _colormap(found, cmap)

    ncols = len(names) if by else (ncols or min(len(names), 4))
    nrows = math.ceil(len(facets) / ncols)
    fig = _figure(figsize=(panel_size[0] * ncols + 1.3, panel_size[1] * nrows + 1.0
                           + (0.25 * nrows if by else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    used = []
    for i, ((name, value), grid) in enumerate(zip(facets, grids)):
        ax = axes.flat[i]
        row, col = divmod(i, ncols)
        last_in_column = i + ncols >= len(facets)
        _mesh(ax, ds, x, y, grid, norm, cmap, found.censor, label_x=last_in_column,
              label_y=col == 0)
        # sharex hides the tick labels of every row but the last: a panel with none below
        # it in a shorter last row needs them back.
        ax.tick_params(labelbottom=last_in_column)
        facet = "" if by is None else "\n" + _facet_label(ds, by, value)
        ax.set_title(name + facet + _ignored(ds, name, (x, y) + ((by,) if by else ())),
                     fontsize="medium")
        # A map of one flat colour says what it means.
        empty = None
        if metric == "diverged" and not np.any(np.nan_to_num(grid) > 0):
            empty = "nothing diverged"
        elif found.censor is not None and not np.any(np.isfinite(grid) & (grid != found.censor)):
            empty = "no cell reached tol"
        if empty:
            ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center",
                    fontsize="small", bbox={"facecolor": "white", "alpha": 0.8,
                                            "edgecolor": "none"})
        used.append(ax)
    for ax in axes.flat[len(facets):]:
        ax.set_visible(False)
    label = _bar_label(found, extend)
    if metric == "diverged" and reduce in ("mean", "median"):
        label = "share of cells that diverged" if reduce == "mean" else "diverged (median)"
    _colorbar(fig, used, norm, cmap, label, extend)
    subtitle = _describe(ds, reduced, reduce, selected, (replicates, seeds))
    fig.suptitle(title or _title(ds, found) + (f"\n{subtitle}" if subtitle else ""),
                 fontsize="medium")
    _figure_legend(fig, grids, found)
    return fig


# --- pairs -------------------------------------------------------------------------

def pairs(ds: xr.Dataset, metric: str | None = None, *, optimizer: str | None = None,
          reduce: str = "best", select: dict | None = None, axes=None, seeds: str | None = None,
          floor: float | None = None, cmap=None, panel_size=2.4):
    """A corner matrix of heatmaps: ``metric`` over every pair of swept axes, for one optimizer.

    The panel in row i, column j shows axes[j] (x) against axes[i + 1] (y), the
    other axes reduced by ``reduce`` (or selected), all on one colour scale.

    Args:
        optimizer: which optimizer (required when ``ds`` has several).
        axes: the axes to pair (default: every hyperparameter axis with more than one value).
        reduce, select, seeds, floor, cmap: as in :func:`heatmap`.
    """
    _pyplot()  # first: without matplotlib nothing else matters
    _check_reduce(reduce)
    metric = metric or default_metric(ds)
    found = _metric(ds, metric, floor)
    seeds = _seeds_default(found, seeds)
    names = _optimizers(ds, None)
    if optimizer is None:
        if len(names) > 1:
            raise PlotError(f"pairs: the result has {len(names)} optimizers "
                            f"({', '.join(names)}); name one with optimizer=")
        optimizer = names[0]
    _optimizers(ds, [optimizer])
    axes = list(axes) if axes is not None else swept_axes(ds)
    axes = [a for a in axes if a not in (select or {})]
    if len(axes) < 2:
        raise PlotError(f"pairs needs two swept axes; this result sweeps "
                        f"{', '.join(axes) or 'none'}")
    ranked = _ranked(found).sel({OPTIMIZER: [optimizer]})
    ranked = _select(ranked, select, (OPTIMIZER,))
    selected = {d: ranked[d].values.item() for d in (select or {})}
    ranked, replicates = _over_replicates(ranked, seeds, found.censor, axes)
    panels = {}
    for i in range(1, len(axes)):
        for j in range(i):
            x, y = axes[j], axes[i]
            panels[i - 1, j] = _unranked(found, _reduce(ranked, [OPTIMIZER, y, x], reduce,
                                                        found.censor).values[0])
    grids = list(panels.values())
    norm, extend = _norm(found, grids)
    cmap = _colormap(found, cmap)
    n = len(axes) - 1
    fig = _figure(figsize=(panel_size * n + 1.4, panel_size * n + 0.9))
    grid_axes = fig.subplots(n, n, squeeze=False)
    used = []
    for (row, col), grid in panels.items():
        ax = grid_axes[row, col]
        _mesh(ax, ds, axes[col], axes[row + 1], grid, norm, cmap, found.censor,
              label_x=row == n - 1, label_y=col == 0)
        if row != n - 1:
            ax.tick_params(labelbottom=False)
        if col != 0:
            ax.tick_params(labelleft=False)
        used.append(ax)
    for row in range(n):
        for col in range(row + 1, n):
            grid_axes[row, col].set_visible(False)
    _colorbar(fig, used, norm, cmap, _bar_label(found, extend), extend, shrink=0.6)
    others = [d for d in ranked.dims if d != OPTIMIZER and d not in axes]
    word = WORDS[reduce]
    seeds_text = _seeds_text(ds, replicates, seeds)
    subtitle = (f"{seeds_text}, then " if seeds_text else "") + \
        f"each panel: {word} over the axes it does not show" + \
        (f" (and {', '.join(SYMBOLS.get(d, d) for d in others if ds.sizes[d] > 1)})"
         if any(ds.sizes[d] > 1 for d in others) else "") + \
        (f"; {'; '.join(f'{SYMBOLS.get(d, d)} = {_fmt(v)}' for d, v in selected.items())}"
         if selected else "")
    fig.suptitle(f"{optimizer}: {_title(ds, found)}" + (f"\n{subtitle}" if subtitle else ""),
                 fontsize="medium")
    _figure_legend(fig, grids, found)
    return fig


# --- sensitivity bars --------------------------------------------------------------

def sensitivity_bars(result: xr.Dataset, *, title: str | None = None, panel_size=(3.0, 3.0)):
    """Bars of the main and total effects of :func:`sweep.sensitivity.sensitivity`, one panel
    per optimizer on one 0–1 scale; the total bar (light) contains the main bar (dark)."""
    _pyplot()
    from matplotlib.patches import Patch

    names = [str(o) for o in result[OPTIMIZER].values]
    axes_names = [str(a) for a in result["axis"].values]
    labels = [str(v) for v in result["label"].values] if "label" in result.coords else axes_names
    short = [SYMBOLS.get(a, labels[i]) for i, a in enumerate(axes_names)]
    ncols = min(len(names), 4)
    nrows = math.ceil(len(names) / ncols)
    fig = _figure(figsize=(max(panel_size[0], 0.55 * len(short) + 1.0) * ncols + 0.4,
                           panel_size[1] * nrows + 1.1))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    colors = _optimizer_colors(names)
    positions = np.arange(len(short))
    for i, name in enumerate(names):
        ax = axes.flat[i]
        main = result["main"].sel({OPTIMIZER: name}).values
        total = result["total"].sel({OPTIMIZER: name}).values
        color = colors[name]
        ax.bar(positions, np.nan_to_num(total), width=0.7, color=color, alpha=0.3,
               edgecolor=color, linewidth=1.0, gid="total")
        ax.bar(positions, np.nan_to_num(main), width=0.4, color=color, gid="main")
        if np.isnan(total).all():
            ax.text(0.5, 0.5, "constant response:\nno variance to explain",
                    transform=ax.transAxes, ha="center", va="center", fontsize="small")
        ax.set_xticks(positions, short)
        ax.set_ylim(0, 1.05)
        ax.set_title(name)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if i % ncols == 0:
            ax.set_ylabel("share of Var(Y)")
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    grey = "#555555"
    fig.legend(handles=[Patch(facecolor=grey, label="main effect (the axis alone)"),
                        Patch(facecolor=grey, alpha=0.3, edgecolor=grey,
                              label="total effect (with its interactions)")],
               loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    attrs = result.attrs
    response = attrs.get("response", attrs.get("metric", ""))
    objective = attrs.get(OBJECTIVE, "")
    heading = title or f"Sensitivity of {response}" + (f" on {objective}" if objective else "")
    treatment = attrs.get("treatment", "")
    fig.suptitle(heading + (f"\n{treatment}" if treatment else ""), fontsize="medium")
    return fig
