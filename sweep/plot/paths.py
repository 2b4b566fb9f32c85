"""Figures of a sweep's recorded paths: trajectories over the objective's contours,
and their animation as a GIF."""
from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ConfigError
from ..names import (AXIS, DIM, DIVERGENCE_BOUND, MINIMUM, OBJECTIVE, OBJECTIVE_KIND,
                     OBJECTIVE_PARAMS, OPTIMIZER, START, STEP, STEPS, SYMBOLS, USES_AXIS,
                     objective_params, spec_from_attrs)
from ..sensitivity import metric as _metric
from .common import (MINIMUM_COLOR, PlotError, _figure, _fmt, _progress,
                     _optimizer_colors, _optimizers, _pyplot, _ranked, _sel_one, hyper_axes)

MAX_FRAMES = 200  # animate(frames=None): every recorded step, thinned to this many
HOLD_LAST_MS = 1500  # how long a GIF shows its last frame before it loops


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
    grid = [d for d in traj.dims if d not in (OPTIMIZER, STEP, DIM)]
    for dim in select:
        if dim not in grid:
            raise PlotError(f"select: unknown axis {dim!r} (axes: {', '.join(grid)})")
    hyper = hyper_axes(ds)
    found = _ranked(_metric(ds, "final_loss"))
    uses = ds[USES_AXIS] if USES_AXIS in ds.coords else None
    steps = ds[STEP].values
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
            xy = traj.sel({OPTIMIZER: name, **cell}).transpose(STEP, DIM).values
            parts = []
            for dim in hyper:
                if uses is not None and not bool(uses.sel({OPTIMIZER: name, AXIS: dim})):
                    continue
                parts.append(f"{SYMBOLS.get(dim, dim)}={_fmt(cell[dim])}")
            for dim in grid:
                if dim not in hyper and ds.sizes[dim] > 1 and dim != START:
                    parts.append(f"{dim} {_fmt(cell[dim])}")
            paths.append(_Path(name, f"{name}  " + ", ".join(parts), np.asarray(xy, float),
                               steps, cell))
    starts = {p.cell.get(START) for p in paths}
    if len(starts) > 1:
        for p in paths:
            p.label += f", start {p.cell[START]}"
    return paths


def _problem(ds: xr.Dataset, problem):
    """(Problem or None, a note saying why there are no contours).

    Rebuilt from the result's attrs: a built-in from its name and parameters, a
    formula (``expr``) from its text, a Python-file objective from its file when
    the file is still there with the hash it had when the sweep ran.
    """
    if problem is not None:
        if hasattr(problem, "value_and_grad"):
            return problem, ""
        from ..objectives import ObjectiveSpec, resolve

        if isinstance(problem, ObjectiveSpec):
            return resolve(problem), ""
        raise PlotError("problem= must be a sweep.kernels.objectives.Problem or an ObjectiveSpec")
    attrs = ds.attrs
    kind = attrs.get(OBJECTIVE_KIND, "builtin")
    name = attrs.get(OBJECTIVE)
    if not name:
        return None, "no contours: the result does not name its objective (pass problem=)"
    spec = spec_from_attrs(attrs)
    try:
        if kind == "builtin":
            from sweep.kernels.objectives import problem as build

            params = dict(spec.params) if spec is not None else objective_params(attrs)
            return build(name, **params), ""
        from ..objectives import ObjectiveSpec, file_digest, resolve

        if kind == "expr":
            # A result older than objective_spec: the formula is the name, dim the data's.
            spec = spec or ObjectiveSpec(kind="expr", name=name, dim=int(ds.sizes.get(DIM, 2)))
            return resolve(spec), ""
        if kind == "python":
            if spec is None or not spec.file:
                return None, (f"no contours: {name} cannot be rebuilt: the result does not "
                              f"record its file (written by an older sweep; pass problem=)")
            if not Path(spec.file).is_file():
                return None, f"no contours: {name} cannot be rebuilt: {spec.file} is gone"
            if spec.digest and file_digest(spec.file) != spec.digest:
                return None, (f"no contours: {name} cannot be rebuilt: {spec.file} changed "
                              f"since the sweep ran")
            return resolve(spec), ""
    except Exception as error:  # an unknown name or parameter, a file that no longer loads
        return None, f"no contours: cannot rebuild {name!r} ({error})"
    return None, f"no contours: a {kind} objective is not rebuilt from a result (pass problem=)"


def _parse_params(text: str) -> dict:
    """The parameters of ``objective_params`` (JSON, or the prose of older results)."""
    return objective_params({OBJECTIVE_PARAMS: text})


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
            try:
                out[i] = problem.value_and_grad(x, g, 1.0, 0)
            except (ArithmeticError, ValueError):  # outside the domain (log of < 0, overflow)
                out[i] = np.nan
    return out.reshape(X.shape)


