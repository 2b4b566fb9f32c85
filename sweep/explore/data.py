"""The explorer page's data, prepared in Python: per-cell metrics, the cells that get a
path (and the paths, recorded or computed through the engine), the objective's
contours and the sensitivity indices. No Bokeh here (:mod:`sweep.explore.page` lays
the page out).

A model's result (``objective_kind = "model"``) has no landscape: no path over
contours, but curves along training (the training loss, the test loss and error),
recorded or computed like the paths, and its metrics (test error first).

Every array the page carries is compact: metrics and paths in float32, paths
thinned to at most :data:`MAX_PATH_POINTS` points, cells numbered by one flat
index (C order over ``optimizer`` and the grid dimensions of ``final_loss``).
"""
from __future__ import annotations

import ast
import io
import math
import tomllib
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..errors import ConfigError
from ..names import REPLICATES
from ..sensitivity import (available_metrics as metrics_of, default_metric, is_model,
                           metric as get_metric, sensitivity)

OPTIMIZER = "optimizer"
# A landscape's metrics a heatmap can colour by (diverged is drawn on every map in its own
# colour); a model's are its own (test error, test and training loss, …).
METRICS = ("final_loss", "best_loss", "distance", "steps_to_tol")
# A model's curves along training besides the training loss: name -> its variable.
CURVES = {"test_loss": "test_loss_curve", "test_error": "test_error_curve"}
# The summaries over seeds the page offers, besides each seed.
SUMMARIES = ("median", "mean", "best", "worst")
MAX_PATH_POINTS = 100
DEFAULT_CELLS_WITH_PATHS = 3000
CONTOUR_PIXELS = 360  # the contour image's longer side


class ExploreError(ConfigError, ValueError):
    """A request the result cannot satisfy (an unknown axis or metric): exit status 2."""


@dataclass
class Scale:
    """A metric's colour scale, fixed over the whole result so that no selector rescales it."""

    log: bool
    low: float
    high: float


@dataclass
class PageData:
    """Everything the page shows, as plain arrays and strings.

    Attributes:
        title: the page's heading.
        optimizers: names, in the dataset's order.
        dims: the grid dimensions (``final_loss``'s, optimizer excluded), in order.
        sizes: per dim, its length; ``labels``: per dim, its values as short text.
        values: per dim, its coordinate (float64 or str).
        long_names, symbols: per dim, its name in full (``step size α``) and short (``α``).
        axis_mode: per dim, ``"log"``, ``"linear"`` or ``"index"`` (:func:`sweep.plot._axis_mode`).
        x, y: the heatmaps' axes.
        metrics: the metrics this result has; ``metric``: the one shown first.
        metric_labels: per metric, what its values are (``final loss f(θ) − f*``).
        scales: per metric, its :class:`Scale`.
        cell_values: per metric, float32 (cells,): NaN where diverged or no value
            (steps_to_tol never reached); losses are f − f* floored, as :func:`sweep.sensitivity.metric`.
        diverged: uint8 (cells,).
        censor_steps: steps_to_tol's "never reached" means "not in this many steps".
        path_cells: int32 (paths,), the flat index of each cell with a path, sorted.
        path_x, path_y: float32 (paths, points): θ₀, θ₁ at ``path_steps``; NaN after divergence.
        path_loss: float32 (paths, points): f − f* (floored) or f where f* is unknown.
        path_steps: int (points,), the steps of a path's points.
        path_source: ``"recorded"``, ``"computed"`` or ``""`` (no paths), and ``notes``.
        contours: PNG bytes of the objective's contours over ``xlim`` × ``ylim``, or None.
        minimizers: (k, 2) known minimizers (θ₀, θ₁).
        sensitivity: per metric, ``{"axes": [...], "main": (opt, axes), "total": ..., "title"}``.
        ignored: per optimizer, the plotted axes it does not read (a panel note).
        kind: ``"landscape"`` (paths over contours) or ``"model"`` (curves along training).
        curves: a model's curves besides the training loss (``path_loss``): per name
            (``test_loss``, ``test_error``), float32 (paths, points) at ``path_steps``.
        replicates: the replicate dims (``seed``) with more than one value: their selector
            offers a summary over them (:data:`SUMMARIES`) besides each value.
    """

    title: str
    optimizers: list[str]
    dims: list[str]
    sizes: dict[str, int]
    labels: dict[str, list[str]]
    values: dict[str, np.ndarray]
    long_names: dict[str, str]
    symbols: dict[str, str]
    axis_mode: dict[str, str]
    x: str
    y: str
    metric: str
    metrics: list[str]
    metric_labels: dict[str, str]
    scales: dict[str, Scale]
    cell_values: dict[str, np.ndarray]
    diverged: np.ndarray
    censor_steps: int | None
    path_cells: np.ndarray
    path_x: np.ndarray
    path_y: np.ndarray
    path_loss: np.ndarray
    path_steps: np.ndarray
    path_source: str
    loss_label: str
    loss_log: bool
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    contours: bytes | None
    minimizers: np.ndarray
    sensitivity: dict
    ignored: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)
    kind: str = "landscape"
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    replicates: list[str] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return int(self.diverged.size)

    @property
    def shape(self) -> tuple[int, ...]:
        """The flat index's shape: (optimizers, *grid sizes)."""
        return (len(self.optimizers), *(self.sizes[d] for d in self.dims))


