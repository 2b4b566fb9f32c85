"""Read and validate a grid file into a frozen :class:`SweepConfig`.

Everything here runs before numba is imported, so a bad file is refused at
once. Every mistake is a line that names the file, the dotted key path and the
rule broken, e.g. ``grid.toml: grid.beta1[2] = 1.0: must be < 1``, and the
closest valid name for a typo; a file's mistakes are all reported at once (the
first :data:`MAX_REPORTED`) in one :class:`ConfigErrors`. Options given for a
rule that is not swept are a :class:`ConfigWarning`, not an error.
"""
from __future__ import annotations

import difflib
import json
import math
import os
import tomllib
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sweep.kernels.objectives import MAX_DIM, OBJECTIVES, Param
from sweep.kernels.precision import DTYPES as KERNEL_DTYPES
from sweep.kernels.rules import AXES, OPTIMIZERS
from sweep.kernels.schedules import SCHEDULES

from . import datasets, models, tunables
from .errors import ConfigError
from .objectives import ObjectiveError, ObjectiveSpec, file_digest, load_function, resolve

OUTPUT_SUFFIXES = (".zarr", ".nc")
BACKENDS = ("auto", "cpu", "cuda")
DTYPES = tuple(KERNEL_DTYPES)  # the kernels' list: "float64", "float32"
# Sizes past these are mistakes, not grids: refuse them before building anything.
MAX_STEPS = 10**12
MAX_AXIS_VALUES = 100_000
# A .zarr store is written chunk by chunk, so its size is bounded by the disk, not
# the RAM; past this it is a mistake.
MAX_STORE_BYTES = 1 << 44
# Names from other libraries, for the "Perhaps you meant" hint.
ALIASES = {"lr": "alpha", "learning_rate": "alpha", "step_size": "alpha", "momentum": "beta1",
           "mu": "beta1", "rho": "beta2", "decay": "beta2", "epsilon": "eps", "b1": "beta1",
           "b2": "beta2", "dimension": "dim", "ndim": "dim", "n": "dim", "formula": "expr",
           "bound_box": "bounds", "seed": "seeds"}
DEFAULT_TOL = 1e-6
# What record_every records: θ and f, or f alone.
RECORDS = ("trajectory", "loss")
# Parameters of the objective, the model or the schedule that [grid] may sweep (each
# value a block of its own: the kernels take them as settings or data, so a new value
# never recompiles), with where they are otherwise given.
SETTING_AXES = {"noise": "objective", "batch_size": "objective", "l2": "objective",
                "warmup": "schedule", "factor": "schedule"}
MODEL_AXES = ("batch_size", "l2")
# An axis left out of [grid] takes torch's default for Adam.
DEFAULT_AXES = {"alpha": (1e-3,), "beta1": (0.9,), "beta2": (0.999,), "eps": (1e-8,)}
# The widest range of each; a value must also be valid for every swept rule that reads the
# axis (Lion and Schedule-Free take β₁ = 1, the Adam family does not): see _check_readers.
AXIS_RULES = {
    "alpha": (lambda v: v > 0, "must be > 0"),
    "beta1": (lambda v: 0 <= v <= 1, "must be in [0, 1)"),
    "beta2": (lambda v: 0 <= v <= 1, "must be in [0, 1)"),
    "eps": (lambda v: v >= 0, "must be >= 0"),
}
# The parameters of every built-in objective, from their registry entries.
BUILTIN_PARAMS = tuple(dict.fromkeys(key for entry in OBJECTIVES.values() for key in entry.params))
# ``name = "logistic"``, the data objective before models: the logistic model on the
# generated blobs, its keys those it had (docs/objectives.md, "Models trained on data").
LOGISTIC_SCHEMA = (
    Param(name="features", kind="int", default=2, lowest=1, highest=100),
    Param(name="samples", kind="int", default=200, lowest=2, highest=1_000_000),
    Param(name="batch_size", kind="int", default=16, lowest=0, highest=1_000_000),
    Param(name="l2", kind="float", default=1e-2, lowest=0.0, above=True,
          rule="must be > 0 (it makes f* unique)"),
    Param(name="data_seed", kind="int", default=0, lowest=0, highest=2**63 - 1),
)
MODEL_KEYS = tuple(dict.fromkeys((*models.PARAMS, *(p.name for p in LOGISTIC_SCHEMA))))
SECTIONS = {
    "sweep": ("optimizers", "steps", "tol", "record_every", "record", "output", "schedule",
              "scheduler", "backend", "dtype"),
    "objective": tuple(dict.fromkeys(("name", "model", "file", "function", "expr", "start",
                                      *BUILTIN_PARAMS, *MODEL_KEYS, "bound", "bounds", "noise",
                                      "seeds", "minimizers", "minimum", "box"))),
    "grid": AXES,
    "options": tuple(OPTIMIZERS),
    "schedule": ("warmup", "every", "factor"),
    "rules": (),  # any name: a user's rule
}
REQUIRED = {"sweep": ("optimizers", "steps"), "objective": ()}

@dataclass(frozen=True, kw_only=True)
class Key:
    """One key of a grid file as data: what the checks below enforce, in words, for the
    documentation's grid-file reference (generated from :data:`KEYS`, :data:`SECTIONS`
    and the registries, so that it cannot drift from the code).

    Attributes:
        name: the key under its section.
        kind: its TOML type in words ("integer", "list of strings" ...).
        default: the value when it is absent, as Python (None: no default; see ``absent``).
        absent: what an absent key means when ``default`` says nothing (``"required"``...).
        valid: the valid values in words, as the errors say them (empty: any of ``kind``).
        meaning: what it does, one sentence or two.
    """

    name: str
    kind: str
    default: Any = None
    absent: str = ""
    valid: str = ""
    meaning: str = ""