def _limits(problem, paths, box=None) -> tuple:
    """The objective's box (or ``box``; without either, the paths' extent)."""
    if box is not None:
        (x0, x1), (y0, y1) = box
    elif problem is not None and problem.box:
        (x0, x1), (y0, y1) = problem.box
    else:
        return _fitted_limits(None, paths)
    return (float(x0), float(x1)), (float(y0), float(y1))


def _fitted_limits(problem, paths, box=None, margin: float = 0.08) -> tuple:
    """The view of a trajectory figure: ``box`` when given; else the paths' points and the
    minimizers inside the objective's box, with a ``margin`` (a share of the span) around
    them, and cut to that box (an escaping path does not shrink the rest to a dot).

    Returns ``((xmin, xmax), (ymin, ymax))``.
    """
    if box is not None:
        (x0, x1), (y0, y1) = box
        return (float(x0), float(x1)), (float(y0), float(y1))
    outer = problem.box if problem is not None and problem.box and len(problem.box) >= 2 else None
    points = [p.xy[: p.last + 1, :2] for p in paths]
    if problem is not None and problem.minimizers:
        points.append(np.asarray(problem.minimizers, dtype=np.float64)[:, :2])
    xy = np.concatenate(points)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if outer is not None:
        (bx0, bx1), (by0, by1) = outer
        inside = (xy[:, 0] >= bx0) & (xy[:, 0] <= bx1) & (xy[:, 1] >= by0) & (xy[:, 1] <= by1)
        xy = xy[inside] if inside.any() else xy
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    span = max(x1 - x0, y1 - y0)
    # A path that hardly moves still gets a view: a tenth of its distance from 0, at least 1e-3.
    span = span if span > 0 else max(0.1 * float(np.abs(xy).max()), 1e-3)
    x0, x1 = _widen(x0, x1, span, margin)
    y0, y1 = _widen(y0, y1, span, margin)
    if outer is not None:
        x0, x1 = max(x0, bx0), min(x1, bx1)
        y0, y1 = max(y0, by0), min(y1, by1)
    return (float(x0), float(x1)), (float(y0), float(y1))


def _widen(low, high, span, margin):
    """[low, high] grown by ``margin · span`` each side, and to at least a third of ``span``
    (a straight path along one axis is not drawn in a sliver)."""
    middle, half = (low + high) / 2, max((high - low) / 2, span / 6)
    half += margin * span
    return middle - half, middle + half


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
    if finite.size == 0 or finite.min() == finite.max():
        return "no contours: f is constant over the view"
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


def _check_box(box):
    if box is None:
        return None
    try:
        (x0, x1), (y0, y1) = box
        x0, x1, y0, y1 = (float(v) for v in (x0, x1, y0, y1))
    except (TypeError, ValueError):
        raise PlotError(f"box = {box!r}: must be ((xmin, xmax), (ymin, ymax))") from None
    if not (all(map(math.isfinite, (x0, x1, y0, y1))) and x0 < x1 and y0 < y1):
        raise PlotError(f"box = {box!r}: needs finite xmin < xmax and ymin < ymax")
    return (x0, x1), (y0, y1)


def _divergence_word(ds) -> str:
    """What leaving the bound means: "escaped" where f has no minimum to find (the
    saddles, f* unknown), "diverged" elsewhere."""
    minimum = ds.attrs.get(MINIMUM)
    try:
        known = minimum is not None and math.isfinite(float(minimum))
    except (TypeError, ValueError):
        known = False
    return "diverged" if known else "escaped"


