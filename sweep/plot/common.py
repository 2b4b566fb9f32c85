"""What the figures of :mod:`sweep.plot` share: matplotlib (imported lazily), the
error type, colours, the dataset's axes, number formatting, selecting cells."""
from __future__ import annotations

import re

import numpy as np
import xarray as xr

from ..errors import ConfigError
from ..names import AXIS, HYPER_AXES, LONG_NAME, NOT_HYPER, OPTIMIZER, REPLICATES
from ..sensitivity import Metric

DIVERGED_COLOR = "#e8402f"  # a red outside every colour map used here
NOT_REACHED_COLOR = "#cfcfcf"
MINIMUM_COLOR = "#ffd21f"
# Colours follow the rules' registry order, so an optimizer keeps its colour across figures.
REGISTRY_ORDER = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                  "amsgrad", "adamw", "nadam", "adamax")
MATPLOTLIB_MISSING = ("The matplotlib package is required for plotting: "
                      "pip install 'optimizer-sweep[plot]'")

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


def _figure(layout="constrained", **kwargs):
    """A new figure that pyplot forgets at once (see :mod:`sweep.plot`)."""
    plt = _pyplot()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plt.figure(layout=layout, **kwargs)
    plt.close(fig)  # this leaves a bare canvas: give it one that can render (and measure)
    FigureCanvasAgg(fig)
    return fig


# --- the dataset's axes -----------------------------------------------------

def hyper_axes(ds: xr.Dataset) -> list[str]:
    """The hyperparameter axes of the dataset, in order: those its ``axis`` coordinate
    names, then every other grid dimension of ``final_loss`` that is not one of
    :data:`~sweep.names.NOT_HYPER` (``weight_decay``, ``batch_size``, … as they come)."""
    names = [str(a) for a in ds[AXIS].values] if AXIS in ds.coords else list(HYPER_AXES)
    grid = [str(d) for d in ds["final_loss"].dims] if "final_loss" in ds else \
        [str(d) for d in ds.dims]
    known = [a for a in names if a in ds.dims]
    return known + [d for d in grid if d not in known and d not in NOT_HYPER]


def replicate_axes(ds: xr.Dataset) -> list[str]:
    """The replicate dimensions (``seed``) with more than one value."""
    return [d for d in REPLICATES if d in ds.dims and ds.sizes[d] > 1]


def swept_axes(ds: xr.Dataset) -> list[str]:
    """The hyperparameter axes with more than one value."""
    return [a for a in hyper_axes(ds) if ds.sizes[a] > 1]


def _label(ds, dim) -> str:
    return str(ds[dim].attrs.get(LONG_NAME, dim)) if dim in ds.coords else dim


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
    """The metric as a lower-is-better rank: diverged = +inf, never reached = the censor,
    an accuracy negated, so that "the smallest" is always the best.
    :func:`_unranked` turns reduced ranks back into the metric's values."""
    values = found.values
    if found.censor is not None:
        values = values.where(~found.not_reached, found.censor)
    if found.higher_is_better:
        values = -values
    return values.where(~found.diverged, np.inf)


def _unranked(found: Metric, ranks):
    """The metric's values of ranks from :func:`_ranked` (+inf, diverged, stays +inf)."""
    if not found.higher_is_better:
        return ranks
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(np.isposinf(ranks), ranks, -ranks)


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


def _optimizer_colors(names) -> dict:
    # tab10 without its grey (the contours are grey), one colour per rule of the registry,
    # assigned so that the rules most often drawn together (sgd, momentum, adam, rmsprop)
    # get the most distinct hues: adam is orange, never a second blue beside sgd's.
    palette = ["#1f77b4", "#2ca02c", "#bcbd22", "#8c564b", "#e377c2", "#9467bd", "#ff7f0e",
               "#17becf", "#393b79", "#ad494a", "#d62728"]
    order = list(REGISTRY_ORDER)
    colors = {}
    for i, name in enumerate(names):
        index = order.index(name) if name in order else i
        colors[name] = palette[index % len(palette)]
    return colors


def _progress(total: int, description: str, unit: str, enabled: bool):
    """A tqdm bar on stderr (a silent one when not ``enabled``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit=unit, disable=not enabled, leave=False)
