"""float32 twins: the same plain-Python rules, objectives and kernels, retyped.

The rules, objectives and kernels are written once, for float64. In numba a
Python float literal is a float64 and an int64 meeting a float32 gives a
float64, so passing float32 arrays to the float64 code still computes in
float64: ``(1.0 - beta1) * grad`` is promoted. :func:`twin` builds a float32
*twin* of a function from its own source, with an AST pass:

* every float literal becomes a float32 constant (``1.0`` → ``float32(1.0)``),
  and so do float attributes of modules (``math.pi``, ``math.inf``, ``math.nan``);
* ``float(x)`` becomes ``float32(x)``; ``np.empty``/``zeros``/``ones``/``full``
  without a ``dtype`` get ``dtype=float32``;
* ``a + b``, ``a - b``, ``a * b``, ``a / b`` (and ``+=`` …) become calls of
  :func:`add`, :func:`subtract`, :func:`multiply`, :func:`divide`: two
  integers stay integer arithmetic (indices), anything else is cast to
  float32 first (so ``t + 1``, ``10.0 * x.shape[0]``, ``value / samples``
  and a float64 draw times a float32 stay float32). ``a ** b`` likewise,
  except with an integer literal exponent (``x ** 2`` is already float32 and
  numba unrolls it);
* the expression inside ``int(...)`` is left alone: a float made into an
  index keeps its float64 precision, so a float32 and a float64 run pick
  the same minibatch samples;
* globals and closure values the function reads are retyped too: Python
  floats become float32 constants, float arrays (the quadratic's
  eigenvalues, the logistic data) float32 copies, and every plain-Python
  function it calls its own twin (``adamw`` calls ``adam``'s twin) --
  except :mod:`sweep.kernels.random` (the generator stays 64-bit integer
  arithmetic; its float64 ``uniform``/``normal`` are cast where used as
  floats) and :mod:`sweep.kernels.maths` (``sqrt`` has a per-target overload,
  typed by its argument: float32 in, ``llvm.sqrt.f32`` out).

``math.sqrt/exp/log/cos/...`` of a float32 are float32 in numba (``sqrtf``,
``expf`` …; ``x ** n`` with an integer n too), so nothing else is needed.
The twin is compiled from the original's file name and line numbers (numba's
messages point at the user's line; numba's disk cache finds a source file)
in a copy of the original's globals. It is a plain Python function: numba
compiles it for the CPU and for CUDA, and it runs uncompiled (numpy float32
scalars), as in numba-cuda's simulator.

The helpers are plain Python too; :func:`register_helpers` gives them a
typed numba implementation for a target (``sweep.kernels.compile`` registers them
for the CPU, ``sweep.kernels.cuda`` for CUDA), inlined in numba's IR.

The measured float32-vs-float64 error (the table of ``docs/float32.md``) is
``python benchmarks/float32_error.py``.
"""
from __future__ import annotations

import ast
import copy
import inspect
import textwrap
import types as pytypes
import typing

import numpy as np

DTYPES = {"float64": np.float64, "float32": np.float32}
# Functions of these modules are called as they are, never twinned.
KEPT_MODULES = (f"{__package__}.random", f"{__package__}.maths")
# numpy allocations that get ``dtype=float32`` when they name none (position of ``dtype``).
_ALLOCATIONS = {"empty": 1, "zeros": 1, "ones": 1, "full": 2}