def grid_dims(ds: xr.Dataset) -> list[str]:
    """The grid dimensions of ``final_loss`` other than ``optimizer``, in the dataset's order."""
    return [str(d) for d in ds["final_loss"].dims if d != OPTIMIZER]


def default_axes(ds: xr.Dataset) -> tuple[str, str]:
    """The heatmaps' default axes: the first two swept hyperparameter axes (α and β₁
    when both are swept); with one swept axis, it against the next grid dimension (a
    strip one cell high)."""
    from ..plot import hyper_axes

    dims = grid_dims(ds)
    hyper = [d for d in hyper_axes(ds) if d in dims]
    swept = [d for d in hyper if ds.sizes[d] > 1] + \
        [d for d in dims if d not in hyper and ds.sizes[d] > 1 and d not in REPLICATES]
    ordered = swept + [d for d in hyper if d not in swept] + \
        [d for d in dims if d not in swept and d not in hyper]
    if len(ordered) < 2:
        raise ExploreError("the result has fewer than two grid dimensions: no heatmap to draw")
    return ordered[0], ordered[1]


def check_request(ds: xr.Dataset, x: str, y: str, metric: str, source: str = "the result") -> None:
    """Refuse unknown axes and metrics with one line naming what the result has."""
    dims = grid_dims(ds)
    for flag, axis in (("--x", x), ("--y", y)):
        if axis not in dims:
            raise ExploreError(f"{flag} {axis}: unknown axis of {source} (axes: {', '.join(dims)})")
    if x == y:
        raise ExploreError(f"--x and --y are both {x!r}: choose two axes")
    have = available_metrics(ds)
    if metric not in have:
        raise ExploreError(f"--metric {metric}: not a metric of {source} "
                           f"(metrics: {', '.join(have)})")


def available_metrics(ds: xr.Dataset) -> list[str]:
    """The metrics this result can show on a heatmap: every per-cell metric with a value
    (:func:`sweep.sensitivity.available_metrics`; not distance without minimizers, nor
    steps_to_tol without f*), a model's test error first; diverged is drawn on every map."""
    return metrics_of(ds, diverged=False)


