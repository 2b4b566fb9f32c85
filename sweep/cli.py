"""``python -m sweep GRID.toml [-o OUT] [--n-jobs N] [--resume | --overwrite]
[--dask-scheduler ADDRESS] [--backend B] [--dtype D] [--dry-run] [--quiet] [--debug]``,
the subcommands ``list``, ``plot``, ``animate``, ``explore`` and ``bench``
(:data:`SUBCOMMANDS`), and ``--version``.

Exit status: 0 on success, 2 on a configuration or usage error, 1 on a failure
while running, 130 when interrupted.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import ConfigError


def parser() -> argparse.ArgumentParser:
    from .config import BACKENDS, DTYPES
    from .distribution import version_text

    command = argparse.ArgumentParser(
        prog="python -m sweep",
        description="Run a grid of gradient-descent optimizers over (α, β₁, β₂, ε) and write "
                    "an xarray dataset.",
        epilog="Also: 'python -m sweep list' (the optimizers and objectives a grid can name), "
               "'python -m sweep plot RESULT -o DIR' (heatmaps and sensitivity), "
               "'python -m sweep animate RESULT -o FILE.gif' (trajectories), "
               "'python -m sweep explore RESULT -o PAGE.html' (a page to click through), "
               "'python -m sweep bench' (throughput); each takes --help.")
    command.add_argument("--version", action="version", version=version_text(),
                         help="print the distribution's name and version, and exit")
    command.add_argument("grid", help="the grid file (TOML)")
    command.add_argument("-o", "--output",
                         help="write the dataset here (.zarr or .nc); overrides sweep.output; "
                              "default: the grid file's name with .zarr, in the current directory")
    command.add_argument("--n-jobs", type=int, default=None, metavar="N",
                         help="parallel workers (default: every core); results do not depend on it")
    command.add_argument("--block-cells", type=int, default=None, metavar="N",
                         help="grid cells per block, the unit of work and of a .zarr store's "
                              "chunks (default: sized to the work); results do not depend on it")
    command.add_argument("--resume", action="store_true",
                         help="continue the .zarr output of an interrupted run: compute only "
                              "the blocks it lacks (refused if the grid differs)")
    command.add_argument("--overwrite", action="store_true",
                         help="replace an existing output (by default it is never overwritten)")
    command.add_argument("--dask-scheduler", metavar="ADDRESS",
                         help="run the blocks on the Dask cluster whose scheduler is at ADDRESS "
                              "(e.g. tcp://10.0.0.5:8786); overrides sweep.scheduler")
    command.add_argument("--backend", choices=BACKENDS,
                         help="where the kernels run (default: sweep.backend, else auto: CUDA "
                              "when numba-cuda finds a GPU, else CPU)")
    command.add_argument("--dtype", choices=DTYPES,
                         help="the kernels' arithmetic (default: sweep.dtype, else float64)")
    command.add_argument("--dry-run", action="store_true",
                         help="print the plan (where it would write, cells, steps, blocks, "
                              "output size, memory, estimated time) and write nothing; it "
                              "compiles the kernels (cached after the first time) and times "
                              "them to estimate")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    return command


# Subcommands: ``python -m sweep NAME ...`` runs ``module:function(argv)``.
SUBCOMMANDS = {
    "list": "sweep.listing:main",
    "plot": "sweep.plot_cli:plot_main",
    "animate": "sweep.plot_cli:animate_main",
    "bench": "sweep.bench:main",
    "explore": "sweep.explore.cli:main",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module, function = SUBCOMMANDS[argv[0]].split(":")
        return getattr(importlib.import_module(module), function)(argv[1:])
    args = parser().parse_args(argv)  # usage errors exit 2 here
    return report_errors(_run, args, "running", "interrupted: nothing was written")


def report_errors(action, args, doing: str, interrupted: str) -> int:
    """``action(args)`` with the command line's exit codes: a :class:`ConfigError` is its
    one-line message and code (2), Ctrl-C 130, any other failure 1 — tracebacks only
    with ``args.debug``. ``doing`` names the work in the message ("running", "drawing")."""
    try:
        return action(args)
    except ConfigError as error:
        if args.debug:
            raise
        # A grid file's mistakes come together (sweep.config.ConfigErrors): one "error:" each.
        for message in getattr(error, "messages", [str(error)]):
            print(f"error: {message}", file=sys.stderr)
        if getattr(error, "hidden", 0):
            print(f"error: ... and {error.hidden} more", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        # A run that kept something says what, and how to resume it.
        print(getattr(stop, "message", interrupted), file=sys.stderr)
        return 130
    except Exception as error:  # a failure while doing the work
        if args.debug:
            raise
        print(f"error while {doing}: {type(error).__name__}: {error}\n"
              f"  (run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _load_config(path: str):
    """The validated grid file; each :class:`~sweep.config.ConfigWarning` is one
    ``warning:`` line on stderr (Python's own format takes two, and names our source)."""
    import warnings

    from .api import load_config
    from .config import ConfigWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        config = load_config(path)
    for warning in caught:
        if issubclass(warning.category, ConfigWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
        else:  # not ours: as Python would have shown it
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno, source=warning.source)
    return config


def _run(args) -> int:
    from .api import run

    config = _load_config(args.grid)
    # -o, else sweep.output (checked by run), else the grid file's name here.
    output = args.output or (None if config.output else f"{Path(args.grid).stem}.zarr")
    if args.n_jobs is not None and args.n_jobs < 1:
        raise ConfigError(f"--n-jobs = {args.n_jobs}: must be >= 1")
    if args.block_cells is not None and args.block_cells < 1:
        raise ConfigError(f"--block-cells = {args.block_cells}: must be >= 1")
    if args.dry_run:
        from .dry_run import dry_run

        print(dry_run(config, output=output, n_jobs=args.n_jobs, block_cells=args.block_cells,
                      resume=args.resume, overwrite=args.overwrite, backend=args.backend,
                      dtype=args.dtype))
        return 0
    started = time.perf_counter()
    dataset = run(config, output=output, n_jobs=args.n_jobs, block_cells=args.block_cells,
                  progress=not args.quiet and sys.stderr.isatty(), resume=args.resume,
                  overwrite=args.overwrite, scheduler=args.dask_scheduler, backend=args.backend,
                  dtype=args.dtype)
    elapsed = time.perf_counter() - started
    attrs = dataset.attrs
    cells, computed = attrs["cells"], attrs["computed_cells"]
    shared = f" ({computed:,} computed, unused axes broadcast)" if computed != cells else ""
    if attrs.get("resumed_blocks"):
        print(f"resumed: {attrs['resumed_blocks']} of {attrs['blocks']} blocks were already saved")
    engine = "" if (attrs["backend"], attrs["dtype"]) == ("cpu", "float64") else \
        f" on {attrs['backend']} in {attrs['dtype']}"
    print(f"sweep: {cells:,} cells{shared} × {config.steps:,} steps{engine} in {elapsed:.2f} s "
          f"({attrs['compile_time_s']:.1f} s compiling; "
          f"{rate_text(attrs['trajectory_steps_per_s'])}) → {attrs['output']}")
    return 0


def rate_text(per_second: float) -> str:
    """A rate of trajectory-steps per second in the unit that fits: ``170 M``, ``3.8 k``
    (a model's training steps are thousands of times costlier than a landscape's)."""
    if not per_second == per_second:  # NaN: nothing was computed (every block resumed)
        return "no trajectory-steps computed"
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_second >= factor:
            return f"{_digits(per_second / factor)} {unit} trajectory-steps/s"
    return f"{_digits(per_second)} trajectory-steps/s"


def _digits(value: float) -> str:
    """Three significant digits, never in exponent form (999.9 is "1000", not "1e+03")."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"
