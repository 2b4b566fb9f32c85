"""Heatmaps of tables already reduced to two axes, side by side on one colour scale.

:func:`sweep.plot.heatmap` reduces one dataset and facets it by optimizer, all
facets over the same two axes. A study that compares two searches over
*different* axes (Adam's L2 coefficient beside AdamW's decoupled decay), or over
a derived axis, reduces each itself and draws the tables with
:func:`heatmap_panels`: the cells it shows are then exactly the numbers its
measure read. The conventions are :mod:`sweep.plot.grid`'s: +inf is a diverged
cell (its own colour, named in the legend), NaN a cell without a value, a
coordinate whose ``scale`` attribute is ``"log"`` a log axis.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .common import PlotError, _figure, _pyplot
from .grid import _colorbar, _figure_legend, _mesh


class _Found:
    """What :func:`sweep.plot.grid._legend_handles` reads of a metric."""
    censor = None


def _norm(grids: list[np.ndarray], scale: str, vmin, vmax):
    from matplotlib import colors

    finite = np.concatenate([g[np.isfinite(g)] for g in grids] + [np.empty(0)])
    low = float(finite.min()) if vmin is None and finite.size else vmin
    high = float(finite.max()) if vmax is None and finite.size else vmax
    if low is None or high is None:
        low, high = (1e-3, 1.0) if scale == "log" else (0.0, 1.0)
    if scale == "log":
        if low <= 0:
            raise PlotError(f"scale = 'log' needs values > 0 (the smallest is {low:g})")
        if low == high:
            low, high = low / 2, high * 2
        return colors.LogNorm(low, high)
    if low == high:
        low, high = low - 0.5, high + 0.5
    return colors.Normalize(low, high)


def _plain_log_ticks(bar, norm) -> None:
    """Label a log colour bar at 1, 2, 3, 5 × 10^k in plain numbers (0.06, 0.1, 0.2)."""
    from matplotlib.ticker import NullLocator

    low, high = np.floor(np.log10(norm.vmin)), np.ceil(np.log10(norm.vmax))
    ticks = [m * 10.0 ** k for k in np.arange(low, high + 1) for m in (1, 2, 3, 5)]
    ticks = [t for t in ticks if norm.vmin * (1 - 1e-9) <= t <= norm.vmax * (1 + 1e-9)]
    if len(ticks) >= 2:
        bar.set_ticks(ticks, labels=[f"{t:.3g}" for t in ticks])
        bar.ax.yaxis.set_minor_locator(NullLocator())


def heatmap_panels(panels: dict[str, xr.DataArray], *, label: str, scale: str = "linear",
                   vmin: float | None = None, vmax: float | None = None, cmap=None,
                   title: str | None = None, panel_size=(3.6, 3.0)):
    """One heatmap per table, in a row, on one colour scale.

    Args:
        panels: ``{panel title: table}``, each a 2-D DataArray with dims ``(y, x)``;
            its coordinates give the axes (``long_name`` labels them, ``scale = "log"``
            draws a log axis). The tables may have different axes.
        label: the colour bar's label (the metric and how it was reduced).
        scale: ``"linear"`` or ``"log"``: the colour scale, shared by every panel.
        vmin, vmax: the colour scale's ends (default: the smallest and largest finite
            value of all panels).
        cmap: a matplotlib colour map (default viridis).
        title: the figure's title.
        panel_size: (width, height) of a panel in inches.

    Returns:
        the Figure; ``fig.axes[i]`` is the i-th panel.
    """
    _pyplot()
    if scale not in ("linear", "log"):
        raise PlotError(f"scale = {scale!r}: must be 'linear' or 'log'")
    if not panels:
        raise PlotError("no panels to draw")
    for name, table in panels.items():
        if table.ndim != 2:
            raise PlotError(f"panel {name!r}: a table of two dims (y, x), not {table.dims}")
    grids = [np.asarray(t.values, dtype=np.float64) for t in panels.values()]
    norm = _norm(grids, scale, vmin, vmax)
    cmap = cmap or "viridis"
    fig = _figure(figsize=(panel_size[0] * len(panels) + 1.3, panel_size[1] + 1.0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, table), grid in zip(axes, panels.items(), grids):
        y, x = table.dims
        _mesh(ax, table, x, y, grid, norm, cmap, None)
        ax.set_title(name, fontsize="medium")
    extend = "neither"
    finite = np.concatenate([g[np.isfinite(g)] for g in grids] + [np.empty(0)])
    if finite.size and (finite.min() < norm.vmin or finite.max() > norm.vmax):
        extend = {(True, False): "min", (False, True): "max", (True, True): "both"}[
            (bool(finite.min() < norm.vmin), bool(finite.max() > norm.vmax))]
    bar = _colorbar(fig, list(axes), norm, cmap, label, extend)
    if scale == "log":
        _plain_log_ticks(bar, norm)
    if title:
        fig.suptitle(title, fontsize="medium")
    _figure_legend(fig, grids, _Found())
    return fig
