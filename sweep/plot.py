"""Figures of a sweep's dataset: heatmaps, pair matrices, sensitivity bars, trajectories
over the objective's contours, and their animation.

matplotlib is imported on first use (the ``plot`` extra: ``pip install 'sweep[plot]'``).
Every function returns a :class:`matplotlib.figure.Figure` that pyplot no longer
tracks: Jupyter shows it when it is a cell's value (once), a loop over many
figures leaks nothing, and ``fig.savefig(path)`` writes it.

Conventions shared by the heatmaps:

* An axis whose coordinate says ``scale = "log"`` is drawn on a log axis; an
  evenly spaced linear axis on a linear one; an unevenly spaced linear axis
  (β₂ = 0.9, 0.99, 0.999) as equally wide cells labelled with their values, so
  that no cell is a sliver.
* Axes that are neither plotted nor selected (``select={"beta2": 0.999}``,
  nearest value) are reduced: ``"best"``/``"min"`` (the best over the rest:
  all the metrics are lower-is-better), ``"median"``, ``"mean"``, ``"max"``.
  A diverged cell ranks worse than any value, so the best is diverged only
  when every cell reduced into it diverged, and the median when at least
  half did.
* Diverged cells are drawn in their own colour (``DIVERGED_COLOR``) and named
  in the figure's legend, never as a number; cells that never reached the
  tolerance (``steps_to_tol``) in another (``NOT_REACHED_COLOR``).
* Losses are shown as f − f* (when f* is known) on a log colour scale, floored
  at 1e-16·max(1, |f*|); without f*, f itself (symmetric-log when some values are ≤ 0).
* Facets (one per optimizer, or the panels of :func:`pairs`) share one colour scale.
"""
from __future__ import annotations

import itertools
import math
import re
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ConfigError
from .sensitivity import Metric, MetricError, metric as _metric

DIVERGED_COLOR = "#e8402f"  # a red outside every colour map used here
NOT_REACHED_COLOR = "#cfcfcf"
MINIMUM_COLOR = "#ffd21f"
REDUCTIONS = ("best", "min", "median", "mean", "max")
HYPER_AXES = ("alpha", "beta1", "beta2", "eps")
SYMBOLS = {"alpha": "α", "beta1": "β₁", "beta2": "β₂", "eps": "ε", "start": "start",
           "seed": "seed", "schedule": "schedule"}
OPTIMIZER = "optimizer"
# Colours follow the rules' registry order, so an optimizer keeps its colour across figures.
REGISTRY_ORDER = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                  "amsgrad", "adamw", "nadam", "adamax")
MATPLOTLIB_MISSING = "The matplotlib package is required for plotting: pip install 'sweep[plot]'"
MAX_FRAMES = 200  # animate(frames=None): every recorded step, thinned to this many


class PlotError(ConfigError, ValueError):
    """A request the dataset cannot satisfy: an unknown axis or metric, no trajectories.
    The command line reports it with exit status 2."""


# --- matplotlib, lazily -------------------------------------------------------

def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(MATPLOTLIB_MISSING) from None
    return plt


def _figure(**kwargs):
    """A new figure that pyplot forgets at once (see the module's docstring)."""
    plt = _pyplot()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plt.figure(layout="constrained", **kwargs)
    plt.close(fig)  # this leaves a bare canvas: give it one that can render (and measure)
    FigureCanvasAgg(fig)
    return fig


# --- the dataset's axes -----------------------------------------------------

def hyper_axes(ds: xr.Dataset) -> list[str]:
    """The hyperparameter axes of the dataset, in order."""
    names = [str(a) for a in ds["axis"].values] if "axis" in ds.coords else list(HYPER_AXES)
    return [a for a in names if a in ds.dims]


def swept_axes(ds: xr.Dataset) -> list[str]:
    """The hyperparameter axes with more than one value."""
    return [a for a in hyper_axes(ds) if ds.sizes[a] > 1]


def _label(ds, dim) -> str:
    return str(ds[dim].attrs.get("long_name", dim)) if dim in ds.coords else dim


def _fmt(value) -> str:
    if isinstance(value, (str, np.str_)):
        return str(value)
    value = float(value)
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e5:
        return str(int(value))
    text = f"{value:.3g}"
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], text)