# The keys of [sweep], [schedule], [rules.NAME] and those of [objective] that are not an
# objective's or a model's parameters (those come from their registries' Param schemas:
# sweep.kernels.objectives.OBJECTIVES, sweep.models.SCHEMA, LOGISTIC_SCHEMA). The validation
# reads its defaults from here (default_of()); tests/test_config.py checks that every key of
# SECTIONS is here and that each default is what a grid without the key gets.
KEYS = {
    "sweep": (
        Key(name="optimizers", kind="list of strings", absent="required",
            valid="built-in rules (`python -m sweep list`) or rules declared in "
                  "`[rules.NAME]`, each once",
            meaning="The rules to run, in the order of the dataset's `optimizer` dimension."),
        Key(name="steps", kind="integer", absent="required", valid=f"≥ 1 (at most {MAX_STEPS:,})",
            meaning="Update steps per trajectory."),
        Key(name="tol", kind="number", default=DEFAULT_TOL, valid="> 0",
            meaning="`steps_to_tol` is the first step t with f(θ_t) − f* ≤ tol."),
        Key(name="record_every", kind="integer", default=0, valid="≥ 0",
            meaning="Record θ and f every this many steps, and always the last (the "
                    "`trajectory` and `loss` variables); 0 records nothing."),
        Key(name="record", kind="string", default="trajectory",
            valid='"trajectory" or "loss"',
            meaning="What `record_every` records: θ and f (`trajectory`), or f alone "
                    "(`loss`: the loss curves of an objective of many coordinates, at a "
                    "fraction of the memory)."),
        Key(name="output", kind="string", absent="the command line's `-o`, else "
            "GRID.zarr in the current directory; `sweep.run` writes nothing",
            valid="a path ending in `.zarr` or `.nc`",
            meaning="Where the dataset goes, relative to the current directory. An existing "
                    "output is never replaced without `--overwrite` (or `--resume`)."),
        Key(name="schedule", kind="string or list of strings", default="constant",
            valid=", ".join(f"`{name}`" for name in SCHEDULES),
            meaning="The step-size schedule α_t = α·s(t)·w(t) (the [schedule] section sets "
                    "its parameters); a list makes a `schedule` dimension."),
        Key(name="scheduler", kind="string", absent="none: this machine's cores",
            valid='a Dask scheduler\'s address, e.g. `"tcp://10.0.0.5:8786"`',
            meaning="Run the blocks on this Dask cluster (`--dask-scheduler` overrides it)."),
        Key(name="backend", kind="string", default="auto",
            valid=", ".join(f"`{name}`" for name in BACKENDS),
            meaning="Where the kernels run: `auto` is CUDA when numba-cuda finds a usable "
                    "GPU, else the CPU (`--backend` overrides it)."),
        Key(name="dtype", kind="string", default="float64",
            valid=", ".join(f"`{name}`" for name in DTYPES),
            meaning="The kernels' arithmetic (models train in float64 only; `--dtype` "
                    "overrides it)."),
    ),
    "objective": (
        Key(name="name", kind="string", absent="one of name, model, file, expr is required",
            valid="a built-in objective (`python -m sweep list`), or `logistic`",
            meaning="A built-in landscape. `logistic` is the logistic model on the generated "
                    "`blobs`, with the keys of its own table."),
        Key(name="model", kind="string", absent="one of name, model, file, expr is required",
            valid="a model (`python -m sweep list`)",
            meaning="A network trained on `data` (the models' keys below)."),
        Key(name="file", kind="string", absent="one of name, model, file, expr is required",
            valid="a `.py` file, relative to the grid file",
            meaning="Your objective in Python: `function(x, grad, t, key) -> f`."),
        Key(name="function", kind="string", absent="required with `file`",
            valid="a function of `file`", meaning="The function of `file` to run."),
        Key(name="expr", kind="string", absent="one of name, model, file, expr is required",
            valid="a formula in x, y (or x, or x0 … xn) and t",
            meaning="Your objective as a formula; sympy derives its gradient."),
        Key(name="start", kind="list of points, or one point",
            absent="the objective's customary starts (required with `file` and `expr`: it "
                   "gives the dimension)",
            valid="points of the objective's dimension, each once, inside `bounds`",
            meaning="Start points: the dataset's `start` dimension."),
        Key(name="bound", kind="number", absent="the objective's own (1e6; 1e4 for the "
            "saddles)", valid="> 0",
            meaning="A cell with some |θ_i| beyond this has diverged (and stops)."),
        Key(name="bounds", kind="[lo, hi] or one [lo, hi] per coordinate",
            absent="none: no projection", valid="lo < hi; the starts inside",
            meaning="Project θ onto this box after every step (projected gradient)."),
        Key(name="noise", kind="number", default=0.0, valid="≥ 0",
            meaning="σ of Gaussian noise added to every gradient component (the metrics see "
                    "the noise-free loss)."),
        Key(name="seeds", kind="integer N or list of integers",
            absent="seed 0, and no `seed` dimension",
            valid="N ≥ 1 (seeds 0 … N−1), or distinct integers ≥ 0",
            meaning="The random seeds (noise, minibatches, a model's initialisation): a "
                    "`seed` dimension."),
        Key(name="minimizers", kind="list of points", absent="none",
            valid="with `file` or `expr` only",
            meaning="Known minimizers: `distance` and the plots use them."),
        Key(name="minimum", kind="number", absent="none (f* unknown: no `steps_to_tol`)",
            valid="with `file` or `expr` only", meaning="f*, for `steps_to_tol` and the plots."),
        Key(name="box", kind="[[xmin, xmax], [ymin, ymax]]", absent="fitted to the paths",
            valid="with `file` or `expr` only",
            meaning="The plotting box of the first two coordinates."),
    ),
    "schedule": (
        Key(name="warmup", kind="integer", default=0, valid="≥ 0",
            meaning="A linear warm-up w(t) = min(1, t/warmup) over the first steps "
                    "(0: none)."),
        Key(name="every", kind="integer", absent='required with `schedule = "step"`',
            valid="≥ 1", meaning="The step schedule multiplies α by `factor` every this "
                                 "many steps."),
        Key(name="factor", kind="number", default=0.1, valid="> 0",
            meaning="The step schedule's factor (torch's StepLR's `gamma`)."),
    ),
    "rules": (
        Key(name="file", kind="string", absent="required",
            valid="a `.py` file, relative to the grid file",
            meaning="Where your rule is written."),
        Key(name="function", kind="string", absent="required",
            valid="a function `(theta, grad, state, t, h) -> (theta, state)` of `file`",
            meaning="The rule's coordinate update."),
        Key(name="hyperparameters", kind="table of numbers", absent="required",
            valid="`alpha` > 0 among them", meaning="Its hyperparameters and their defaults: "
            "each can be a [grid] axis or an [options.NAME] key."),
        Key(name="state", kind="list of strings", default=[],
            meaning="Its per-coordinate state values, each starting at 0."),
    ),
}
# What each parameter of an objective or a model means (their types, defaults and ranges
# are their Param schemas'), for the grid-file reference.
PARAMETER_MEANINGS = {
    "dim": "The number of coordinates of an n-dimensional objective.",
    "kappa": "The quadratic's condition number: eigenvalues log-spaced from 1 to κ "
             "(gradient descent is stable iff α < 2/κ).",
    "data": "The data set: a bundled or generated set's name, a table `{name = \"moons\", "
            "samples = 500}` with a generated set's parameters, or an `.npz` file (with "
            "`x_train`, `y_train`, optionally `x_test`, `y_test`) relative to the grid file.",
    "hidden": "mlp: the widths of the hidden layers.",
    "activation": "mlp: the activation between layers.",
    "loss": "The training loss (default: the model's first; linear's follows the targets).",
    "bias": "linear: whether the layer has a bias.",
    "batch_size": "Samples per step: a model's minibatch (0: the whole training set), or "
                  "the noisy quadratic model's B (gradient noise of covariance H/B); also a "
                  "[grid] axis.",
    "test_fraction": "Without a test set in the data: the share of samples held out "
                     "(stratified for classes).",
    "data_seed": "The seed of the split and of the generated sets.",
    "standardize": "Scale the features by the training set's mean and deviation.",
    "l2": "Adds (λ/2)·‖θ‖² to the objective (torch's coupled weight decay); also a [grid] "
          "axis.",
    "eval_every": "Evaluate the full training objective and the test set every this many "
                  "steps (0: as often as costs about a tenth of the run).",
    "features": "logistic (name): the number of features of the generated blobs.",
    "samples": "logistic (name): the number of samples of the generated blobs.",
}
# What an absent parameter means where its Param has no default.
PARAMETER_ABSENT = {"data": "required with `model`", "loss": "the model's own"}
# Why a key of [grid] that names a parameter cannot be an axis (see _not_axes).
NOT_AXES = {
    "compiled": ("is a parameter of the objective compiled into its kernel, not an axis "
                 "(each value would compile a kernel of its own)"),
    "model": "is an axis of models on data (objective.model), not of a landscape objective",
}


def described(section: str, name: str) -> Key:
    """The :class:`Key` ``name`` of ``section`` in :data:`KEYS`."""
    return next(found for found in KEYS[section] if found.name == name)


def default_of(section: str, name: str):
    """The default :data:`KEYS` gives ``section.name``."""
    return described(section, name).default

OBJECTIVE_KINDS = ("name", "model", "file", "expr")
# A file's mistakes are reported together, this many at most (then how many more).
MAX_REPORTED = 10


class ConfigErrors(ConfigError):
    """Every mistake found in one grid file: ``messages``, one per mistake (the first
    :data:`MAX_REPORTED`), and ``hidden``, how many more there were."""

    def __init__(self, messages: list[str]):
        self.messages = messages[:MAX_REPORTED]
        self.hidden = len(messages) - len(self.messages)
        more = [f"... and {self.hidden} more"] if self.hidden else []
        super().__init__("\n".join(self.messages + more))


