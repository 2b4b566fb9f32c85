"""Which objective a sweep runs: a built-in, a user's Python function, or a formula.

An :class:`ObjectiveSpec` is small and picklable, so that a worker process
(loky, dask) can rebuild the same :class:`~sweep.kernels.objectives.Problem` from it.
Loading a user's file runs the user's code, but never imports numba: the
function is compiled later, with the kernels.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import math
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from sweep.kernels.objectives import Problem, problem

# Box and divergence bound of an objective the user wrote, unless given.
DEFAULT_BOX = ((-5.0, 5.0), (-5.0, 5.0))
DEFAULT_BOUND = 1e6


class ObjectiveError(ValueError):
    """A user objective that cannot be loaded; the message says why (file and line)."""


@dataclass(frozen=True, kw_only=True)
class ObjectiveSpec:
    """Everything needed to rebuild an objective in any process.

    Attributes:
        kind: ``"builtin"``, ``"model"`` (trained on data), ``"python"`` (a function in a
            file) or ``"expr"`` (a formula).
        name: the built-in's name, ``MODEL on DATA``, ``FILE:FUNCTION``, or the formula.
        params: the built-in's or the model's parameters, ``((key, value), ...)``.
        file: absolute path of the user's file (kind ``"python"``), or of a model's .npz data.
        function: the function's name in that file.
        dim: the dimension (user objectives; built-ins know theirs).
        minimizers, minimum, box: metadata a user may give (None: unknown / default).
        digest: hash of the user's file as validated: every block and every worker
            of a run uses that text, and an edited file is a new spec.
    """

    kind: str
    name: str
    params: tuple = ()
    file: str | None = None
    function: str | None = None
    dim: int | None = None
    minimizers: tuple | None = None
    minimum: float | None = None
    box: tuple | None = None
    digest: str | None = None


@functools.cache
def resolve(spec: ObjectiveSpec) -> Problem:
    """The :class:`Problem` of ``spec``, one object per spec and process (compiled
    kernels are cached by function); a user's file is read once, at its ``digest``."""
    if spec.kind == "builtin":
        return problem(spec.name, **dict(spec.params))
    if spec.kind == "model":
        from . import models

        if spec.file is not None and file_digest(spec.file) != spec.digest:
            raise ObjectiveError(f"{Path(spec.file).name} changed after the grid was checked: "
                                 "run the sweep again")
        return models.build(spec.params)
    if spec.kind == "python":
        function = load_function(spec.file, spec.function, spec.digest)
    elif spec.kind == "expr":
        from sweep.kernels.formula import formula_objective

        function, _, _ = formula_objective(spec.name, spec.dim)
    else:
        raise ValueError(f"unknown objective kind {spec.kind!r}")
    return Problem(
        name=spec.name, dim=spec.dim, value_and_grad=function,
        minimizers=spec.minimizers or (),
        minimum=math.nan if spec.minimum is None else spec.minimum,
        starts=(), box=spec.box or DEFAULT_BOX, bound=DEFAULT_BOUND, params=spec.params)


def file_digest(path: str) -> str:
    """A short hash of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def load_function(path: str, name: str, digest: str | None = None,
                  arguments: tuple[str, ...] = ("x", "grad", "t", "key")):
    """Import ``name`` from the Python file at ``path`` (whose hash must be ``digest``
    when given: a file edited after the grid was checked is refused, not half-used).

    The module is registered under a name that includes the hash of the file's
    text, so an edited file is a new module (and numba's kernel cache, which
    refers to the function by module and name, never serves a stale one).
    """
    return _load(path, digest or file_digest(path), name, arguments)


@functools.cache
def _load(path: str, digest: str, name: str, arguments: tuple[str, ...]):
    module_name = f"sweep_user_{Path(path).stem}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        if file_digest(path) != digest:
            raise ObjectiveError(f"{Path(path).name} changed after the grid was checked: "
                                 "run the sweep again")
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except SyntaxError as error:
            raise ObjectiveError(f"{error.msg} ({Path(path).name}, line {error.lineno})") from None
        except ImportError as error:
            raise ObjectiveError(_import_message(error, path)) from None
        except Exception as error:  # the user's module failed while importing
            raise ObjectiveError(f"importing it raised {type(error).__name__}: {error}"
                                 f"{_where(error, path)}") from None
        sys.modules[module_name] = module
    function = getattr(module, name, None)
    if function is None or not inspect.isfunction(function):
        import difflib

        candidates = [n for n, v in vars(module).items()
                      if inspect.isfunction(v) and v.__module__ == module_name]
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f"; perhaps {close[0]!r}?" if close else \
            (f"; it defines {', '.join(candidates)}" if candidates else "")
        raise ObjectiveError(f"{Path(path).name} has no function {name!r}{hint}")
    parameters = list(inspect.signature(function).parameters)
    if len(parameters) != len(arguments):
        raise ObjectiveError(
            f"{name}({', '.join(parameters)}) takes {len(parameters)} arguments; it must take "
            f"exactly ({', '.join(arguments)}) "
            f"({Path(path).name}, line {function.__code__.co_firstlineno})")
    return function


def _where(error: BaseException, path: str) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    return f" ({Path(path).name}, line {frames[-1].lineno})" if frames else ""


# The engine's functions for a user's file (the generator) were in a top-level package
# `kernels` before they moved into sweep.kernels; an unrelated distribution on the package
# index installs a `kernels` of its own, so the old import may fail either way.
OLD_PACKAGE = "kernels"
NEW_IMPORT = "from sweep.kernels import normal, uniform"
_OLD_IMPORT_LINE = re.compile(rf"^\s*(from|import)\s+{OLD_PACKAGE}\b")


def _import_message(error: ImportError, path: str) -> str:
    """Why importing the user's file at ``path`` failed; for the old ``from kernels import
    ...`` (the module missing, or another project's ``kernels`` without those names), the
    import to write instead."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    line = (frames[-1].line or "").strip() if frames else ""
    raised = f"{type(error).__name__}: {error}"
    old_line = bool(_OLD_IMPORT_LINE.match(line))
    if (error.name or "").split(".")[0] != OLD_PACKAGE and not old_line:
        return f"importing it raised {raised}{_where(error, path)}"
    if line == f"import {OLD_PACKAGE}":  # its functions called as kernels.normal(...)
        instead = f"from sweep import {OLD_PACKAGE}"
    elif old_line:  # the user's own line, the package renamed
        instead = re.sub(rf"\b{OLD_PACKAGE}\b", f"sweep.{OLD_PACKAGE}", line, count=1)
    else:
        instead = NEW_IMPORT
    return (f"imports '{OLD_PACKAGE}', the old name of the engine's package ({raised}): "
            f"write '{instead}'{_where(error, path)}")
