"""Property-based tests of grid-file validation (hypothesis).

The property: any TOML document, and any dict shaped more or less like a grid
file, gives either a valid :class:`SweepConfig` whose invariants hold or a
clean :class:`ConfigError` whose first line starts with the source's name and
names a key path -- never another exception and never a hang (each
validation runs under a wall-clock guard). The hand-written corpus of
mistakes is in ``test_config.py``; this file generates them.

Bugs these properties found are pinned by the ``xfail(strict=True)`` tests at
the end. Until they are fixed the properties tolerate exactly those failure
signatures (:data:`KNOWN_BUGS`); a fixed bug makes its xfail test pass, which
fails the run: then delete the test's ``xfail`` and its KNOWN_BUGS entry.
"""
from __future__ import annotations

import atexit
import contextlib
import copy
import datetime as dt
import io
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sweep.kernels.objectives import OBJECTIVES  # noqa: E402
from sweep.kernels.rules import AXES, OPTIMIZERS  # noqa: E402
from sweep.kernels.schedules import SCHEDULES  # noqa: E402
from sweep import cli, tunables  # noqa: E402
from sweep.config import (ALIASES, AXIS_RULES, MAX_AXIS_VALUES, MAX_DIM, MAX_STEPS,  # noqa: E402
                          SECTIONS, SweepConfig, load, result_bytes, validate)
from sweep.errors import ConfigError  # noqa: E402

# Generated grids often set [options.X] for a rule they do not sweep: a warning
# (tested in test_config.py), not what these properties are about.
pytestmark = pytest.mark.filterwarnings("ignore::sweep.config.ConfigWarning")

GUARD_SECONDS = 2.0  # one validation taking longer is a failure (a hang)

# --- the wall-clock guard and the outcome check ------------------------------------


class TookTooLong(Exception):
    """Raised by the SIGALRM guard inside a validation that ran past GUARD_SECONDS."""


def _alarm(signum, frame):
    raise TookTooLong(f"validation took more than {GUARD_SECONDS} s")


@contextlib.contextmanager
def guard(seconds=GUARD_SECONDS):
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _functions(error):
    return {frame.name for frame in traceback.extract_tb(error.__traceback__)}


# Failure signatures of the bugs pinned at the end of this file (id -> predicate).
KNOWN_BUGS = {
    # check.number / formula constant: math.isfinite(int beyond float range).
    "int-too-large-for-float": lambda e: isinstance(e, OverflowError)
    and "int too large to convert to float" in str(e),
    # tomllib's int() of > 4300 digits, or _show's repr() of such an int.
    "int-str-digits": lambda e: isinstance(e, ValueError) and "Exceeds the limit" in str(e),
    # Path.resolve()/is_file() of objective.file with a NUL byte or an over-long name.
    "file-path-oserror": lambda e: isinstance(e, (ValueError, OSError))
    and not isinstance(e, ConfigError) and "_user_objective" in _functions(e),
    # formula "exp(exp(1e308))": sympy's automatic evaluation overflows ("too many digits").
    "formula-evalf-overflow": lambda e: isinstance(e, OverflowError)
    and bool({"visit_Call", "visit_BinOp", "_check_real"} & _functions(e)),
    # formula "0.5/0.0": sympy Float / Float(0) raises ZeroDivisionError (mpmath).
    "formula-float-division-by-zero": lambda e: isinstance(e, ZeroDivisionError)
    and "visit_BinOp" in _functions(e),
    # logistic with a start: config.py puts dim = len(start) into its params, problem() chokes.
    "logistic-start-dim": lambda e: isinstance(e, TypeError)
    and "unexpected keyword argument 'dim'" in str(e),
}

# Messages about the whole file rather than one key.
FILE_LEVEL = ("invalid TOML: ", "not UTF-8 text", "the configuration must be a table",
              "the results would take ", "no such file", "cannot read: ")
_KEY_PATH = re.compile(r"\[?([^\s.\[\]=:]+)")


class Refused(str):
    """A refusal's text; ``messages``: its mistakes, one message each (hint lines
    included), and ``hidden``: how many more were not shown."""

    messages: list[str] = []
    hidden = 0


