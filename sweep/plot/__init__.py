"""Figures of a sweep's dataset.

* :mod:`sweep.plot.grid`: over the grid — :func:`heatmap`, :func:`pairs`,
  :func:`sensitivity_bars`;
* :mod:`sweep.plot.lines`: a metric against one axis — :func:`profile`;
* :mod:`sweep.plot.panels`: tables already reduced to two axes, side by side on one
  colour scale — :func:`heatmap_panels`;
* :mod:`sweep.plot.paths`: over the objective's plane — :func:`trajectories`
  and :func:`animate` (a GIF);
* :mod:`sweep.plot.common`: what both share (colours, axes, selection).

matplotlib is imported on first use (the ``plot`` extra: ``pip install 'optimizer-sweep[plot]'``).
Every function returns a :class:`matplotlib.figure.Figure` that pyplot no longer
tracks: Jupyter shows it when it is a cell's value (once), a loop over many
figures leaks nothing, and ``fig.savefig(path)`` writes it.
"""
# The private helpers are imported too: other modules (the explorer) draw with them.
# ruff: noqa: F401
from ..names import HYPER_AXES, OPTIMIZER, SYMBOLS
from ..sensitivity import MetricError
from .common import (DIVERGED_COLOR, MATPLOTLIB_MISSING, MINIMUM_COLOR, NOT_REACHED_COLOR,
                     REGISTRY_ORDER, PlotError, _distinct_labels, _figure, _fmt, _label,
                     _optimizer_colors, _optimizers, _pyplot, _ranked, _sel_one, _unranked,
                     hyper_axes, replicate_axes, swept_axes)
from .grid import (REDUCTIONS, _axis_mode, _categories, _check_reduce, _edges, _ignored, _mesh,
                   _norm,
                   _reduce, _select, heatmap, pairs, sensitivity_bars)
from .lines import profile
from .panels import heatmap_panels
from .paths import (FRAME_SPACINGS, MAX_FRAMES, _draw_contours, _evaluate, _fitted_limits,
                    _limits, _parse_params, _Path, _paths, _problem, animate, frame_indices,
                    trajectories)
from .tuning import default_budgets, tuning_curves

__all__ = ["tuning_curves", "heatmap", "heatmap_panels", "profile", "replicate_axes", "pairs", "sensitivity_bars", "trajectories", "animate", "frame_indices",
           "swept_axes", "hyper_axes", "PlotError", "MetricError", "DIVERGED_COLOR",
           "NOT_REACHED_COLOR", "MINIMUM_COLOR", "HYPER_AXES", "SYMBOLS", "OPTIMIZER",
           "REDUCTIONS", "REGISTRY_ORDER", "MATPLOTLIB_MISSING", "MAX_FRAMES", "FRAME_SPACINGS"]