def choose_cells(ranked: np.ndarray, count: int, first=()) -> np.ndarray:
    """Which cells get a path: ``count`` flat indices (fewer if there are fewer cells), sorted.

    ``ranked`` is (optimizers, cells per optimizer), lower is better, +inf or NaN for
    cells that rank last (diverged). ``first`` are flat indices taken before any other
    (the cells the page shows when it opens). The rest of the budget is shared by the
    optimizers; each takes half of its share from its best cells (by rank) and half at
    evenly spaced ranks over all its cells, so that the paths span the metric's whole
    range, diverged cells included. When ``first`` alone exceeds the budget, the same
    rule chooses among its cells.
    """
    ranked = np.asarray(ranked, dtype=np.float64)
    count = max(0, min(int(count), ranked.size))
    first_mask = np.zeros(ranked.size, dtype=bool)
    first_mask[np.asarray(first, dtype=np.int64)] = True
    if first_mask.sum() >= count:
        return np.flatnonzero(_pick(ranked, count, first_mask)).astype(np.int32)
    taken = _pick(ranked, count - int(first_mask.sum()), ~first_mask) | first_mask
    return np.flatnonzero(taken).astype(np.int32)


def _pick(ranked: np.ndarray, count: int, eligible: np.ndarray) -> np.ndarray:
    """``count`` of the ``eligible`` cells (a flat mask), by :func:`choose_cells`' rule."""
    optimizers, per = ranked.shape
    taken = np.zeros(ranked.size, dtype=bool)
    left = count
    for o in range(optimizers):
        if left <= 0:
            break
        share = left // (optimizers - o)  # what one optimizer cannot use, the next ones take
        scores = np.where(np.isnan(ranked[o]), np.inf, ranked[o])
        order = np.argsort(scores, kind="stable") + o * per
        order = order[eligible[order]]
        share = min(share, order.size)
        best = share - share // 2
        picked = list(order[:best])
        rest = order[best:]
        if share - best and rest.size:
            spread = np.unique(np.linspace(0, rest.size - 1, share - best).round().astype(int))
            picked += list(rest[spread])
        taken[picked] = True
        left -= len(picked)
    return taken


def default_view_cells(ds: xr.Dataset, x: str, y: str) -> np.ndarray:
    """The flat indices of the cells the page shows when it opens: every optimizer's
    ``x`` × ``y`` map at the first value of each other axis, and every seed (the page
    opens on their median)."""
    dims = grid_dims(ds)
    shape = [ds.sizes[OPTIMIZER]] + [ds.sizes[d] for d in dims]
    ranges = [np.arange(shape[0])] + [np.arange(ds.sizes[d]) if d in (x, y, *REPLICATES)
                                      else np.array([0]) for d in dims]
    mesh = np.meshgrid(*ranges, indexing="ij")
    return np.ravel_multi_index([m.ravel() for m in mesh], shape).astype(np.int64)


def thin_indices(count: int, most: int = MAX_PATH_POINTS) -> np.ndarray:
    """At most ``most`` evenly spaced indices of ``count`` recorded points, first and last kept."""
    return np.unique(np.linspace(0, count - 1, min(count, most)).round().astype(int))


def record_every_for(steps: int, most: int = MAX_PATH_POINTS) -> int:
    """The ``record_every`` that records at most ``most`` points (0, k, 2k, …, steps)."""
    return max(1, math.ceil(steps / (most - 2))) if steps + 1 > most else 1


def _loss_gap(loss: np.ndarray, fstar: float) -> np.ndarray:
    """f − f* floored as :func:`sweep.sensitivity.metric` floors losses (f itself without f*)."""
    if not math.isfinite(fstar):
        return loss
    floor = 1e-16 * max(1.0, abs(fstar))
    with np.errstate(invalid="ignore"):
        return np.maximum(loss - fstar, floor)