def _distinct_labels(values) -> list[str]:
    """Tick labels with just enough digits to tell neighbours apart (0.9995 and 0.9999, not 1 and 1)."""
    if np.asarray(values).dtype.kind not in "fiu":
        return [str(v) for v in values]
    for digits in range(3, 13):
        texts = [re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2],
                        f"{float(v):.{digits}g}") for v in values]
        if len(set(texts)) == len(texts):
            return texts
    return texts


def _axis_mode(ds, dim) -> str:
    """``"log"``, ``"linear"`` (evenly spaced) or ``"index"`` (equal cells, value labels)."""
    values = ds[dim].values
    if values.dtype.kind not in "fiu" or values.size < 2:
        return "index"
    if ds[dim].attrs.get("scale") == "log" and values.min() > 0:
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
        if len(values) <= 6:  # few values: label them, not the decades between them
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

def _check_reduce(reduce: str) -> None:
    if reduce not in REDUCTIONS:
        raise PlotError(f"reduce = {reduce!r}: must be one of {', '.join(REDUCTIONS)}")


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


def _sel_one(da, dim, value):
    coord = da[dim].values
    if coord.dtype.kind in "fiu":
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise PlotError(f"select: {dim} = {value!r}: must be a number") from None
        return da.sel({dim: value}, method="nearest")
    if str(value) not in [str(c) for c in coord]:
        raise PlotError(f"select: {dim} = {value!r} is not in the result "
                        f"({', '.join(map(str, coord))})")
    return da.sel({dim: str(value)})


def _ranked(found: Metric) -> xr.DataArray:
    """The metric with diverged = +inf and never reached = the censor, so that ranks hold."""
    values = found.values
    if found.censor is not None:
        values = values.where(~found.not_reached, found.censor)
    return values.where(~found.diverged, np.inf)


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
    if "uses_axis" not in ds.coords:
        return ""
    axes = [str(a) for a in ds["axis"].values]
    unused = [SYMBOLS.get(d, d) for d in dims
              if d in axes and not bool(ds["uses_axis"].sel({OPTIMIZER: name, "axis": d}))]
    return f"\n(does not read {', '.join(unused)})" if unused else ""


def _colorbar(fig, axes, norm, cmap, label, extend, shrink=0.9):
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=label, extend=extend,
                       shrink=shrink, pad=0.02)
    return bar


def _describe(ds, reduced: list[str], how: str, selected: dict) -> str:
    parts = []
    swept = [d for d in reduced if d in ds.dims and ds.sizes[d] > 1]
    if swept:
        word = {"best": "best", "min": "min", "median": "median", "mean": "mean",
                "max": "worst"}[how]
        parts.append(f"{word} over {', '.join(SYMBOLS.get(d, d) for d in swept)}")
    for dim, value in selected.items():
        parts.append(f"{SYMBOLS.get(dim, dim)} = {_fmt(value)}")
    return "; ".join(parts)


def _title(ds, found: Metric) -> str:
    objective = ds.attrs.get("objective", "")
    steps = ds.attrs.get("steps")
    where = f" on {objective}" if objective else ""
    when = f", {int(steps):,} steps" if steps is not None else ""
    return f"{found.label}{where}{when}"


# --- heatmap ---------------------------------------------------------------------

