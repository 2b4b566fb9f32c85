"""``python -m sweep plot RESULT -o DIR`` and ``python -m sweep animate RESULT -o FILE.gif``.

Exit status: 0 on success; 2 for a usage error or a request the result cannot
satisfy (no such file, not a sweep result, an unknown axis, no trajectories),
with one line on stderr; 1 for a failure while drawing.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from .cli import report_errors
from .errors import ConfigError

MAIN_METRICS = ("final_loss", "steps_to_tol", "diverged")
METRICS = ("final_loss", "best_loss", "distance", "steps_to_tol", "diverged")
# The reduction over the axes a heatmap does not show: the best cell, or the share diverged.
REDUCE = {"diverged": "mean"}
DESCRIBE = {
    "final_loss": "final loss f − f*, best over the axes not shown",
    "best_loss": "best loss f − f*, best over the axes not shown",
    "distance": "distance to the nearest minimizer, best over the axes not shown",
    "steps_to_tol": "steps to reach tol, best over the axes not shown",
    "diverged": "share of cells that diverged, over the axes not shown",
}


def plot_parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="python -m sweep plot",
        description="Heatmaps of a sweep's result (every optimizer, every pair of swept axes) "
                    "and its sensitivity bars, written to a directory with an index.md.")
    command.add_argument("result", help="a result written by sweep (.zarr or .nc)")
    command.add_argument("-o", "--output", required=True, metavar="DIR",
                         help="the directory to write the figures and index.md to")
    command.add_argument("--format", default="png", choices=("png", "svg", "pdf"),
                         help="figure format (default: png)")
    command.add_argument("--metric", nargs="+", choices=METRICS, metavar="METRIC",
                         help=f"the metrics to draw (default: {' '.join(MAIN_METRICS)}; "
                              f"any of {', '.join(METRICS)})")
    command.add_argument("--dpi", type=int, default=110, help="resolution of png figures")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    return command


def animate_parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="python -m sweep animate",
        description="A GIF of the optimizers' paths over the objective's contours, growing step "
                    "by step. Needs a result recorded with record_every > 0.")
    command.add_argument("result", help="a result written by sweep (.zarr or .nc)")
    command.add_argument("-o", "--output", required=True, metavar="FILE.gif", help="the GIF to write")
    command.add_argument("--select", nargs="+", default=[], metavar="AXIS=VALUE",
                         help="the cells to draw: alpha=1e-2 beta1=0.9 start=0; several values "
                              "separated by commas draw several paths (alpha=1e-3,1e-2). Axes left "
                              "out take each optimizer's best cell (lowest final loss)")
    command.add_argument("--optimizers", nargs="+", metavar="NAME",
                         help="the optimizers to draw (default: all)")
    command.add_argument("--fps", type=int, default=20, help="frames per second (default 20)")
    command.add_argument("--frames", type=int, default=None,
                         help="number of frames (default: every recorded step, at most 200)")
    command.add_argument("--dpi", type=int, default=80, help="resolution (default 80)")
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
    except Exception as error:  # not zarr, not netCDF, damaged
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{path}: cannot be read as a sweep result ({first})") from None
    if "final_loss" not in ds or "optimizer" not in ds.dims:
        raise ConfigError(f"{path}: not a result written by sweep (no final_loss over optimizer)")
    return ds


def _use_agg():
    try:
        import matplotlib
    except ImportError:
        from .plot import MATPLOTLIB_MISSING

        raise ConfigError(MATPLOTLIB_MISSING) from None
    matplotlib.use("Agg")


def _plot(args) -> int:
    _use_agg()
    from . import plot
    from .sensitivity import MetricError, sensitivity

    ds = open_result(args.result)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {args.output}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    metrics = list(dict.fromkeys(args.metric or MAIN_METRICS))
    swept = plot.swept_axes(ds)
    pairs = list(itertools.combinations(swept, 2))
    written: list[tuple[str, str, str]] = []  # (section, file, caption)
    notes: list[str] = []
    ext = args.format

    def save(fig, name, section, caption):
        fig.savefig(out / f"{name}.{ext}", dpi=args.dpi)
        written.append((section, f"{name}.{ext}", caption))

    if not pairs:
        notes.append(f"Fewer than two swept axes ({', '.join(swept) or 'none'}): no heatmaps.")
    for metric in metrics:
        try:
            for x, y in pairs:
                fig = plot.heatmap(ds, x=x, y=y, metric=metric, reduce=REDUCE.get(metric, "best"))
                save(fig, f"{metric}-{x}-{y}", metric,
                     f"{plot.SYMBOLS.get(x, x)} × {plot.SYMBOLS.get(y, y)}: {DESCRIBE[metric]}")
            fig = plot.sensitivity_bars(sensitivity(ds, metric))
            save(fig, f"sensitivity-{metric}", "sensitivity",
                 f"main and total effects of each swept axis on {metric}")
        except MetricError as error:  # steps_to_tol without f*, distance without minimizers
            notes.append(f"{metric}: skipped: {error}")
    index = out / "index.md"
    index.write_text(_index(ds, args.result, written, notes, ext), encoding="utf-8")
    print(f"plot: {len(written)} figures → {index}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _index(ds, source, written, notes, ext) -> str:
    attrs = ds.attrs
    optimizers = ", ".join(str(o) for o in ds["optimizer"].values)
    lines = [f"# {attrs.get('title', 'sweep result')}", "",
             f"Result: `{source}`; objective {attrs.get('objective', '?')}, "
             f"{attrs.get('steps', '?')} steps, optimizers {optimizers}, "
             f"{attrs.get('cells', '?')} cells.", "",
             "Diverged cells are drawn in red; cells that never reached tol in light grey. "
             "Each heatmap shows every optimizer on one colour scale.", ""]
    section = None
    for group, name, caption in written:
        title = "Sensitivity" if group == "sensitivity" else f"`{group}`"
        if group != section:
            lines += [f"## {title}", ""]
            section = group
        lines.append(f"- [{name}]({name}): {caption}")
        if ext in ("png", "svg"):
            lines += ["", f"  ![{caption}]({name})", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def parse_select(items: list[str], ds) -> dict:
    """``["alpha=1e-2", "beta1=0.8,0.9"]`` → ``{"alpha": 0.01, "beta1": [0.8, 0.9]}``."""
    from .plot import OPTIMIZER

    grid = [d for d in ds["trajectory"].dims if d not in (OPTIMIZER, "step", "dim")] \
        if "trajectory" in ds else [d for d in ds["final_loss"].dims if d != OPTIMIZER]
    select = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip()
        if not equals or not name or not text.strip():
            raise ConfigError(f"--select {item}: must be AXIS=VALUE (alpha=1e-2)")
        if name not in grid:
            raise ConfigError(f"--select {item}: unknown axis {name!r} (axes: {', '.join(grid)})")
        values = []
        numeric = ds[name].values.dtype.kind in "fiu"
        for part in text.split(","):
            part = part.strip()
            if numeric:
                try:
                    values.append(float(part))
                except ValueError:
                    raise ConfigError(f"--select {item}: {part!r} is not a number") from None
            else:
                values.append(part)
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
    ds = open_result(args.result)
    if "trajectory" not in ds:
        raise ConfigError(f"{args.result} has no trajectories: run the sweep with "
                          f"record_every = k > 0 ([sweep] record_every in the grid file)")
    select = parse_select(args.select, ds)
    path = plot.animate(ds, select, path=args.output, fps=args.fps, frames=args.frames,
                        optimizers=args.optimizers, dpi=args.dpi)
    print(f"animate: → {path}")
    return 0
