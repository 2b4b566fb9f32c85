"""Tuning-budget curves: the expected best of k random cells against k, per optimizer
(Schmidt, Schneider & Hennig 2021, *Descending through a Crowded Valley*)."""
from __future__ import annotations

import textwrap

import numpy as np

from ..names import OBJECTIVE, OPTIMIZER, REPLICATES
from ..sensitivity import metric as get_metric
from ..tuning import BUDGET, CELLS, expected_best
from .common import PlotError, _figure, _optimizer_colors, _optimizers, _pyplot


def default_budgets(cells: int) -> list[int]:
    """1, 2, 4, … up to ``cells``, and ``cells`` itself (the budget of one trial per cell)."""
    budgets = [2 ** p for p in range(int(cells).bit_length()) if 2 ** p <= cells]
    return budgets + ([int(cells)] if budgets[-1] != cells else [])


def tuning_curves(ds, metric: str, budgets=None, *, ax=None, over=None,
                  maximize: bool | None = None,
                  missing="worst", optimizers=None, yscale: str | None = None,
                  show_best: bool = True, title: str | None = None):
    """The expected best ``metric`` of k random cells against the budget k, one line per
    optimizer (:func:`sweep.tuning.expected_best`).

    Args:
        ds: a sweep's dataset.
        metric: a per-cell variable (``final_loss``, ``test_error``, …) with a value
            somewhere (a model's all-missing ``distance`` is refused).
        budgets: the k's, positive ints; default 1, 2, 4, … up to the largest number of
            distinct cells among the optimizers drawn, and that number.
        ax: draw into these axes (their figure is returned); default a new figure.
        over, maximize, missing: as for :func:`~sweep.tuning.expected_best`. Dims left out
            of ``over`` give one search each: the line is their mean and a band spans their
            smallest to largest. Default ``over``: every grid dim but the replicates
            (``seed``): a search is run per seed, never across seeds, whose best would be
            luck. Default ``maximize``: the metric's direction (lower is better for every
            variable a result holds).
        optimizers: the optimizers to draw (default all), in this order.
        yscale: ``"log"`` or ``"linear"``; default log when every value is > 0 and they
            span more than two decades.
        show_best: a dotted line at each optimizer's best cell, the limit k → ∞.
        title: replaces the default title.

    Returns:
        The :class:`matplotlib.figure.Figure`. The x axis is logarithmic: each doubling of
        the budget is one step.
    """
    _pyplot()
    names = _optimizers(ds, optimizers)
    found = get_metric(ds, metric)  # refuses an unknown metric, or one with no value
    if maximize is None:
        maximize = found.higher_is_better
    if over is None:
        over = [d for d in ds[metric].dims if d != OPTIMIZER and d not in REPLICATES]
    if budgets is None:
        first = expected_best(ds, metric, [1], over=over, maximize=maximize, missing=missing)
        most = int(first[CELLS].sel({OPTIMIZER: names}).max())
        if most < 1:
            raise PlotError(f"{metric}: no optimizer has a cell to draw")
        budgets = default_budgets(most)
    result = expected_best(ds, metric, budgets, over=over, maximize=maximize,
                           missing=missing).sel({OPTIMIZER: names})
    kept = [d for d in result.dims if d not in (OPTIMIZER, BUDGET)]
    # The limit k → ∞ is the best cell of each search: a budget so large every other
    # cell's chance of being the best underflows to 0.
    limits = expected_best(ds, metric, [2 ** 62], over=over, maximize=maximize,
                           missing=missing).isel({BUDGET: 0})
    if yscale not in (None, "log", "linear"):
        raise PlotError(f'yscale = {yscale!r}: must be "log" or "linear"')
    if ax is None:
        fig = _figure(figsize=(6.4, 4.4))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    colors = _optimizer_colors(names)
    ks = result[BUDGET].values
    with np.errstate(all="ignore"):
        for name in names:
            curve = result.sel({OPTIMIZER: name})
            cells = result[CELLS].sel({OPTIMIZER: name})
            n = int(cells.max()) if not kept or int(cells.min()) == int(cells.max()) else None
            label = f"{name} ({n} cells)" if n is not None else \
                f"{name} ({int(cells.min())}–{int(cells.max())} cells)"
            line = curve.mean(kept) if kept else curve
            ax.plot(ks, line.values, marker="o", markersize=3, color=colors[name], label=label,
                    gid=name)
            if kept:
                ax.fill_between(ks, curve.min(kept).values, curve.max(kept).values,
                                color=colors[name], alpha=0.15, linewidth=0)
            if show_best:
                limit = limits.sel({OPTIMIZER: name})
                limit = float(limit.mean(kept)) if kept else float(limit)  # averaged as the line
                if np.isfinite(limit):  # a search with nothing to draw has no best cell
                    ax.axhline(limit, color=colors[name], linestyle=":", linewidth=1.0,
                               alpha=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks], minor=False)
    ax.minorticks_off()
    values = result.values[np.isfinite(result.values)]
    if yscale is None:
        yscale = "log" if values.size and values.min() > 0 and values.max() > 100 * values.min() \
            else "linear"
    ax.set_yscale(yscale)
    ax.set_xlabel("budget k: cells drawn uniformly at random (with replacement)")
    better = "higher" if maximize else "lower"
    ax.set_ylabel(f"expected best {found.label}\n({better} is better)")
    ax.grid(alpha=0.3, which="major")
    ax.set_axisbelow(True)
    handles, labels = ax.get_legend_handles_labels()
    if show_best:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="#555555", linestyle=":", linewidth=1.0))
        labels.append("best cell (k → ∞)")
    ax.legend(handles, labels, fontsize="small", frameon=False)
    objective = ds.attrs.get(OBJECTIVE, "")
    heading = title or f"Expected best {metric} of k random cells" + \
        (f" on {objective}" if objective else "")
    finite = bool(np.isfinite(ds[metric].values.astype(np.float64)).all())
    notes = ["every cell has a value" if finite else result.attrs["missing"]]
    if kept:
        notes.append(f"line: mean over {', '.join(kept)}; band: smallest to largest")
    # Wrapped: one long line runs off a figure of ordinary width.
    notes = textwrap.fill("; ".join(notes), 80)
    ax.set_title(heading + "\n" + notes, fontsize="medium")
    return fig