def _trajectory_figure(ds, select, optimizers, problem, title, figsize, legend, box=None):
    _pyplot()
    box = _check_box(box)
    dim = ds.sizes.get(DIM, 2)
    if "trajectory" in ds and dim < 2:
        raise PlotError(f"trajectories are drawn in the plane of θ₀ and θ₁; this objective has "
                        f"{dim} coordinate (plot ds['trajectory'] against step instead)")
    paths = _paths(ds, select, optimizers)
    if not paths:
        raise PlotError("no trajectory was selected")
    if not any(np.isfinite(p.xy[0]).all() for p in paths):
        raise PlotError("no selected path has a finite point to draw")
    problem, note = _problem(ds, problem)
    if problem is None and dim == 2:
        # Without contours the figure would say nothing of the objective: refuse it.
        reason = note.removeprefix("no contours: ")
        raise PlotError(f"cannot draw the contours of the objective: {reason}")
    if problem is not None and dim != 2:
        problem, note = None, f"no contours: the objective has {dim} coordinates (θ₀, θ₁ shown)"
    xlim, ylim = _fitted_limits(problem, paths, box)
    ratio = (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    equal = 1 / 3 < ratio < 3
    figsize_given = figsize
    if figsize is None:  # the axes 5.5 in wide (or 6 in tall), the legend beside them
        width = 5.5 if not equal or ratio <= 1.1 else 6.0 / ratio
        height = width * ratio if equal else 4.5
        figsize = (width + (4.0 if legend else 0.3) + 0.9, height + 0.9)
    # No fixed aspect on the axes (the constrained layout then clips labels): the figure is
    # sized so that the axes come out close to equal units on both axes instead.
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
    bound = ds.attrs.get(DIVERGENCE_BOUND)
    beyond = f": |θᵢ| > {float(bound):.0e}".replace("e+0", "e").replace("e+", "e") \
        if bound is not None else ""
    word = _divergence_word(ds)
    for i, path in enumerate(paths):
        k = counts.get(path.optimizer, 0)
        counts[path.optimizer] = k + 1
        label = path.label + (f"\n    {word}{beyond} by step {path.diverged_at:,}"
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
    ax.set_xlabel("θ₀")
    ax.set_ylabel("θ₁")
    objective = ds.attrs.get(OBJECTIVE, "")
    steps = ds.attrs.get(STEPS)
    ax.set_title(title or f"{objective}" + (f", {int(steps):,} steps" if steps else ""))
    if note.startswith("no contours"):
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize="x-small", color="#555555")
    if legend:
        key = fig.legend(loc="outside right center", fontsize="small", frameon=False)
        if figsize_given is None:  # widen the figure by the legend's width, not shrink the axes
            try:
                extent = key.get_window_extent(fig.canvas.get_renderer())
                # room for the legend, and for the y tick labels and label left of the axes
                figsize = (figsize[0] - 4.0 + extent.width / fig.dpi + 0.3, figsize[1])
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
        problem: the objective (a :class:`sweep.kernels.objectives.Problem` or an
            ``ObjectiveSpec``) for the contours; default: rebuilt from ``ds.attrs`` (a
            built-in, a formula, or a Python file still there unchanged). When it cannot
            be rebuilt, a :class:`PlotError` says why (pass ``problem=``).
        box: ``((xmin, xmax), (ymin, ymax))`` to show (default: fitted to the paths and
            the minimizers, with a margin, inside the objective's box).
        figsize: inches (default: fitted to the view, the legend to the right).

    Contours are log-spaced levels of f − f* when f* is known, else evenly
    spaced levels of f; the minimizers are stars, the start a black dot, each
    path's end a dot (an × where it left the bound: "diverged", or "escaped"
    where f has no minimum, as on the saddles). The legend names each optimizer
    and the hyperparameters it reads.
    """
    fig, *_ = _trajectory_figure(ds, select, optimizers, problem, title, figsize, legend=True,
                                 box=box)
    return fig


FRAME_SPACINGS = ("geometric", "linear")


def frame_indices(steps, count: int, spacing: str = "geometric") -> np.ndarray:
    """Which recorded steps an animation shows: ``count`` distinct indices into ``steps``
    (the recorded step numbers, increasing), the first and the last always among them.

    ``"geometric"``: the frames' steps t are spaced evenly in log t (t = 0, then from the
    first recorded step on), so the fast early motion gets as many frames as the slow
    end; where log spacing would put two frames on one recorded step, they take
    consecutive ones. ``"linear"``: evenly spaced in t.
    """
    if spacing not in FRAME_SPACINGS:
        raise PlotError(f"frames spacing {spacing!r}: must be one of {', '.join(FRAME_SPACINGS)}")
    steps = np.asarray(steps, dtype=np.float64)
    recorded = len(steps)
    count = max(1, min(int(count), recorded))
    if count == 1:
        return np.array([recorded - 1])
    if spacing == "linear":
        targets = np.linspace(steps[0], steps[-1], count)
    else:
        first = steps[1] if steps[0] <= 0 else steps[0]
        targets = np.geomspace(first, steps[-1], count - 1 if steps[0] <= 0 else count)
        if steps[0] <= 0:
            targets = np.concatenate([[steps[0]], targets])
    indices = np.abs(steps[None, :] - targets[:, None]).argmin(axis=1)
    indices[0], indices[-1] = 0, recorded - 1
    for k in range(1, count):  # strictly increasing: push crowded early frames forward ...
        indices[k] = max(indices[k], indices[k - 1] + 1)
    for k in range(count - 2, -1, -1):  # ... and back from the end, within the recorded steps
        indices[k] = min(indices[k], indices[k + 1] - 1)
    return indices


def animate(ds: xr.Dataset, select: dict | None = None, *, path="trajectories.gif", fps: int = 20,
            frames: int | None = None, spacing: str = "geometric", optimizers=None, problem=None,
            box=None, title: str | None = None, figsize=None, dpi: int = 80,
            progress: bool = False) -> Path:
    """:func:`trajectories` growing step by step, written as a GIF (matplotlib + pillow).

    Args:
        path: the GIF to write (written under a temporary name and renamed when complete:
            a failure leaves nothing).
        fps: frames per second.
        frames: how many frames (the first and last recorded steps always among them);
            default every recorded step, thinned to 200.
        spacing: ``"geometric"`` (default: frames evenly spaced in log t, so the early
            motion is seen) or ``"linear"`` (evenly spaced in t); see :func:`frame_indices`.
        progress: a tqdm bar over the frames (on stderr).
        select, optimizers, problem, box, title: as in :func:`trajectories`.

    Returns:
        the path written.
    """
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError("The pillow package is required for animations: "
                          "pip install 'optimizer-sweep[plot]'") from None
    if fps < 1:
        raise PlotError(f"fps = {fps}: must be >= 1")
    if frames is not None and int(frames) < 1:
        raise PlotError(f"frames = {frames}: must be >= 1")
    if spacing not in FRAME_SPACINGS:
        raise PlotError(f"spacing = {spacing!r}: must be one of {', '.join(FRAME_SPACINGS)}")
    fig, ax, paths, lines, heads = _trajectory_figure(ds, select, optimizers, problem, title,
                                                      figsize, legend=True, box=box)
    steps = ds[STEP].values
    count = min(len(steps), MAX_FRAMES) if frames is None else int(frames)
    indices = frame_indices(steps, count, spacing)
    base = ax.get_title()
    for line, head in zip(lines, heads):
        line.set_data([], [])
        head.set_data([], [])
    # The contours, axes and legend are drawn once; each frame restores that picture and
    # draws only what moves (the lines, their heads, the title), in their z-order.
    moving = sorted(ax.get_lines(), key=lambda a: a.get_zorder()) + [ax.title]
    for artist in moving:
        artist.set_animated(True)
    fig.set_dpi(dpi)
    fig.canvas.draw()
    fig.set_layout_engine("none")  # the layout is settled: do not redo it for every frame
    background = fig.canvas.copy_from_bbox(fig.bbox)
    exact = [line.get_color() for line in lines] + ["black", "white", MINIMUM_COLOR]
    images = []
    bar = _progress(len(indices), "animate", "frame", progress)
    try:
        for k in indices:
            for p, line, head in zip(paths, lines, heads):
                upto = min(k, p.last)
                line.set_data(p.xy[: upto + 1, 0], p.xy[: upto + 1, 1])
                head.set_data([p.xy[upto, 0]], [p.xy[upto, 1]])
                if p.diverged_at is not None:
                    head.set_marker("x" if k > p.last else "o")
            ax.set_title(f"{base} — step {int(steps[k]):,}")
            fig.canvas.restore_region(background)
            for artist in moving:
                ax.draw_artist(artist)
            width, height = fig.canvas.get_width_height()
            images.append(Image.frombuffer("RGBA", (width, height),
                                           bytes(fig.canvas.buffer_rgba())).convert("RGB"))
            bar.update(1)
    finally:
        bar.close()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        _write_gif(images, partial, fps, exact)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write_gif(images: list, path: Path, fps: int, exact: list) -> None:
    """The RGB ``images`` as a looping GIF with one palette for every frame that holds the
    ``exact`` colours (the paths') exactly.

    Pillow's adaptive palette, made per frame from mostly grey contours, merges thin
    lines of nearby colours (cyan into blue); undithered, the GIF is also far smaller.
    """
    from matplotlib.colors import to_rgb
    from PIL import Image

    fixed = list(dict.fromkeys(tuple(round(255 * c) for c in to_rgb(color)) for color in exact))
    rest = images[-1].quantize(colors=256 - len(fixed), method=Image.Quantize.MEDIANCUT)
    colors = fixed + [tuple(rest.getpalette()[3 * i: 3 * i + 3]) for i in range(256 - len(fixed))]
    palette = Image.new("P", (1, 1))
    palette.putpalette([c for color in colors for c in color])
    frames = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    # The last frame is held (1.5 s at least), so that the end is seen before the loop restarts.
    durations = [int(1000 / fps)] * len(frames)
    durations[-1] = max(durations[-1], HOLD_LAST_MS)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0)