def heatmap(ds: xr.Dataset, x: str = "alpha", y: str = "beta1", metric: str = "final_loss",
            reduce: str = "best", select: dict | None = None, *, optimizers=None,
            floor: float | None = None, cmap=None, ncols: int | None = None,
            title: str | None = None, panel_size=(3.3, 2.8)):
    """One heatmap of ``metric`` over ``x`` × ``y`` per optimizer, on one colour scale.

    Args:
        ds: a sweep's dataset.
        x, y: the plotted axes (any grid dimension; hyperparameters usually).
        metric: ``final_loss``, ``best_loss``, ``distance``, ``steps_to_tol``,
            ``diverged`` (with ``reduce="mean"``: the share that diverged) or
            any per-cell variable.
        reduce: how the other axes are reduced: ``best`` (= ``min``), ``median``,
            ``mean``, ``max``.
        select: ``{axis: value}``: the nearest value of these axes instead of a
            reduction (``{"beta2": 0.999, "start": 0}``).
        optimizers: the facets (default: every optimizer in ``ds``).
        floor: losses below it are drawn at it (default 1e-16·max(1, |f*|)).
        cmap: a matplotlib colour map (default viridis; Reds for ``diverged``).
        ncols: facets per row (default up to 4).
        title: the figure's title (default: the metric, objective and steps).

    Returns:
        the Figure.
    """
    _pyplot()  # first: without matplotlib nothing else matters
    _check_reduce(reduce)
    found = _metric(ds, metric, floor)
    for dim in (x, y):
        if dim not in found.values.dims or dim == OPTIMIZER:
            axes = [d for d in found.values.dims if d != OPTIMIZER]
            raise PlotError(f"unknown axis {dim!r} (axes: {', '.join(axes)})")
    if x == y:
        raise PlotError(f"x and y are both {x!r}")
    names = _optimizers(ds, optimizers)
    ranked = _ranked(found).sel({OPTIMIZER: names})
    ranked = _select(ranked, select, (OPTIMIZER, x, y))
    selected = {d: ranked[d].values.item() for d in (select or {})}
    reduced = [d for d in ranked.dims if d not in (OPTIMIZER, x, y)]
    table = _reduce(ranked, [OPTIMIZER, y, x], reduce, found.censor)
    grids = [table.sel({OPTIMIZER: n}).values for n in names]
    norm, extend = _norm(found, grids)
    cmap = _colormap(found, cmap)

    ncols = ncols or min(len(names), 4)
    nrows = math.ceil(len(names) / ncols)
    fig = _figure(figsize=(panel_size[0] * ncols + 1.3, panel_size[1] * nrows + 1.0))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    used = []
    for i, (name, grid) in enumerate(zip(names, grids)):
        ax = axes.flat[i]
        row, col = divmod(i, ncols)
        last_in_column = i + ncols >= len(names)
        _mesh(ax, ds, x, y, grid, norm, cmap, found.censor, label_x=last_in_column,
              label_y=col == 0)
        if not last_in_column:
            ax.tick_params(labelbottom=False)
        ax.set_title(name + _ignored(ds, name, (x, y)), fontsize="medium")
        used.append(ax)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    label = _bar_label(found, extend)
    if metric == "diverged" and reduce in ("mean", "median"):
        label = "share of cells that diverged" if reduce == "mean" else "diverged (median)"
    _colorbar(fig, used, norm, cmap, label, extend)
    subtitle = _describe(ds, reduced, reduce, selected)
    fig.suptitle(title or _title(ds, found) + (f"\n{subtitle}" if subtitle else ""),
                 fontsize="medium")
    _figure_legend(fig, grids, found)
    return fig


def _optimizers(ds, optimizers) -> list[str]:
    present = [str(o) for o in ds[OPTIMIZER].values] if OPTIMIZER in ds.dims else []
    if optimizers is None:
        return present
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    for name in optimizers:
        if name not in present:
            raise PlotError(f"optimizer {name!r} is not in the result ({', '.join(present)})")
    return list(optimizers)


# --- pairs -------------------------------------------------------------------------

def pairs(ds: xr.Dataset, metric: str = "final_loss", *, optimizer: str | None = None,
          reduce: str = "best", select: dict | None = None, axes=None,
          floor: float | None = None, cmap=None, panel_size=2.4):
    """A corner matrix of heatmaps: ``metric`` over every pair of swept axes, for one optimizer.

    The panel in row i, column j shows axes[j] (x) against axes[i + 1] (y), the
    other axes reduced by ``reduce`` (or selected), all on one colour scale.

    Args:
        optimizer: which optimizer (required when ``ds`` has several).
        axes: the axes to pair (default: every hyperparameter axis with more than one value).
        reduce, select, floor, cmap: as in :func:`heatmap`.
    """
    _pyplot()  # first: without matplotlib nothing else matters
    _check_reduce(reduce)
    found = _metric(ds, metric, floor)
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
    panels = {}
    for i in range(1, len(axes)):
        for j in range(i):
            x, y = axes[j], axes[i]
            panels[i - 1, j] = _reduce(ranked, [OPTIMIZER, y, x], reduce, found.censor).values[0]
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
    subtitle = _describe(ds, others, reduce, selected)
    word = {"best": "best", "min": "min", "median": "median", "mean": "mean", "max": "worst"}[reduce]
    subtitle = f"each panel: {word} over the axes it does not show" + \
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
    objective = attrs.get("objective", "")
    heading = title or f"Sensitivity of {response}" + (f" on {objective}" if objective else "")
    treatment = attrs.get("treatment", "")
    fig.suptitle(heading + (f"\n{treatment}" if treatment else ""), fontsize="medium")
    return fig