def outcome(run, source, table=None):
    """Run ``run()`` under the guard: the config, or the ConfigError's text (a
    :class:`Refused`: every message in it checked), or fail.

    A known bug's signature gives ``None`` (and a hypothesis event).
    """
    try:
        with guard():
            return run()
    except ConfigError as error:
        refused = Refused(str(error))
        refused.messages = list(getattr(error, "messages", [str(error)]))
        refused.hidden = getattr(error, "hidden", 0)
        for message in refused.messages:
            check_message(message, source, table)
        return refused
    except Exception as error:
        for name, matches in KNOWN_BUGS.items():
            if matches(error):
                event(f"known bug: {name}")
                return None
        raise


def _has_newline(value):
    if isinstance(value, str):
        return "\n" in value
    if isinstance(value, list):
        return any(_has_newline(v) for v in value)
    if isinstance(value, dict):
        return any(_has_newline(k) or _has_newline(v) for k, v in value.items())
    return False


def check_message(message, source, table=None):
    lines = message.split("\n")
    assert lines[0].startswith(f"{source}: "), message
    if len(lines) > 2 or (len(lines) == 2 and not lines[1].startswith("  ")):
        # Known bug "newline-in-message": _show prints a string (or key) raw, newlines and all.
        assert table is None or _has_newline(table), message
        event("known bug: newline-in-message")
        return
    rest = lines[0][len(source) + 2:]
    if rest.startswith(FILE_LEVEL) or rest.endswith(": unknown key"):
        return  # an unknown key is named as written, whatever its characters (even "")
    # "KEY.PATH[i] = value: rule" or "KEY.PATH: rule" or "[section]: rule"
    assert ": " in rest, message
    root = _KEY_PATH.match(rest)
    assert root, message
    known_roots = set(SECTIONS) | set(table or ())
    assert root.group(1) in known_roots or rest.split(": ")[0] in known_roots, message


def check_invariants(config: SweepConfig):
    assert isinstance(config, SweepConfig)
    assert isinstance(config.steps, int) and 1 <= config.steps <= MAX_STEPS
    assert isinstance(config.record_every, int) and config.record_every >= 0
    assert math.isfinite(config.tol) and config.tol > 0
    assert config.optimizers and len(set(config.optimizers)) == len(config.optimizers)
    assert all(name in OPTIMIZERS for name in config.optimizers)
    assert config.dim >= 1
    assert config.starts and all(len(point) == config.dim for point in config.starts)
    assert len(set(config.starts)) == len(config.starts)
    assert all(math.isfinite(x) for point in config.starts for x in point)
    assert tuple(axis.name for axis in config.axes) == AXES
    for axis in config.axes:
        rule, _ = AXIS_RULES[axis.name]
        assert len(axis.values) >= 1, axis
        assert len(set(axis.values)) == len(axis.values), axis
        assert all(isinstance(v, float) and math.isfinite(v) and rule(v) for v in axis.values), axis
        assert axis.scale in ("linear", "log")
    assert config.seeds and len(set(config.seeds)) == len(config.seeds)
    assert all(isinstance(s, int) and s >= 0 for s in config.seeds)
    assert config.schedules and all(name in SCHEDULES for name in config.schedules)
    assert math.isfinite(config.noise) and config.noise >= 0
    if config.bounds is not None:
        assert len(config.bounds) == config.dim
        assert all(low < high for low, high in config.bounds)
        assert all(low <= x <= high for point in config.starts
                   for x, (low, high) in zip(point, config.bounds))
    assert config.warmup >= 0 and config.step_every >= 1 and config.step_factor > 0
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert result_bytes(config) <= tunables.MAX_MEMORY_FRACTION * memory


# --- writing TOML -------------------------------------------------------------------


