"""``python -m sweep explore RESULT -o PAGE.html [--x AXIS] [--y AXIS] [--metric METRIC]
[--cells-with-paths N] [--n-jobs N] [--debug]``.

Exit status: 0 on success; 2 for a usage error or a request the result cannot
satisfy (no such file, not a sweep result, an unknown axis or metric), with one
line on stderr and no page written; 1 for a failure while building the page.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import report_errors
from ..errors import ConfigError
from .data import DEFAULT_CELLS_WITH_PATHS


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="python -m sweep explore",
        description="Write one self-contained HTML page to explore a sweep's result in a "
                    "browser (from disk, offline): heatmaps per optimizer, a click shows a "
                    "cell's path, loss curve and numbers, pins compare cells, sensitivity bars.")
    command.add_argument("result", help="a result written by sweep (.zarr or .nc)")
    command.add_argument("-o", "--output", required=True, metavar="PAGE.html",
                         help="the page to write")
    command.add_argument("--x", metavar="AXIS",
                         help="the heatmaps' horizontal axis (default: the first swept axis, "
                              "alpha usually)")
    command.add_argument("--y", metavar="AXIS",
                         help="the heatmaps' vertical axis (default: the second swept axis, "
                              "beta1 usually, or the next grid axis)")
    command.add_argument("--metric", metavar="METRIC",
                         help="the metric shown first, which also ranks the cells given a "
                              "path: any the result has (default: a model's test_error, else "
                              "final_loss)")
    command.add_argument("--cells-with-paths", type=int, default=DEFAULT_CELLS_WITH_PATHS,
                         metavar="N",
                         help=f"how many cells get a path on the page (default "
                              f"{DEFAULT_CELLS_WITH_PATHS}): those shown first, then each "
                              f"optimizer's best and cells spread over the metric's range. "
                              f"Without recorded trajectories they are computed for the page")
    command.add_argument("--n-jobs", type=int, default=None, metavar="N",
                         help="threads for computing paths (default: every core)")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    return command


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:  # argparse: usage errors (2) and --help (0)
        return stop.code if isinstance(stop.code, int) else 2
    return report_errors(_explore, args, "building the page", "interrupted: no page was written")


def _explore(args) -> int:
    from . import explore
    from .page import bokeh

    bokeh()
    if Path(args.output).suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"-o {args.output}: must end in .html")
    if args.cells_with_paths < 0:
        raise ConfigError(f"--cells-with-paths {args.cells_with_paths}: must be >= 0")
    if args.n_jobs is not None and args.n_jobs < 1:
        raise ConfigError(f"--n-jobs {args.n_jobs}: must be >= 1")
    from ..plot_cli import open_result

    ds = open_result(args.result)
    path = explore(ds, args.output, x=args.x, y=args.y, metric=args.metric,
                   cells_with_paths=args.cells_with_paths, n_jobs=args.n_jobs,
                   source=args.result)
    size = path.stat().st_size
    print(f"explore: {ds.attrs.get('cells', ds['final_loss'].size):,} cells → {path} "
          f"({size / 1e6:.1f} MB)", file=sys.stdout)
    return 0