def _optimizer_colors(names) -> dict:
    # tab10 in the registry's order, without its grey (the contours are grey).
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
               "#bcbd22", "#d62728", "#393b79", "#ad494a"]
    order = list(REGISTRY_ORDER)
    colors = {}
    for i, name in enumerate(names):
        index = order.index(name) if name in order else i
        colors[name] = palette[index % len(palette)]
    return colors


# --- trajectories ------------------------------------------------------------------

class _Path:
    def __init__(self, optimizer, label, xy, steps, cell):
        self.optimizer, self.label, self.xy, self.steps, self.cell = optimizer, label, xy, steps, cell
        finite = np.isfinite(xy).all(axis=1)
        self.last = int(np.flatnonzero(finite)[-1]) if finite.any() else 0
        self.diverged_at = int(steps[self.last + 1]) if self.last + 1 < len(steps) else None


def _paths(ds: xr.Dataset, select: dict | None, optimizers) -> list[_Path]:
    """One path per optimizer and per combination of listed values in ``select``.

    ``select`` maps an axis to a value, a list of values, or ``{optimizer: value(s)}``.
    A hyperparameter axis left out is set, per optimizer, to its best cell (lowest final
    loss, diverged last); ``start``, ``seed`` and ``schedule`` left out take their first value.
    """
    if "trajectory" not in ds:
        raise PlotError("this result has no trajectories: run the sweep with record_every = k > 0 "
                        "([sweep] record_every in the grid file)")
    select = dict(select or {})
    if OPTIMIZER in select:
        optimizers = select.pop(OPTIMIZER)
    names = _optimizers(ds, optimizers)
    traj = ds["trajectory"]
    grid = [d for d in traj.dims if d not in (OPTIMIZER, "step", "dim")]
    for dim in select:
        if dim not in grid:
            raise PlotError(f"select: unknown axis {dim!r} (axes: {', '.join(grid)})")
    hyper = hyper_axes(ds)
    found = _ranked(_metric(ds, "final_loss"))
    uses = ds["uses_axis"] if "uses_axis" in ds.coords else None
    steps = ds["step"].values
    paths = []
    for name in names:
        lists = {}
        for dim in grid:
            value = select.get(dim)
            if isinstance(value, dict):
                value = value.get(name)
            if value is None:
                if dim not in hyper:
                    lists[dim] = [ds[dim].values[0]]
                continue
            lists[dim] = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
        seen = set()
        for combo in itertools.product(*lists.values()):
            score = found.sel({OPTIMIZER: name})
            for dim, value in zip(lists, combo):
                score = _sel_one(score, dim, value)
            free = [d for d in score.dims if d in grid]
            if free:  # the best cell over the axes left free
                flat = score.transpose(*free).values.ravel()
                ordered = np.where(np.isnan(flat), np.inf, flat)
                index = np.unravel_index(int(np.argmin(ordered)), [score.sizes[d] for d in free])
                score = score.isel(dict(zip(free, index)))
            cell = {d: score[d].values.item() for d in grid}
            key = tuple(cell.values())
            if key in seen:
                continue
            seen.add(key)
            xy = traj.sel({OPTIMIZER: name, **cell}).transpose("step", "dim").values
            parts = []
            for dim in hyper:
                if uses is not None and not bool(uses.sel({OPTIMIZER: name, "axis": dim})):
                    continue
                parts.append(f"{SYMBOLS.get(dim, dim)}={_fmt(cell[dim])}")
            for dim in grid:
                if dim not in hyper and ds.sizes[dim] > 1 and dim != "start":
                    parts.append(f"{dim} {_fmt(cell[dim])}")
            paths.append(_Path(name, f"{name}  " + ", ".join(parts), np.asarray(xy, float),
                               steps, cell))
    starts = {p.cell.get("start") for p in paths}
    if len(starts) > 1:
        for p in paths:
            p.label += f", start {p.cell['start']}"
    return paths


def _problem(ds: xr.Dataset, problem):
    """(Problem or None, a note saying why there are no contours)."""
    if problem is not None:
        if hasattr(problem, "value_and_grad"):
            return problem, ""
        from .objectives import ObjectiveSpec, resolve

        if isinstance(problem, ObjectiveSpec):
            return resolve(problem), ""
        raise PlotError("problem= must be a kernels.objectives.Problem or an ObjectiveSpec")
    kind = ds.attrs.get("objective_kind", "builtin")
    name = ds.attrs.get("objective")
    if kind != "builtin" or not name:
        return None, f"no contours: a {kind} objective is not rebuilt from a result (pass problem=)"
    try:
        from kernels.objectives import problem as build

        return build(name, **_parse_params(ds.attrs.get("objective_params", ""))), ""
    except Exception as error:  # an unknown name or parameter: plot without contours
        return None, f"no contours: cannot rebuild {name!r} ({error})"