def _toml_string(text):
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**4000 else hex(value)  # str() stops at 4300 digits
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def to_toml(table):
    lines = [f"{_toml_string(k)} = {toml_value(v)}" for k, v in table.items()
             if not isinstance(v, dict)]
    for key, body in table.items():
        if isinstance(body, dict):
            lines += ["", f"[{_toml_string(key)}]"]
            lines += [f"{_toml_string(k)} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


# --- strategies: values --------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
SPECIAL_INTS = [0, 1, 2, 3, -1, -(2**63), 2**63 - 1, 2**63, 2**64, 10**12, 10**12 + 1,
                MAX_AXIS_VALUES + 1, MAX_DIM + 1, 10_001, 10_000_001, 2**70, 10**400, -(10**400)]
SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 0.999, 1.0 - 2**-53, 1e-8, 1e308, -1e308, 5e-324,
                  -5e-324, 1.7976931348623157e308, math.nan, math.inf, -math.inf, 1e-300, 2.0]
INTS = st.one_of(st.sampled_from(SPECIAL_INTS), st.integers(-5, 50),
                 st.integers(-(2**64), 2**64))
FLOATS = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(-2, 2))
NUMBERS = st.one_of(INTS, FLOATS)
DATES = st.one_of(st.dates(), st.times(), st.datetimes(),
                  st.datetimes(timezones=st.just(dt.timezone.utc)))
SCALARS = st.one_of(st.booleans(), INTS, FLOATS, TEXT, DATES)
TOML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8)


def near_misses(word):
    """Typos of ``word``: a letter dropped, doubled, swapped or changed; the case changed."""
    variants = {word.upper(), word.capitalize(), word + "s", word[:-1], word + "_"}
    for i in range(len(word)):
        variants.add(word[:i] + word[i + 1:])
        variants.add(word[:i] + word[i] + word[i:])
        if i + 1 < len(word):
            variants.add(word[:i] + word[i + 1] + word[i] + word[i + 2:])
    variants.discard(word)
    return sorted(v for v in variants if v)


def name_like(names):
    names = sorted(names)
    return st.one_of(st.sampled_from(names),
                     st.sampled_from(names).flatmap(lambda n: st.sampled_from(near_misses(n))),
                     TEXT)


POINTS = st.lists(st.one_of(st.floats(-3, 3), st.sampled_from([0.0, -0.0, 1, 2**64, 1e308]),
                            NUMBERS, SCALARS), min_size=0, max_size=4)
MATRICES = st.one_of(POINTS, st.lists(POINTS, max_size=4),
                     st.lists(st.one_of(POINTS, NUMBERS, st.lists(POINTS, max_size=2)), max_size=3),
                     TOML_VALUES)
INTERVALS = st.one_of(st.lists(st.floats(-5, 5), min_size=2, max_size=2).map(sorted),
                      st.lists(NUMBERS, max_size=3))
BOUNDS = st.one_of(INTERVALS, st.lists(INTERVALS, max_size=4), TOML_VALUES,
                   st.just([[-1e308, 1e308], [-1e308, 1e308]]))
INT_LIKE = st.one_of(st.sampled_from(SPECIAL_INTS), INTS, st.sampled_from([1.0, 2.5, True, "3", [3]]), TOML_VALUES)
NUMBER_LIKE = st.one_of(st.sampled_from(SPECIAL_INTS + SPECIAL_FLOATS), NUMBERS, st.booleans(), TOML_VALUES)


def axis_values(name):
    low, high = {"alpha": (5e-324, 10.0), "beta1": (0.0, 0.999), "beta2": (0.0, 0.999),
                 "eps": (0.0, 1.0)}[name]
    inside = st.one_of(st.floats(low, high), st.sampled_from([low, high, 0.0, 1.0, -0.0, 1e-8]))
    ranges = st.fixed_dictionaries(
        {"min": st.one_of(inside, NUMBER_LIKE), "max": st.one_of(inside, NUMBER_LIKE),
         "num": st.one_of(st.integers(1, 40), INT_LIKE)},
        optional={"scale": st.one_of(st.sampled_from(["linear", "log", "Log", "geometric"]),
                                     TOML_VALUES),
                  "step": NUMBERS})
    return st.one_of(inside, st.lists(inside, max_size=5), st.lists(NUMBER_LIKE, max_size=3),
                     ranges, ranges.map(lambda r: {k: v for k, v in r.items() if k != "min"}),
                     TOML_VALUES)