def check_dtype(dtype: str) -> str:
    """``dtype`` if it is one of :data:`DTYPES`' names; a ValueError naming them otherwise."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(map(repr, DTYPES))}, not {dtype!r}")
    return dtype


# --- the arithmetic helpers (plain Python; typed for numba by register_helpers) ---


def _integral(value) -> bool:
    return isinstance(value, (int, np.integer))


def add(a, b):
    """a + b: integer if both are integers, else in float32."""
    if _integral(a) and _integral(b):
        return a + b
    return np.float32(a) + np.float32(b)


def subtract(a, b):
    """a − b: integer if both are integers, else in float32."""
    if _integral(a) and _integral(b):
        return a - b
    return np.float32(a) - np.float32(b)


def multiply(a, b):
    """a · b: integer if both are integers, else in float32."""
    if _integral(a) and _integral(b):
        return a * b
    return np.float32(a) * np.float32(b)


def divide(a, b):
    """a / b in float32 (two integers too: a true division gives a float)."""
    return np.float32(a) / np.float32(b)


def power(a, b):
    """a ** b: integers stay integers; an integer exponent stays an integer (numba's
    repeated multiplication); otherwise both in float32."""
    if _integral(b):
        return a ** b if _integral(a) else np.float32(a) ** b
    return np.float32(a) ** np.float32(b)


_OPERATORS = {ast.Add: add, ast.Sub: subtract, ast.Mult: multiply, ast.Div: divide,
              ast.Pow: power}
HELPERS = {f"__float32_{function.__name__}__": function for function in _OPERATORS.values()}


def register_helpers(overload, **options) -> None:
    """Give :func:`add` … :func:`power` a numba implementation typed by their arguments.

    Args:
        overload: ``numba.extending.overload`` or ``numba.cuda.extending.overload``.
        options: passed on, e.g. ``target="cpu", inline="always"``.
    """
    from numba.core import types

    def integral(value):
        return isinstance(value, (types.Integer, types.Boolean))

    def typed(both_integers, otherwise, integer_exponent=None):
        def implement(a, b):
            if integral(a) and integral(b) and both_integers is not None:
                return both_integers
            if integral(b) and integer_exponent is not None:
                return integer_exponent
            return otherwise
        return implement

    float32 = np.float32
    overload(add, **options)(typed(lambda a, b: a + b, lambda a, b: float32(a) + float32(b)))
    overload(subtract, **options)(typed(lambda a, b: a - b, lambda a, b: float32(a) - float32(b)))
    overload(multiply, **options)(typed(lambda a, b: a * b, lambda a, b: float32(a) * float32(b)))
    overload(divide, **options)(typed(None, lambda a, b: float32(a) / float32(b)))
    overload(power, **options)(typed(lambda a, b: a ** b, lambda a, b: float32(a) ** float32(b),
                                     lambda a, b: float32(a) ** b))


# --- the AST pass ---


class _Retype(ast.NodeTransformer):
    """Float literals to float32 constants, arithmetic to the helpers (see the module doc)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.constants: dict[str, np.float32] = {}

    def constant(self, value: float, node: ast.AST) -> ast.AST:
        name = f"__float32_{len(self.constants)}__"
        with np.errstate(over="ignore"):  # 1e300 is inf in float32, as it should be
            self.constants[name] = np.float32(value)
        return ast.copy_location(ast.Name(name, ast.Load()), node)

    def visit_Constant(self, node):
        if type(node.value) is float:
            return self.constant(node.value, node)
        return node

    def visit_Attribute(self, node):
        base = node.value
        if isinstance(node.ctx, ast.Load) and isinstance(base, ast.Name):
            module = self.namespace.get(base.id)
            if isinstance(module, pytypes.ModuleType):
                value = getattr(module, node.attr, None)
                if type(value) is float:  # math.pi, math.inf, math.nan, np.pi ...
                    return self.constant(value, node)
        return self.generic_visit(node)

    def visit_BinOp(self, node):
        node = self.generic_visit(node)
        helper = _OPERATORS.get(type(node.op))
        if helper is None or (helper is power and _integer_literal(node.right)):
            return node
        call = ast.Call(ast.Name(f"__float32_{helper.__name__}__", ast.Load()),
                        [node.left, node.right], [])
        return ast.copy_location(call, node)

    def visit_AugAssign(self, node):
        node = self.generic_visit(node)
        helper = _OPERATORS.get(type(node.op))
        if helper is None or (helper is power and _integer_literal(node.value)):
            return node
        load = copy.deepcopy(node.target)
        for child in ast.walk(load):
            if hasattr(child, "ctx"):
                child.ctx = ast.Load()
        call = ast.Call(ast.Name(f"__float32_{helper.__name__}__", ast.Load()),
                        [load, node.value], [])
        return ast.copy_location(ast.Assign([node.target], call), node)

    def visit_Call(self, node):
        function = node.func
        if isinstance(function, ast.Name) and function.id == "int":
            return node  # an index: computed as the float64 code computes it
        node = self.generic_visit(node)
        if isinstance(function, ast.Name) and function.id == "float":
            node.func = ast.copy_location(ast.Name("__float32__", ast.Load()), function)
        elif (isinstance(function, ast.Attribute) and function.attr in _ALLOCATIONS
              and isinstance(function.value, ast.Name)
              and self.namespace.get(function.value.id) is np
              and len(node.args) <= _ALLOCATIONS[function.attr]
              and not any(keyword.arg == "dtype" for keyword in node.keywords)):
            node.keywords.append(ast.keyword("dtype", ast.Name("__float32__", ast.Load())))
        return node


def _integer_literal(node) -> bool:
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


# --- twins ---

_TWINS: dict = {}


def twin(function, dtype: str = "float32", cast_arguments: dict | None = None):
    """The ``dtype`` twin of a plain-Python function (``float64``: the function itself).

    Args:
        function: a rule, init, objective, schedule or kernel (plain Python, source available).
        dtype: ``"float32"`` or ``"float64"``.
        cast_arguments: ``{argument name: cast function}``: the twin starts by
            replacing that argument with ``cast(argument)`` (the kernels'
            float64 ``Settings`` → float32, see :func:`record_cast`).

    Returns:
        A new plain function with the same signature, cached per (function,
        dtype, casts). Its ``__float32_of__`` is ``function``, its
        ``__float32_uses__`` the twins and casts it calls (see :func:`reachable`).

    Raises:
        ValueError: an unknown dtype, or no source for the function (e.g.
            typed at an interactive prompt).
    """
    if check_dtype(dtype) == "float64":
        return function
    casts = tuple(sorted((cast_arguments or {}).items()))
    key = (function, dtype, casts)
    if key not in _TWINS:
        _TWINS[key] = _make_twin(function, dict(casts))
    return _TWINS[key]


