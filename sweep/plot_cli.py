"""``python -m sweep plot RESULT -o DIR`` and ``python -m sweep animate RESULT -o FILE.gif``.

Exit status: 0 on success; 2 for a usage error or a request the result cannot
satisfy (no such file, not a sweep result, an unknown axis, no trajectories),
with one line on stderr; 1 for a failure while drawing.
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

from .cli import report_errors
from .errors import ConfigError
from .names import DIM, OPTIMIZER, STEP, SYMBOLS

# The metrics drawn without --metric, those the result has: a landscape's, a model's.
MAIN_METRICS = ("final_loss", "steps_to_tol", "diverged")
MODEL_METRICS = ("test_error", "test_loss", "final_loss", "diverged")
# The reduction over the axes a heatmap does not show: the best cell, or the share diverged.
REDUCE = {"diverged": "mean"}


def plot_parser() -> argparse.ArgumentParser:
    from .plot import REDUCTIONS

    command = argparse.ArgumentParser(
        prog="python -m sweep plot",
        description="Figures of a sweep's result, written to a directory with an index.md: "
                    "per metric, a line per optimizer against each swept axis (the best over "
                    "the others), heatmaps over every pair of swept axes, and the "
                    "sensitivity bars. Seeds are summarised by their median.")
    command.add_argument("result", help="a result written by sweep (.zarr or .nc)")
    command.add_argument("-o", "--output", required=True, metavar="DIR",
                         help="the directory to write the figures and index.md to")
    command.add_argument("--format", default="png", choices=("png", "svg", "pdf"),
                         help="figure format (default: png)")
    command.add_argument("--metric", nargs="+", metavar="METRIC",
                         help=f"the metrics to draw, any the result has (a model's test_error, "
                              f"test_loss, train_error, test_accuracy, …; final_loss, "
                              f"best_loss, distance, steps_to_tol, diverged). Default: "
                              f"{' '.join(MODEL_METRICS)} for a model, "
                              f"{' '.join(MAIN_METRICS)} otherwise, those with a value")
    command.add_argument("--x", metavar="AXIS", help="the heatmaps' x axis (default: every "
                         "pair of swept axes)")
    command.add_argument("--y", metavar="AXIS", help="the heatmaps' y axis")
    command.add_argument("--reduce", choices=REDUCTIONS,
                         help="how the axes not shown are reduced, after the seeds (default: "
                              "best, in the metric's direction; the share that diverged for "
                              "the diverged metric; max is the worst)")
    command.add_argument("--seeds", choices=REDUCTIONS,
                         help="how the seeds are summarised, cell by cell, before --reduce "
                              "(default: median; mean for diverged). --select seed=N shows one "
                              "seed, --by seed a row per seed")
    command.add_argument("--select", nargs="+", action="extend", default=[], metavar="AXIS=VALUE",
                         help="fix an axis at its nearest grid value instead of reducing it: "
                              "--select beta2=0.999 --select start=1")
    command.add_argument("--by", metavar="AXIS",
                         help="a row of panels per value of this axis (--by start) instead of "
                              "the best over it")
    command.add_argument("--dpi", type=int, default=110, help="resolution of png figures")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    return command


def animate_parser() -> argparse.ArgumentParser:
    from .plot import FRAME_SPACINGS

    command = argparse.ArgumentParser(
        prog="python -m sweep animate",
        description="A GIF of the optimizers' paths over the objective's contours, growing step "
                    "by step. Needs a result recorded with record_every > 0.")
    command.add_argument("result", help="a result written by sweep (.zarr or .nc)")
    command.add_argument("-o", "--output", required=True, metavar="FILE.gif", help="the GIF to write")
    command.add_argument("--select", nargs="+", action="extend", default=[], metavar="AXIS=VALUE",
                         help="the cells to draw: alpha=1e-2 beta1=0.9 start=0; several values "
                              "separated by commas draw several paths (alpha=1e-3,1e-2). Axes left "
                              "out take each optimizer's best cell (lowest final loss)")
    command.add_argument("--optimizers", nargs="+", metavar="NAME",
                         help="the optimizers to draw (default: all)")
    command.add_argument("--fps", type=int, default=20, help="frames per second (default 20)")
    command.add_argument("--frames", type=int, default=None,
                         help="number of frames (default: every recorded step, at most 200)")
    command.add_argument("--frames-spacing", choices=FRAME_SPACINGS, default="geometric",
                         help="geometric (default): frames evenly spaced in log t, so that the "
                              "fast early motion is seen; linear: evenly spaced in t")
    command.add_argument("--box", nargs=4, type=float, metavar=("XMIN", "XMAX", "YMIN", "YMAX"),
                         help="the view (default: fitted to the paths and the minimizers)")
    command.add_argument("--dpi", type=int, default=80, help="resolution (default 80)")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    return command


def plot_main(argv: list[str]) -> int:
    return _main(plot_parser(), argv, _plot)


def animate_main(argv: list[str]) -> int:
    return _main(animate_parser(), argv, _animate)


def _main(parser, argv, action) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: usage errors (2) and --help (0)
        return stop.code if isinstance(stop.code, int) else 2
    return report_errors(action, args, "drawing", "interrupted")


def open_result(path: str):
    """The dataset at ``path`` (.zarr or .nc), in memory; a ConfigError when it is not one."""
    import xarray as xr

    where = Path(path)
    if not where.exists():
        raise ConfigError(f"{path}: no such file or directory")
    try:
        if where.suffix == ".zarr" or where.is_dir():
            ds = xr.open_zarr(where).load()
        else:
            with xr.open_dataset(where, engine="h5netcdf") as opened:
                ds = opened.load()
    except Exception:  # not zarr, not netCDF, damaged: the library's text helps no one here
        kind = "a zarr store" if where.is_dir() else "a netCDF file"
        raise ConfigError(f"{path}: not a sweep result (it cannot be read as {kind})") from None
    if "final_loss" not in ds or OPTIMIZER not in ds.dims:
        raise ConfigError(f"{path}: not a result written by sweep (no final_loss over optimizer)")
    return ds


def _use_agg():
    try:
        import matplotlib
    except ImportError:
        from .plot import MATPLOTLIB_MISSING

        raise ConfigError(MATPLOTLIB_MISSING) from None
    matplotlib.use("Agg")


def _progress(args) -> bool:
    """Whether to show progress bars: on a terminal, unless --quiet."""
    return not args.quiet and sys.stderr.isatty()


def _pairs(ds, swept: list[str], args) -> list[tuple[str, str]]:
    """The (x, y) pairs to draw: --x and --y, one of them against every other swept axis,
    or every pair of swept axes."""
    axes = [d for d in ds["final_loss"].dims if d != OPTIMIZER]
    for flag, name in (("--x", args.x), ("--y", args.y), ("--by", args.by)):
        if name is not None and name not in axes:
            raise ConfigError(f"{flag} {name}: unknown axis (axes: {', '.join(axes)})")
    if args.x and args.y:
        if args.x == args.y:
            raise ConfigError(f"--x and --y are both {args.x}")
        return [(args.x, args.y)]
    if args.x or args.y:
        fixed = args.x or args.y
        others = [a for a in swept if a != fixed]
        return [(fixed, o) for o in others] if args.x else [(o, fixed) for o in others]
    return list(itertools.combinations(swept, 2))


def _metrics(ds, asked, source) -> list[str]:
    """The metrics to draw: those asked for (each checked against the result), or the
    default ones the result has a value for."""
    import difflib

    from .sensitivity import is_model, available_metrics

    have = available_metrics(ds, accuracies=True)
    if not asked:
        return [m for m in (MODEL_METRICS if is_model(ds) else MAIN_METRICS) if m in have]
    for name in asked:
        if name not in have:
            close = difflib.get_close_matches(name, have, n=1)
            hint = f' Perhaps you meant "{close[0]}"?' if close else ""
            raise ConfigError(f"--metric {name}: not a metric of {source} "
                              f"(metrics: {', '.join(have)}).{hint}")
    return list(dict.fromkeys(asked))


def _plot(args) -> int:
    _use_agg()
    from . import plot
    from .plot.common import _progress as progress_bar
    from .sensitivity import MetricError, metric as get_metric, sensitivity

    ds = open_result(args.result)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {args.output}: exists and is not a directory")
    select = parse_select(args.select, ds, many=False)
    metrics = _metrics(ds, args.metric, args.result)
    skip = set(select) | ({args.by} if args.by else set())
    swept = [a for a in plot.swept_axes(ds) if a not in skip]
    pairs = [(x, y) for x, y in _pairs(ds, swept, args)]
    for x, y in pairs:
        for flag, name in (("--x", x), ("--y", y)):
            if name in select or name == args.by:
                raise ConfigError(f"{flag} {name}: is also given to "
                                  f"{'--select' if name in select else '--by'}")
    # One-axis figures: against --x (or --y) when given, else against every swept axis.
    lines = [a for a in ([args.x] if args.x else [args.y] if args.y else swept)
             if a in swept]
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str, str]] = []  # (metric, file, caption)
    notes: list[str] = []
    ext = args.format
    chosen = {d: v for d, v in select.items()}
    subset = ds.sel({d: v for d, v in chosen.items() if ds[d].dtype.kind in "fiu"},
                    method="nearest").sel({d: v for d, v in chosen.items()
                                          if ds[d].dtype.kind not in "fiu"})
    per_metric = len(lines) + len(pairs) + 1
    bar = progress_bar(len(metrics) * per_metric, "plot", "figure", _progress(args))

    def save(fig, name, metric, caption):
        fig.savefig(out / f"{name}.{ext}", dpi=args.dpi)
        written.append((metric, f"{name}.{ext}", caption))
        bar.update(1)

    if not swept:
        notes.append("No swept axis: no heatmaps nor lines.")
    elif not pairs:
        notes.append(f"One swept axis ({', '.join(swept)}): lines, no heatmaps.")
    # File names say the selection (and the faceting), so that runs with others do not clash.
    chosen_part = "".join(f"-{d}={plot._fmt(v)}" for d, v in select.items())
    suffix = chosen_part + (f"-by-{args.by}" if args.by else "")
    try:
        for metric in metrics:
            how = args.reduce or REDUCE.get(metric, "best")
            try:
                label = get_metric(ds, metric).label
                seeds = args.seeds or ("mean" if metric == "diverged" else "median")
                for x in lines:
                    fig = plot.profile(ds, x, metric, reduce=how, select=select or None,
                                       seeds=seeds)
                    save(fig, f"{metric}-{x}{chosen_part}", metric,
                         f"against {SYMBOLS.get(x, x)}: "
                         f"{_describe(ds, label, metric, how, seeds, select, None)}")
                for x, y in pairs:
                    fig = plot.heatmap(ds, x=x, y=y, metric=metric, reduce=how,
                                       select=select or None, by=args.by, seeds=seeds)
                    save(fig, f"{metric}-{x}-{y}{suffix}", metric,
                         f"{SYMBOLS.get(x, x)} × {SYMBOLS.get(y, y)}: "
                         f"{_describe(ds, label, metric, how, seeds, select, args.by)}")
                fig = plot.sensitivity_bars(sensitivity(subset, metric))
                save(fig, f"sensitivity-{metric}{chosen_part}", metric,
                     f"sensitivity: main and total effects of each swept axis on {metric}")
            except MetricError as error:  # a metric with no value where it is selected
                notes.append(f"{metric}: skipped: {error}")
                bar.update(per_metric)
    finally:
        bar.close()
    index = out / "index.md"
    index.write_text(_index(ds, args.result, written, notes, ext), encoding="utf-8")
    print(f"plot: {len(written)} figures → {index}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _describe(ds, label: str, metric: str, how: str, seeds: str, select: dict,
              by: str | None) -> str:
    """The caption of a figure: what is drawn, and what became of the axes not shown."""
    from .plot import replicate_axes

    words = {"best": "best", "min": "min", "median": "median", "mean": "mean", "max": "worst"}
    parts = [label]
    replicates = [d for d in replicate_axes(ds) if d not in select and d != by]
    for d in replicates:
        parts.append(f"{words[seeds]} over {ds.sizes[d]} {SYMBOLS.get(d, d)}s")
    if metric == "diverged" and how == "mean":
        parts.append("the share over the axes not shown")
    else:
        parts.append(f"{'then ' if replicates else ''}{words[how]} over the axes not shown")
    parts += [f"{SYMBOLS.get(d, d)} = {v}" for d, v in select.items()]
    if by:
        parts.append(f"one row per {SYMBOLS.get(by, by)}")
    return "; ".join(parts)


def _index(ds, source, written, notes, ext) -> str:
    """index.md: a section per metric (its heatmaps, then its sensitivity bars), then notes.
    Every heading is unique, so that each has its own anchor."""
    attrs = ds.attrs
    optimizers = ", ".join(str(o) for o in ds[OPTIMIZER].values)
    lines = [f"# {attrs.get('title', 'sweep result')}", "",
             f"Result: `{source}`; objective {attrs.get('objective', '?')}, "
             f"{attrs.get('steps', '?')} steps, optimizers {optimizers}, "
             f"{attrs.get('cells', '?')} cells.", "",
             "Diverged cells are drawn in red; cells that never reached tol in light grey. "
             "Each heatmap shows every optimizer on one colour scale.", ""]
    section = None
    for metric, name, caption in written:
        if metric != section:
            lines += [f"## `{metric}`", ""]
            section = metric
        lines.append(f"- [{name}]({name}): {caption}")
        if ext in ("png", "svg"):
            lines += ["", f"  ![{caption}]({name})", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def parse_select(items: list[str], ds, many: bool = True) -> dict:
    """``["alpha=1e-2", "beta1=0.8,0.9"]`` → ``{"alpha": 0.01, "beta1": [0.8, 0.9]}``
    (several values only when ``many``). A value that is not on the grid is snapped to
    the nearest one by the plots: one warning line on stderr says so."""
    from .plot import _fmt

    grid = [d for d in ds["trajectory"].dims if d not in (OPTIMIZER, STEP, DIM)] \
        if "trajectory" in ds else [d for d in ds["final_loss"].dims if d != OPTIMIZER]
    select = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip()
        if not equals or not name or not text.strip():
            raise ConfigError(f"--select {item}: must be AXIS=VALUE (alpha=1e-2)")
        if name not in grid:
            raise ConfigError(f"--select {item}: unknown axis {name!r} (axes: {', '.join(grid)})")
        if name in select:
            raise ConfigError(f"--select {item}: {name} is selected twice")
        values = []
        coord = ds[name].values
        numeric = coord.dtype.kind in "fiu"
        for part in text.split(","):
            part = part.strip()
            if numeric:
                try:
                    value = float(part)
                except ValueError:
                    raise ConfigError(f"--select {item}: {part!r} is not a number") from None
                nearest = float(coord[abs(coord.astype(float) - value).argmin()])
                if not math.isclose(nearest, value, rel_tol=1e-9, abs_tol=1e-300):
                    print(f"warning: --select {name}={part}: not on the grid; using the nearest "
                          f"value, {name}={_fmt(nearest)}", file=sys.stderr)
                values.append(value)
            else:
                if part not in [str(c) for c in coord]:
                    raise ConfigError(f"--select {item}: {part!r} is not in the result "
                                      f"({', '.join(map(str, coord))})")
                values.append(part)
        if len(values) > 1 and not many:
            raise ConfigError(f"--select {item}: give one value")
        select[name] = values[0] if len(values) == 1 else values
    return select


def _animate(args) -> int:
    _use_agg()
    from . import plot

    if Path(args.output).suffix.lower() != ".gif":
        raise ConfigError(f"-o {args.output}: must end in .gif")
    if args.fps < 1:
        raise ConfigError(f"--fps {args.fps}: must be >= 1")
    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"--frames {args.frames}: must be >= 1")
    box = None
    if args.box is not None:
        x0, x1, y0, y1 = args.box
        if not (x0 < x1 and y0 < y1):
            raise ConfigError(f"--box {' '.join(map(str, args.box))}: needs XMIN < XMAX and "
                              f"YMIN < YMAX")
        box = ((x0, x1), (y0, y1))
    ds = open_result(args.result)
    if "trajectory" not in ds:
        raise ConfigError(f"{args.result} has no trajectories: run the sweep with "
                          f"record_every = k > 0 ([sweep] record_every in the grid file)")
    select = parse_select(args.select, ds)
    path = plot.animate(ds, select, path=args.output, fps=args.fps, frames=args.frames,
                        spacing=args.frames_spacing, optimizers=args.optimizers, dpi=args.dpi,
                        box=box, progress=_progress(args))
    print(f"animate: → {path}")
    return 0