class ConfigWarning(UserWarning):
    """Something in a valid grid file that is probably not what was meant."""


@dataclass(frozen=True, kw_only=True)
class Axis:
    """One grid axis: its values (float64, in the order given) and how they are spaced."""

    name: str
    values: tuple[float, ...]
    scale: str  # "linear" or "log"
    # False for one of the four axes of every grid that the file leaves out: it is then
    # not swept, and each rule runs at its own default (Adam's is the coordinate).
    given: bool = True
    # A parameter of the objective, model or schedule (SETTING_AXES), not of a rule: one
    # value per block, read by every rule.
    setting: bool = False


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """A validated grid file.

    Attributes:
        source: the file's path as given, or ``"<config>"`` for a dict.
        text: the file's text (stored in the dataset's attrs).
        optimizers: rule names, in the order of the dataset's ``optimizer`` axis.
        steps: update steps per trajectory.
        tol: tolerance of ``steps_to_tol`` on f(θ_t) − f*.
        record_every: record the trajectory every this many steps (0: never).
        record: ``"trajectory"`` (θ and f at the recorded steps) or ``"loss"`` (f alone).
        output: where to write the dataset (``.zarr`` or ``.nc``), or None.
        scheduler: address of a Dask scheduler to run the blocks on, or None (this machine).
        backend: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when a GPU is usable, else CPU).
        dtype: ``"float64"`` (default) or ``"float32"``: the kernels' arithmetic.
        objective: objective name.
        objective_params: ``(("dim", n), ("kappa", κ))`` as applicable.
        starts: start points, each a ``dim``-tuple.
        bound: divergence bound on ``|θ_i|``, or None for the objective's own.
        axes: the four grid axes, in the order of :data:`sweep.kernels.rules.AXES`.
        options: per rule, the hyperparameters ``[options.RULE]`` fixes,
            ``((rule, ((name, value), ...)), ...)`` (see :meth:`fixed`).
        spec: how to build the objective in any process.
        noise: σ of the Gaussian noise added to every gradient component (0: none).
        seeds: the random seeds; ``seed_axis`` says whether they form a dataset dimension.
        bounds: per coordinate ``(lo, hi)`` to project onto after every step, or None.
        schedules: step-size schedule names; ``schedule_axis`` as for seeds.
        warmup, step_every, step_factor: the schedules' parameters.
    """

    source: str
    text: str
    optimizers: tuple[str, ...]
    steps: int
    tol: float
    record_every: int
    record: str
    output: str | None
    objective: str
    objective_params: tuple[tuple[str, float], ...]
    starts: tuple[tuple[float, ...], ...]
    bound: float | None
    axes: tuple[Axis, ...]
    options: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]
    spec: ObjectiveSpec
    noise: float = 0.0
    seeds: tuple[int, ...] = (0,)
    seed_axis: bool = False
    bounds: tuple[tuple[float, float], ...] | None = None
    schedules: tuple[str, ...] = ("constant",)
    schedule_axis: bool = False
    warmup: int = 0
    step_every: int = 1
    step_factor: float = 1.0
    scheduler: str | None = None
    backend: str = "auto"
    dtype: str = "float64"
    rules: tuple = ()  # RuleSpec of each rule of the user's own ([rules.NAME])

    @property
    def dim(self) -> int:
        return len(self.starts[0])

    def fixed(self, optimizer: str) -> dict[str, float]:
        """The hyperparameters ``[options.OPTIMIZER]`` fixes, by name (floats; flags 1.0/0.0)."""
        return dict(dict(self.options).get(optimizer, ()))

    def values(self, optimizer: str) -> dict[str, float]:
        """Every hyperparameter of ``optimizer`` that is not read from a grid axis: the
        value it runs at (``[options]``, else the rule's own default), by name."""
        rule = OPTIMIZERS[optimizer]
        swept = {axis.name for axis in self.axes if axis.given and not axis.setting}
        fixed = self.fixed(optimizer)
        return {h.name: fixed.get(h.name, float(h.default)) for h in rule.hyperparameters
                if h.name in fixed or h.name not in swept}

    def reads(self, optimizer: str, axis: str) -> bool:
        """Whether ``optimizer``'s cells take their ``axis`` value from the grid axis (else
        the rule is computed once and broadcast over it): it has a hyperparameter of that
        name, the grid file gives the axis, and ``[options]`` does not fix it."""
        if any(a.name == axis and a.setting for a in self.axes):
            return True  # a setting: every rule's cells differ along it
        given = any(a.name == axis and a.given for a in self.axes)
        return given and axis in OPTIMIZERS[optimizer].names and axis not in self.fixed(optimizer)


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
    except ValueError as error:  # TOMLDecodeError, or int() of a literal over 4300 digits
        # tomllib's message carries the line and column: keep it whole. At the
        # end of the file it gives neither, so say which line that is.
        message = str(error).replace("(at end of document)",
                                     f"(at end of document, line {text.count(chr(10)) + 1})")
        raise ConfigError(f"{source}: invalid TOML: {message}") from None
    return validate(table, source=source, text=text)


def validate(table: dict, source: str = "<config>", text: str | None = None) -> SweepConfig:
    """Check a dict shaped like the grid file and return the :class:`SweepConfig`.

    Raises:
        ConfigErrors: every mistake found (each key is checked even when another is
            wrong; a key whose meaning depends on a wrong one is not).
    """
    check = _Checker(source)
    try:
        return _validate(check, table, source, text)
    except _Stop:  # what could be checked has been: report it
        check.raise_errors()
        raise
    except ConfigErrors:
        raise
    except ConfigError as error:  # a mistake after which nothing more can be checked
        raise ConfigErrors(check.errors + [str(error)]) from None


