"""One-axis figures: a metric against one swept axis, one line per optimizer.

The figure of most optimizer papers ("test error against α, one line per
optimizer"), and the one a study needs to read an axis' effect: at each value of
the axis, the best over every other axis (a *profile*), or a chosen slice of them.

How a point is made, per optimizer and value x of the axis:

1. Replicates (``seed``) are summarised cell by cell (``seeds="median"``, as in
   :func:`sweep.plot.heatmap`): every configuration gets one value.
2. The other axes are reduced (``reduce="best"``: the configuration whose summary is
   the best; ``"median"``, ``"mean"``, ``"max"``), or fixed (``select``).
3. The band spans the seeds: with ``best``/``max``, the smallest to the largest seed
   of the very configuration the line takes; with ``median``/``mean``, the smallest to
   the largest of the per-seed reductions. A seed that diverged takes the band to the
   top of the axes; a point whose summary diverged is a red ✕ at the top.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..names import OPTIMIZER
from ..sensitivity import default_metric, metric as _metric
from .common import (NOT_REACHED_COLOR, PlotError, _distinct_labels, _figure,
                     _label, _optimizer_colors, _optimizers, _pyplot, _ranked, _unranked)
from .grid import (_axis_mode, _check_reduce, _describe, _ignored, _over_replicates,
                   _reduce, _seeds_default, _select, _title)


def _pick(summary: xr.DataArray, keep: list[str], how: str) -> np.ndarray:
    """Per point of ``keep``: the flat index over the other dims of the best (``best``,
    ``min``) or worst (``max``) value of ``summary``; -1 where every value is NaN."""
    rest = [d for d in summary.dims if d not in keep]
    flat = summary.transpose(*keep, *rest).values.reshape([summary.sizes[d] for d in keep] + [-1])
    if how == "max":
        filled = np.where(np.isnan(flat), -np.inf, flat)
        index = np.argmax(filled, axis=-1)
    else:
        filled = np.where(np.isnan(flat), np.inf, flat)
        # argmin takes the first of ties: +inf (diverged) ties with NaN here, so check.
        index = np.argmin(filled, axis=-1)
    return np.where(np.isnan(flat).all(axis=-1), -1, index)


def _points(ranked: xr.DataArray, x: str, reduce: str, seeds: str, censor):
    """(line, low, high, replicates): (optimizers, x) ranks of the line and of the band."""
    summary, replicates = _over_replicates(ranked, seeds, censor, (x,))
    keep = [OPTIMIZER, x]
    rest = [d for d in summary.dims if d not in keep]
    if not replicates:
        line = _reduce(summary, keep, reduce, censor).values
        return line, line, line, replicates
    per_seed_dims = [d for d in ranked.dims if d not in summary.dims]  # seed, size 1 too
    if reduce in ("best", "min", "max") and rest:
        index = _pick(summary, keep, reduce)
        flat = summary.transpose(*keep, *rest).values.reshape(index.shape + (-1,))
        seeds_flat = ranked.transpose(*keep, *rest, *per_seed_dims).values.reshape(
            index.shape + (flat.shape[-1], -1))
        safe = np.maximum(index, 0)
        line = np.take_along_axis(flat, safe[..., None], -1)[..., 0]
        chosen = np.take_along_axis(seeds_flat, safe[..., None, None], -2)[..., 0, :]
        line = np.where(index >= 0, line, np.nan)
    else:
        line = _reduce(summary, keep, reduce, censor).values
        chosen = _reduce(ranked, keep + per_seed_dims, reduce, censor).values.reshape(
            line.shape + (-1,))
    with np.errstate(invalid="ignore"):
        low = np.nanmin(np.where(np.isnan(chosen), np.inf, chosen), axis=-1)
        high = np.nanmax(np.where(np.isnan(chosen), -np.inf, chosen), axis=-1)
    low = np.where(np.isinf(low) & (low < 0), np.nan, low)
    high = np.where(np.isneginf(high), np.nan, high)
    return line, low, high, replicates


def profile(ds: xr.Dataset, x: str = "alpha", metric: str | None = None, reduce: str = "best",
            select: dict | None = None, *, seeds: str | None = None, optimizers=None,
            band: bool = True, yscale: str | None = None, floor: float | None = None,
            ax=None, title: str | None = None):
    """``metric`` against the axis ``x``, one line per optimizer, the seeds as a band.

    Args:
        ds: a sweep's dataset.
        x: a grid dimension with more than one value (a hyperparameter usually); drawn on
            a log axis where its coordinate says ``scale = "log"``.
        metric: as in :func:`sweep.plot.heatmap` (default: a model's test error, else the
            final loss).
        reduce: how the axes neither drawn nor selected are reduced at each x: ``best``
            (default: the profile, the best configuration at each x), ``median``,
            ``mean``, ``max`` (the worst). See the module's docstring.
        select: ``{axis: value}``, nearest value: a slice instead of a reduction.
        seeds: the summary over replicates (``median`` by default, ``mean`` for
            ``diverged``; ``best``, ``max``); the band spans the seeds.
        optimizers: the lines (default: every optimizer).
        band: draw the seeds' band.
        yscale: ``"log"`` or ``"linear"``; default log for losses and distance when every
            value is positive, linear for errors and shares.
        floor: as in :func:`sweep.sensitivity.metric`.
        ax: draw into these axes (their figure is returned).
        title: replaces the default title.

    Returns:
        the Figure. Each line's ``gid`` is its optimizer's name; its y data are the
        metric's values (NaN where the point diverged or has no value).
    """
    _pyplot()
    _check_reduce(reduce)
    metric = metric or default_metric(ds)
    found = _metric(ds, metric, floor)
    seeds = _seeds_default(found, seeds)
    if x not in found.values.dims or x == OPTIMIZER:
        axes = [d for d in found.values.dims if d != OPTIMIZER]
        raise PlotError(f"unknown axis {x!r} (axes: {', '.join(axes)})")
    if x in (select or {}):
        raise PlotError(f"select: {x} is plotted and cannot also be selected")
    if ds.sizes[x] < 2:
        raise PlotError(f"{x} has one value ({ds[x].values[0]}): nothing to draw a line over")
    if yscale not in (None, "log", "linear"):
        raise PlotError(f'yscale = {yscale!r}: must be "log" or "linear"')
    names = _optimizers(ds, optimizers)
    ranked = _ranked(found).sel({OPTIMIZER: names})
    ranked = _select(ranked, select, (OPTIMIZER, x))
    selected = {d: ranked[d].values.item() for d in (select or {})}
    line, low, high, replicates = _points(ranked, x, reduce, seeds, found.censor)
    line, low, high = (_unranked(found, v) for v in (line, low, high))
    if found.higher_is_better:  # negating swapped the band's ends; a diverged seed is worst
        low, high = np.where(np.isposinf(high), -np.inf, high), low

    if ax is None:
        fig = _figure(figsize=(7.0, 4.6))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    mode = _axis_mode(ds, x)
    values = ds[x].values
    positions = np.arange(len(values)) if mode == "index" else values.astype(np.float64)
    colors = _optimizer_colors(names)
    diverged_points, not_reached_points = [], []
    for o, name in enumerate(names):
        y = np.asarray(line[o], dtype=np.float64)
        lost = np.isposinf(y)
        missing = (y == found.censor) if found.censor is not None else np.zeros_like(lost)
        shown = np.where(lost | missing, np.nan, y)
        note = _ignored(ds, name, (x,)).strip().strip("()")
        ax.plot(positions, shown, marker="o", markersize=3.5, color=colors[name],
                label=name + (f" ({note})" if note else ""), gid=name)
        # Which optimizer diverged is told by the marker's colour (the ✕ itself says diverged).
        diverged_points += [(p, colors[name]) for p in positions[lost]]
        not_reached_points += [(p, colors[name]) for p in positions[missing & ~lost]]
    finite = np.concatenate([np.ravel(v)[np.isfinite(np.ravel(v))] for v in (line, low, high)]
                            + [np.empty(0)])
    if found.censor is not None:
        finite = finite[finite != found.censor]
    if yscale is None:
        yscale = "log" if found.logged and finite.size and finite.min() > 0 else "linear"
    ax.set_yscale(yscale)
    if mode == "log":
        ax.set_xscale("log")
    if mode == "index" or len(values) <= 6:
        ax.set_xticks(positions, _distinct_labels(values))
        ax.xaxis.set_minor_locator(_null())
    drawn = band and bool(replicates)
    if drawn:
        _bands(ax, positions, names, colors, low, high, found.censor)
    _mark_top(ax, diverged_points, not_reached_points)
    if found.name == "diverged":  # a share: its whole range, and a flat 0 says what it means
        ax.set_ylim(-0.03, 1.03)
        if not np.any(np.nan_to_num(np.asarray(line, dtype=np.float64)) > 0):
            ax.text(0.5, 0.5, "nothing diverged", transform=ax.transAxes, ha="center",
                    va="center", fontsize="small",
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.set_xlabel(_label(ds, x))
    better = "higher" if found.higher_is_better else "lower"
    label = found.label if found.name != "diverged" else \
        ("share of cells that diverged" if reduce == "mean" else f"diverged ({reduce})")
    ax.set_ylabel(f"{label}\n({better} is better)")
    ax.grid(alpha=0.3, which="major")
    ax.set_axisbelow(True)
    _legend(ax, diverged_points, not_reached_points)
    reduced = [d for d in ranked.dims if d not in (OPTIMIZER, x) and d not in replicates]
    subtitle = _describe(ds, reduced, reduce, selected, (replicates, seeds))
    if drawn:
        subtitle += ("; " if subtitle else "") + "band: the seeds, smallest to largest"
    ax.set_title(title or f"{_title(ds, found)}\n{_wrap(subtitle)}", fontsize="medium")
    return fig


def _null():
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, 72)


def _bands(ax, positions, names, colors, low, high, censor) -> None:
    """The seeds' bands. An end at ±inf (a seed diverged) reaches the axes' edge; a
    seed that never reached tol (``censor``) is left out of the band."""
    def clean(v):
        v = np.asarray(v, dtype=np.float64)
        return np.where(v == censor, np.nan, v) if censor is not None else v

    low, high = clean(low), clean(high)
    for ends in (low, high):  # the finite ends count in the axes' limits
        for o in range(len(names)):
            ax.plot(positions, np.where(np.isfinite(ends[o]), ends[o], np.nan), alpha=0,
                    label="_nolegend_")
    bottom, top = ax.get_ylim()
    for o, name in enumerate(names):
        lo = np.where(np.isneginf(low[o]), bottom, low[o])
        hi = np.where(np.isposinf(high[o]), top, high[o])
        ax.fill_between(positions, lo, hi, color=colors[name], alpha=0.18, linewidth=0,
                        gid=f"band:{name}")
    ax.set_ylim(bottom, top)


def _mark_top(ax, diverged, not_reached) -> None:
    """Points with no value, as markers along the top of the axes."""
    from matplotlib.transforms import blended_transform_factory

    top = blended_transform_factory(ax.transData, ax.transAxes)
    if diverged:
        ax.scatter([p for p, _ in diverged], np.full(len(diverged), 0.97), marker="x",
                   color=[c for _, c in diverged], s=45, linewidths=2.2, transform=top,
                   clip_on=False, zorder=5, gid="diverged")
    if not_reached:
        ax.scatter([p for p, _ in not_reached], np.full(len(not_reached), 0.97), marker="^",
                   color=NOT_REACHED_COLOR, edgecolor=[c for _, c in not_reached], s=40,
                   transform=top, clip_on=False, zorder=5, gid="not_reached")


def _legend(ax, diverged, not_reached) -> None:
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    if diverged:
        handles.append(Line2D([], [], marker="x", color="#555555", linestyle="none",
                              markeredgewidth=2))
        labels.append("diverged (in its optimizer's colour)")
    if not_reached:
        handles.append(Line2D([], [], marker="^", color=NOT_REACHED_COLOR,
                              markeredgecolor="#777777", linestyle="none"))
        labels.append("did not reach tol")
    ax.legend(handles, labels, fontsize="small", frameon=False)
