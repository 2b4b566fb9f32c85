"""The records and tuples a rule's declaration implies, as small generated functions.

numba builds a tuple only from a literal list of its items, so the code that loads
a rule's state values (a tuple of as many floats as the rule declares), stores
them, or builds the record of its hyperparameters, is written here for each size
and each rule: a few lines of plain Python per function, generated from the
declaration (:class:`sweep.kernels.rules.Optimizer`) and kept in :mod:`linecache`, so
that :mod:`sweep.kernels.precision` reads their source like any other function's and
numba's messages can show it. Kernels inline them: what remains is the loads and
stores themselves.

Arrays of lanes are rows: value ``j`` of lane ``lane`` is ``rows[first + j*stride, lane]``
(the state of coordinate i of a lane kernel: ``first = i``, ``stride = dim``; a simple
kernel's one cell is lane 0 of its own rows).
"""
from __future__ import annotations

import collections
import functools
import hashlib
import linecache

def _define(name: str, source: str, namespace: dict | None = None):
    """The function ``name`` defined by ``source``, its source kept for :mod:`inspect`.

    Its file name is made of its name and a hash of its source: the same in every process
    (numba's disk cache keys a kernel on what it closes over, file names included, and a
    float32 twin is compiled from its original's file name)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    filename = f"<sweep.kernels.records {name} {digest}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    scope = dict(namespace or {})
    exec(compile(source, filename, "exec"), scope)
    function = scope[name]
    function.__qualname__ = f"records.{name}"
    function.__module__ = __name__
    return function


def _items(template: str, count: int) -> str:
    """``template`` for j = 0 … count − 1, as the items of a tuple literal."""
    items = [template.format(j=j) for j in range(count)]
    return "(" + "".join(item + ", " for item in items) + ")"


@functools.cache
def load(count: int):
    """``load_N(rows, first, stride, lane) -> (rows[first, lane], rows[first + stride, lane], …)``."""
    name = f"load_{count}"
    body = _items("rows[first + {j} * stride, lane]", count)
    return _define(name, f"def {name}(rows, first, stride, lane):\n    return {body}\n")


@functools.cache
def store(count: int):
    """``store_N(rows, first, stride, lane, values)``: the inverse of :func:`load`."""
    name = f"store_{count}"
    lines = "".join(f"    rows[first + {j} * stride, lane] = values[{j}]\n" for j in range(count))
    return _define(name, f"def {name}(rows, first, stride, lane, values):\n{lines}    return 0\n")


@functools.cache
def select(count: int):
    """``select_N(keep, new, old) -> tuple``: ``new`` where ``keep``, else ``old``, item by
    item (selects, which the lane loops vectorize)."""
    name = f"select_{count}"
    body = _items("new[{j}] if keep else old[{j}]", count)
    return _define(name, f"def {name}(keep, new, old):\n    return {body}\n")


@functools.cache
def zeros(count: int):
    """``zeros_N(h, theta) -> (0.0, …)``: a rule's state at t = 0 unless it says otherwise."""
    name = f"zeros_{count}"
    return _define(name, f"def {name}(h, theta):\n    return {_items('0.0', count)}\n")


def _record_class(rule, kind: str, names):
    """A named tuple class for ``rule``, a global of this module: numba's disk cache keys a
    kernel on a pickle of what it closes over, and a class pickles the same in every
    process only by reference (by value, cloudpickle gives it a random id)."""
    name = f"{_identifier(rule.name)}_{kind}"
    record = collections.namedtuple(name, names)
    record.__module__ = __name__
    globals()[name] = record
    return record


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


@functools.cache
def hyperparameters(rule):
    """``hyperparameters(rows, first, lane, alpha_t) -> record``: the rule's hyperparameters
    by name, from its rows (``first`` + the column), with α replaced by α_t."""
    name = f"hyperparameters_{_identifier(rule.name)}"
    record = _record_class(rule, "hyperparameters", rule.names)
    items = ", ".join(["alpha_t"] + [f"rows[first + {j}, lane]"
                                     for j in range(1, len(rule.names))])
    return _define(name, f"def {name}(rows, first, lane, alpha_t):\n"
                         f"    return Record({items})\n", {"Record": record})


@functools.cache
def group(rule, of_hyperparameters: bool = False):
    """``group(rows, first, lane) -> record`` of the ``shared_by`` hyperparameters, from rows
    that hold them in that order, or (``of_hyperparameters``) from the rows of all the
    rule's hyperparameters."""
    name = f"group_{_identifier(rule.name)}" + ("_of_hyperparameters" if of_hyperparameters
                                               else "")
    record = _group_class(rule)
    columns = rule.shared_columns if of_hyperparameters else range(len(rule.shared_by))
    items = ", ".join(f"rows[first + {column}, lane]" for column in columns) or "0.0"
    return _define(name, f"def {name}(rows, first, lane):\n    return Record({items})\n",
                   {"Record": record})


@functools.cache
def _group_class(rule):
    return _record_class(rule, "group", rule.shared_by or ("none",))


@functools.cache
def shared_key(rule):
    """``shared_key(rows, first, lane) -> tuple``: the ``shared_by`` values of a lane from
    the rows of all its hyperparameters."""
    name = f"shared_key_{_identifier(rule.name)}"
    body = "(" + "".join(f"rows[first + {column}, lane], " for column in rule.shared_columns) + ")"
    return _define(name, f"def {name}(rows, first, lane):\n    return {body}\n")


def init_function(rule):
    """The rule's ``init`` (its state at t = 0), zeros if it declares none."""
    return rule.init if rule.init is not None else zeros(len(rule.state))


def theta_itself(theta, state):
    """The reported point of a rule that declares none: θ."""
    return theta


def report_function(rule):
    """The rule's ``report`` (the point it reports), θ itself if it declares none."""
    return rule.report if rule.report is not None else theta_itself


def glue(rule) -> tuple:
    """Every generated function a kernel of ``rule`` may call (to register them)."""
    sizes = {len(rule.state), len(rule.carry), shared_size(rule), len(rule.shared_by)}
    made = [hyperparameters(rule), group(rule), group(rule, True), shared_key(rule),
            zeros(len(rule.state)), theta_itself]
    for size in sizes:
        made += [load(size), store(size), select(size)]
    return tuple(dict.fromkeys(made))


@functools.cache
def shared_size(rule) -> int:
    """How many shared coefficients the rule's ``shared`` returns (run once in Python on its
    defaults)."""
    g = group(rule)
    rows = [[float(rule.defaults[name])] for name in rule.shared_by] or [[0.0]]
    import numpy as np

    shared, carry = rule.shared(g(np.array(rows), 0, 0), 1.0, tuple(rule.carry))
    if len(carry) != len(rule.carry):
        raise ValueError(f"{rule.name}: shared returns {len(carry)} carried values, "
                         f"the declaration starts {len(rule.carry)}")
    return len(shared)