def formula():
    """Short formulas from a small alphabet (good and bad)."""
    leaves = st.one_of(
        st.sampled_from(["x", "y", "t", "x0", "x1", "x3", "x01", "z", "pi", "e", "sin", "foo"]),
        st.sampled_from(["0", "1", "2", "0.5", "10", "20", "1000", "1001", "1e308", "1e-320",
                         "1e400", "2j", "True", "'a'", "1" + "0" * 400]),
        st.integers(0, 10**6).map(str), st.floats(0, 1e6).map(repr))
    functions = ["exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin",
                 "acos", "atan", "abs", "Abs", "foo", "print", "x"]
    operators = ["+", "-", "*", "/", "**", "//", "%", "^", "<", " and ", ",", "@"]
    return st.recursive(leaves, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(operators), inner).map("".join),
        st.tuples(st.sampled_from(functions), inner).map(lambda p: f"{p[0]}({p[1]})"),
        inner.map(lambda s: f"-{s}"), inner.map(lambda s: f"({s})")), max_leaves=6)


def path_values():
    missing = st.one_of(
        TEXT.map(lambda s: f"missing_{s}.py"), st.just("nope/../nope.py"), st.just("/nonexistent/a.py"),
        st.just("a\x00.py"), st.just("a" * 300 + ".py"), st.just(""), st.just("f.txt"),
        st.just("."), st.just("/"))
    return st.one_of(missing, st.sampled_from(list(USER_FILES.values())), TOML_VALUES)


# Files an objective.file may name: written once per session, read, never run by the engine.
USER_DIR = Path(tempfile.mkdtemp(prefix="sweep_props_"))
atexit.register(shutil.rmtree, USER_DIR, ignore_errors=True)
USER_FILES = {
    "good": "def bowl(x, grad, t, key):\n    grad[0] = x[0]\n    return 0.5 * x[0] * x[0]\n",
    "three": "def three(x, grad, t):\n    return 0.0\n",
    "broken": "def f(x:\n",
    "raises": "raise RuntimeError('at import')\n",
}
for _name, _text in list(USER_FILES.items()):
    (USER_DIR / f"{_name}.py").write_text(_text)
    USER_FILES[_name] = str(USER_DIR / f"{_name}.py")


def targeted(path):
    """Values aimed at the key at ``path`` (a tuple), plus any TOML value."""
    section, key = path[0], path[-1]
    options = {
        "optimizers": st.lists(name_like(OPTIMIZERS), max_size=4),
        "schedule": st.one_of(name_like(SCHEDULES), st.lists(name_like(SCHEDULES), max_size=3)),
        "output": st.one_of(st.sampled_from(["a.zarr", "a.nc", "a.csv", "", ".nc", "a.NC"]),
                            TEXT),
        "name": name_like(OBJECTIVES),
        "expr": formula(),
        "file": path_values(),
        "function": st.one_of(st.sampled_from(["bowl", "three", "f", "bow", "1f", "", "a b"]),
                              TEXT),
        "start": MATRICES, "minimizers": MATRICES, "box": BOUNDS, "bounds": BOUNDS,
        "seeds": st.one_of(INT_LIKE, st.lists(st.integers(-2, 10), max_size=5),
                           st.lists(INT_LIKE, max_size=3)),
        "centered": st.one_of(st.booleans(), NUMBER_LIKE),
    }
    if section == "grid" and len(path) == 2:
        return axis_values(key)
    if key in options:
        return st.one_of(options[key], TOML_VALUES)
    if key in ("steps", "record_every", "warmup", "every", "dim", "features", "samples",
               "batch_size", "data_seed", "num"):
        if key in ("samples", "features"):  # in-range huge ones are pinned by xfail tests below
            return st.one_of(st.integers(-1, 5), st.sampled_from([10_001, 10**7 + 1, 2**70]),
                             st.sampled_from([1.0, True, "3"]))
        return INT_LIKE
    return NUMBER_LIKE


# --- strategies: grids ---------------------------------------------------------------


