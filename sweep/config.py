"""Read and validate a grid file into a frozen :class:`SweepConfig`.

Everything here runs before numba is imported, so a bad file is refused at
once. Every mistake raises :class:`~sweep.errors.ConfigError` with one line
that names the file, the dotted key path and the rule broken, e.g.
``grid.toml: grid.beta1[2] = 1.0: must be < 1``, and the closest valid name
for a typo.
"""
from __future__ import annotations

import difflib
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kernels.objectives import OBJECTIVES
from kernels.rules import AXES, OPTIMIZERS

from . import tuning
from .errors import ConfigError

OUTPUT_SUFFIXES = (".zarr", ".nc")
# Sizes past these are mistakes, not grids: refuse them before building anything.
MAX_STEPS = 10**12
MAX_DIM = 100_000
MAX_AXIS_VALUES = 10_000_000
# Names from other libraries, for the "Perhaps you meant" hint.
ALIASES = {"lr": "alpha", "learning_rate": "alpha", "step_size": "alpha", "momentum": "beta1",
           "mu": "beta1", "rho": "beta2", "decay": "beta2", "epsilon": "eps", "b1": "beta1",
           "b2": "beta2"}
DEFAULT_TOL = 1e-6
# An axis left out of [grid] takes torch's default for Adam.
DEFAULT_AXES = {"alpha": (1e-3,), "beta1": (0.9,), "beta2": (0.999,), "eps": (1e-8,)}
AXIS_RULES = {
    "alpha": (lambda v: v > 0, "must be > 0"),
    "beta1": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "beta2": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "eps": (lambda v: v >= 0, "must be >= 0"),
}
SECTIONS = {
    "sweep": ("optimizers", "steps", "tol", "record_every", "output"),
    "objective": ("name", "start", "dim", "kappa", "bound"),
    "grid": AXES,
    "options": tuple(OPTIMIZERS),
}
REQUIRED = {"sweep": ("optimizers", "steps"), "objective": ("name",)}


@dataclass(frozen=True)
class Axis:
    """One grid axis: its values (float64, in the order given) and how they are spaced."""

    name: str
    values: tuple[float, ...]
    scale: str  # "linear" or "log"


@dataclass(frozen=True)
class SweepConfig:
    """A validated grid file.

    Attributes:
        source: the file's path as given, or ``"<config>"`` for a dict.
        text: the file's text (stored in the dataset's attrs).
        optimizers: rule names, in the order of the dataset's ``optimizer`` axis.
        steps: update steps per trajectory.
        tol: tolerance of ``steps_to_tol`` on f(θ_t) − f*.
        record_every: record the trajectory every this many steps (0: never).
        output: where to write the dataset (``.zarr`` or ``.nc``), or None.
        objective: objective name.
        objective_params: ``(("dim", n), ("kappa", κ))`` as applicable.
        starts: start points, each a ``dim``-tuple.
        bound: divergence bound on |θ_i|, or None for the objective's own.
        axes: the four grid axes, in the order of :data:`kernels.rules.AXES`.
        options: the fixed option of every rule that has one, ``((name, value), ...)``.
    """

    source: str
    text: str
    optimizers: tuple[str, ...]
    steps: int
    tol: float
    record_every: int
    output: str | None
    objective: str
    objective_params: tuple[tuple[str, float], ...]
    starts: tuple[tuple[float, ...], ...]
    bound: float | None
    axes: tuple[Axis, ...]
    options: tuple[tuple[str, float], ...]

    @property
    def dim(self) -> int:
        return len(self.starts[0])

    def option(self, optimizer: str) -> float:
        """The fixed option of ``optimizer`` as a float (0.0 if it has none)."""
        return dict(self.options).get(optimizer, 0.0)