def _validate(check, table: dict, source: str, text: str | None) -> SweepConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: the configuration must be a table, not {type(table).__name__}")
    check.known_keys(table, SECTIONS, "")
    for section, keys in REQUIRED.items():
        if section not in table and section in check.suggested:
            raise _Stop  # the typo's message names it
        body = check.table(table.get(section), section, required=True)
        check.known_keys(body, SECTIONS[section], section)  # a typo before a "missing" key
        for key in keys:
            if key not in body and f"{section}.{key}" not in check.suggested:
                check.note(f"{section}.{key}", None, "is required")
    sweep = table["sweep"]
    objective = table["objective"]
    attempt = check.attempt  # each value is checked even when another is wrong

    # A user's rules first: sweep.optimizers may name them.
    rules = attempt(_user_rules, check, table.get("rules", {})) or ()
    optimizers = attempt(_optimizers, check, sweep["optimizers"]) if "optimizers" in sweep else None
    steps = attempt(check.integer, sweep["steps"], "sweep.steps", minimum=1,
                    maximum=MAX_STEPS) if "steps" in sweep else None
    tol = attempt(check.number, sweep.get("tol", default_of("sweep", "tol")), "sweep.tol",
                  lambda v: v > 0, "must be > 0")
    record_every = attempt(check.integer,
                           sweep.get("record_every", default_of("sweep", "record_every")),
                           "sweep.record_every", minimum=0, maximum=MAX_STEPS)
    record = attempt(check.choice, sweep.get("record", default_of("sweep", "record")),
                     "sweep.record", RECORDS)
    output = attempt(_output, check, sweep.get("output"))
    scheduler = attempt(_scheduler, check, sweep.get("scheduler"))
    backend = attempt(check.choice, sweep.get("backend", default_of("sweep", "backend")),
                      "sweep.backend", BACKENDS)
    dtype = attempt(check.choice, sweep.get("dtype", default_of("sweep", "dtype")),
                    "sweep.dtype", DTYPES)

    name, params, starts, bound, spec = attempt(_objective, check, objective) or (None,) * 5
    noise = attempt(check.number, objective.get("noise", default_of("objective", "noise")),
                    "objective.noise", lambda v: v >= 0, "must be >= 0")
    seeds, seed_axis = attempt(_seeds, check, objective.get("seeds")) or (None, None)
    bounds = attempt(_bounds, check, objective.get("bounds"), len(starts[0]),
                     starts) if starts else None
    schedules, schedule_axis = attempt(_schedules, check,
                                       sweep.get("schedule", default_of("sweep", "schedule"))) \
        or ((), None)
    schedule = attempt(check.table, table.get("schedule", {}), "schedule") or {}
    check.known_keys(schedule, SECTIONS["schedule"], "schedule")
    warmup = attempt(check.integer, schedule.get("warmup", default_of("schedule", "warmup")),
                     "schedule.warmup", minimum=0, maximum=MAX_STEPS)
    if "step" in schedules and "every" not in schedule:
        check.note("schedule.every", None, 'is required with sweep.schedule = "step" '
                   "(multiply α by schedule.factor every this many steps)")
    step_every = attempt(check.integer, schedule.get("every", 1), "schedule.every", minimum=1,
                         maximum=MAX_STEPS)
    step_factor = attempt(check.number, schedule.get("factor", default_of("schedule", "factor")),
                          "schedule.factor", lambda v: v > 0, "must be > 0")
    grid = attempt(check.table, table.get("grid", {}), "grid") or {}
    declared = _swept_hyperparameters(optimizers or ())
    model = spec is not None and spec.kind == "model"
    read_at_run_time = OBJECTIVES[spec.name].axes if spec is not None and \
        spec.kind == "builtin" else ()
    settings = tuple(name for name in SETTING_AXES
                     if model or name not in MODEL_AXES or name in read_at_run_time)
    attempt(_own_noise, check, spec, objective, grid)
    not_axes = _not_axes(check, grid, spec, model, read_at_run_time)
    check.known_keys({key: value for key, value in grid.items() if key not in not_axes},
                     AXES + tuple(declared) + settings, "grid")
    # The settings first: a block holds one value of each (its chunks are 1 along them).
    axes = tuple(attempt(_setting_axis, check, name, grid[name], table, spec)
                 for name in settings if name in grid)
    axes += tuple(attempt(_axis, check, axis, grid.get(axis)) for axis in AXES) + tuple(
        attempt(_axis, check, name, grid[name], declared[name]) for name in grid
        if name in declared)
    given_options = attempt(check.table, table.get("options", {}), "options") or {}
    options = attempt(_options, check, given_options)
    # The rules named correctly, even where another name of the list is a mistake.
    named = [name for name in (sweep.get("optimizers") or []) if isinstance(name, str)
             and name in OPTIMIZERS] if isinstance(sweep.get("optimizers"), list) else []
    attempt(_check_readers, check, axes, optimizers or tuple(named), options or ())
    if spec is not None and spec.kind == "model":
        # The training kernels compute in float64 (float32 is left open).
        if dtype == "float32":
            check.note("sweep.dtype", dtype, "models train in float64 only (for now)")
    check.raise_errors()
    _warn_unswept_options(source, given_options, optimizers)

    if text is None:
        text = repr(table)
    config = SweepConfig(
        source=source, text=text, optimizers=optimizers, steps=steps, tol=tol,
        record_every=record_every, record=record, output=output, objective=name, objective_params=params,
        starts=starts, bound=bound, axes=axes, options=options, spec=spec, noise=noise,
        seeds=seeds, seed_axis=seed_axis, bounds=bounds, schedules=schedules,
        schedule_axis=schedule_axis, warmup=warmup, step_every=step_every,
        step_factor=step_factor, scheduler=scheduler, backend=backend, dtype=dtype, rules=rules)
    # Where the results go may still change (-o): here only what no output could hold (a
    # .zarr store on disk, the largest); sweep.run checks the memory when the results go there.
    check_size(config, streaming=True)
    return config


# --- sections ---------------------------------------------------------------

def _warn_unswept_options(source: str, options: dict, optimizers: tuple[str, ...]) -> None:
    """A :class:`ConfigWarning` for each ``[options.X]`` whose rule X is not swept."""
    for name in options:
        if name not in optimizers:
            warnings.warn(f"{source}: options.{_key(name)}: {name} is not in sweep.optimizers; "
                          "its options are unused", ConfigWarning, stacklevel=2)


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


def _scheduler(check, value):
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        check.fail("sweep.scheduler", value, 'must be a Dask scheduler address, e.g. '
                   '"tcp://10.0.0.5:8786"')
    return value.strip()


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
    kinds = [key for key in OBJECTIVE_KINDS if key in objective]
    if len(kinds) != 1:
        check.fail("[objective]", None, "needs exactly one of name (a built-in), model (trained "
                   "on data), file (with function) or expr (a formula)"
                   + (f", not {' and '.join(kinds)}" if kinds else ""))
    for key in ("minimizers", "minimum", "box"):
        if key in objective and kinds[0] in ("name", "model"):
            check.fail(f"objective.{key}", objective[key],
                       "is for objectives you write (file or expr); built-ins know their own")
    if kinds[0] == "model" or objective.get("name") == "logistic":
        return _model_objective(check, objective)
    if kinds[0] != "name":
        return _user_objective(check, objective, kinds[0])
    name = objective["name"]
    if not isinstance(name, str):
        check.fail("objective.name", name, "must be an objective name (a string)")
    entry = check.known_name(name, OBJECTIVES, "objective.name", "objective")
    for key in (*BUILTIN_PARAMS, *MODEL_KEYS):
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
        elif starts is not None and "dim" in entry.params:
            params["dim"] = len(starts[0])  # the start points say how many coordinates
            if params["dim"] < entry.min_dim:
                check.fail(start_keys[0], list(starts[0]),
                           f"{name} needs at least {entry.min_dim} coordinates")
    for param in entry.schema:
        if param.name != "dim" and param.name in objective:
            params[param.name] = _param(check, param, objective[param.name])
    ordered = tuple((key, params[key]) for key in entry.params)
    spec = ObjectiveSpec(kind="builtin", name=name, params=ordered)
    concrete = resolve(spec)  # built once: the plan and the kernels get this one
    dim = concrete.dim
    if starts is None:
        starts = concrete.starts
        start_keys = tuple(f"objective.start[{i}]" for i in range(len(starts)))
    for key, point in zip(start_keys, starts):
        if len(point) != dim:
            check.fail(key, list(point),
                       f"has {len(point)} coordinates but {name} has dim = {dim}")
    bound = None
    if "bound" in objective:
        bound = check.number(objective["bound"], "objective.bound", lambda v: v > 0, "must be > 0")
    return name, ordered, starts, bound, spec


def _param(check, param: Param, value, key: str | None = None):
    """``value`` checked against its :class:`~sweep.kernels.objectives.Param`, at ``key``
    (default ``objective.<name>``)."""
    key = key or f"objective.{param.name}"
    if param.kind == "int":
        value = check.integer(value, key, maximum=param.highest)
        if param.lowest is not None and (value <= param.lowest if param.above
                                         else value < param.lowest):
            check.fail(key, value, param.rule or f"must be {'>' if param.above else '>='} "
                                                 f"{param.lowest}")
        return value
    if param.kind == "float":
        lowest = -math.inf if param.lowest is None else param.lowest
        highest = math.inf if param.highest is None else param.highest
        rule = param.rule or f"must be {'>' if param.above else '>='} {lowest}"
        inside = (lambda v: lowest < v < highest) if param.above else \
            (lambda v: lowest <= v < highest) if param.highest is not None else \
            (lambda v: v >= lowest)
        return check.number(value, key, inside, rule)
    if param.kind == "bool":
        if not isinstance(value, bool):
            check.fail(key, value, "must be true or false")
        return value
    if param.kind == "str":
        if param.choices:
            if not isinstance(value, str) or value not in param.choices:
                close = _closest(value, param.choices) if isinstance(value, str) else None
                check.fail(key, value, "must be one of " + ", ".join(f'"{c}"' for c in param.choices),
                           f"Perhaps you meant {_show(close)}?" if close else "")
            return value
        if not isinstance(value, str):
            check.fail(key, value, "must be a string")
        return value
    if param.kind == "ints":
        items = check.sequence(value, key, nonempty=True)
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, int) or not (
                    param.lowest <= item <= param.highest):
                check.fail(f"{key}[{i}]", item, param.rule)
        return tuple(items)
    raise ValueError(f"unknown parameter kind {param.kind!r}")