def recorded_paths(ds: xr.Dataset, cells: np.ndarray):
    """(x, y, loss, steps) of ``cells`` from the result's own trajectories, thinned.
    A model records no θ: x and y are then (cells, 0)."""
    dims = grid_dims(ds)
    keep = thin_indices(ds.sizes["step"])
    loss = ds["loss"].transpose(OPTIMIZER, *dims, "step").isel(step=keep).values
    loss = loss.reshape(-1, len(keep))[cells].astype(np.float64)
    steps = ds["step"].values[keep]
    if "trajectory" not in ds:
        return np.empty((len(cells), 0)), np.empty((len(cells), 0)), loss, steps
    traj = ds["trajectory"].transpose(OPTIMIZER, *dims, "step", "dim").isel(step=keep)
    shape = traj.shape
    flat = traj.values.reshape(-1, shape[-2], shape[-1])[cells]
    y = flat[..., 1] if shape[-1] > 1 else np.zeros_like(flat[..., 0])
    return flat[..., 0], y, loss, steps


def recorded_curves(ds: xr.Dataset, cells: np.ndarray) -> dict[str, np.ndarray]:
    """A model's recorded curves of ``cells`` besides the loss (:data:`CURVES`), thinned
    as :func:`recorded_paths` thins: per name, float64 (cells, points)."""
    dims = grid_dims(ds)
    keep = thin_indices(ds.sizes["step"])
    out = {}
    for name, variable in CURVES.items():
        if variable in ds:
            values = ds[variable].transpose(OPTIMIZER, *dims, "step").isel(step=keep).values
            out[name] = values.reshape(-1, len(keep))[cells].astype(np.float64)
    return out


def rebuild_config(ds: xr.Dataset, record_every: int):
    """The grid the result was run from (``attrs["grid_toml"]``), recording every
    ``record_every`` steps, with no output: a :class:`sweep.config.SweepConfig`.

    Raises ExploreError when the text is missing or no longer valid (a moved objective file).
    """
    from ..config import validate

    text = ds.attrs.get("grid_toml")
    source = str(ds.attrs.get("grid_file", "<config>"))
    if not text:
        raise ExploreError("the result does not hold its grid (no grid_toml attribute)")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        try:  # a grid given to sweep.run as a dict is stored as its repr
            table = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ExploreError("the result's grid_toml is neither TOML nor a dict") from None
    sweep = dict(table.get("sweep", {}))
    sweep["record_every"] = record_every
    for key in ("output", "scheduler"):
        sweep.pop(key, None)
    sweep["backend"] = "cpu"
    sweep["dtype"] = str(ds.attrs.get("dtype", sweep.get("dtype", "float64")))
    table = {**table, "sweep": sweep}
    try:
        return validate(table, source=source, text=text)
    except ConfigError as error:
        raise ExploreError(f"the result's grid no longer loads: {error}") from None