def load(path: str | Path) -> SweepConfig:
    """Read and validate the grid file at ``path``."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except OSError as error:
        raise ConfigError(f"{source}: cannot read: {error.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is no error
        table = tomllib.loads(text)
    except UnicodeDecodeError as error:
        raise ConfigError(f"{source}: not UTF-8 text (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        # tomllib's message carries the line and column: keep it whole. At the
        # end of the file it gives neither, so say which line that is.
        message = str(error).replace("(at end of document)",
                                     f"(at end of document, line {text.count(chr(10)) + 1})")
        raise ConfigError(f"{source}: invalid TOML: {message}") from None
    return validate(table, source=source, text=text)


def validate(table: dict, source: str = "<config>", text: str | None = None) -> SweepConfig:
    """Check a dict shaped like the grid file and return the :class:`SweepConfig`."""
    check = _Checker(source)
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: the configuration must be a table, not {type(table).__name__}")
    check.known_keys(table, SECTIONS, "")
    for section, keys in REQUIRED.items():
        body = check.table(table.get(section), section, required=True)
        check.known_keys(body, SECTIONS[section], section)  # a typo before a "missing" key
        for key in keys:
            if key not in body:
                check.fail(f"{section}.{key}", None, "is required")
    sweep = table["sweep"]
    objective = table["objective"]

    optimizers = _optimizers(check, sweep["optimizers"])
    steps = check.integer(sweep["steps"], "sweep.steps", minimum=1, maximum=MAX_STEPS)
    tol = check.number(sweep.get("tol", DEFAULT_TOL), "sweep.tol", lambda v: v > 0, "must be > 0")
    record_every = check.integer(sweep.get("record_every", 0), "sweep.record_every", minimum=0,
                                 maximum=MAX_STEPS)
    output = _output(check, sweep.get("output"))

    name, params, starts, bound = _objective(check, objective)
    grid = check.table(table.get("grid", {}), "grid")
    check.known_keys(grid, AXES, "grid")
    axes = tuple(_axis(check, axis, grid.get(axis)) for axis in AXES)
    options = _options(check, check.table(table.get("options", {}), "options"))

    if text is None:
        text = repr(table)
    config = SweepConfig(source, text, optimizers, steps, tol, record_every, output, name,
                         params, starts, bound, axes, options)
    _check_memory(config)
    return config


# --- sections ---------------------------------------------------------------

def _optimizers(check, value):
    names = check.sequence(value, "sweep.optimizers", nonempty=True)
    seen = set()
    for i, name in enumerate(names):
        key = f"sweep.optimizers[{i}]"
        if not isinstance(name, str):
            check.fail(key, name, "must be an optimizer name (a string)")
        check.known_name(name, OPTIMIZERS, key, "optimizer")
        if name in seen:
            check.fail(key, name, "is listed twice")
        seen.add(name)
    return tuple(names)


def _output(check, value, key="sweep.output"):
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        check.fail(key, value, "must be a file name ending in .zarr or .nc")
    if Path(value).suffix not in OUTPUT_SUFFIXES:
        check.fail(key, value, "must end in .zarr (a zarr store) or .nc (netCDF)")
    return value


def check_output(path: str, source: str, key: str = "output") -> str:
    """Check that ``path`` names a .zarr or .nc file that can be created.

    ``source`` and ``key`` name where the path came from (``-o``, or the grid file).
    """
    check = _Checker(source)
    _output(check, path, key)
    ancestor = Path(path).absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        check.fail(key, path, f"cannot be created: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        check.fail(key, path, f"cannot be created: no permission to write in {ancestor}")
    return path


def _objective(check, objective):
    name = objective["name"]
    if not isinstance(name, str):
        check.fail("objective.name", name, "must be an objective name (a string)")
    entry = check.known_name(name, OBJECTIVES, "objective.name", "objective")
    for key in ("dim", "kappa"):
        if key in objective and key not in entry.params:
            takes = f"takes only {', '.join(entry.params)}" if entry.params else "takes no parameters"
            check.fail(f"objective.{key}", objective[key], f"{name} {takes}")

    starts, start_keys = None, ()
    if "start" in objective:
        starts, start_keys = _starts(check, objective["start"])
    params = dict(entry.defaults)
    if entry.fixed_dim is None:
        if "dim" in objective:
            params["dim"] = check.integer(objective["dim"], "objective.dim", minimum=entry.min_dim,
                                          maximum=MAX_DIM)
        elif starts is not None:
            params["dim"] = len(starts[0])  # the start points say how many coordinates
            if params["dim"] < entry.min_dim:
                check.fail(start_keys[0], list(starts[0]),
                           f"{name} needs at least {entry.min_dim} coordinates")
    if "kappa" in objective:
        params["kappa"] = check.number(objective["kappa"], "objective.kappa",
                                       lambda v: v >= 1, "must be >= 1 (a condition number)")
    dim = entry.fixed_dim or params["dim"]
    if starts is None:
        from kernels.objectives import problem
        starts = problem(name, **params).starts
        start_keys = tuple(f"objective.start[{i}]" for i in range(len(starts)))
    for key, point in zip(start_keys, starts):
        if len(point) != dim:
            check.fail(key, list(point),
                       f"has {len(point)} coordinates but {name} has dim = {dim}")
    bound = None
    if "bound" in objective:
        bound = check.number(objective["bound"], "objective.bound", lambda v: v > 0, "must be > 0")
    ordered = tuple((key, params[key]) for key in entry.params)
    return name, ordered, starts, bound


def _starts(check, value):
    rows = check.sequence(value, "objective.start", nonempty=True)
    if all(not isinstance(row, list) for row in rows):
        rows = [rows]  # one point written as a flat list
        keys = ["objective.start"]
    else:
        keys = [f"objective.start[{i}]" for i in range(len(rows))]
    points = []
    for key, row in zip(keys, rows):
        coordinates = check.sequence(row, key, nonempty=True)
        points.append(tuple(check.number(c, f"{key}[{j}]") for j, c in enumerate(coordinates)))
    if len(set(points)) != len(points):
        check.fail("objective.start", value, "lists the same start point twice")
    return tuple(points), tuple(keys)


def _axis(check, name, value):
    key = f"grid.{name}"
    rule, broken = AXIS_RULES[name]
    if value is None:
        return Axis(name, DEFAULT_AXES[name], "linear")
    if isinstance(value, dict):
        return _range_axis(check, name, value)
    if not isinstance(value, list):
        value = [value]  # a single value
        items = [(key, value[0])]
    else:
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    if not items:
        check.fail(key, value, "must list at least one value")
    values = tuple(check.number(v, k, rule, broken) for k, v in items)
    if len(set(values)) != len(values):
        repeated = next(v for v in values if values.count(v) > 1)
        check.fail(key, value, f"lists {repeated!r} twice")
    return Axis(name, values, _infer_scale(values))


def _range_axis(check, name, spec):
    key = f"grid.{name}"
    rule, broken = AXIS_RULES[name]
    check.known_keys(spec, ("min", "max", "num", "scale"), key)
    for part in ("min", "max", "num"):
        if part not in spec:
            check.fail(f"{key}.{part}", None, "is required in a range {min, max, num, scale}")
    low = check.number(spec["min"], f"{key}.min", rule, broken)
    high = check.number(spec["max"], f"{key}.max", rule, broken)
    num = check.integer(spec["num"], f"{key}.num", minimum=1, maximum=MAX_AXIS_VALUES)
    scale = spec.get("scale", "linear")
    if scale not in ("linear", "log"):
        check.fail(f"{key}.scale", scale, 'must be "linear" or "log"')
    if num > 1 and not low < high:
        check.fail(f"{key}.max", high, f"must be > {key}.min = {low!r} when num > 1")
    if num == 1 and low != high:
        check.fail(f"{key}.num", num, f"must be > 1 when min ({low!r}) and max ({high!r}) differ")
    if scale == "log":
        if low <= 0:
            check.fail(f"{key}.min", low, 'must be > 0 with scale = "log"')
        values = np.geomspace(low, high, num)
    else:
        values = np.linspace(low, high, num)
    values = tuple(float(v) for v in values)
    if len(set(values)) != num:
        repeated = next(v for v in values if values.count(v) > 1)
        check.fail(key, spec, f"gives {repeated!r} twice: min and max are too close for num values")
    return Axis(name, values, scale)


def _infer_scale(values):
    """A listed axis is labelled log-spaced when its values form a geometric, not arithmetic, series."""
    if len(values) < 3 or min(values) <= 0:
        return "linear"
    ratios = np.diff(np.log(values))
    steps = np.diff(values)
    geometric = np.allclose(ratios, ratios[0], rtol=1e-6)
    arithmetic = np.allclose(steps, steps[0], rtol=1e-6)
    return "log" if geometric and not arithmetic else "linear"


def _options(check, options):
    resolved = {}
    for optimizer in options:
        check.known_name(optimizer, OPTIMIZERS, f"options.{optimizer}", "optimizer", show=False)
    for name, rule in OPTIMIZERS.items():
        if rule.option is None:
            if name in options:
                body = check.table(options[name], f"options.{name}")
                if body:
                    first = next(iter(body))
                    check.fail(f"options.{name}.{first}", body[first], f"{name} takes no options")
            continue
        body = check.table(options.get(name, {}), f"options.{name}")
        check.known_keys(body, (rule.option,), f"options.{name}")
        value = body.get(rule.option, rule.option_default)
        key = f"options.{name}.{rule.option}"
        if isinstance(rule.option_default, bool):
            if not isinstance(value, bool):
                check.fail(key, value, "must be true or false")
            resolved[name] = 1.0 if value else 0.0
        else:
            resolved[name] = check.number(value, key, lambda v: v >= 0, "must be >= 0")
    return tuple(resolved.items())


# --- size --------------------------------------------------------------------

def recorded_count(steps: int, record_every: int) -> int:
    """How many steps are recorded: 0, k, 2k, … and always the last (0 when k = 0)."""
    if record_every <= 0:
        return 0
    return steps // record_every + 1 + (steps % record_every != 0)


def result_bytes(config: SweepConfig) -> int:
    """Bytes of the assembled dataset: per cell four float64 metrics, a bool,
    ``final_x`` and, when recording, the trajectory and its loss."""
    records = recorded_count(config.steps, config.record_every)
    per_cell = 8 * 4 + 1 + 8 * config.dim + 8 * records * (config.dim + 1)
    return _cells(config) * per_cell


def _cells(config: SweepConfig) -> int:
    axes = 1
    for axis in config.axes:
        axes *= len(axis.values)
    return len(config.optimizers) * len(config.starts) * axes


def _check_memory(config: SweepConfig) -> None:
    needed = result_bytes(config)
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: do not guess
        return
    limit = tuning.MAX_MEMORY_FRACTION * available
    if needed > limit:
        recording = config.record_every > 0
        raise ConfigError(
            f"{config.source}: the results would take {_bytes(needed)} "
            f"({'trajectories' if recording else 'metrics'} of {_cells(config):,} cells), more than "
            f"{_bytes(limit)} ({tuning.MAX_MEMORY_FRACTION:.0%} of this machine's memory)\n"
            f"  Make the grid smaller" + (", or raise sweep.record_every." if recording else "."))


def _bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024:
            return f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PiB"


# --- checking primitives -----------------------------------------------------

def _show(value) -> str:
    """A value as it would be written in TOML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "isoformat"):  # TOML dates and times
        return value.isoformat()
    return repr(value)