def _model_objective(check, objective):
    """A model trained on data (``model = ...``), or ``name = "logistic"``, the logistic
    model on the generated blobs as before models existed."""
    given = {param.name: param.default for param in models.SCHEMA}
    if "model" not in objective:  # name = "logistic"
        legacy = {param.name: param.default for param in LOGISTIC_SCHEMA}
        for param in LOGISTIC_SCHEMA:
            if param.name in objective:
                legacy[param.name] = _param(check, param, objective[param.name])
        for key in models.PARAMS:
            if key in objective and key not in legacy:
                check.fail(f"objective.{key}", objective[key], 'is for objective.model: '
                           f'name = "logistic" takes only {", ".join(legacy)}')
        given |= {"model": "logistic", "test_fraction": 0.0, "standardize": False,
                  "data": ("blobs", (("samples", legacy["samples"]),
                                     ("features", legacy["features"]))),
                  "batch_size": legacy["batch_size"], "l2": legacy["l2"],
                  "data_seed": legacy["data_seed"]}
    else:
        for key in (*BUILTIN_PARAMS, *(p.name for p in LOGISTIC_SCHEMA)):
            if key in objective and key not in models.PARAMS:
                check.fail(f"objective.{key}", objective[key],
                           "is for built-in objectives, not models (python -m sweep list: models)")
        for param in models.SCHEMA:
            if param.name in objective and param.name != "data":
                given[param.name] = _param(check, param, objective[param.name])
        if "data" not in objective:
            check.fail("objective.data", None, "is required with objective.model: a bundled set "
                       f"({', '.join(datasets.BUNDLED)}), a generated one "
                       f"({', '.join(datasets.GENERATED)}) or an .npz file")
        given["data"] = _data_key(check, objective["data"])
        model = models.MODELS[given["model"]]
        for key, allowed in (("hidden", model.layers), ("activation", model.layers),
                             ("bias", model.bias)):
            if key in objective and not allowed:
                check.fail(f"objective.{key}", objective[key], f"{model.name} takes no {key} "
                           f"({'only mlp has hidden layers' if key != 'bias' else 'only linear may drop its bias'})")
        if given["loss"] is not None and given["loss"] not in model.losses:
            check.fail("objective.loss", given["loss"], f"{model.name} trains with "
                       + " or ".join(model.losses))
    given["start"] = "start" in objective
    # An .npz file is relative to the grid file, so a grid and its data travel together;
    # from here on it is named by its absolute path (any process rebuilds the same data).
    base = Path(check.source).parent if check.source != "<config>" else Path.cwd()
    path = _npz_path(given["data"], base)
    if path is not None:
        given["data"] = path if isinstance(given["data"], str) else (path, given["data"][1])
    params = tuple(given.items())
    try:
        concrete = models.build(params)
    except datasets.DataError as error:
        check.fail(*_data_error_key(error, given), str(error))
    training = concrete.model
    if given["batch_size"] > training.dataset.n_train:
        check.fail("objective.batch_size", given["batch_size"],
                   f"is larger than the training set ({training.dataset.n_train} samples)")
    dim = concrete.dim
    if "start" in objective:
        starts, start_keys = _starts(check, objective["start"])
        for key, point in zip(start_keys, starts):
            if len(point) != dim:
                check.fail(key, f"[{len(point)} numbers]",
                           f"has {len(point)} coordinates but the model has {dim} parameters")
    else:  # drawn per seed (Plan.hyperparameters), or zeros
        starts = ((math.nan if training.start == "torch" else 0.0,) * dim,)
    bound = None
    if "bound" in objective:
        bound = check.number(objective["bound"], "objective.bound", lambda v: v > 0, "must be > 0")
    name = f"{given['model']} on {training.dataset.name}"
    spec = ObjectiveSpec(kind="model", name=name, params=params, dim=dim, file=path,
                         digest=file_digest(path) if path else None)
    return name, params, starts, bound, spec


def _data_key(check, value):
    """``data``: a name or file (a string), or a table ``{name = ..., <its parameters>}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if not isinstance(value.get("name"), str):
            check.fail("objective.data.name", value.get("name"),
                       "is required in a data table: the set's name")
        extra = tuple(sorted((key, tuple(item) if isinstance(item, list) else item)
                             for key, item in value.items() if key != "name"))
        return (value["name"], extra)
    check.fail("objective.data", value, "must be a data set's name, an .npz file, or a table "
               '{name = "moons", samples = 500}')


def _npz_path(data, base: Path) -> str | None:
    """The absolute path of an .npz data set, or None for a bundled or generated one."""
    name = data if isinstance(data, str) else data[0]
    return str((base / name).resolve()) if name.endswith(".npz") else None


def _data_error_key(error, given) -> tuple[str, Any]:
    """The grid key a :class:`sweep.datasets.DataError` is about, and its value."""
    key = error.key
    data = given["data"]
    name = data if isinstance(data, str) else data[0]
    if key in ("y_train", "y_test", "targets") and given["loss"] is not None:
        return "objective.loss", given["loss"]
    if key == "data" or key in ("x_train", "y_train", "x_test", "y_test"):
        suffix = "" if key == "data" else f" ({key})"
        return f"objective.data{suffix}", name
    if key in dict(given):
        return f"objective.{key}", given[key]
    return f"objective.data.{key}", dict(data[1]).get(key) if not isinstance(data, str) else None


def _user_objective(check, objective, kind):
    """An objective from the user's Python file or formula; ``start`` gives its dimension."""
    for key in ("function",) if kind == "expr" else ():
        if key in objective:
            check.fail(f"objective.{key}", objective[key], "goes with objective.file, not expr")
    for key in (*BUILTIN_PARAMS, *MODEL_KEYS):
        if key in objective:
            check.fail(f"objective.{key}", objective[key],
                       "is for built-ins and models: the start points give the dimension")
    if "start" not in objective:
        check.fail("objective.start", None, f"is required with objective.{kind}: it gives the "
                   "dimension and there is no customary start")
    starts, start_keys = _starts(check, objective["start"])
    dim = len(starts[0])
    for key, point in zip(start_keys, starts):
        if len(point) != dim:
            check.fail(key, list(point), f"has {len(point)} coordinates but the first start has {dim}")
    if kind == "file":
        path = objective["file"]
        if not isinstance(path, str) or not path.endswith(".py"):
            check.fail("objective.file", path, "must name a Python file (.py)")
        if "function" not in objective:
            check.fail("objective.function", None, "is required with objective.file")
        function = objective["function"]
        if not isinstance(function, str) or not function.isidentifier():
            check.fail("objective.function", function, "must be a function name")
        # Relative to the grid file, so a grid and its objectives travel together.
        base = Path(check.source).parent if check.source != "<config>" else Path.cwd()
        try:
            resolved = (base / path).resolve()
            found = resolved.is_file()
        except (ValueError, OSError) as error:  # a NUL byte, a name too long for the system
            check.fail("objective.file", path, f"is not a usable path ({error})")
        if not found:
            check.fail("objective.file", path, f"no such file ({resolved})")
        try:
            load_function(str(resolved), function)
        except ObjectiveError as error:
            check.fail("objective.function" if "no function" in str(error) else "objective.file",
                       function if "no function" in str(error) else path, str(error))
        name = f"{path}:{function}"
        spec_args = dict(kind="python", name=name, file=str(resolved), function=function,
                         digest=file_digest(str(resolved)))
    else:
        name = objective["expr"]
        if not isinstance(name, str) or not name.strip():
            check.fail("objective.expr", name, "must be a formula in x, y (or x0 … xn) and t")
        from sweep.kernels.formula import FormulaError, formula_objective

        try:
            _, _, formula_dim = formula_objective(name, dim)
        except FormulaError as error:
            check.fail("objective.expr", name, str(error))
        except ZeroDivisionError:
            check.fail("objective.expr", name, "divides by zero")
        except OverflowError:
            check.fail("objective.expr", name, "has a constant too large for a float")
        except (ArithmeticError, ValueError, RecursionError) as error:  # sympy's own limits
            check.fail("objective.expr", name,
                       f"cannot be evaluated ({type(error).__name__}: {error})")
        if formula_dim != dim:
            check.fail("objective.start[0]", list(starts[0]),
                       f"has {dim} coordinates but the formula has {formula_dim} variables")
        spec_args = dict(kind="expr", name=name)
    minimizers = None
    if "minimizers" in objective:
        minimizers, _ = _starts(check, objective["minimizers"], "objective.minimizers")
        for i, point in enumerate(minimizers):
            if len(point) != dim:
                check.fail(f"objective.minimizers[{i}]", list(point), f"must have {dim} coordinates")
    minimum = None
    if "minimum" in objective:
        minimum = check.number(objective["minimum"], "objective.minimum")
    box = None
    if "box" in objective:
        rows = check.sequence(objective["box"], "objective.box", nonempty=True)
        box = tuple(_interval(check, row, f"objective.box[{i}]") for i, row in enumerate(rows))
        if len(box) > 2 or len(box) > dim:
            check.fail("objective.box", objective["box"], "gives the plotting box of the first "
                       "one or two coordinates: [[xmin, xmax], [ymin, ymax]]")
    bound = None
    if "bound" in objective:
        bound = check.number(objective["bound"], "objective.bound", lambda v: v > 0, "must be > 0")
    spec = ObjectiveSpec(dim=dim, minimizers=minimizers, minimum=minimum, box=box, **spec_args)
    return name, (), starts, bound, spec