def _source_tree(function) -> ast.FunctionDef:
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as error:
        raise ValueError(f"no float32 twin of {function.__qualname__!r}: its source is not "
                         f"available ({error})") from None
    tree = ast.parse(source)
    ast.increment_lineno(tree, function.__code__.co_firstlineno - 1)
    definition = tree.body[0]
    if not isinstance(definition, ast.FunctionDef):
        raise ValueError(f"no float32 twin of {function.__qualname__!r}: not a def")
    definition.decorator_list = []  # the caller compiles the twin as it compiled the original
    return definition


def _retyped(value, uses: list):
    """A global's or closure value's float32 counterpart (see the module doc)."""
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return np.float32(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float32)
    if (isinstance(value, pytypes.FunctionType) and value.__module__ not in KEPT_MODULES
            and value not in HELPERS.values()):
        made = twin(value, "float32")
        uses.append(made)
        return made
    py_func = getattr(value, "py_func", None)  # a numba dispatcher (a jitted plain function)
    if isinstance(py_func, pytypes.FunctionType) and hasattr(value, "targetoptions"):
        made = twin(py_func, "float32")
        uses.append(made)
        return _jitted_twin(value, made)
    return value


_JITTED: dict = {}


def _jitted_twin(dispatcher, made):
    """``made`` jitted as ``dispatcher``'s function is: ``inline="always"``
    (:func:`sweep.kernels.numba_support.inlined_before_typing`), once per twin."""
    from .numba_support import inlined_before_typing

    if dispatcher.targetoptions.get("inline") != "always":
        raise ValueError(f"no float32 twin of the jitted {made.__qualname__!r}: only "
                         "functions inlined before typing have one")
    if made not in _JITTED:
        _JITTED[made] = inlined_before_typing(made, f"{made.__qualname__}.float32")
    return _JITTED[made]


def _make_twin(function, casts: dict):
    definition = _source_tree(function)
    code = function.__code__
    namespace = dict(function.__globals__)
    uses: list = []
    for name in code.co_names:
        if name in namespace:
            namespace[name] = _retyped(namespace[name], uses)
    retype = _Retype(namespace)
    definition = retype.visit(definition)
    first = 1 if ast.get_docstring(definition) is not None else 0
    for name, cast in casts.items():  # def f(..., name__given, ...): name = cast(name__given)
        for argument in definition.args.args:
            if argument.arg == name:
                argument.arg = f"{name}__given"
        cast_name = f"__float32_cast_{name}__"
        namespace[cast_name] = cast
        uses.append(cast)
        statement = ast.parse(f"{name} = {cast_name}({name}__given)").body[0]
        definition.body.insert(first, ast.copy_location(statement, definition.body[first]))
    closure = []
    for cell in function.__closure__ or ():
        try:
            closure.append(_retyped(cell.cell_contents, uses))
        except ValueError:  # an empty cell
            closure.append(None)
    factory = ast.FunctionDef(
        name="__float32_twin__",
        args=ast.arguments(posonlyargs=[], args=[ast.arg(name) for name in code.co_freevars],
                           kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[definition, ast.Return(ast.Name(definition.name, ast.Load()))],
        decorator_list=[])
    ast.copy_location(factory, definition)
    module = ast.fix_missing_locations(ast.Module([factory], type_ignores=[]))
    namespace.update(retype.constants)
    namespace.update(HELPERS, __float32__=np.float32)
    exec(compile(module, code.co_filename, "exec"), namespace)
    made = namespace.pop("__float32_twin__")(*closure)
    made.__qualname__ = function.__qualname__
    made.__doc__ = function.__doc__
    made.__float32_of__ = function
    made.__float32_uses__ = tuple(uses)
    return made


def reachable(made) -> list:
    """``made`` and every twin or cast it calls, directly or not (each once, callees first)."""
    seen: list = []

    def walk(function):
        if any(function is other for other in seen):
            return
        for callee in getattr(function, "__float32_uses__", ()):
            walk(callee)
        seen.append(function)

    walk(made)
    return seen


_CASTS: dict = {}


def record_cast(record_class, dtype: str = "float32"):
    """A plain function ``record -> record_class(...)`` with the float fields in ``dtype``.

    Fields annotated ``float`` become ``float32(value)``, ``np.ndarray`` fields
    ``value.astype(float32)`` (float arrays only: ours are), others are kept.
    """
    check_dtype(dtype)
    key = (record_class, dtype)
    if key not in _CASTS:
        hints = typing.get_type_hints(record_class)
        fields = []
        for field in record_class._fields:
            if hints.get(field) is float:
                fields.append(f"__real__(record.{field})")
            elif hints.get(field) is np.ndarray:
                fields.append(f"record.{field}.astype(__real__)")
            else:
                fields.append(f"record.{field}")
        name = f"{record_class.__name__.lower()}_as_{dtype}"
        source = f"def {name}(record):\n    return __record__({', '.join(fields)})\n"
        namespace = {"__record__": record_class, "__real__": DTYPES[dtype]}
        exec(compile(source, f"<{name}>", "exec"), namespace)
        _CASTS[key] = namespace[name]
        _CASTS[key].__float32_uses__ = ()
    return _CASTS[key]