def base_grids():
    """Valid grids of every objective kind."""
    sweep = st.fixed_dictionaries(
        {"optimizers": st.lists(st.sampled_from(sorted(OPTIMIZERS)), min_size=1, max_size=3,
                                unique=True),
         "steps": st.integers(1, 1000)},
        optional={"tol": st.floats(1e-12, 1.0), "record_every": st.integers(0, 10),
                  "output": st.sampled_from(["r.zarr", "r.nc"]),
                  "schedule": st.one_of(st.sampled_from(sorted(SCHEDULES)),
                                        st.lists(st.sampled_from(sorted(SCHEDULES)), min_size=1,
                                                 max_size=4, unique=True))})
    builtin = st.sampled_from([
        {"name": "booth"}, {"name": "rosenbrock", "start": [[-2.0, 2.0], [-1.2, 1.0]]},
        {"name": "quadratic", "dim": 3, "kappa": 100.0}, {"name": "rastrigin", "start": [1.0]},
        {"name": "rosenbrock_nd", "dim": 4, "bound": 1e3},
        {"name": "logistic", "features": 2, "samples": 20, "batch_size": 4},
        {"name": "himmelblau", "noise": 0.1, "seeds": 3, "bounds": [-5, 5]},
        {"name": "booth", "seeds": [3, 17], "bounds": [[-1, 1], [-2, 2]], "start": [0.0, 0.0]},
    ])
    user = st.sampled_from([
        {"expr": "(1 - x)**2 + 100*(y - x**2)**2", "start": [[-1.2, 1.0]]},
        {"expr": "x0**2 + sin(x1) + x2/t", "start": [[1.0, 2.0, 3.0]], "minimum": 0.0},
        {"expr": "abs(x)", "start": [1.0], "box": [[-2, 2]], "minimizers": [[0.0]]},
        {"file": USER_FILES["good"], "function": "bowl", "start": [[1.0]]},
    ])
    axes = st.fixed_dictionaries({}, optional={
        "alpha": st.sampled_from([[1e-3, 1e-2], 0.1, {"min": 1e-4, "max": 1e-1, "num": 4,
                                                       "scale": "log"}]),
        "beta1": st.sampled_from([[0.0, 0.9], {"min": 0.0, "max": 0.99, "num": 3}]),
        "beta2": st.sampled_from([0.999, [0.9, 0.99]]),
        "eps": st.sampled_from([[0.0, 1e-8], {"min": 1e-10, "max": 1e-6, "num": 3,
                                              "scale": "log"}])})
    options = st.fixed_dictionaries({}, optional={
        "rmsprop": st.just({"centered": True}), "adamw": st.just({"weight_decay": 0.0}),
        "nadam": st.just({"momentum_decay": 4e-3}), "adagrad": st.just({}),
        "sgd": st.just({})})
    schedule = st.fixed_dictionaries({}, optional={"warmup": st.integers(0, 10),
                                                   "every": st.integers(1, 10),
                                                   "factor": st.floats(0.01, 1.0)})
    return st.builds(lambda s, o, g, p, c: {"sweep": s, "objective": copy.deepcopy(o), "grid": g,
                                            "options": p, "schedule": {"every": 5, **c}},
                     sweep, st.one_of(builtin, user), axes, options, schedule)


# Every key path the grid file knows, and the parts of a range.
KEY_PATHS = sorted(
    [(section, key) for section, keys in SECTIONS.items() if section != "options" for key in keys]
    + [("grid", axis, part) for axis in AXES for part in ("min", "max", "num", "scale")]
    + [("options", name, next((n for n in rule.names if n != "alpha"), "x"))
       for name, rule in OPTIMIZERS.items()]
    + [("options", name) for name in OPTIMIZERS] + [(section,) for section in SECTIONS])


def _node(table, parents):
    for part in parents:
        child = table.get(part)
        if not isinstance(child, dict):
            child = table[part] = {}
        table = child
    return table


@st.composite
def mutated_grids(draw, max_mutations=4):
    table = draw(base_grids())
    for _ in range(draw(st.integers(0, max_mutations))):
        kind = draw(st.sampled_from(["set", "set", "set", "drop", "rename", "add", "kind"]))
        path = draw(st.sampled_from(KEY_PATHS))
        *parents, last = path
        node = _node(table, parents)
        if kind == "set":
            node[last] = draw(targeted(path))
        elif kind == "drop":
            node.pop(last, None)
        elif kind == "rename" and last in node:
            aliases = [a for a, target in ALIASES.items() if target == last]
            new = draw(st.sampled_from(near_misses(last) + aliases))
            node[new] = node.pop(last)
        elif kind == "add":
            node[draw(st.one_of(TEXT, st.sampled_from(sorted(ALIASES))))] = draw(TOML_VALUES)
        elif kind == "kind":  # mix the objective kinds
            objective = _node(table, ["objective"])
            key = draw(st.sampled_from(["name", "file", "expr", "function"]))
            objective[key] = draw(targeted(("objective", key)))
    return table