def _interval(check, value, key):
    pair = check.sequence(value, key)
    if len(pair) != 2:
        check.fail(key, value, "must be [lo, hi]")
    low = check.number(pair[0], f"{key}[0]")
    high = check.number(pair[1], f"{key}[1]")
    if not low < high:
        check.fail(f"{key}[1]", high, f"must be > {key}[0] = {low!r}")
    return low, high


def _bounds(check, value, dim, starts):
    """``[[lo, hi], …]`` per coordinate, or one ``[lo, hi]`` for all."""
    if value is None:
        return None
    rows = check.sequence(value, "objective.bounds", nonempty=True)
    if all(not isinstance(row, list) for row in rows):
        bounds = (_interval(check, rows, "objective.bounds"),) * dim
    else:
        if len(rows) != dim:
            check.fail("objective.bounds", value, f"needs one [lo, hi] per coordinate ({dim})")
        bounds = tuple(_interval(check, row, f"objective.bounds[{i}]") for i, row in enumerate(rows))
    for i, point in enumerate(starts):
        if any(not low <= x <= high for x, (low, high) in zip(point, bounds)):
            check.fail(f"objective.start[{i}]", list(point), "is outside objective.bounds")
    return bounds


def _seeds(check, value):
    """``seeds = N`` (seeds 0 … N−1) or a list of distinct seeds: a ``seed`` dimension."""
    if value is None:
        return (0,), False
    if isinstance(value, list):
        if not value:
            check.fail("objective.seeds", value, "must not be empty")
        seeds = tuple(check.integer(v, f"objective.seeds[{i}]", minimum=0, maximum=2**63 - 1)
                      for i, v in enumerate(value))
        if len(set(seeds)) != len(seeds):
            check.fail("objective.seeds", value, "lists a seed twice")
        return seeds, True
    count = check.integer(value, "objective.seeds", minimum=1, maximum=MAX_AXIS_VALUES)
    return tuple(range(count)), True


def _schedules(check, value):
    """One schedule name, or a list of them (a ``schedule`` dimension)."""
    names = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        check.fail("sweep.schedule", value, "must not be empty")
    for i, name in enumerate(names):
        key = f"sweep.schedule[{i}]" if isinstance(value, list) else "sweep.schedule"
        if not isinstance(name, str):
            check.fail(key, name, "must be a schedule name (a string)")
        check.known_name(name, SCHEDULES, key, "schedule")
    if len(set(names)) != len(names):
        check.fail("sweep.schedule", value, "lists a schedule twice")
    return tuple(names), isinstance(value, list)

def _starts(check, value, key="objective.start"):
    rows = check.sequence(value, key, nonempty=True)
    if all(not isinstance(row, list) for row in rows):
        rows = [rows]  # one point written as a flat list
        keys = [key]
    else:
        keys = [f"{key}[{i}]" for i in range(len(rows))]
    points = []
    for row_key, row in zip(keys, rows):
        coordinates = check.sequence(row, row_key, nonempty=True)
        points.append(tuple(check.number(c, f"{row_key}[{j}]") for j, c in enumerate(coordinates)))
    if len(set(points)) != len(points):
        check.fail(key, value, "lists the same point twice")
    return tuple(points), tuple(keys)


RULE_KEYS = tuple(found.name for found in KEYS["rules"])


def _user_rules(check, table) -> tuple:
    """``[rules.NAME]``: rules of the user's own, each checked (it compiles, it returns the
    state it declares) and registered under its name; returns their :class:`RuleSpec`s."""
    from sweep.kernels.rules import RuleSpec

    from .user_rules import BUILTIN, RuleError, check as check_rule

    table = check.table(table, "rules")
    specs = []
    for name, body in table.items():
        key = f"rules.{_key(name)}"
        if not isinstance(name, str) or not name.isidentifier():
            check.fail(key, None, "must be a name of letters, digits and _")
        if name in BUILTIN:
            check.fail(key, None, f"clashes with the built-in rule {name!r}: name yours otherwise")
        body = check.table(body, key)
        check.known_keys(body, RULE_KEYS, key)
        for part in ("file", "function", "hyperparameters"):
            if part not in body:
                check.fail(f"{key}.{part}", None, "is required")
        path, function = body["file"], body["function"]
        if not isinstance(path, str) or not path.endswith(".py"):
            check.fail(f"{key}.file", path, "must name a Python file (.py)")
        if not isinstance(function, str) or not function.isidentifier():
            check.fail(f"{key}.function", function, "must be a function name")
        base = Path(check.source).parent if check.source != "<config>" else Path.cwd()
        resolved = (base / path).resolve()
        if not resolved.is_file():
            check.fail(f"{key}.file", path, f"no such file ({resolved})")
        hyperparameters = check.table(body["hyperparameters"], f"{key}.hyperparameters")
        if "alpha" not in hyperparameters:
            check.fail(f"{key}.hyperparameters", None,
                       "must name alpha (the step size, which the schedule scales)")
        values = []
        for hyper_name, given in hyperparameters.items():
            hyper_key = f"{key}.hyperparameters.{_key(hyper_name)}"
            if not str(hyper_name).isidentifier() or hyper_name in ("t", "h"):
                check.fail(hyper_key, None, "must be a name of letters, digits and _")
            rule = (lambda v: v > 0, "must be > 0") if hyper_name == "alpha" else (None, "")
            values.append((hyper_name, check.number(given, hyper_key, *rule)))
        values.sort(key=lambda item: item[0] != "alpha")  # alpha first
        state = check.sequence(body.get("state", default_of("rules", "state")), f"{key}.state")
        for i, item in enumerate(state):
            if not isinstance(item, str) or not item.isidentifier():
                check.fail(f"{key}.state[{i}]", item, "must be a name")
        if len(set(state)) != len(state):
            check.fail(f"{key}.state", state, "names a value twice")
        spec = RuleSpec(name=name, file=str(resolved), function=function,
                        digest=file_digest(str(resolved)), hyperparameters=tuple(values),
                        state=tuple(state))
        try:
            check_rule(spec)
        except RuleError as error:
            check.fail(f"{key}.file", path, str(error))
        specs.append(spec)
    return tuple(specs)


