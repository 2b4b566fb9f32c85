"""Rules of a user's own: ``[rules.NAME]`` in a grid file, loaded, checked and registered.

A user's rule is a plain Python function ``f(theta, grad, state, t, h) -> (theta,
state)`` in a file beside the grid (see :func:`sweep.kernels.rules.user_rule`). It is
checked when the grid is read (it must compile with numba for its declared
hyperparameters and state, and return a state of the declared length) and
registered in :data:`sweep.kernels.rules.OPTIMIZERS` under its name, for this process;
another process (a Dask worker) loads it again from its :class:`RuleSpec`, whose
file hash makes sure it runs the same code.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from sweep.kernels.rules import OPTIMIZERS, RuleSpec, user_rule

from .objectives import ObjectiveError, load_function

# A rule's arguments, as kernels call it.
ARGUMENTS = ("theta", "grad", "state", "t", "h")
# The built-in rules: a user's rule may not take their names.
BUILTIN = frozenset(OPTIMIZERS)


class RuleError(ValueError):
    """A user's rule that cannot run; the message is one line (with the file's line)."""


@functools.cache
def load(spec: RuleSpec):
    """The :class:`sweep.kernels.rules.Optimizer` of ``spec``, registered under its name."""
    try:
        function = load_function(spec.file, spec.function, spec.digest, ARGUMENTS)
    except ObjectiveError as error:
        raise RuleError(str(error)) from None
    rule = user_rule(spec, function)
    OPTIMIZERS[spec.name] = rule
    return rule


def check(spec: RuleSpec) -> None:
    """Compile the rule's function alone, as the kernels call it, on its defaults; raise
    :class:`RuleError` if numba cannot compile it, if it takes other arguments, or if it
    returns anything but ``(float, tuple of len(state) floats)``."""
    import numpy as np
    from numba import njit

    from sweep.kernels import records

    rule = load(spec)
    function = load_function(spec.file, spec.function, spec.digest, ARGUMENTS)
    hyper = records.hyperparameters(rule)
    rows = np.array([[float(default)] for _, default in spec.hyperparameters])
    h = hyper(rows, 0, 0, rows[0, 0])
    state = tuple(0.5 for _ in spec.state)
    try:
        compiled = njit(error_model="numpy")(function)
        theta, new = compiled(0.25, 0.5, state, 1.0, h)
    except Exception as error:  # numba's TypingError and friends: the first line, the place
        raise RuleError(_numba_message(error, spec)) from None
    if not isinstance(new, tuple) or len(new) != len(spec.state):
        count = len(new) if isinstance(new, tuple) else "no tuple"
        raise RuleError(f"{spec.function} returns a state of {count} values; "
                        f"the rule declares {len(spec.state)} ({', '.join(spec.state) or 'none'})")
    try:
        float(theta), [float(value) for value in new]
    except (TypeError, ValueError):
        raise RuleError(f"{spec.function} must return (theta, state) as floats") from None


def _numba_message(error: Exception, spec: RuleSpec) -> str:
    text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    where = re.findall(r'File "([^"]+)", line (\d+)', text)
    name = Path(spec.file).name  # numba shows the path relative to the working directory
    line = next((number for path, number in where if Path(path).name == name), None)
    first = next((line_ for line_ in lines if not line_.startswith(("Failed in", "During:"))),
                 type(error).__name__)
    place = f" (line {line})" if line else ""
    return f"numba cannot compile {spec.function}{place}: {first}"
