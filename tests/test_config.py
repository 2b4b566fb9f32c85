"""Grid-file validation: every mistake is refused before any work starts.

A refused file exits with status 2 and one or two lines on stderr naming the
file, the dotted key path and the rule broken (plus "Perhaps you meant ..." for
a typo), leaves nothing behind, and does so before numba is imported. The same
mistakes given as a dict to ``sweep.config.validate`` raise ``ConfigError``
from ``<config>``.

Most cases run in-process (``sweep.cli.main`` with capsys, and
``sweep.config.load`` / ``validate``); a representative few run
``python -m sweep`` in a subprocess.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sweep import cli  # noqa: E402
from sweep.config import DEFAULT_TOL, SweepConfig, load, validate  # noqa: E402
from sweep.errors import ConfigError  # noqa: E402

GRID = "grid.toml"
DELETE = object()

# A small valid grid: every section, every kind of axis, two options.
BASE = {
    "sweep": {"optimizers": ["adam", "rmsprop", "adamw"], "steps": 50, "tol": 1e-6,
              "record_every": 0},
    "objective": {"name": "booth", "start": [[0.0, 0.0], [1.0, 1.0]]},
    "grid": {"alpha": [1e-3, 1e-2], "beta1": [0.0, 0.9], "beta2": 0.999, "eps": [0.0, 1e-8]},
    "options": {"rmsprop": {"centered": False}, "adamw": {"weight_decay": 0.01}},
}


# --- writing TOML -------------------------------------------------------------

def toml_value(value) -> str:
    """``value`` as TOML: nan, inf and booleans as TOML spells them, dicts inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def to_toml(table: dict) -> str:
    """Top-level non-tables first, then one ``[section]`` per table, its tables inline."""
    lines = [f"{key} = {toml_value(v)}" for key, v in table.items() if not isinstance(v, dict)]
    for key, body in table.items():
        if isinstance(body, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def edited(edits: dict) -> dict:
    """A copy of :data:`BASE` with ``{"dotted.path": value or DELETE}`` applied in order."""
    table = copy.deepcopy(BASE)
    for path, value in edits.items():
        *parents, last = path.split(".")
        node = table
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return table


def test_base_grid_is_valid_and_round_trips_through_toml(tmp_path):
    path = tmp_path / GRID
    path.write_text(to_toml(BASE))
    from_file, from_dict = load(path), validate(copy.deepcopy(BASE))
    assert from_file.source == str(path) and from_dict.source == "<config>"
    assert from_file.text == path.read_text()
    for field in ("optimizers", "steps", "tol", "record_every", "output", "objective",
                  "objective_params", "starts", "bound", "axes", "options"):
        assert getattr(from_file, field) == getattr(from_dict, field), field


# --- the corpus of mistakes -----------------------------------------------------
# (id, edits, key, rule, hint): the message's first line is "SOURCE: KEY..." and
# contains RULE; HINT (if any) is on the second line.

def case(id, edits, key, rule, hint=None):
    return pytest.param(edits, key, rule, hint, id=id)


SWEEP = [
    case("optimizers-not-list", {"sweep.optimizers": "adam"},
         'sweep.optimizers = "adam"', "must be a list"),
    case("optimizers-empty", {"sweep.optimizers": []}, "sweep.optimizers = []", "must not be empty"),
    case("optimizers-typo", {"sweep.optimizers": ["adam", "rmsporp"]},
         'sweep.optimizers[1] = "rmsporp"', "unknown optimizer", 'Perhaps you meant "rmsprop"?'),
    case("optimizers-typo-adm", {"sweep.optimizers": ["adm"]},
         'sweep.optimizers[0] = "adm"', "unknown optimizer", 'Perhaps you meant "adam"?'),
    case("optimizers-case", {"sweep.optimizers": ["adamW"]},  # "adam" is closer, case aside
         'sweep.optimizers[0] = "adamW"', "unknown optimizer", 'Perhaps you meant "adamw"?'),
    case("optimizers-upper-case", {"sweep.optimizers": ["RMSProp"]},
         'sweep.optimizers[0] = "RMSProp"', "unknown optimizer", 'Perhaps you meant "rmsprop"?'),
    case("axis-key-case", {"grid.Beta2": [0.9]},
         "grid.Beta2", "unknown key", 'Perhaps you meant "beta2"?'),
    case("alias-case", {"grid.LR": [0.1]}, "grid.LR", "unknown key", 'Perhaps you meant "alpha"?'),
    case("optimizers-unknown", {"sweep.optimizers": ["lbfgs"]},
         'sweep.optimizers[0] = "lbfgs"', "unknown optimizer", "Known optimizers: sgd, momentum,"),
    case("optimizers-duplicated", {"sweep.optimizers": ["adam", "sgd", "adam"]},
         'sweep.optimizers[2] = "adam"', "is listed twice"),
    case("optimizers-not-string", {"sweep.optimizers": ["adam", 3]},
         "sweep.optimizers[1] = 3", "must be an optimizer name"),
    case("optimizers-missing", {"sweep.optimizers": DELETE}, "sweep.optimizers", "is required"),
    case("steps-missing", {"sweep.steps": DELETE}, "sweep.steps", "is required"),
    case("steps-zero", {"sweep.steps": 0}, "sweep.steps = 0", "must be >= 1"),
    case("steps-negative", {"sweep.steps": -5}, "sweep.steps = -5", "must be >= 1"),
    case("steps-float", {"sweep.steps": 1.5}, "sweep.steps = 1.5", "must be an integer"),
    case("steps-integral-float", {"sweep.steps": 100.0}, "sweep.steps = 100.0", "must be an integer"),
    case("steps-string", {"sweep.steps": "100"}, 'sweep.steps = "100"', "must be an integer"),
    case("steps-true", {"sweep.steps": True}, "sweep.steps = true", "must be an integer"),
    case("steps-inf", {"sweep.steps": math.inf}, "sweep.steps = inf", "must be an integer"),
    case("steps-nan", {"sweep.steps": math.nan}, "sweep.steps = nan", "must be an integer"),
    case("tol-zero", {"sweep.tol": 0.0}, "sweep.tol = 0.0", "must be > 0"),
    case("tol-negative", {"sweep.tol": -1e-6}, "sweep.tol = -1e-06", "must be > 0"),
    case("tol-nan", {"sweep.tol": math.nan}, "sweep.tol = nan", "must be a finite number"),
    case("tol-inf", {"sweep.tol": math.inf}, "sweep.tol = inf", "must be a finite number"),
    case("tol-string", {"sweep.tol": "small"}, 'sweep.tol = "small"', "must be a number"),
    case("tol-true", {"sweep.tol": True}, "sweep.tol = true", "must be a number"),
    case("record-every-negative", {"sweep.record_every": -1},
         "sweep.record_every = -1", "must be >= 0"),
    case("record-every-float", {"sweep.record_every": 2.5},
         "sweep.record_every = 2.5", "must be an integer"),
    case("record-every-false", {"sweep.record_every": False},
         "sweep.record_every = false", "must be an integer"),
    case("output-bad-suffix", {"sweep.output": "out.txt"},
         'sweep.output = "out.txt"', "must end in .zarr (a zarr store) or .nc (netCDF)"),
    case("output-no-suffix", {"sweep.output": "results"},
         'sweep.output = "results"', "must end in .zarr"),
    case("output-empty", {"sweep.output": ""},
         'sweep.output = ""', "must be a file name ending in .zarr or .nc"),
    case("output-not-string", {"sweep.output": 5},
         "sweep.output = 5", "must be a file name ending in .zarr or .nc"),
    case("sweep-key-typo-step", {"sweep.step": 100}, "sweep.step", "unknown key",
         'Perhaps you meant "steps"?'),
    case("sweep-key-typo-optimiser", {"sweep.optimiser": ["sgd"]}, "sweep.optimiser",
         "unknown key", 'Perhaps you meant "optimizers"?'),
    case("sweep-key-typo-record", {"sweep.record_evry": 10}, "sweep.record_evry", "unknown key",
         'Perhaps you meant "record_every"?'),
    # a typo is reported before the "missing" key it causes
    case("sweep-typo-before-missing", {"sweep.steps": DELETE, "sweep.stesp": 100},
         "sweep.stesp", "unknown key", 'Perhaps you meant "steps"?'),
]

OBJECTIVE = [
    case("name-missing", {"objective.name": DELETE}, "[objective]",
         "needs exactly one of name (a built-in), model (trained on data), file (with "
         "function) or expr (a formula)"),
    case("name-and-expr", {"objective.expr": "x**2 + y**2"}, "[objective]",
         "needs exactly one of name (a built-in), model (trained on data), file (with "
         "function) or expr (a formula), not name and expr"),
    case("name-typo", {"objective.name": "rosenbrok"}, 'objective.name = "rosenbrok"',
         "unknown objective", 'Perhaps you meant "rosenbrock"?'),
    case("name-typo-himmelblau", {"objective.name": "himmelblaw"},
         'objective.name = "himmelblaw"', "unknown objective", 'Perhaps you meant "himmelblau"?'),
    case("name-unknown", {"objective.name": "sphere"}, 'objective.name = "sphere"',
         "unknown objective", "Known objectives: rosenbrock, rosenbrock_nd,"),
    case("name-not-string", {"objective.name": 3}, "objective.name = 3",
         "must be an objective name"),
    case("start-not-list", {"objective.start": 1.0}, "objective.start = 1.0", "must be a list"),
    case("start-empty", {"objective.start": []}, "objective.start = []", "must not be empty"),
    case("start-empty-point", {"objective.start": [[]]}, "objective.start[0] = []",
         "must not be empty"),
    case("start-wrong-length", {"objective.start": [[0.0, 0.0], [1.0, 2.0, 3.0]]},
         "objective.start[1] = [1.0, 2.0, 3.0]", "has 3 coordinates but booth has dim = 2"),
    case("start-too-short", {"objective.start": [[0.5]]},
         "objective.start[0] = [0.5]", "has 1 coordinates but booth has dim = 2"),
    case("start-string-coordinate", {"objective.start": [["a", 1.0]]},
         'objective.start[0][0] = "a"', "must be a number"),
    case("start-flat-string-coordinate", {"objective.start": [1.0, "b"]},
         'objective.start[1] = "b"', "must be a number"),
    case("start-nan", {"objective.start": [[math.nan, 0.0]]},
         "objective.start[0][0] = nan", "must be a finite number"),
    case("start-flat-minus-inf", {"objective.start": [0.0, -math.inf]},
         "objective.start[1] = -inf", "must be a finite number"),
    case("start-true", {"objective.start": [[True, 0.0]]},
         "objective.start[0][0] = true", "must be a number"),
    case("start-mixed-point-and-number", {"objective.start": [[0.0, 0.0], 1.0]},
         "objective.start[1] = 1.0", "must be a list"),
    case("start-duplicated", {"objective.start": [[1.0, 2.0], [1, 2]]},
         "objective.start = [[1.0, 2.0], [1, 2]]", "lists the same point twice"),
    case("dim-for-fixed-objective", {"objective.dim": 3}, "objective.dim = 3",
         "booth takes no parameters"),
    case("kappa-for-fixed-objective", {"objective.name": "rosenbrock", "objective.kappa": 10},
         "objective.kappa = 10", "rosenbrock takes no parameters"),
    case("kappa-for-rastrigin", {"objective.name": "rastrigin", "objective.kappa": 10.0},
         "objective.kappa = 10.0", "rastrigin takes only dim"),
    case("dim-below-minimum", {"objective.name": "rosenbrock_nd", "objective.start": DELETE,
                               "objective.dim": 1},
         "objective.dim = 1", "must be >= 2"),
    case("dim-zero", {"objective.name": "quadratic", "objective.start": DELETE,
                      "objective.dim": 0},
         "objective.dim = 0", "must be >= 1"),
    case("dim-float", {"objective.name": "quadratic", "objective.start": DELETE,
                       "objective.dim": 2.5},
         "objective.dim = 2.5", "must be an integer"),
    case("dim-string", {"objective.name": "rastrigin", "objective.start": DELETE,
                        "objective.dim": "3"},
         'objective.dim = "3"', "must be an integer"),
    case("dim-true", {"objective.name": "styblinski_tang", "objective.start": DELETE,
                      "objective.dim": True},
         "objective.dim = true", "must be an integer"),
    case("dim-from-start-below-minimum", {"objective.name": "rosenbrock_nd",
                                          "objective.start": [[1.0]]},
         "objective.start[0] = [1.0]", "rosenbrock_nd needs at least 2 coordinates"),
    case("start-disagrees-with-dim", {"objective.name": "quadratic", "objective.dim": 3,
                                      "objective.start": [[1.0, 2.0]]},
         "objective.start[0] = [1.0, 2.0]", "has 2 coordinates but quadratic has dim = 3"),
    case("start-ragged-n-dim", {"objective.name": "rastrigin",
                                "objective.start": [[1.0, 2.0, 3.0], [1.0, 2.0]]},
         "objective.start[1] = [1.0, 2.0]", "has 2 coordinates but rastrigin has dim = 3"),
    case("kappa-below-one", {"objective.name": "quadratic", "objective.kappa": 0.5},
         "objective.kappa = 0.5", "must be >= 1 (a condition number)"),
    case("kappa-nan", {"objective.name": "quadratic", "objective.kappa": math.nan},
         "objective.kappa = nan", "must be a finite number"),
    case("kappa-inf", {"objective.name": "quadratic", "objective.kappa": math.inf},
         "objective.kappa = inf", "must be a finite number"),
    case("kappa-true", {"objective.name": "quadratic", "objective.kappa": True},
         "objective.kappa = true", "must be a number"),
    case("bound-zero", {"objective.bound": 0}, "objective.bound = 0", "must be > 0"),
    case("bound-negative", {"objective.bound": -1.0}, "objective.bound = -1.0", "must be > 0"),
    case("bound-inf", {"objective.bound": math.inf}, "objective.bound = inf",
         "must be a finite number"),
    case("bound-string", {"objective.bound": "big"}, 'objective.bound = "big"',
         "must be a number"),
    case("objective-key-typo", {"objective.starts": [[0.0, 0.0]]}, "objective.starts",
         "unknown key", 'Perhaps you meant "start"?'),
    case("objective-key-unknown", {"objective.dimension": 2}, "objective.dimension",
         "unknown key", 'Perhaps you meant "dim"?'),
    case("objective-key-unknown-far", {"objective.zzz": 2}, "objective.zzz",
         "unknown key", "Allowed: name, model, file, function, expr, start, dim, kappa, batch_size, data, "
         "hidden, activation, loss, bias, test_fraction, data_seed, standardize, l2, "
         "eval_every, features, samples, bound, bounds, noise, seeds, minimizers, minimum, "
         "box."),
]

GRID_AXES = [
    case("alpha-zero", {"grid.alpha": 0}, "grid.alpha = 0", "must be > 0"),
    case("alpha-negative-in-list", {"grid.alpha": [1e-3, -0.1]}, "grid.alpha[1] = -0.1",
         "must be > 0"),
    case("alpha-nan", {"grid.alpha": math.nan}, "grid.alpha = nan", "must be a finite number"),
    case("alpha-inf", {"grid.alpha": [math.inf]}, "grid.alpha[0] = inf",
         "must be a finite number"),
    case("alpha-minus-inf", {"grid.alpha": -math.inf}, "grid.alpha = -inf",
         "must be a finite number"),
    case("alpha-true", {"grid.alpha": True}, "grid.alpha = true", "must be a number"),
    case("alpha-string", {"grid.alpha": "0.1"}, 'grid.alpha = "0.1"', "must be a number"),
    case("alpha-empty", {"grid.alpha": []}, "grid.alpha = []", "must list at least one value"),
    case("alpha-duplicated", {"grid.alpha": [0.1, 0.01, 0.1]}, "grid.alpha = [0.1, 0.01, 0.1]",
         "lists 0.1 twice"),
    case("alpha-duplicated-int-and-float", {"grid.alpha": [1, 1.0]}, "grid.alpha = [1, 1.0]",
         "lists 1.0 twice"),
    case("alpha-nested-list", {"grid.alpha": [[0.1]]}, "grid.alpha[0] = [0.1]",
         "must be a number"),
    case("beta1-one", {"grid.beta1": 1.0}, "grid.beta1 = 1.0", "must be in [0, 1)"),
    case("beta1-one-in-list", {"grid.beta1": [0.5, 1.0]}, "grid.beta1[1] = 1.0",
         "must be in [0, 1)"),
    case("beta1-negative", {"grid.beta1": -0.1}, "grid.beta1 = -0.1", "must be in [0, 1)"),
    case("beta1-false", {"grid.beta1": False}, "grid.beta1 = false", "must be a number"),
    case("beta1-above-one", {"grid.beta1": [0.9, 1.5]}, "grid.beta1[1] = 1.5",
         "must be in [0, 1)"),
    # β = 1 is in the widest range (Lion, Schedule-Free); adam, which reads it, refuses it.
    case("beta2-one", {"grid.beta2": [0.999, 1]}, "grid.beta2[1] = 1.0",
         "must be in [0, 1) for adam (which reads it)"),
    case("beta2-tiny-negative", {"grid.beta2": -1e-9}, "grid.beta2 = -1e-09",
         "must be in [0, 1)"),
    case("beta2-nan", {"grid.beta2": [0.9, math.nan]}, "grid.beta2[1] = nan",
         "must be a finite number"),
    case("beta2-true", {"grid.beta2": [True]}, "grid.beta2[0] = true", "must be a number"),
    case("eps-negative", {"grid.eps": -1e-8}, "grid.eps = -1e-08", "must be >= 0"),
    case("eps-minus-inf", {"grid.eps": [0.0, -math.inf]}, "grid.eps[1] = -inf",
         "must be a finite number"),
    case("eps-true", {"grid.eps": True}, "grid.eps = true", "must be a number"),
    case("eps-duplicated", {"grid.eps": [1e-8, 1e-08]}, "grid.eps", "lists 1e-08 twice"),
    case("grid-typo-alpah", {"grid.alpah": [0.1]}, "grid.alpah", "unknown key",
         'Perhaps you meant "alpha"?'),
    case("grid-typo-epsilon", {"grid.epsilon": [0.1]}, "grid.epsilon", "unknown key",
         'Perhaps you meant "eps"?'),
    case("grid-typo-beta_1", {"grid.beta_1": [0.9]}, "grid.beta_1", "unknown key",
         'Perhaps you meant "beta1"?'),
    case("grid-unknown-lr", {"grid.lr": [0.1]}, "grid.lr", "unknown key",
         'Perhaps you meant "alpha"?'),
    case("grid-unknown-epsilon", {"grid.epsilon": [0.1]}, "grid.epsilon", "unknown key",
         'Perhaps you meant "eps"?'),
    case("grid-not-table", {"grid": 5}, "grid = 5", "must be a table"),
]

RANGES = [
    case("range-missing-num", {"grid.alpha": {"min": 1e-3, "max": 1e-1}}, "grid.alpha.num",
         "is required in a range {min, max, num, scale}"),
    case("range-missing-min", {"grid.alpha": {"max": 1e-1, "num": 3}}, "grid.alpha.min",
         "is required in a range"),
    case("range-missing-max", {"grid.beta1": {"min": 0.0, "num": 3}}, "grid.beta1.max",
         "is required in a range"),
    case("range-num-zero", {"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 0}},
         "grid.alpha.num = 0", "must be >= 1"),
    case("range-num-negative", {"grid.beta1": {"min": 0.0, "max": 0.9, "num": -3}},
         "grid.beta1.num = -3", "must be >= 1"),
    case("range-num-float", {"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 2.5}},
         "grid.alpha.num = 2.5", "must be an integer"),
    case("range-num-string", {"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": "5"}},
         'grid.alpha.num = "5"', "must be an integer"),
    case("range-num-true", {"grid.eps": {"min": 0.0, "max": 1e-4, "num": True}},
         "grid.eps.num = true", "must be an integer"),
    case("range-min-above-max", {"grid.alpha": {"min": 0.1, "max": 0.001, "num": 3}},
         "grid.alpha.max = 0.001", "must be > grid.alpha.min = 0.1 when num > 1"),
    case("range-min-equals-max", {"grid.beta1": {"min": 0.5, "max": 0.5, "num": 3}},
         "grid.beta1.max = 0.5", "must be > grid.beta1.min = 0.5 when num > 1"),
    case("range-num-one-but-min-differs", {"grid.alpha": {"min": 0.01, "max": 0.1, "num": 1}},
         "grid.alpha.num = 1", "must be > 1 when min (0.01) and max (0.1) differ"),
    case("range-log-min-zero", {"grid.beta1": {"min": 0.0, "max": 0.9, "num": 4, "scale": "log"}},
         "grid.beta1.min = 0.0", 'must be > 0 with scale = "log"'),
    case("range-log-eps-min-zero", {"grid.eps": {"min": 0.0, "max": 1e-4, "num": 3,
                                                 "scale": "log"}},
         "grid.eps.min = 0.0", 'must be > 0 with scale = "log"'),
    case("range-log-alpha-negative", {"grid.alpha": {"min": -1.0, "max": 1.0, "num": 3,
                                                     "scale": "log"}},
         "grid.alpha.min = -1.0", "must be > 0"),
    case("range-unknown-scale", {"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 3,
                                                "scale": "logarithmic"}},
         'grid.alpha.scale = "logarithmic"', 'must be "linear" or "log"'),
    case("range-scale-not-string", {"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 3,
                                                   "scale": 10}},
         "grid.alpha.scale = 10", 'must be "linear" or "log"'),
    case("range-unknown-key", {"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 3, "step": 2}},
         "grid.alpha.step", "unknown key", "Allowed: min, max, num, scale."),
    case("range-key-typo", {"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 3, "scael": "log"}},
         "grid.alpha.scael", "unknown key", 'Perhaps you meant "scale"?'),
    case("range-max-beta2-one", {"grid.beta2": {"min": 0.9, "max": 1.0, "num": 3}},
         "grid.beta2[2] = 1.0", "must be in [0, 1) for adam (which reads it)"),
    case("range-min-beta1-negative", {"grid.beta1": {"min": -0.5, "max": 0.5, "num": 3}},
         "grid.beta1.min = -0.5", "must be in [0, 1)"),
    case("range-min-nan", {"grid.alpha": {"min": math.nan, "max": 0.1, "num": 3}},
         "grid.alpha.min = nan", "must be a finite number"),
    case("range-max-inf", {"grid.alpha": {"min": 0.1, "max": math.inf, "num": 3}},
         "grid.alpha.max = inf", "must be a finite number"),
    case("range-min-string", {"grid.alpha": {"min": "0.1", "max": 1.0, "num": 3}},
         'grid.alpha.min = "0.1"', "must be a number"),
    case("range-max-true", {"grid.eps": {"min": 0.0, "max": True, "num": 2}},
         "grid.eps.max = true", "must be a number"),
]

OPTIONS = [
    case("options-unknown-optimizer-typo", {"options.adamm": {}}, "options.adamm",
         "unknown optimizer", 'Perhaps you meant "adam"?'),
    case("options-unknown-optimizer", {"options.foo": {"x": 1}}, "options.foo",
         "unknown optimizer", "Known optimizers: sgd,"),
    case("centered-int", {"options.rmsprop.centered": 1}, "options.rmsprop.centered = 1",
         "must be true or false"),
    case("centered-string", {"options.rmsprop.centered": "false"},
         'options.rmsprop.centered = "false"', "must be true or false"),
    case("centered-typo", {"options.rmsprop": {"centred": True}}, "options.rmsprop.centred",
         "unknown key", 'Perhaps you meant "centered"?'),
    case("weight-decay-negative", {"options.adamw.weight_decay": -0.1},
         "options.adamw.weight_decay = -0.1", "must be >= 0"),
    case("weight-decay-nan", {"options.adamw.weight_decay": math.nan},
         "options.adamw.weight_decay = nan", "must be a finite number"),
    case("weight-decay-true", {"options.adamw.weight_decay": True},
         "options.adamw.weight_decay = true", "must be a number"),
    case("weight-decay-string", {"options.adamw.weight_decay": "0.1"},
         'options.adamw.weight_decay = "0.1"', "must be a number"),
    case("weight-decay-typo", {"options.adamw": {"weight_decy": 0.1}},
         "options.adamw.weight_decy", "unknown key", 'Perhaps you meant "weight_decay"?'),
    case("momentum-decay-negative", {"options.nadam": {"momentum_decay": -1}},
         "options.nadam.momentum_decay = -1", "must be >= 0"),
    case("initial-accumulator-inf", {"options.adagrad": {"initial_accumulator": math.inf}},
         "options.adagrad.initial_accumulator = inf", "must be a finite number"),
    case("option-alpha-for-one-rule", {"options.adam": {"lr": 0.1}},
         "options.adam.lr", "unknown key", "Allowed: beta1, beta2, eps."),
    case("option-for-sgd", {"options.sgd": {"momentum": 0.9}},
         "options.sgd.momentum = 0.9", "sgd takes no options"),
    case("options-rule-not-table", {"options.rmsprop": True}, "options.rmsprop = true",
         "must be a table"),
    case("options-not-table", {"options": 5}, "options = 5", "must be a table"),
]


def _renamed(old, new):
    return {old: DELETE, new: BASE[old]}


SECTIONS = [
    case("section-typo-sweeps", _renamed("sweep", "sweeps"), "sweeps", "unknown key",
         'Perhaps you meant "sweep"?'),
    case("section-typo-objectives", _renamed("objective", "objectives"), "objectives",
         "unknown key", 'Perhaps you meant "objective"?'),
    case("section-typo-grids", _renamed("grid", "grids"), "grids", "unknown key",
         'Perhaps you meant "grid"?'),
    case("section-typo-option", _renamed("options", "option"), "option", "unknown key",
         'Perhaps you meant "options"?'),
    case("section-unknown", {"metadata": {"author": "me"}}, "metadata", "unknown key",
         "Allowed: sweep, objective, grid, options, schedule, rules."),
    case("section-sweep-missing", {"sweep": DELETE}, "[sweep]", "section is required"),
    case("section-objective-missing", {"objective": DELETE}, "[objective]",
         "section is required"),
    case("section-sweep-not-table", {"sweep": 5}, "sweep = 5", "must be a table"),
    case("section-objective-not-table", {"objective": "booth"}, 'objective = "booth"',
         "must be a table"),
]

MISTAKES = SWEEP + OBJECTIVE + GRID_AXES + RANGES + OPTIONS + SECTIONS


def check_message(message: str, source: str, key: str, rule: str, hint: str | None):
    lines = message.splitlines()
    assert 1 <= len(lines) <= 2, message
    assert lines[0].startswith(f"{source}: {key}"), message
    rest = lines[0][len(f"{source}: {key}"):]
    assert rest.startswith(":") or rest.startswith(" = "), message  # the whole key, no more
    assert rule in lines[0], message
    if hint is not None:
        assert len(lines) == 2 and hint in lines[1], message
    assert "Traceback" not in message


def assert_nothing_left(directory: Path, *keep: str):
    """Only ``keep`` in ``directory``: no output, no ``.partial`` (hidden files included)."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(keep)


@pytest.mark.parametrize("edits, key, rule, hint", MISTAKES)
def test_grid_file_mistake_exits_2_with_one_message(edits, key, rule, hint, tmp_path,
                                                    monkeypatch, capsys):
    (tmp_path / GRID).write_text(to_toml(edited(edits)))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as refused:
        load(GRID)
    check_message(str(refused.value), GRID, key, rule, hint)

    assert cli.main([GRID, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {refused.value}\n"
    assert_nothing_left(tmp_path, GRID)


@pytest.mark.parametrize("edits, key, rule, hint", MISTAKES)
def test_dict_mistake_raises_config_error(edits, key, rule, hint):
    with pytest.raises(ConfigError) as refused:
        validate(edited(edits))
    check_message(str(refused.value), "<config>", key, rule, hint)
    assert refused.value.exit_code == 2


def test_validate_refuses_a_non_table():
    with pytest.raises(ConfigError, match=r"^<config>: the configuration must be a table, not list"):
        validate([BASE])


# --- mistakes only a file can make -------------------------------------------

def _valid_text():
    return to_toml(BASE)


MALFORMED = [
    # (id, text, line, column): tomllib's position must reach the message
    ("missing-equals", "[sweep]\noptimizers = [\"adam\"]\nsteps 100\n", 3, 7),
    ("duplicated-key", "[sweep]\nsteps = 100\noptimizers = [\"adam\"]\nsteps = 200\n", 4, 12),
    ("table-declared-twice", "[sweep]\nsteps = 1\n[objective]\nname = \"booth\"\n[sweep]\n",
     5, 7),
    ("unterminated-string", "[objective]\nname = \"booth\n[sweep]\n", 2, 14),
    ("bad-boolean", "[sweep]\nsteps = 10\n[options.rmsprop]\ncentered = True\n", 4, 12),
    ("two-statements-one-line", "[sweep]\nsteps = 10 tol = 1e-6\n", 2, 12),
    ("trailing-dot-float", "[grid]\nbeta1 = 0.9.\n", 2, 12),
    ("leading-dot-float", "[grid]\nalpha = .5\n", 2, 9),
    ("newline-in-inline-table", "[grid]\nalpha = {min = 1e-3,\n  max = 1e-1, num = 3}\n", 2, 21),
    ("unclosed-array-then-key", "[grid]\nbeta2 = [0.9, 0.99\neps = 1e-8\n", 3, 1),
    ("unclosed-table-header", "[sweep\nsteps = 10\n", 1, 7),
    ("extra-bracket", "[grid]\nalpha = [1e-3, 1e-2]]\n", 2, 21),
]


@pytest.mark.parametrize("text, line, column",
                         [pytest.param(t, l, c, id=i) for i, t, l, c in MALFORMED])
def test_malformed_toml_names_line_and_column(text, line, column, tmp_path, monkeypatch, capsys):
    (tmp_path / GRID).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert cli.main([GRID]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {GRID}: invalid TOML: "), err
    assert f"(at line {line}, column {column})" in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert_nothing_left(tmp_path, GRID)


def test_truncated_toml_says_end_of_document(tmp_path):
    # tomllib gives no line for an error at the very end: the message adds it.
    path = tmp_path / GRID
    path.write_text('[sweep]\noptimizers = ["adam",\n')
    with pytest.raises(ConfigError, match=r"invalid TOML: .*\(at end of document, line 3\)"):
        load(path)


def test_not_utf8_names_the_byte(tmp_path, monkeypatch, capsys):
    text = _valid_text().encode()
    (tmp_path / GRID).write_bytes(b"# caf\xe9 latin-1\n" + text)
    monkeypatch.chdir(tmp_path)
    assert cli.main([GRID]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {GRID}: not UTF-8 text (byte 5)\n"
    assert_nothing_left(tmp_path, GRID)


def test_utf16_file_is_not_utf8(tmp_path):
    path = tmp_path / GRID
    path.write_text(_valid_text(), encoding="utf-16")
    with pytest.raises(ConfigError, match=r"^.*grid\.toml: not UTF-8 text \(byte 0\)$"):
        load(path)


def test_missing_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["nope.toml"]) == 2
    assert capsys.readouterr().err == "error: nope.toml: no such file\n"
    assert_nothing_left(tmp_path)


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError, match=r"dir\.toml: cannot read: Is a directory"):
        load(tmp_path / "dir.toml")


def test_empty_file_asks_for_sweep_section(tmp_path):
    path = tmp_path / GRID
    path.write_text("")
    with pytest.raises(ConfigError, match=r"grid\.toml: \[sweep\]: section is required$"):
        load(path)


def test_overflowing_float_literal_is_inf_and_refused(tmp_path):
    # TOML reads 1e400 as inf.
    path = tmp_path / GRID
    path.write_text(_valid_text().replace("alpha = [0.001, 0.01]", "alpha = [0.001, 1e400]"))
    with pytest.raises(ConfigError, match=r"grid\.alpha\[1\] = inf: must be a finite number"):
        load(path)


def test_toml_date_where_integer_expected(tmp_path):
    path = tmp_path / GRID
    path.write_text(_valid_text().replace("steps = 50", "steps = 1979-05-27"))
    with pytest.raises(ConfigError, match=r"sweep\.steps = .*: must be an integer"):
        load(path)


def test_toml_spellings_of_nan_inf_and_true_are_refused(tmp_path):
    # +inf, -nan and 'true' as TOML writes them, not as this file's serializer does.
    for spelled, expected in (("+inf", "inf"), ("-nan", "nan"), ("nan", "nan"), ("true", "true"),
                              ("-inf", "-inf")):
        path = tmp_path / GRID
        path.write_text(_valid_text().replace("beta2 = 0.999", f"beta2 = {spelled}"))
        with pytest.raises(ConfigError) as refused:
            load(path)
        assert f"grid.beta2 = {expected}: must be a" in str(refused.value)


# --- the command line's own mistakes -----------------------------------------

def test_bad_output_suffix_on_command_line(tmp_path, monkeypatch, capsys):
    (tmp_path / GRID).write_text(_valid_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main([GRID, "-o", "out.txt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: -o: ") and 'output = "out.txt"' in err
    assert "must end in .zarr" in err
    assert_nothing_left(tmp_path, GRID)


def test_output_under_a_file_cannot_be_created(tmp_path, monkeypatch, capsys):
    table = edited({"sweep.output": f"{GRID}/out.zarr"})
    (tmp_path / GRID).write_text(to_toml(table))
    monkeypatch.chdir(tmp_path)
    assert cli.main([GRID]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {GRID}: sweep.output = "{GRID}/out.zarr": cannot be created')
    assert "is not a directory" in err
    assert_nothing_left(tmp_path, GRID)


def test_n_jobs_zero_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / GRID).write_text(_valid_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main([GRID, "--n-jobs", "0"]) == 2
    assert "--n-jobs = 0: must be >= 1" in capsys.readouterr().err
    assert_nothing_left(tmp_path, GRID)


# --- a grid whose results would not fit in memory ----------------------------

HUGE = {
    # 1 optimizer × 1 start × 100 × 100 × 100 × 10 = 10^7 cells, each recording
    # 100 001 points of (x, y, f): about 2.4e13 bytes, ~21.8 TiB.
    "sweep.optimizers": ["adam"], "sweep.steps": 100_000, "sweep.record_every": 1,
    "objective.start": [[0.0, 0.0]],
    "grid.alpha": {"min": 1e-4, "max": 1e-1, "num": 100, "scale": "log"},
    "grid.beta1": {"min": 0.0, "max": 0.99, "num": 100},
    "grid.beta2": {"min": 0.9, "max": 0.999, "num": 100},
    "grid.eps": {"min": 1e-10, "max": 1e-6, "num": 10, "scale": "log"},
    "options": DELETE,  # BASE's are for rules not swept here: a warning on stderr
}


def check_huge_refusal(err: str):
    lines = err.splitlines()
    assert 1 <= len(lines) <= 2 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {GRID}: the results would take "), err
    assert "10,000,000 cells" in lines[0], err
    size = re.search(r"would take ([\d.]+) (TiB|PiB)", lines[0])
    assert size, err
    tib = float(size.group(1)) * (1024 if size.group(2) == "PiB" else 1)
    estimate = 10**7 * 100_001 * 3 * 8 / 2**40  # trajectories alone
    assert tib == pytest.approx(estimate, rel=0.01), err  # shown to one decimal
    assert "record_every" in err  # says what to change


def test_huge_grid_is_refused_with_its_size(tmp_path, monkeypatch, capsys):
    (tmp_path / GRID).write_text(to_toml(edited(HUGE)))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as refused:  # every key is valid: the size is refused
        load(GRID)
    check_huge_refusal(f"error: {refused.value}\n")
    assert cli.main([GRID, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    check_huge_refusal(captured.err)
    assert_nothing_left(tmp_path, GRID)


# --- valid files ---------------------------------------------------------------

def _load_text(tmp_path, text) -> SweepConfig:
    path = tmp_path / GRID
    path.write_text(textwrap.dedent(text))
    return load(path)


def test_minimal_file_takes_every_default(tmp_path):
    config = _load_text(tmp_path, """
        [sweep]
        optimizers = ["sgd", "adamw", "nadam", "rmsprop", "adagrad"]
        steps = 10

        [objective]
        name = "beale"
    """)
    assert config.optimizers == ("sgd", "adamw", "nadam", "rmsprop", "adagrad")
    assert config.steps == 10 and config.tol == DEFAULT_TOL and config.record_every == 0
    assert config.output is None and config.bound is None
    assert config.objective == "beale" and config.objective_params == ()
    assert config.starts == ((1.0, 1.0), (1.0, 4.0), (3.0, 4.0)) and config.dim == 2
    assert [(a.name, a.values) for a in config.axes] == [
        ("alpha", (1e-3,)), ("beta1", (0.9,)), ("beta2", (0.999,)), ("eps", (1e-8,))]
    assert config.options == ()  # nothing fixed: every rule runs at its own defaults
    # No axis given: each rule runs at its own defaults.
    assert config.values("sgd") == {"alpha": 1e-3}
    assert config.values("adamw") == {"alpha": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                                      "weight_decay": 1e-2}
    assert config.values("rmsprop")["centered"] == 0.0
    assert config.values("nadam")["momentum_decay"] == 4e-3


# --- the keys as data (sweep.config.KEYS: the documentation's grid-file reference) -----

def test_every_key_a_section_takes_is_described_once_in_keys():
    from sweep import config, models

    for section in ("sweep", "schedule"):
        assert [k.name for k in config.KEYS[section]] == list(config.SECTIONS[section]), section
    assert [k.name for k in config.KEYS["rules"]] == list(config.RULE_KEYS)
    described = [k.name for k in config.KEYS["objective"]]
    parameters = {*config.BUILTIN_PARAMS, *config.MODEL_KEYS}
    # model picks the kind of objective, as name, file and expr do: described with them.
    assert len(set(described)) == len(described) and set(described) & parameters == {"model"}
    assert set(config.SECTIONS["objective"]) == set(described) | parameters
    assert set(config.MODEL_KEYS) == {*models.PARAMS, *(p.name for p in config.LOGISTIC_SCHEMA)}
    for section, keys in config.KEYS.items():
        for found in keys:  # a default, or what its absence means
            assert found.kind and found.meaning, found
            assert (found.default is None) == bool(found.absent) or found.name == "model", found
    for name in parameters - {"model"}:  # what each parameter of the registries means
        assert config.PARAMETER_MEANINGS[name], name
    assert set(config.PARAMETER_MEANINGS) == parameters - {"model"}
    assert set(config.PARAMETER_ABSENT) <= {p.name for p in models.SCHEMA if p.default is None}


def test_a_grid_without_a_key_gets_the_default_keys_gives():
    from sweep import config

    minimal = {"sweep": {"optimizers": ["adam"], "steps": 5}, "objective": {"name": "booth"}}
    validated = validate(copy.deepcopy(minimal))
    expected = {("sweep", "tol"): validated.tol, ("sweep", "record_every"): validated.record_every,
                ("sweep", "backend"): validated.backend, ("sweep", "dtype"): validated.dtype,
                ("sweep", "schedule"): validated.schedules[0],
                ("objective", "noise"): validated.noise, ("schedule", "warmup"): validated.warmup,
                ("schedule", "factor"): validated.step_factor}
    for (section, name), value in expected.items():
        assert config.default_of(section, name) == value, (section, name)
    assert validated.output is None and validated.scheduler is None and validated.bounds is None


def test_the_validation_reads_its_defaults_from_keys(monkeypatch):
    from dataclasses import replace

    from sweep import config

    sweep_keys = tuple(replace(k, default=0.25) if k.name == "tol" else k
                       for k in config.KEYS["sweep"])
    monkeypatch.setitem(config.KEYS, "sweep", sweep_keys)
    minimal = {"sweep": {"optimizers": ["adam"], "steps": 5}, "objective": {"name": "booth"}}
    assert validate(minimal).tol == 0.25


def test_single_numbers_flat_start_and_boundary_values(tmp_path):
    config = _load_text(tmp_path, """
        [sweep]
        optimizers = ["adam"]
        steps = 1
        tol = 1e-3
        record_every = 1
        output = "out.nc"

        [objective]
        name = "rosenbrock"
        start = [-1.2, 1]
        bound = 1e4

        [grid]
        alpha = 1
        beta1 = 0
        beta2 = 0.0
        eps = 0.0
    """)
    assert config.starts == ((-1.2, 1.0),)
    assert all(type(c) is float for c in config.starts[0])
    assert [a.values for a in config.axes] == [(1.0,), (0.0,), (0.0,), (0.0,)]
    assert all(type(a.values[0]) is float for a in config.axes)
    assert config.steps == 1 and config.tol == 1e-3 and config.record_every == 1
    assert config.output == "out.nc" and config.bound == 1e4


def test_ranges_and_listed_axes(tmp_path):
    config = _load_text(tmp_path, """
        [sweep]
        optimizers = ["rmsprop", "momentum"]
        steps = 20

        [objective]
        name = "booth"

        [grid]
        alpha = { min = 1e-3, max = 1e-1, num = 3, scale = "log" }
        beta1 = { min = 0.0, max = 0.9, num = 4 }
        beta2 = { min = 0.99, max = 0.99, num = 1 }
        eps = [1e-8, 1e-6, 1e-4]

        [options.rmsprop]
        centered = true
    """)
    alpha, beta1, beta2, eps = config.axes
    assert alpha.values == pytest.approx((1e-3, 1e-2, 1e-1), rel=1e-12) and alpha.scale == "log"
    assert (alpha.values[0], alpha.values[-1]) == (1e-3, 1e-1)  # exact ends
    assert beta1.values == pytest.approx((0.0, 0.3, 0.6, 0.9), abs=1e-15)
    assert beta1.scale == "linear"
    assert beta2.values == (0.99,) and beta2.scale == "linear"
    assert eps.values == (1e-8, 1e-6, 1e-4) and eps.scale == "log"  # geometric list
    assert config.fixed("rmsprop") == {"centered": 1.0}
    assert config.starts == ((0.0, 0.0),)


def test_n_dim_objective_takes_dim_from_start(tmp_path):
    config = _load_text(tmp_path, """
        [sweep]
        optimizers = ["adam"]
        steps = 5

        [objective]
        name = "rosenbrock_nd"
        start = [[0, 0, 0], [1.5, -1, 2]]
    """)
    assert config.objective_params == (("dim", 3),)
    assert config.dim == 3 and config.starts == ((0.0, 0.0, 0.0), (1.5, -1.0, 2.0))


def test_quadratic_with_dim_and_kappa_gets_default_start(tmp_path):
    config = _load_text(tmp_path, """
        [sweep]
        optimizers = ["sgd"]
        steps = 5

        [objective]
        name = "quadratic"
        dim = 4
        kappa = 100
    """)
    assert config.objective_params == (("dim", 4), ("kappa", 100.0))
    assert config.starts == ((1.0, 1.0, 1.0, 1.0),)


def test_n_dim_flat_start_and_explicit_matching_dim(tmp_path):
    config = _load_text(tmp_path, """
        [sweep]
        optimizers = ["sgd"]
        steps = 5

        [objective]
        name = "rastrigin"
        dim = 1
        start = [2.5]
    """)
    assert config.objective_params == (("dim", 1),) and config.starts == ((2.5,),)


def test_default_grid_shipped_with_the_package_is_valid():
    config = load(ROOT / "sweep" / "grids" / "default.toml")
    assert config.optimizers == ("adam", "amsgrad", "rmsprop", "nadam", "momentum")
    assert [len(a.values) for a in config.axes] == [16, 8, 3, 2]
    assert config.output == "results/default.zarr"


# --- through python -m sweep -------------------------------------------------

def run_cli(*args, cwd, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "sweep", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, **kwargs)


CLI_CASES = [
    pytest.param(to_toml(edited({"grid.beta1": [0.5, 1.0]})),
                 f"{GRID}: grid.beta1[1] = 1.0: must be in [0, 1) for adam (which reads it)",
                 id="beta1-one"),
    pytest.param(to_toml(edited({"grid.alpha": math.nan})),
                 f"{GRID}: grid.alpha = nan: must be a finite number", id="alpha-nan"),
    pytest.param(to_toml(edited({"sweep.optimizers": ["adam", "rmsporp"]})),
                 f'{GRID}: sweep.optimizers[1] = "rmsporp": unknown optimizer\n'
                 f'  Perhaps you meant "rmsprop"?', id="optimizer-typo"),
    pytest.param(to_toml(edited({"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 0}})),
                 f"{GRID}: grid.alpha.num = 0: must be >= 1", id="range-num-zero"),
    pytest.param("[sweep]\nsteps = 10\nsteps = 20\n",
                 f"{GRID}: invalid TOML: Cannot overwrite a value (at line 3, column 11)",
                 id="malformed"),
]


@pytest.mark.parametrize("text, message", CLI_CASES)
def test_cli_refuses_with_status_2_and_no_traceback(text, message, tmp_path):
    (tmp_path / GRID).write_text(text)
    result = run_cli(GRID, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n"
    assert_nothing_left(tmp_path, GRID)


def test_cli_refuses_non_utf8_and_missing_files(tmp_path):
    (tmp_path / GRID).write_bytes(b"[sweep]\nsteps = 10 # \xff\n")
    result = run_cli(GRID, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, f"error: {GRID}: not UTF-8 text (byte 21)\n")
    result = run_cli("missing.toml", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "error: missing.toml: no such file\n")
    assert_nothing_left(tmp_path, GRID)


def test_cli_refuses_huge_grid_and_writes_nothing(tmp_path):
    (tmp_path / GRID).write_text(to_toml(edited(HUGE)))
    result = run_cli(GRID, "-o", "out.zarr", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    check_huge_refusal(result.stderr)
    assert_nothing_left(tmp_path, GRID)


def test_cli_debug_shows_the_traceback(tmp_path):
    (tmp_path / GRID).write_text(to_toml(edited({"grid.eps": -1e-8})))
    result = run_cli(GRID, "--debug", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConfigErrors: grid.toml: grid.eps = -1e-08: must be >= 0" in result.stderr
    assert_nothing_left(tmp_path, GRID)


NO_NUMBA = """
import json, sys
from sweep.errors import ConfigError
import sweep.config
seen = {}
try:
    sweep.config.load(sys.argv[1])
except ConfigError:
    seen["load_refused"] = True
seen["numba_after_refusal"] = "numba" in sys.modules
from sweep.api import load_config
load_config(sys.argv[2])
load_config(json.loads(sys.argv[3]))
seen["numba_after_load_config"] = "numba" in sys.modules
from sweep.cli import main
seen["cli_status"] = main([sys.argv[1]])
seen["numba_after_cli_refusal"] = "numba" in sys.modules
print(json.dumps(seen))
"""


def test_validation_runs_before_numba_is_imported(tmp_path):
    (tmp_path / "bad.toml").write_text(to_toml(edited({"grid.beta1": [0.5, 1.0]})))
    (tmp_path / "good.toml").write_text(_valid_text())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", NO_NUMBA, "bad.toml", "good.toml", json.dumps(BASE)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {"load_refused": True, "numba_after_refusal": False,
                    "numba_after_load_config": False, "cli_status": 2,
                    "numba_after_cli_refusal": False}
    assert_nothing_left(tmp_path, "bad.toml", "good.toml")


# --- sizes, ranges and start keys (found by this corpus, now refused) ------

@pytest.mark.parametrize("key", ["steps", "record_every"])
def test_integer_beyond_int64_is_refused(key, tmp_path):
    path = tmp_path / GRID
    path.write_text(to_toml(edited({f"sweep.{key}": 2**64})))
    with pytest.raises(ConfigError, match=rf"sweep\.{key} = {2**64}: must be"):
        load(path)


def test_absurd_dim_is_a_config_error():
    with pytest.raises(ConfigError, match=r"objective\.dim"):
        validate(edited({"objective.name": "quadratic", "objective.start": DELETE,
                         "objective.dim": 2**70}))


def test_absurd_range_num_is_a_config_error():
    with pytest.raises(ConfigError, match=r"grid\.alpha"):
        validate(edited({"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 2**70}}))


def _limit_memory():  # runs in the child: make a huge allocation fail at once, whatever the OS
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.parametrize("edits", [
    pytest.param({"objective.name": "quadratic", "objective.start": DELETE,
                  "objective.dim": 10**12}, id="dim"),
    pytest.param({"grid.alpha": {"min": 1e-3, "max": 1e-1, "num": 10**12}}, id="num"),
])
def test_cli_refuses_an_absurd_size_with_status_2(edits, tmp_path):
    (tmp_path / GRID).write_text(to_toml(edited(edits)))
    result = run_cli(GRID, cwd=tmp_path, preexec_fn=_limit_memory)
    assert_nothing_left(tmp_path, GRID)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {GRID}: ") and "Traceback" not in result.stderr


def test_range_that_rounds_to_duplicates_is_refused():
    with pytest.raises(ConfigError, match=r"grid\.alpha.*twice"):
        validate(edited({"grid.alpha": {"min": 1.0, "max": 1.0000000000000002, "num": 3}}))


@pytest.mark.parametrize("edits, rule", [
    pytest.param({"objective.start": [1.0, 2.0, 3.0]}, "has 3 coordinates", id="fixed-dim"),
    pytest.param({"objective.name": "rosenbrock_nd", "objective.start": [1.0]},
                 "needs at least 2 coordinates", id="below-min-dim"),
])
def test_flat_start_of_wrong_length_names_objective_start(edits, rule):
    with pytest.raises(ConfigError) as refused:
        validate(edited(edits))
    assert str(refused.value).startswith("<config>: objective.start = [")
    assert rule in str(refused.value)


# --- every mistake at once --------------------------------------------------------

THREE_MISTAKES = """\
[sweep]
optimizers = ["adam", "adamW"]
steps = 0

[objective]
name = "rosenbrock"

[grid]
alpha = [1e-3, 1e-2]
beta1 = [0.5, 1.0]
"""


def test_every_mistake_of_a_file_is_reported_at_once(tmp_path, monkeypatch, capsys):
    (tmp_path / GRID).write_text(THREE_MISTAKES)
    monkeypatch.chdir(tmp_path)
    assert cli.main([GRID, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f'error: {GRID}: sweep.optimizers[1] = "adamW": unknown optimizer\n'
                            f'  Perhaps you meant "adamw"?\n'
                            f"error: {GRID}: sweep.steps = 0: must be >= 1\n"
                            f"error: {GRID}: grid.beta1[1] = 1.0: must be in [0, 1) for adam "
                            "(which reads it)\n")
    assert_nothing_left(tmp_path, GRID)
    with pytest.raises(ConfigError) as refused:
        load(GRID)
    assert len(refused.value.messages) == 3 and refused.value.hidden == 0
    assert refused.value.exit_code == 2


def test_unknown_keys_are_all_named_and_the_rest_still_checked():
    table = edited({"sweep.optimzers": ["adam"], "sweep.optimizers": DELETE, "grid.Alpha": [1.0],
                    "grid.eps": [-1.0], "objective.nosie": 0.1})
    with pytest.raises(ConfigError) as refused:
        validate(table)
    messages = refused.value.messages
    # A misspelt required key is not also "required": the hint names it.
    assert [m.splitlines()[0] for m in messages] == [
        "<config>: sweep.optimzers: unknown key", "<config>: objective.nosie: unknown key",
        "<config>: grid.Alpha: unknown key", "<config>: grid.eps[0] = -1.0: must be >= 0"]
    assert [m.splitlines()[1:] for m in messages] == [
        ['  Perhaps you meant "optimizers"?'], ['  Perhaps you meant "noise"?'],
        ['  Perhaps you meant "alpha"?'], []]


def test_at_most_ten_mistakes_are_shown_then_how_many_more(tmp_path, monkeypatch, capsys):
    table = edited({"grid.alpha": DELETE})
    for i in range(12):
        table["sweep"][f"unknown{i}"] = 1
    (tmp_path / GRID).write_text(to_toml(table))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as refused:
        load(GRID)
    assert len(refused.value.messages) == 10 and refused.value.hidden == 2
    assert cli.main([GRID]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"error: {GRID}: sweep.unknown0: unknown key"
    assert [line for line in lines if line.startswith("error: ")][-1] == "error: ... and 2 more"
    assert sum(line.startswith(f"error: {GRID}: sweep.unknown") for line in lines) == 10


def test_a_mistake_that_stops_the_checks_still_reports_those_before_it():
    table = edited({"grid.Beta1": [0.5]})
    table["objective"] = 3  # no objective to check: nothing after it can be
    with pytest.raises(ConfigError) as refused:
        validate(table)
    assert [m.splitlines()[0] for m in refused.value.messages] == [
        "<config>: objective = 3: must be a table"]
    table = edited({"sweep.Steps": 5, "sweep.steps": DELETE, "sweeps": {}})
    table["grid"]["beta1"] = [2.0]
    with pytest.raises(ConfigError) as refused:
        validate(table)
    assert [m.splitlines()[0] for m in refused.value.messages] == [
        "<config>: sweeps: unknown key", "<config>: sweep.Steps: unknown key",
        "<config>: grid.beta1[0] = 2.0: must be in [0, 1)"]


# --- warnings ---------------------------------------------------------------------

def test_options_of_a_rule_not_swept_are_a_warning_not_an_error(tmp_path, monkeypatch, capsys):
    from sweep.config import ConfigWarning

    table = edited({"sweep.optimizers": ["adam", "rmsprop"]})  # BASE sets options.adamw too
    with pytest.warns(ConfigWarning, match=r"^<config>: options\.adamw: adamw is not in "
                                           r"sweep\.optimizers; its options are unused$"):
        config = validate(table)
    assert config.optimizers == ("adam", "rmsprop")
    # The command line: one "warning:" line on stderr, then the run goes on (here to the
    # refusal of an existing output, so that nothing runs).
    (tmp_path / GRID).write_text(to_toml(table))
    (tmp_path / "out.nc").write_text("")
    monkeypatch.chdir(tmp_path)
    assert cli.main([GRID, "-o", "out.nc"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {GRID}: options.adamw: adamw is not in sweep.optimizers; its options are unused",
        "error: out.nc exists: pass --overwrite to replace it"]


def test_options_of_swept_rules_warn_nothing(recwarn):
    validate(copy.deepcopy(BASE))
    assert not [w for w in recwarn if "options" in str(w.message)]