def _check_readers(check, axes, optimizers, options) -> None:
    """Each value of a hyperparameter axis must be valid for every swept rule that reads it
    (one that fixes it in [options] does not): the message names the rule."""
    fixed = {rule: dict(values) for rule, values in options}
    for axis in axes:
        if axis is None or axis.setting or not axis.given:
            continue
        readers = [OPTIMIZERS[name] for name in optimizers if name in OPTIMIZERS
                   and axis.name in OPTIMIZERS[name].names
                   and axis.name not in fixed.get(name, {})]
        for rule in readers:
            refused = _first_invalid(rule.hyperparameter(axis.name), axis.values)
            if refused is not None:  # the first only: one message per axis
                check.note(f"grid.{axis.name}[{refused}]" if len(axis.values) > 1 else
                           f"grid.{axis.name}", axis.values[refused],
                           f"{rule.hyperparameter(axis.name).rule_text} for {rule.name} "
                           "(which reads it)")
                break


def _first_invalid(hyperparameter, values) -> int | None:
    """The index of the first of ``values`` ``hyperparameter`` refuses, or None. A range is
    an interval: where its ends are valid so is every value between (a grid of a million
    values is checked in two calls), unless whole numbers or flags are asked for."""
    ends = (min(values), max(values)) if values else ()
    if not (hyperparameter.flag or hyperparameter.integer) and all(map(hyperparameter.valid,
                                                                       ends)):
        return None
    return next((i for i, value in enumerate(values) if not hyperparameter.valid(value)), None)


def _not_axes(check: "_Checker", grid: dict, spec, model: bool, read_at_run_time=()) -> set:
    """Keys of ``grid`` that name a parameter that cannot be an axis, each noted with why:
    a parameter of the objective compiled into its kernel (a quadratic's ``kappa`` and
    ``dim``: each value would be a kernel of its own), or a model's setting on a landscape
    whose objective does not read it at run time (``read_at_run_time``: the nqm's
    ``batch_size``)."""
    found = set()
    compiled_in = dict(spec.params) if spec is not None and not model else {}
    for name in grid:
        if name in compiled_in and name not in SETTING_AXES:
            check.note(f"grid.{name}", None, NOT_AXES["compiled"],
                       f"Set objective.{name} to one value per grid file.")
            found.add(name)
        elif name in MODEL_AXES and not model and name not in read_at_run_time:
            check.note(f"grid.{name}", None, NOT_AXES["model"])
            found.add(name)
    return found


def _own_noise(check, spec, objective: dict, grid: dict) -> None:
    """An objective whose gradient noise is its own (the nqm's minibatch: σ = 1/√B) takes
    no ``noise`` besides."""
    if spec is None or spec.kind != "builtin" or resolve(spec).noise_scale is None:
        return
    for key, where in (("objective.noise", objective), ("grid.noise", grid)):
        if "noise" in where:
            check.note(key, where["noise"] if key == "objective.noise" else None,
                       f"{spec.name}'s gradient noise is its minibatch's: set "
                       "objective.batch_size (or sweep it as grid.batch_size) instead")


