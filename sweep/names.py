"""The names a sweep's dataset is written with: dimensions, coordinates, attributes.

:mod:`sweep.assemble` writes them; :mod:`sweep.plot`, :mod:`sweep.sensitivity`
and every reader of a result read them back from here, so that a name is spelt
once. No heavy import: this module is read by code that must stay light.
"""
from __future__ import annotations

import json
import math

from sweep.kernels.rules import AXES

# --- dimensions --------------------------------------------------------------
OPTIMIZER = "optimizer"
SCHEDULE = "schedule"
START = "start"
SEED = "seed"
STEP = "step"
DIM = "dim"
AXIS = "axis"
HYPER_AXES = tuple(AXES)  # ("alpha", "beta1", "beta2", "eps")
# Dimensions that are not grid axes: a variable with one of them is not one number per cell.
NON_GRID = (STEP, DIM)
# Grid dimensions whose values are repeats of one experiment, not settings to choose among:
# figures summarise over them (median by default), never take the best.
REPLICATES = (SEED,)
# Grid dimensions that are not hyperparameters; every other grid dimension is one.
NOT_HYPER = (OPTIMIZER, SCHEDULE, START, SEED, STEP, DIM)

# --- coordinates -----------------------------------------------------------------
X0 = "x0"  # (start, dim): the start points
USES_AXIS = "uses_axis"  # (optimizer, axis): whether the rule reads the axis

# Coordinate attributes.
LONG_NAME = "long_name"
SCALE = "scale"  # "log" or "linear" on the hyperparameter axes

AXIS_NAMES = {"alpha": "step size α", "beta1": "β₁", "beta2": "β₂", "eps": "ε"}
# Short names for titles, ticks and legends.
SYMBOLS = {"alpha": "α", "beta1": "β₁", "beta2": "β₂", "eps": "ε", START: "start",
           SEED: "seed", SCHEDULE: "schedule"}

# --- dataset attributes ----------------------------------------------------------
OBJECTIVE = "objective"  # the built-in's name, FILE:FUNCTION, or the formula
OBJECTIVE_KIND = "objective_kind"  # "builtin", "python" or "expr"
OBJECTIVE_PARAMS = "objective_params"  # JSON object: the built-in's parameters
OBJECTIVE_SPEC = "objective_spec"  # JSON object: everything needed to rebuild the objective
MINIMUM = "minimum"  # f*, NaN when unknown
STEPS = "steps"
TOL = "tol"
DIVERGENCE_BOUND = "divergence_bound"

SPEC_FIELDS = ("kind", "name", "params", "file", "function", "dim", "minimizers", "minimum",
               "box", "digest")


def spec_to_json(spec) -> str:
    """An :class:`~sweep.objectives.ObjectiveSpec` as the JSON text of
    :data:`OBJECTIVE_SPEC` (netCDF attributes hold no nested lists, nor None)."""
    record = {field: getattr(spec, field) for field in SPEC_FIELDS}
    record["params"] = dict(spec.params)
    for key in ("minimizers", "box"):
        if record[key] is not None:
            record[key] = [list(row) for row in record[key]]
    if record["minimum"] is not None and not math.isfinite(record["minimum"]):
        record["minimum"] = None
    return json.dumps(record, sort_keys=True)


def spec_from_attrs(attrs):
    """The objective's spec stored in a result's attrs, or None when the result
    predates :data:`OBJECTIVE_SPEC` (then only a built-in can be rebuilt, from
    :func:`objective_params`)."""
    text = attrs.get(OBJECTIVE_SPEC)
    if not text:
        return None
    from .objectives import ObjectiveSpec

    record = json.loads(text)
    for key in ("minimizers", "box"):
        if record.get(key) is not None:
            record[key] = tuple(tuple(float(v) for v in row) for row in record[key])
    record["params"] = tuple((record.get("params") or {}).items())
    return ObjectiveSpec(**{k: record.get(k) for k in SPEC_FIELDS})


def objective_params(attrs) -> dict:
    """The built-in's parameters: JSON in results of this version, the prose
    ``"dim = 3, kappa = 100.0"`` in older ones."""
    text = str(attrs.get(OBJECTIVE_PARAMS, "") or "")
    if text.lstrip().startswith("{"):
        return json.loads(text)
    params = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        value = value.strip()
        try:
            params[key.strip()] = int(value)
        except ValueError:
            params[key.strip()] = float(value)
    return params