def computed_paths(ds: xr.Dataset, cells: np.ndarray, n_jobs: int | None = None):
    """(x, y, loss, steps, problem, curves) of ``cells``, run again through the engine with
    ``record_every`` set: one batched kernel call per optimizer (its cells split among
    ``n_jobs`` threads), the same kernels and bits as the sweep's. A model's x and y are
    (cells, 0) (θ is not recorded) and ``curves`` holds its test loss and error along
    training (:data:`CURVES`); a landscape's ``curves`` is empty.

    The grid is rebuilt from the result's attributes (:func:`rebuild_config`); its
    axes must be the result's.
    """
    from joblib import Parallel, delayed

    from sweep.kernels.rules import OPTIMIZERS
    from sweep.kernels.schedules import SCHEDULES

    from ..execute import Engine, resolve_jobs, run_block, settings_for, spec_for
    from ..plan import Block, make_plan

    steps_total = int(ds.attrs["steps"])
    config = rebuild_config(ds, record_every_for(steps_total))
    plan = make_plan(config)
    for axis in config.axes:
        if axis.name in ds.coords and not np.array_equal(np.asarray(axis.values),
                                                         ds[axis.name].values):
            raise ExploreError(f"the result's grid_toml does not match its {axis.name} axis")
    dims = grid_dims(ds)
    shape = (ds.sizes[OPTIMIZER], *(ds.sizes[d] for d in dims))
    index = dict(zip([OPTIMIZER] + dims, np.unravel_index(cells, shape)))
    engine = Engine(backend="cpu", dtype=config.dtype)
    records = len(plan.record_steps)
    n = len(cells)
    model = config.spec.kind == "model"
    xy = np.full((n, 0 if model else records, config.dim), np.nan)
    loss = np.full((n, records), np.nan)
    curves = {name: np.full((n, records), np.nan) for name in CURVES} if model else {}
    names = [str(o) for o in ds[OPTIMIZER].values]
    starts = np.asarray(config.starts, dtype=np.float64)
    jobs = []
    for o, name in enumerate(names):
        rows = np.flatnonzero(index[OPTIMIZER] == o)
        if rows.size == 0:
            continue
        rule = OPTIMIZERS[name]
        start = index["start"][rows] if "start" in index else np.zeros(rows.size, dtype=int)
        x0 = starts[start]
        # The rule's columns, as the plan lays them out: the grid's value where the rule
        # reads the axis, else the value it ran at (its [options] or its default).
        fixed = config.values(name)
        hyper = np.empty((rows.size, len(rule.names)))
        for column, axis in enumerate(rule.names):
            if axis in fixed or axis not in index:
                hyper[:, column] = fixed.get(axis, dict((a.name, a.values[0])
                                                        for a in config.axes).get(axis))
            else:
                hyper[:, column] = ds[axis].values[index[axis][rows]]
        ids = np.empty((rows.size, 3), dtype=np.int64)
        ids[:, 0] = ds["seed"].values[index["seed"][rows]] if "seed" in index else config.seeds[0]
        ids[:, 1] = start
        schedules = ds["schedule"].values[index["schedule"][rows]] if "schedule" in index \
            else np.full(rows.size, config.schedules[0])
        ids[:, 2] = [SCHEDULES[str(s)] for s in schedules]
        # Rows that share their values of the setting axes (noise, batch_size, ...) run with
        # the settings and objective of a block holding those values.
        settings_axes = [i for i, axis in enumerate(config.axes) if axis.setting]
        keys = np.stack([index[config.axes[i].name][rows] for i in settings_axes], axis=1) \
            if settings_axes else np.zeros((rows.size, 0), dtype=int)
        for key in np.unique(keys, axis=0) if keys.shape[1] else [np.zeros(0, dtype=int)]:
            chosen = np.flatnonzero((keys == key).all(axis=1)) if keys.shape[1] else \
                np.arange(rows.size)
            region = [slice(0, 1)] * 3 + [slice(0, 1)] * len(config.axes)
            for i, position in zip(settings_axes, key):
                region[3 + i] = slice(int(position), int(position) + 1)
            block = Block(optimizer=name, number=0, region=tuple(region))
            settings, spec = settings_for(plan, block), spec_for(plan, block)
            parts = np.array_split(chosen, max(1, min(resolve_jobs(n_jobs),
                                                      chosen.size // 256 or 1)))
            for part in parts:
                jobs.append((rows[part], (name, spec, x0[part], hyper[part], ids[part],
                                          settings, records, engine)))
    from ..execute import compile_kernels

    compile_kernels(plan, engine)
    results = Parallel(n_jobs=resolve_jobs(n_jobs), prefer="threads")(
        delayed(run_block)(*arguments) for _, arguments in jobs)
    for (rows, _), metrics in zip(jobs, results):
        if not model:
            xy[rows] = metrics.trajectory
        loss[rows] = metrics.loss
        for name, variable in CURVES.items():
            if name in curves:
                curves[name][rows] = getattr(metrics, variable)
    steps = np.asarray(plan.record_steps)
    y = xy[..., 1] if config.dim > 1 else np.zeros_like(xy[..., 0])
    return xy[..., 0], y, loss, steps, plan.problem, curves


def _contours(problem, dim: int, xlim, ylim) -> tuple[bytes | None, str]:
    """A transparent PNG of :func:`sweep.plot._draw_contours` over exactly xlim × ylim."""
    if problem is None:
        return None, ""
    if dim != 2:
        return None, f"no contours: the objective has {dim} coordinates (θ₀, θ₁ shown)"
    from ..plot import _draw_contours, _figure

    width, height = xlim[1] - xlim[0], ylim[1] - ylim[0]
    ratio = min(max(height / width, 1 / 3), 3)
    inches = CONTOUR_PIXELS / 100
    fig = _figure(figsize=(inches, inches * ratio) if ratio <= 1 else (inches / ratio, inches),
                  dpi=100)
    fig.set_layout_engine("none")
    ax = fig.add_axes((0, 0, 1, 1))
    note = _draw_contours(ax, problem, xlim, ylim)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", transparent=True)
    return buffer.getvalue(), note


class _Bounds:  # what sweep.plot._limits reads of a path
    def __init__(self, xy):
        self.xy = xy
        finite = np.isfinite(xy).all(axis=1)
        self.last = int(np.flatnonzero(finite)[-1]) if finite.any() else 0


def _limits(problem, x: np.ndarray, y: np.ndarray):
    from ..plot import _limits as plot_limits

    if problem is not None and problem.box:
        return plot_limits(problem, [])
    finite = [i for i in range(len(x)) if np.isfinite(x[i]).all() and np.isfinite(y[i]).all()]
    rows = finite or [i for i in range(len(x)) if np.isfinite(x[i, 0])]
    if not rows:
        return (-1.0, 1.0), (-1.0, 1.0)
    return plot_limits(None, [_Bounds(np.stack([x[i], y[i]], axis=1)) for i in rows])


def _scale(found, values: np.ndarray) -> Scale:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Scale(found.logged, 1e-3 if found.logged else 0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    log = bool(found.logged and found.positive)
    if low == high:
        low, high = (low / 10, high * 10) if log else (low - 0.5, high + 0.5)
    return Scale(log, low, high)


def _labels(ds: xr.Dataset, dim: str) -> list[str]:
    """A dimension's values as short text; a start point as its coordinates, (-1.2, 1)."""
    from ..plot import _distinct_labels, _fmt

    if dim == "start" and "x0" in ds.coords and np.isfinite(ds["x0"].values).all():
        # (a model's start is drawn per seed, x0 NaN: the start's number says it)
        points = ds["x0"].transpose("start", "dim").values
        shown = [", ".join(_fmt(v) for v in p[:3]) + (", …" if len(p) > 3 else "") for p in points]
        if len(set(shown)) == len(shown):
            return [f"({s})" for s in shown]
    return _distinct_labels(ds[dim].values)


def _sensitivities(ds: xr.Dataset, metrics: list[str], optimizers: list[str]) -> dict:
    out = {}
    for name in metrics:
        result = sensitivity(ds, name)
        main = result["main"].sel({OPTIMIZER: optimizers}).values
        total = result["total"].sel({OPTIMIZER: optimizers}).values
        out[name] = {
            "axes": [str(a) for a in result["axis"].values],
            "main": np.nan_to_num(main).round(4).tolist(),
            "total": np.nan_to_num(total).round(4).tolist(),
            "constant": [bool(np.isnan(t).all()) for t in total],
            "title": f"Sensitivity of {result.attrs['response']} to each swept axis, "
                     f"over the whole grid",
            "treatment": str(result.attrs.get("treatment", "")),
        }
    return out


def prepare(ds: xr.Dataset, *, x: str | None = None, y: str | None = None,
            metric: str | None = None, cells_with_paths: int = DEFAULT_CELLS_WITH_PATHS,
            n_jobs: int | None = None, source: str = "the result") -> PageData:
    """Everything the page needs from a sweep's dataset.

    Args:
        ds: the result, in memory.
        x, y: the heatmaps' axes (grid dimensions; default :func:`default_axes`).
        metric: the metric shown first; it also ranks the cells that get paths (default:
            a model's test error, else the final loss).
        cells_with_paths: how many cells get a path (see :func:`choose_cells`); paths
            come from the result's ``trajectory`` when it has one, else they are
            computed (:func:`computed_paths`).
        n_jobs: threads for computing paths (None: every core).
        source: how to name the result in an error message (its path).

    Raises:
        ExploreError: an unknown axis or metric, a negative ``cells_with_paths``.
    """
    from .. import plot

    if x is None or y is None:
        first, second = default_axes(ds)
        x, y = x or (first if first != y else second), y or (second if second != x else first)
    metric = metric or default_metric(ds)
    check_request(ds, x, y, metric, source)
    if cells_with_paths < 0:
        raise ExploreError(f"--cells-with-paths {cells_with_paths}: must be >= 0")
    dims = grid_dims(ds)
    optimizers = [str(o) for o in ds[OPTIMIZER].values]
    metrics = available_metrics(ds)
    cell_values, scales, labels_of, diverged, censor = _cell_metrics(ds, metrics)
    ranked = plot._ranked(get_metric(ds, metric)).transpose(OPTIMIZER, *dims).values
    chosen = choose_cells(ranked.reshape(len(optimizers), -1), cells_with_paths,
                          default_view_cells(ds, x, y))
    paths = _paths(ds, chosen, n_jobs)
    notes = list(paths.notes)
    model = is_model(ds)
    what = "Training curves" if model else "Paths"
    if 0 < paths.cells.size < diverged.size:
        notes.append(f"{what} are stored for {paths.cells.size:,} of {diverged.size:,} cells: "
                     f"those shown first, then each optimizer's best by {metric} and cells "
                     f"spread over its whole range (--cells-with-paths).")
    if model:  # no landscape: no contours, no minimizers, no plane to fit
        problem, png, xlim, ylim, minimizers = None, None, (-1.0, 1.0), (-1.0, 1.0), \
            np.empty((0, 2))
    else:
        problem, note = plot._problem(ds, paths.problem or _rebuilt_problem(ds))
        dim = int(ds.sizes.get("dim", 2))
        xlim, ylim = _limits(problem if dim == 2 else None, paths.x, paths.y)
        png, contour_note = _contours(problem, dim, xlim, ylim)
        notes += [n for n in (note, contour_note) if n.startswith("no contours")]
        minimizers = np.asarray(problem.minimizers, dtype=np.float64)[:, :2] \
            if problem is not None and problem.minimizers and dim >= 2 else np.empty((0, 2))
    fstar = float(ds.attrs.get("minimum", math.nan))
    steps = ds.attrs.get("steps")
    title = str(ds.attrs.get("title", "sweep result")) + \
        (f": {int(steps):,} steps, {diverged.size:,} cells" if steps is not None else "")
    return PageData(
        title=title, optimizers=optimizers, dims=dims,
        sizes={d: int(ds.sizes[d]) for d in dims},
        labels={d: _labels(ds, d) for d in dims},
        values={d: ds[d].values for d in dims},
        long_names={d: "start point" if d == "start" else plot._label(ds, d) for d in dims},
        symbols={d: plot.SYMBOLS.get(d, d) for d in dims},
        axis_mode={d: plot._axis_mode(ds, d) for d in dims},
        x=x, y=y, metric=metric, metrics=metrics, metric_labels=labels_of, scales=scales,
        cell_values=cell_values, diverged=diverged, censor_steps=censor,
        path_cells=paths.cells, path_x=paths.x, path_y=paths.y,
        path_loss=_loss_gap(paths.loss, fstar).astype(np.float32), path_steps=paths.steps,
        path_source=paths.source,
        loss_label="training loss" if model else "f(θ) − f*" if math.isfinite(fstar) else "f(θ)",
        loss_log=model or math.isfinite(fstar),  # a model's losses are > 0
        xlim=xlim, ylim=ylim, contours=png,
        minimizers=minimizers, sensitivity=_sensitivities(ds, metrics, optimizers),
        ignored={n: plot._ignored(ds, n, [d for d in (x, y) if ds.sizes[d] > 1]).strip()
                 .strip("()") for n in optimizers},
        notes=notes, kind="model" if model else "landscape",
        curves={name: values.astype(np.float32) for name, values in paths.curves.items()},
        replicates=[d for d in REPLICATES if d in dims and ds.sizes[d] > 1 and d not in (x, y)])


def _cell_metrics(ds: xr.Dataset, metrics: list[str]):
    """Per metric: the values of every cell (float32, flat), its colour scale and label;
    and the diverged flags (uint8, flat) and the steps of "never reached" (or None)."""
    order = [OPTIMIZER, *grid_dims(ds)]
    values, scales, labels = {}, {}, {}
    diverged, censor = None, None
    for name in metrics:
        found = get_metric(ds, name)
        flat = found.values.transpose(*order).values.ravel()
        values[name] = flat.astype(np.float32)
        scales[name] = _scale(found, flat)
        labels[name] = found.label
        if diverged is None:
            diverged = found.diverged.broadcast_like(found.values).transpose(*order).values
        if found.censor is not None:
            censor = int(found.censor) - 1
    if diverged is None:  # no metric at all: check_request refuses that before
        raise ExploreError("the result has none of the metrics " + ", ".join(METRICS))
    return values, scales, labels, diverged.ravel().astype(np.uint8), censor


@dataclass
class _Paths:
    cells: np.ndarray  # int32 (n,), sorted flat indices
    x: np.ndarray  # float32 (n, points)
    y: np.ndarray
    loss: np.ndarray  # float64 (n, points): f
    steps: np.ndarray  # int64 (points,)
    source: str  # "recorded", "computed" or ""
    problem: object = None  # the objective, when the paths were computed
    notes: tuple = ()
    curves: dict = field(default_factory=dict)  # a model's test curves, float64 (n, points)


def _paths(ds: xr.Dataset, chosen: np.ndarray, n_jobs: int | None) -> _Paths:
    """The chosen cells' paths (a model's curves): recorded if the result has them, else
    computed."""
    problem, notes, source, curves = None, (), "", {}
    empty = np.empty((0, 0))
    x = y = loss = empty
    steps = np.empty(0, dtype=np.int64)
    recorded = "trajectory" in ds or (is_model(ds) and "loss" in ds and "step" in ds.dims)
    if chosen.size and recorded:
        x, y, loss, steps = recorded_paths(ds, chosen)
        curves = recorded_curves(ds, chosen)
        source = "recorded"
    elif chosen.size:
        try:
            x, y, loss, steps, problem, curves = computed_paths(ds, chosen, n_jobs)
            source = "computed"
        except ExploreError as error:  # the page still shows every cell's numbers
            notes = (f"No {'curves' if is_model(ds) else 'paths'}: {error}.",)
            chosen = chosen[:0]
            x = y = loss = empty
    return _Paths(chosen.astype(np.int32), np.asarray(x, dtype=np.float32),
                  np.asarray(y, dtype=np.float32), np.asarray(loss, dtype=np.float64),
                  np.asarray(steps, dtype=np.int64), source, problem, notes, curves)


def _rebuilt_problem(ds: xr.Dataset):
    """The objective of a result whose objective is not a built-in (a user's file or a
    formula), rebuilt from its grid for the contours; None for a built-in or on failure."""
    if ds.attrs.get("objective_kind", "builtin") == "builtin":
        return None
    from ..objectives import resolve

    try:
        return resolve(rebuild_config(ds, 0).spec)
    except Exception:  # a moved file, say: the page goes without contours (plot says why)
        return None