# --- the properties --------------------------------------------------------------------

SETTINGS = dict(deadline=None, derandomize=True,  # the same examples on every run: no flakes in CI
                suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.filter_too_much])


def _check(result):
    if isinstance(result, SweepConfig):
        check_invariants(result)
        event("valid")
    elif result is not None:
        event("refused")


@settings(max_examples=600, **SETTINGS)
@given(table=mutated_grids())
def test_any_grid_dict_is_a_config_or_a_clean_error(table):
    original = copy.deepcopy(table)
    _check(outcome(lambda: validate(table), "<config>", table))
    assert table == original or _has_nan(original), "validate must not change its argument"


def _has_nan(value):
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    return False


@settings(max_examples=200, **SETTINGS)
@given(table=mutated_grids())
def test_toml_file_agrees_with_the_dict(table):
    """Written as TOML and loaded, a grid gives the outcome validate gives the dict."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "grid.toml"
        path.write_text(to_toml(table), encoding="utf-8")
        from_file = outcome(lambda: load(path), str(path), table)
    from_dict = outcome(lambda: validate(copy.deepcopy(table)), "<config>", table)
    _check(from_file)
    if from_file is None or from_dict is None:
        return
    assert isinstance(from_file, str) == isinstance(from_dict, str), (from_file, from_dict)
    if isinstance(from_file, str) and "objective.file" not in from_file:  # paths resolve apart
        assert ([message.split(": ", 1)[1] for message in from_file.messages]
                == [message.split(": ", 1)[1] for message in from_dict.messages])


TOML_KEYS = st.one_of(
    st.sampled_from(sorted({k for keys in SECTIONS.values() for k in keys} | set(SECTIONS)
                           | set(ALIASES) | {"min", "max", "num", "scale"})),
    TEXT.map(_toml_string), st.text("abc.[]= \"'", max_size=6))
TOML_LITERALS = st.one_of(
    TOML_VALUES.map(toml_value),
    st.sampled_from(["nan", "+inf", "-inf", "0x7fffffffffffffff", "0x" + "f" * 40, "1_000",
                     "1" + "0" * 400, "1" * 5000, "0o777", "0b101", "1979-05-27T07:32:00Z",
                     "07:32:00", "1979-05-27", "'''a\nb'''", '"""x"""', "[1,", "{a=1", "{}",
                     "[[1, 2], [3]]", "1e400", "-0.0", "00", "1__0", "true", "tru", '"\\q"',
                     '"\\u0000.py"', "[]", "[[]]"]),
    st.text("0123456789.+-eE_xinf", min_size=1, max_size=8))
TOML_LINES = st.one_of(
    st.tuples(TOML_KEYS, TOML_LITERALS).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(sorted(SECTIONS) + ["options.adamw", "options.rmsprop", "grid.alpha",
                                        "sweep", "objective"]).map(lambda s: f"[{s}]"),
    TOML_KEYS.map(lambda k: f"[{k}]"), TOML_KEYS.map(lambda k: f"[[{k}]]"),
    st.text(max_size=20), st.just(""), st.just("# comment"))
VALID_HEADER = '[sweep]\noptimizers = ["adam"]\nsteps = 10\n[objective]\nname = "booth"\n'


@settings(max_examples=400, **SETTINGS)
@given(document=st.one_of(
    st.binary(max_size=200), st.text(max_size=200).map(lambda s: s.encode("utf-8", "replace")),
    st.lists(TOML_LINES, max_size=12).map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
    st.lists(TOML_LINES, max_size=8).map(
        lambda ls: (VALID_HEADER + "\n".join(ls)).encode("utf-8", "surrogatepass")),
    st.tuples(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]), st.binary(max_size=50))
    .map(lambda p: p[0] + VALID_HEADER.encode() + p[1])))
def test_any_bytes_are_a_config_or_a_clean_error(document):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "g.toml"
        path.write_bytes(document)
        _check(outcome(lambda: load(path), str(path)))


@settings(max_examples=150, **SETTINGS)
@given(expr=formula(), start=st.sampled_from([[0.5], [0.5, 0.25], [1.0, 2.0, 3.0, 4.0]]))
def test_any_formula_is_a_config_or_a_clean_error(expr, start):
    table = {"sweep": {"optimizers": ["adam"], "steps": 10},
             "objective": {"expr": expr, "start": [start]}}
    result = outcome(lambda: validate(table), "<config>", table)
    _check(result)
    if isinstance(result, str):
        assert result.startswith("<config>: objective."), result


@settings(max_examples=30, **SETTINGS)
@given(table=mutated_grids(max_mutations=3).filter(lambda t: t != {}))
def test_cli_refuses_invalid_files_with_status_2_and_writes_nothing(table):
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        path = directory / "grid.toml"
        path.write_text(to_toml(table), encoding="utf-8")
        refused = outcome(lambda: load(path), str(path), table)
        if not isinstance(refused, str):  # valid (would run a sweep) or a known bug
            event("skipped: valid or known bug")
            return
        stderr, stdout = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout), guard():
            status = cli.main([str(path), "-o", str(directory / "out.nc"), "--quiet"])
        assert status == 2, stderr.getvalue()
        assert stdout.getvalue() == ""
        more = [f"... and {refused.hidden} more"] if refused.hidden else []
        # A valid file refused for its size may first warn of options for rules not swept.
        errors = "".join(line for line in stderr.getvalue().splitlines(keepends=True)
                         if not line.startswith("warning: "))
        assert errors == "".join(f"error: {line}\n" for line in refused.messages + more)
        assert sorted(p.name for p in directory.iterdir()) == ["grid.toml"]


# --- regression tests for the bugs found (all fixed) ----

GOOD = {"sweep": {"optimizers": ["adam"], "steps": 10}, "objective": {"name": "booth"}}


def _with(section, **keys):
    table = copy.deepcopy(GOOD)
    table.setdefault(section, {}).update(keys)
    return table


def _refused_cleanly(run, source="<config>"):
    with pytest.raises(ConfigError) as refused, guard():
        run()
    check_message(str(refused.value), source)
    return str(refused.value)


@pytest.mark.parametrize("start", [[0.0, 0.0, 0.0], [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [0.0]])
def test_logistic_with_start_points(start):
    table = _with("objective", name="logistic", start=start)
    if len(start) == 3 or isinstance(start[0], list):  # features = 2: dim 3, the right length
        assert validate(table).dim == 3
    else:
        assert "objective.start" in _refused_cleanly(lambda: validate(table))


@pytest.mark.parametrize("section, key, value", [
    ("sweep", "tol", 10**400), ("objective", "noise", -(10**400)),
    ("objective", "start", [[10**400, 0.0]]), ("grid", "alpha", 10**400)])
def test_integer_beyond_float_range_is_refused(section, key, value):
    assert f"{section}.{key}" in _refused_cleanly(lambda: validate(_with(section, **{key: value})))


def test_integer_of_5000_digits_in_toml_is_refused(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text("[sweep]\nsteps = " + "1" * 5000 + "\n")
    _refused_cleanly(lambda: load(path), str(path))


def test_huge_hex_integer_is_refused_with_its_key(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[sweep]\noptimizers = ["adam"]\nsteps = 0x' + "f" * 5000 +
                    '\n[objective]\nname = "booth"\n')
    assert "sweep.steps" in _refused_cleanly(lambda: load(path), str(path))


def test_formula_with_a_huge_integer_literal_is_refused():
    table = {"sweep": {"optimizers": ["adam"], "steps": 10},
             "objective": {"expr": "1" + "0" * 400 + "*x", "start": [0.5]}}
    assert "objective.expr" in _refused_cleanly(lambda: validate(table))


@pytest.mark.parametrize("expr", ["0.5/0.0", "x + 2.5/0.0"])
def test_formula_dividing_a_float_by_zero_point_zero_is_refused(expr):
    table = {"sweep": {"optimizers": ["adam"], "steps": 10},
             "objective": {"expr": expr, "start": [0.5]}}
    assert "divides by zero" in _refused_cleanly(lambda: validate(table))


@pytest.mark.parametrize("expr", ["exp(exp(1e308))*x", "sinh(exp(1e308))+x"])
def test_formula_with_an_astronomic_constant_is_refused(expr):
    table = {"sweep": {"optimizers": ["adam"], "steps": 10},
             "objective": {"expr": expr, "start": [0.5]}}
    assert "too large" in _refused_cleanly(lambda: validate(table))


def test_formula_with_an_astronomic_sine_argument_names_the_real_reason():
    # Was "is nested too deeply": sympy's sin(exp(1e308)) raised RecursionError.
    table = {"sweep": {"optimizers": ["adam"], "steps": 10},
             "objective": {"expr": "sin(exp(1e308))+x", "start": [0.5]}}
    assert "nested" not in _refused_cleanly(lambda: validate(table))


@pytest.mark.parametrize("expr", [
    "sin(exp(exp(20)))+x",
    "cos(e**e**e**e)*x",  # hung: sympy's cos chased the exact digits of its argument
    "log(e**e**e**e)*x", "exp(e**e**e)*x",
])
def test_formula_with_a_huge_constant_argument_is_refused_quickly(expr):
    table = {"sweep": {"optimizers": ["adam"], "steps": 10},
             "objective": {"expr": expr, "start": [0.5]}}
    _refused_cleanly(lambda: validate(table))


@pytest.mark.parametrize("path", ["a\x00.py", "a" * 5000 + ".py"], ids=["nul", "long"])
def test_unusable_objective_file_path_is_refused(path):
    table = {"sweep": {"optimizers": ["adam"], "steps": 10},
             "objective": {"file": path, "function": "f", "start": [0.5]}}
    assert "objective.file" in _refused_cleanly(lambda: validate(table))


@pytest.mark.parametrize("table", [
    {**GOOD, "sweep": {"optimizers": ["ad\nam"], "steps": 10}},
    {**GOOD, "sweep": {"optimizers": {"\n": False}, "steps": 10}},
    {**GOOD, "a\nb": 1}], ids=["value", "dict-key", "unknown-key"])
def test_message_is_one_line_whatever_the_value(table):
    with pytest.raises(ConfigError) as refused:
        validate(table)
    lines = str(refused.value).split("\n")
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith(("  Perhaps", "  Allowed"))), lines


def test_non_string_key_in_a_dict_is_refused():
    _refused_cleanly(lambda: validate({**GOOD, 1: {}}))


# Sizes that are in range key by key but make validation allocate or compute far too much
# before any size check: run in a child with 2 GiB of address space and a time limit.
CHILD = """
import json, sys
sys.path.insert(0, {root!r})
import resource
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from sweep.config import validate
from sweep.errors import ConfigError
try:
    validate(json.loads(sys.argv[1]))
    print("valid")
except ConfigError as error:
    print("refused", str(error).splitlines()[0])
"""
HEAVY_SECONDS = 5.0


@pytest.mark.parametrize("params", [
    {"features": 10_000, "samples": 2}, {"features": 10_000, "samples": 10_000_000},
    {"samples": 10_000_000}], ids=["features", "both", "samples"])
def test_huge_logistic_data_is_refused_quickly(params):
    _check_heavy(_with("objective", name="logistic", **params))


def test_grid_of_four_huge_ranges_is_refused_before_it_is_built():
    axes = {name: {"min": 0.1, "max": 0.5, "num": MAX_AXIS_VALUES} for name in AXES}
    _check_heavy({**GOOD, "grid": axes})


def _check_heavy(table):
    import json

    started = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)),
                                 json.dumps(table)], capture_output=True, text=True,
                                timeout=HEAVY_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"validation ran past {HEAVY_SECONDS} s")
    assert result.returncode == 0, result.stderr[-500:]
    # Refused or accepted, but quickly (the child's import alone takes ~1 s).
    assert time.perf_counter() - started < 3.0, result.stdout