class _Checker:
    """Raises :class:`ConfigError` messages that start with the file's name."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, value: Any, rule: str, hint: str = ""):
        shown = "" if value is None else f" = {_show(value)}"
        message = f"{self.source}: {key}{shown}: {rule}"
        raise ConfigError(message + (f"\n  {hint}" if hint else ""))

    def table(self, value, key, required=False) -> dict:
        if value is None and required:
            self.fail(f"[{key}]", None, "section is required")
        if not isinstance(value, dict):
            self.fail(key, value, "must be a table")
        return value

    def sequence(self, value, key, nonempty=False) -> list:
        if not isinstance(value, list):
            self.fail(key, value, "must be a list")
        if nonempty and not value:
            self.fail(key, value, "must not be empty")
        return value

    def number(self, value, key, rule=None, broken="") -> float:
        # bool is an int in Python and TOML has nan and inf: refuse all three.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, value, "must be a number")
        if not math.isfinite(value):
            self.fail(key, value, "must be a finite number")
        if rule is not None and not rule(value):
            self.fail(key, value, broken)
        return float(value)

    def integer(self, value, key, minimum=None, maximum=None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, value, "must be an integer")
        if minimum is not None and value < minimum:
            self.fail(key, value, f"must be >= {minimum}")
        if maximum is not None and value > maximum:
            self.fail(key, value, f"must be <= {maximum:,}")
        return value

    def known_name(self, name, registry, key, what, show=True):
        if name not in registry:
            close = difflib.get_close_matches(str(name), list(registry), n=1)
            hint = f"Perhaps you meant {_show(close[0])}?" if close else \
                f"Known {what}s: {', '.join(registry)}."
            self.fail(key, name if show else None, f"unknown {what}", hint)
        return registry[name]

    def known_keys(self, table, allowed, prefix):
        for key in table:
            if key not in allowed:
                path = f"{prefix}.{key}" if prefix else key
                close = [ALIASES[key]] if ALIASES.get(key) in allowed else \
                    difflib.get_close_matches(key, list(allowed), n=1)
                hint = f"Perhaps you meant {_show(close[0])}?" if close else \
                    f"Allowed: {', '.join(allowed)}."
                self.fail(path, None, "unknown key", hint)