def _parse_params(text: str) -> dict:
    params = {}
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        key, _, value = item.partition("=")
        value = value.strip()
        try:
            params[key.strip()] = int(value)
        except ValueError:
            params[key.strip()] = float(value)
    return params


def _evaluate(problem, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """f over a grid of points: vectorised when the function allows it, else point by point."""
    points = np.stack([X.ravel(), Y.ravel()])
    grad = np.empty_like(points)
    with np.errstate(all="ignore"):
        try:
            values = np.asarray(problem.value_and_grad(points, grad, 1.0, 0), dtype=np.float64)
            if values.shape == (points.shape[1],):
                return values.reshape(X.shape)
        except Exception:  # scalar-only code (math.cos, branches): one point at a time
            pass
        x, g = np.empty(2), np.empty(2)
        out = np.empty(points.shape[1])
        for i in range(points.shape[1]):
            x[:] = points[:, i]
            out[i] = problem.value_and_grad(x, g, 1.0, 0)
    return out.reshape(X.shape)


def _limits(problem, paths, box=None) -> tuple:
    if box is not None:
        (x0, x1), (y0, y1) = box
    elif problem is not None and problem.box:
        (x0, x1), (y0, y1) = problem.box
    else:
        xy = np.concatenate([p.xy[: p.last + 1, :2] for p in paths])
        (x0, y0), (x1, y1) = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
        pad = 0.1 * max(x1 - x0, y1 - y0, 1e-3)
        x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    return (float(x0), float(x1)), (float(y0), float(y1))


def _draw_contours(ax, problem, xlim, ylim) -> str:
    from matplotlib import colors

    fine = 300 if _vectorises(problem) else 90
    X, Y = np.meshgrid(np.linspace(*xlim, fine), np.linspace(*ylim, fine))
    F = _evaluate(problem, X, Y)
    fstar = problem.minimum
    if math.isfinite(fstar):
        gap = F - fstar
        positive = gap[np.isfinite(gap) & (gap > 0)]
        if positive.size == 0:
            return "no contours: f − f* is 0 over the box"
        high = float(positive.max())
        low = max(float(np.quantile(positive, 0.002)), high * 1e-10)
        levels = np.logspace(math.log10(low), math.log10(high), 28)
        gap = np.clip(gap, low, None)
        ax.contourf(X, Y, gap, levels=levels, norm=colors.LogNorm(low, high), cmap="Greys_r",
                    alpha=0.35, extend="both")
        ax.contour(X, Y, gap, levels=levels[::3], colors="#5b6b7f", linewidths=0.5, alpha=0.6)
        return "contours: log-spaced levels of f − f*"
    finite = F[np.isfinite(F)]
    levels = np.linspace(float(finite.min()), float(finite.max()), 25)
    ax.contourf(X, Y, F, levels=levels, cmap="Greys_r", alpha=0.35)
    ax.contour(X, Y, F, levels=levels[::2], colors="#5b6b7f", linewidths=0.5, alpha=0.6)
    return "contours: evenly spaced levels of f (f* unknown)"


def _vectorises(problem) -> bool:
    X, Y = np.meshgrid(np.linspace(0.1, 0.9, 3), np.linspace(0.2, 0.8, 3))
    points = np.stack([X.ravel(), Y.ravel()])
    try:
        with np.errstate(all="ignore"):
            values = np.asarray(problem.value_and_grad(points, np.empty_like(points), 1.0, 0),
                                dtype=np.float64)
    except Exception:
        return False
    return values.shape == (points.shape[1],)


def _trajectory_figure(ds, select, optimizers, problem, title, figsize, legend, box=None):
    _pyplot()
    paths = _paths(ds, select, optimizers)
    if not paths:
        raise PlotError("no trajectory was selected")
    dim = ds.sizes.get("dim", 2)
    problem, note = _problem(ds, problem)
    if problem is not None and dim != 2:
        problem, note = None, f"no contours: the objective has {dim} coordinates (θ₀, θ₁ shown)"
    xlim, ylim = _limits(problem, paths, box)
    ratio = (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    equal = 1 / 3 < ratio < 3
    figsize_given = figsize
    if figsize is None:  # the axes 5.5 in wide (or 6 in tall), the legend beside them
        width = 5.5 if not equal or ratio <= 1.1 else 6.0 / ratio
        height = width * ratio if equal else 4.5
        figsize = (width + (4.0 if legend else 0.3), height + 0.9)
    fig = _figure(figsize=figsize)
    ax = fig.add_subplot()
    if problem is not None:
        note = _draw_contours(ax, problem, xlim, ylim)
        if problem.minimizers:
            mins = np.asarray(problem.minimizers)[:, :2]
            ax.plot(mins[:, 0], mins[:, 1], "*", markersize=16, color=MINIMUM_COLOR,
                    markeredgecolor="black", markeredgewidth=0.8, linestyle="none",
                    label="minimum", zorder=5)
    colors = _optimizer_colors([str(o) for o in ds[OPTIMIZER].values])
    styles = ["-", "--", ":", "-."]
    counts: dict[str, int] = {}
    lines, heads = [], []
    bound = ds.attrs.get("divergence_bound")
    beyond = f": |θᵢ| > {float(bound):.0e}".replace("e+0", "e").replace("e+", "e") \
        if bound is not None else ""
    for i, path in enumerate(paths):
        k = counts.get(path.optimizer, 0)
        counts[path.optimizer] = k + 1
        label = path.label + (f"\n    diverged{beyond} by step {path.diverged_at:,}"
                              if path.diverged_at is not None else "")
        # Earlier paths are wider, so that a path drawn over another leaves it visible.
        width = 1.8 + 1.4 * (len(paths) - 1 - i) / max(len(paths) - 1, 1)
        (line,) = ax.plot(path.xy[:, 0], path.xy[:, 1], styles[k % 4], lw=width,
                          color=colors[path.optimizer], label=label, zorder=3)
        end = path.xy[path.last]
        (head,) = ax.plot([end[0]], [end[1]], "x" if path.diverged_at is not None else "o",
                          color=colors[path.optimizer], markersize=7,
                          markeredgecolor="black" if path.diverged_at is None else None,
                          markeredgewidth=0.6, zorder=4)
        lines.append(line)
        heads.append(head)
    start = paths[0].xy[0]
    ax.plot([start[0]], [start[1]], "o", color="black", markersize=6, label="start θ₀", zorder=6)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    if equal:
        ax.set_aspect("equal")
    ax.set_xlabel("θ₀")
    ax.set_ylabel("θ₁")
    objective = ds.attrs.get("objective", "")
    steps = ds.attrs.get("steps")
    ax.set_title(title or f"{objective}" + (f", {int(steps):,} steps" if steps else ""))
    if note.startswith("no contours"):
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize="x-small", color="#555555")
    if legend:
        key = fig.legend(loc="outside right center", fontsize="small", frameon=False)
        if figsize_given is None:  # widen the figure by the legend's width, not shrink the axes
            try:
                extent = key.get_window_extent(fig.canvas.get_renderer())
                figsize = (figsize[0] - 4.0 + extent.width / fig.dpi + 0.4, figsize[1])
                fig.set_size_inches(*figsize)
            except AttributeError:  # a canvas without a renderer: keep the estimate
                pass
    return fig, ax, paths, lines, heads


def trajectories(ds: xr.Dataset, select: dict | None = None, *, optimizers=None, problem=None,
                 box=None, title: str | None = None, figsize=None):
    """Paths of several optimizers (or cells) from one start over the objective's contours.

    Args:
        ds: a sweep's dataset recorded with ``record_every`` (it has ``trajectory``).
        select: ``{axis: value | [values] | {optimizer: value(s)}}``: the cells to
            draw. A list draws one path per value; a dict gives each optimizer its
            own. Hyperparameters left out are set, per optimizer, to the cell with the
            lowest final loss; ``start`` (and ``seed``, ``schedule``) to the first value.
        optimizers: which optimizers (default: all).
        problem: the objective (a :class:`kernels.objectives.Problem` or an
            ``ObjectiveSpec``) for the contours; default: a built-in rebuilt from
            ``ds.attrs``. Without one, no contours (the figure says so).
        box: ``((xmin, xmax), (ymin, ymax))`` to show (default: the objective's box).
        figsize: inches (default: fitted to the box, the legend to the right).

    Contours are log-spaced levels of f − f* when f* is known, else evenly
    spaced levels of f; the minimizers are stars, the start a black dot, each
    path's end a dot (an × where it diverged). The legend names each optimizer
    and the hyperparameters it reads.
    """
    fig, *_ = _trajectory_figure(ds, select, optimizers, problem, title, figsize, legend=True,
                                 box=box)
    return fig


def animate(ds: xr.Dataset, select: dict | None = None, *, path="trajectories.gif", fps: int = 20,
            frames: int | None = None, optimizers=None, problem=None, box=None,
            title: str | None = None, figsize=None, dpi: int = 80) -> Path:
    """:func:`trajectories` growing step by step, written as a GIF (matplotlib + pillow).

    Args:
        path: the GIF to write.
        fps: frames per second.
        frames: how many frames, evenly spaced over the recorded steps (the last is
            always shown); default every recorded step, thinned to 200.
        select, optimizers, problem, box, title: as in :func:`trajectories`.

    Returns:
        the path written.
    """
    try:
        from matplotlib.animation import FuncAnimation, PillowWriter
        import PIL  # noqa: F401  (PillowWriter needs it)
    except ImportError as error:
        if "PIL" in str(error):
            raise ConfigError("The pillow package is required for animations: "
                              "pip install 'sweep[plot]'") from None
        raise ConfigError(MATPLOTLIB_MISSING) from None
    if fps < 1:
        raise PlotError(f"fps = {fps}: must be >= 1")
    fig, ax, paths, lines, heads = _trajectory_figure(ds, select, optimizers, problem, title,
                                                      figsize, legend=True, box=box)
    recorded = len(ds["step"])
    count = min(recorded, MAX_FRAMES) if frames is None else int(frames)
    if count < 1:
        raise PlotError(f"frames = {frames}: must be >= 1")
    indices = np.unique(np.linspace(0, recorded - 1, min(count, recorded)).round().astype(int))
    steps = ds["step"].values
    base = ax.get_title()
    for line, head in zip(lines, heads):
        line.set_data([], [])
        head.set_data([], [])

    def update(k):
        for p, line, head in zip(paths, lines, heads):
            upto = min(k, p.last)
            line.set_data(p.xy[: upto + 1, 0], p.xy[: upto + 1, 1])
            head.set_data([p.xy[upto, 0]], [p.xy[upto, 1]])
            if p.diverged_at is not None:
                head.set_marker("x" if k > p.last else "o")
        ax.set_title(f"{base} — step {int(steps[k]):,}")
        return lines + heads

    animation = FuncAnimation(fig, update, frames=list(indices), blit=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    exact = [line.get_color() for line in lines] + ["black", "white", MINIMUM_COLOR]
    animation.save(path, writer=_palette_writer(PillowWriter)(fps=fps, exact=exact), dpi=dpi)
    return path


def _palette_writer(PillowWriter):
    """PillowWriter with one palette for every frame that holds the paths' colours exactly.

    Pillow's adaptive palette, made per frame from mostly grey contours, merges thin
    lines of nearby colours (cyan into blue); undithered, the GIF is also far smaller.
    """
    from matplotlib.colors import to_rgb
    from PIL import Image

    class PaletteWriter(PillowWriter):
        def __init__(self, *, exact, **kwargs):
            super().__init__(**kwargs)
            self._exact = [tuple(round(255 * c) for c in to_rgb(color)) for color in exact]

        def finish(self):
            frames = [frame.convert("RGB") for frame in self._frames]
            fixed = list(dict.fromkeys(self._exact))
            rest = frames[-1].quantize(colors=256 - len(fixed), method=Image.Quantize.MEDIANCUT)
            colors = fixed + [tuple(rest.getpalette()[3 * i: 3 * i + 3])
                              for i in range(256 - len(fixed))]
            palette = Image.new("P", (1, 1))
            palette.putpalette([c for color in colors for c in color])
            frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
            frames[0].save(self.outfile, save_all=True, append_images=frames[1:],
                           duration=int(1000 / self.fps), loop=0)

    return PaletteWriter


__all__ = ["heatmap", "pairs", "sensitivity_bars", "trajectories", "animate", "swept_axes",
           "hyper_axes", "PlotError", "MetricError", "DIVERGED_COLOR", "NOT_REACHED_COLOR"]