def _setting_axis(check, name, value, table, spec):
    """A grid axis over a parameter of the objective, model or schedule (SETTING_AXES),
    checked as the key it stands for would be; not given there too."""
    section = SETTING_AXES[name]
    if name in (table.get(section) or {}):
        check.fail(f"grid.{name}", None, f"is given in [{section}] too: sweep it in [grid] "
                   f"or fix it in [{section}], not both")
    key = f"grid.{name}"
    # The float settings take a range {min, max, num, scale} as the hyperparameters do;
    # the step counts (warmup, batch_size) are integers, listed.
    float_rules = {"noise": (lambda v: v >= 0, "must be >= 0"),
                   "l2": (lambda v: v >= 0, "must be >= 0"),
                   "factor": (lambda v: v > 0, "must be > 0")}
    if isinstance(value, dict):
        if name not in float_rules:
            check.fail(key, value, "takes a list of whole numbers (or one), not a range")
        axis = _range_axis(check, name, value, float_rules[name])
        return replace(axis, setting=True)
    items = [(f"{key}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list) else \
        [(key, value)]
    if not items:
        check.fail(key, value, "must list at least one value")
    model = spec is not None and spec.kind == "model"
    if name in ("warmup", "batch_size"):
        least = 1 if name == "batch_size" and not model else 0  # 0: a model's whole set
        values = tuple(float(check.integer(v, k, minimum=least, maximum=MAX_STEPS))
                       for k, v in items)
    else:
        rule, broken = float_rules[name]
        values = tuple(check.number(v, k, rule, broken) for k, v in items)
    if name == "batch_size" and model:
        samples = resolve(spec).model.dataset.n_train
        for k, v in items:
            if v > samples:
                check.fail(k, v, f"is larger than the training set ({samples} samples)")
    if len(set(values)) != len(values):
        repeated = next(v for v in values if values.count(v) > 1)
        check.fail(key, value, f"lists {repeated!r} twice")
    return Axis(name=name, values=values, scale=_infer_scale(values), setting=True)


def _swept_hyperparameters(optimizers) -> dict:
    """Every hyperparameter of the swept rules but the four of every grid, by name (the
    declaration of the first rule that has it): the other keys ``[grid]`` takes."""
    found = {}
    for optimizer in optimizers:
        if optimizer in OPTIMIZERS:
            for declared in OPTIMIZERS[optimizer].hyperparameters:
                if declared.name not in AXES:
                    found.setdefault(declared.name, declared)
    return found


def _axis(check, name, value, declared=None):
    """A grid axis: one of the four of every grid (``declared`` None) or a hyperparameter
    of a swept rule (``declared`` its declaration; a flag takes a list of true/false)."""
    key = f"grid.{name}"
    if declared is None:
        rule, broken = AXIS_RULES[name]
    else:
        rule, broken = declared.valid, declared.rule_text
    if value is None:
        return Axis(name=name, values=DEFAULT_AXES[name], scale="linear", given=False)
    if isinstance(value, dict) and not (declared is not None and declared.flag):
        return _range_axis(check, name, value, (rule, broken))
    if not isinstance(value, list):
        value = [value]  # a single value
        items = [(key, value[0])]
    else:
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    if not items:
        check.fail(key, value, "must list at least one value")
    if declared is not None and declared.flag:
        values = tuple(check.hyperparameter(declared, v, k) for k, v in items)
    else:
        values = tuple(check.number(v, k, rule, broken) for k, v in items)
    if len(set(values)) != len(values):
        repeated = next(v for v in values if values.count(v) > 1)
        check.fail(key, value, f"lists {repeated!r} twice")
    return Axis(name=name, values=values, scale=_infer_scale(values))


def _range_axis(check, name, spec, rule_and_message):
    key = f"grid.{name}"
    rule, broken = rule_and_message
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
    return Axis(name=name, values=values, scale=scale)


def _infer_scale(values):
    """A listed axis is labelled log-spaced when its values are positive and not evenly
    spaced, and either form a geometric series (three or more) or span two decades or
    more (``eps = [1e-8, 1e-4]``): values spread over decades are read on a log axis."""
    if len(values) < 2 or min(values) <= 0:
        return "linear"
    steps = np.diff(values)
    if len(values) >= 3 and np.allclose(steps, steps[0], rtol=1e-6):
        return "linear"
    ratios = np.diff(np.log(values))
    geometric = len(values) >= 3 and np.allclose(ratios, ratios[0], rtol=1e-6)
    return "log" if geometric or max(values) / min(values) >= 100 else "linear"


def _options(check, options, swept=()):
    """``[options.RULE]``: values fixed for one rule, any of its hyperparameters but α (a
    value fixed here is not read from the grid axis of that name: the rule is computed
    once and broadcast over it). Returns ``((rule, ((name, value), ...)), ...)`` for the
    rules that fix something, values as floats (a flag as 1.0/0.0)."""
    resolved = []
    for optimizer in options:
        check.attempt(check.known_name, optimizer, OPTIMIZERS, f"options.{_key(optimizer)}",
                      "optimizer", show=False)
    for name, rule in OPTIMIZERS.items():
        if name not in options:
            continue
        body = check.table(options[name], f"options.{name}")
        allowed = tuple(n for n in rule.names if n != "alpha")
        if not allowed and body:
            first = next(iter(body))
            check.fail(f"options.{name}.{first}", body[first],
                       f"{name} takes no options (alpha, its one hyperparameter, is a grid axis)")
        check.known_keys(body, allowed, f"options.{name}")
        fixed = []
        for key_name, value in body.items():
            if key_name not in allowed:  # noted by known_keys
                continue
            fixed.append((key_name, check.hyperparameter(rule.hyperparameter(key_name), value,
                                                          f"options.{name}.{key_name}")))
        resolved.append((name, tuple(fixed)))
    return tuple(resolved)


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
    if config.spec.kind == "model":  # three more metrics and curves; no θ recorded
        return _cells(config) * (8 * 7 + 1 + 8 * config.dim + 8 * records * 3)
    recorded = config.dim + 1 if config.record == "trajectory" else 1
    per_cell = 8 * 4 + 1 + 8 * config.dim + 8 * records * recorded
    return _cells(config) * per_cell


def _cells(config: SweepConfig) -> int:
    axes = len(config.seeds) * len(config.schedules)
    for axis in config.axes:
        axes *= len(axis.values)
    return len(config.optimizers) * len(config.starts) * axes


def check_size(config: SweepConfig, streaming: bool) -> None:
    """Refuse a grid whose results would not fit: in memory (``streaming`` False:
    the dataset is assembled in RAM), or on the disk (a ``.zarr`` store written
    chunk by chunk, whatever its size against the RAM)."""
    if streaming:
        _check_disk(config)
    else:
        _check_memory(config)


def _check_disk(config: SweepConfig) -> None:
    # Only a sanity bound: the store's compression makes the real size smaller.
    needed = result_bytes(config)
    if needed > MAX_STORE_BYTES:
        raise ConfigError(
            f"{config.source}: the results would take {_bytes(needed)} "
            f"({_cells(config):,} cells), more than {_bytes(MAX_STORE_BYTES)}\n"
            "  Make the grid smaller" + (", or raise sweep.record_every." if config.record_every
                                         else "."))


def _check_memory(config: SweepConfig) -> None:
    needed = result_bytes(config)
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: do not guess
        return
    limit = tunables.MAX_MEMORY_FRACTION * available
    if needed > limit:
        recording = config.record_every > 0
        raise ConfigError(
            f"{config.source}: the results would take {_bytes(needed)} "
            f"({'trajectories' if recording else 'metrics'} of {_cells(config):,} cells), more than "
            f"{_bytes(limit)} ({tunables.MAX_MEMORY_FRACTION:.0%} of this machine's memory)\n"
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
        return json.dumps(value, ensure_ascii=False)  # quoted, newlines escaped: one line
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return repr(value)
        except ValueError:  # more than 4300 digits
            return f"<an integer of {abs(value).bit_length()} bits>"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_show(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "isoformat"):  # TOML dates and times
        return value.isoformat()
    return repr(value)


def _key(key) -> str:
    """A key as text on one line (a TOML key may hold any character; a dict key any type)."""
    return json.dumps(str(key), ensure_ascii=False)[1:-1]


def _closest(name, choices) -> str | None:
    """The choice most like ``name``, ignoring case ("adamW" is "adamw", not "adam")."""
    lowered = {str(choice).lower(): choice for choice in choices}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1)
    return lowered[close[0]] if close else None


class _Stop(Exception):
    """Nothing more can be checked, and the mistakes noted so far say why."""


class _Checker:
    """Raises (``fail``) or notes (``note``) :class:`ConfigError` messages that start with
    the file's name; ``errors`` holds those noted, ``suggested`` the key paths that
    "Perhaps you meant" named."""

    def __init__(self, source: str):
        self.source = source
        self.errors: list[str] = []
        self.suggested: set[str] = set()

    def message(self, key: str, value: Any, rule: str, hint: str = "") -> str:
        shown = "" if value is None else f" = {_show(value)}"
        return f"{self.source}: {key}{shown}: {rule}" + (f"\n  {hint}" if hint else "")

    def fail(self, key: str, value: Any, rule: str, hint: str = ""):
        raise ConfigError(self.message(key, value, rule, hint))

    def note(self, key: str, value: Any, rule: str, hint: str = ""):
        """A mistake that does not stop the checks of other keys."""
        self.errors.append(self.message(key, value, rule, hint))

    def attempt(self, check, *args, **kwargs):
        """``check(*args, **kwargs)``, or None after noting the mistake it raised."""
        try:
            return check(*args, **kwargs)
        except ConfigError as error:
            self.errors.append(str(error))
            return None

    def raise_errors(self):
        if self.errors:
            raise ConfigErrors(self.errors)

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
        try:
            as_float = float(value)
        except OverflowError:  # an integer beyond the float range
            self.fail(key, value, "must be a finite number (it is beyond the float range)")
        if not math.isfinite(as_float):
            self.fail(key, value, "must be a finite number")
        if rule is not None and not rule(as_float):
            self.fail(key, value, broken)
        return as_float

    def hyperparameter(self, declared, value, key) -> float:
        """A value of the hyperparameter ``declared`` (a
        :class:`sweep.kernels.rules.Hyperparameter`) as a float: a flag is true or false
        (1.0/0.0), others a number in its range."""
        if declared.flag:
            if not isinstance(value, bool):
                self.fail(key, value, "must be true or false")
            return 1.0 if value else 0.0
        number = self.number(value, key)
        if not declared.valid(number):
            self.fail(key, value, declared.rule_text)
        return number

    def choice(self, value, key, choices) -> str:
        """One of ``choices`` (strings), else an error that lists them."""
        if not isinstance(value, str) or value not in choices:
            self.fail(key, value, "must be one of " + ", ".join(f'"{c}"' for c in choices))
        return value

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
            # Rules of other libraries that this project does not have: "lamb" is not a
            # typo of "adam", so list what there is rather than suggest a near name.
            elsewhere = {"lamb", "lars", "adafactor", "novograd", "adamp", "sgdw", "sophia",
                         "shampoo", "ranger", "asgd", "lbfgs", "sparseadam", "sparse_adam",
                         "adagradw", "muon", "prodigy", "dadaptation"}
            known = isinstance(name, str) and name.lower() in elsewhere
            close = None if known else _closest(name, registry)
            hint = f"Perhaps you meant {_show(close)}?" if close else \
                f"Known {what}s: {', '.join(registry)}."
            self.fail(key, name if show else None, f"unknown {what}", hint)
        return registry[name]

    def known_keys(self, table, allowed, prefix):
        """Note every key of ``table`` not in ``allowed`` (the others are still checked)."""
        for key in table:
            if key not in allowed:
                path = f"{prefix}.{_key(key)}" if prefix else _key(key)
                alias = ALIASES.get(str(key).lower())
                close = alias if alias in allowed else _closest(key, allowed)
                if close is not None:
                    self.suggested.add(f"{prefix}.{close}" if prefix else close)
                hint = f"Perhaps you meant {_show(close)}?" if close else \
                    f"Allowed: {', '.join(allowed)}."
                self.note(path, None, "unknown key", hint)
