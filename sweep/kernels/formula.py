"""Objectives written as formulas: ``[objective] expr = "(1 - x)**2 + 100*(y - x**2)**2"``.

:func:`formula_objective` parses the formula, derives the gradient with sympy
and writes plain-Python source for ``value_and_grad(theta, grad, t, key)`` --
the signature of :mod:`sweep.kernels.objectives`, arguments passed by position --
using only float arithmetic, ``abs`` and ``math`` functions, so the same
function runs uncompiled, under ``numba.njit`` and as a CUDA device function.

Variables (one family per formula):

* ``x``, ``y``: coordinates 0 and 1. ``y`` (with or without ``x``) makes a
  2-D problem; ``x`` alone a 1-D one. A given ``dim`` may be 1 or 2 only if
  ``y`` is not used, else 2; for more coordinates use ``x0 …``.
* ``x0``, ``x1``, …: coordinate i is ``xi`` (no leading zeros); ``dim`` is the
  highest index + 1, or the given ``dim`` if larger (an unnamed coordinate has
  zero gradient).
* ``t``: the 1-based step, a float; no gradient is taken with respect to it.

With no variable at all the dimension is the given ``dim``, else 1.
Allowed besides: numbers, ``+ - * / **``, parentheses, ``pi``, ``e`` (Euler's
number) and the one-argument functions in :data:`FUNCTIONS`. The formula is
checked on its Python syntax tree before sympy sees it; nothing is ``eval``-ed.

Outside a function's domain (``sqrt(-1)``, ``log(0)``, ``1/0``, overflow) the
plain-Python function raises (``ValueError``, ``ZeroDivisionError``,
``OverflowError``) while compiled code with ``error_model="numpy"`` gives
NaN or ±inf, which the kernels report as divergence. Inside the domain both
give the same bits: integer powers up to :data:`MAX_UNROLLED_POWER` are
written out as multiplications, other powers as ``math.pow``.

The generated module is named after a hash of its own source (which holds the
formula and ``dim``), registered in ``sys.modules`` and its source in
``linecache``, so tracebacks and numba's messages show the generated line,
pickling (and so numba's on-disk cache key) refers to it by name, and a
change of formula, dimension or generator never reuses a stale kernel.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import linecache
import math
import re
import sys
import types
from typing import Callable

import sympy
from sympy.printing.pycode import PythonCodePrinter

MAX_LENGTH = 10_000  # characters in a formula
MAX_DIM = 100_000  # as sweep.config.MAX_DIM
MAX_EXPONENT = 1_000  # |n| of a numeric exponent; larger ones make sympy's exact arithmetic hang
MAX_CONSTANT_BITS = 65_536  # an exact rational power's size, checked before sympy computes it
MAX_UNROLLED_POWER = 8  # b**n for 2 <= |n| <= this is written as b*b*…; beyond, math.pow

FUNCTIONS = {
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt,
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan,
    "abs": sympy.Abs, "Abs": sympy.Abs,
}
CONSTANTS = {"pi": sympy.pi, "e": sympy.E}

_INDEXED = re.compile(r"x(0|[1-9][0-9]*)\Z")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
              ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitAnd: "&",
              ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_COMPARISONS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
                ast.GtE: ">=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
                ast.NotIn: "not in"}
# Heads the printer knows; anything else sympy produces is refused, not mistranslated.
_PRINTABLE = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number, sympy.Abs, sympy.sign,
              sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.sinh, sympy.cosh,
              sympy.tanh, sympy.asin, sympy.acos, sympy.atan, sympy.core.numbers.Pi,
              sympy.core.numbers.Exp1)
_NOT_FINITE = (sympy.S.ComplexInfinity, sympy.S.Infinity, sympy.S.NegativeInfinity, sympy.S.NaN)


class FormulaError(ValueError):
    """A bad formula; the message reads well after ``objective.expr = "...": ``."""


def formula_objective(expr: str, dim: int | None = None) -> tuple[Callable, str, int]:
    """Compile the formula ``expr`` into an objective.

    Args:
        expr: the formula, e.g. ``"(1 - x)**2 + 100*(y - x**2)**2"`` (see the module docstring).
        dim: the problem's dimension if fixed elsewhere; the formula must fit it.

    Returns:
        ``(value_and_grad, source, dim)``: the generated plain-Python function
        (the same object for the same arguments), the source of its module and
        the problem's dimension.

    Raises:
        FormulaError: the formula is not valid or does not fit ``dim``.
    """
    if not isinstance(expr, str):
        raise FormulaError(f"must be a string, not {type(expr).__name__}")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
        raise FormulaError(f"dim must be an integer, not {dim!r}")
    return _compiled(expr, dim)


@functools.lru_cache(maxsize=None)
def _compiled(expr, dim):
    tree = _parse(expr)
    names = _check(tree, expr.strip())
    variables, dim = _variables(names, dim)
    try:
        value = _Converter(variables).visit(tree.body)
        exprs = [value] + [sympy.diff(value, symbol) for symbol in variables]
    except RecursionError:
        raise FormulaError("is nested too deeply") from None
    for item in exprs:
        _check_real(item)
    exprs = [_fold_constants(item) for item in exprs]
    source = _generate(exprs, variables, dim, ast.unparse(tree), expr)
    return _load(source), source, dim


# --- parsing and checking -----------------------------------------------------


def _parse(expr):
    if len(expr) > MAX_LENGTH:
        raise FormulaError(f"is too long ({len(expr):,} characters; at most {MAX_LENGTH:,})")
    if not expr.strip():
        raise FormulaError("is empty")
    try:
        return ast.parse(expr.strip(), mode="eval")
    except SyntaxError as error:
        where = f"column {error.offset}" if error.offset else "the end"
        if (error.lineno or 1) > 1:
            where = f"line {error.lineno}, {where}"
        raise FormulaError(f"syntax error at {where}: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError) as error:  # e.g. a NUL byte, deep nesting
        raise FormulaError(f"cannot be parsed: {error}") from None


def _check(tree, text):
    """Refuse every node but numbers, names, + - * / **, unary ±, calls of known functions.

    Returns the names used as variables, in order of appearance.
    """
    names = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, ast.UAdd, ast.USub, ast.Add, ast.Sub,
                             ast.Mult, ast.Div, ast.Pow)):
            continue
        if isinstance(node, ast.BinOp):
            if type(node.op) not in (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow):
                symbol = _OPERATORS.get(type(node.op), type(node.op).__name__)
                hint = ": write ** for a power" if isinstance(node.op, ast.BitXor) else ""
                raise FormulaError(f"operator '{symbol}' is not allowed{hint}")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.UAdd, ast.USub)):
                symbol = {ast.Not: "not", ast.Invert: "~"}.get(type(node.op), "?")
                raise FormulaError(f"operator '{symbol}' is not allowed")
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None or value is Ellipsis:
                raise FormulaError(f"{value!r} is not allowed: only numbers")
            if isinstance(value, complex):
                raise FormulaError(f"imaginary number {ast.unparse(node)} is not allowed: "
                                   "the formula must be real")
            if isinstance(value, (str, bytes)):
                raise FormulaError("strings are not allowed")
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                literal = ast.get_source_segment(text, node) or ast.unparse(node)
                raise FormulaError(f"number {literal} is too large for a float")
        elif isinstance(node, ast.Name):
            names.append(node)
        elif isinstance(node, ast.Call):
            _check_call(node)
        elif isinstance(node, ast.Attribute):
            raise FormulaError(f"attribute access ('.{node.attr}') is not allowed")
        elif isinstance(node, ast.Lambda):
            raise FormulaError("lambda is not allowed")
        elif isinstance(node, ast.Compare):
            symbol = _COMPARISONS.get(type(node.ops[0]), "?")
            raise FormulaError(f"comparisons ('{symbol}') are not allowed")
        elif isinstance(node, ast.BoolOp):
            raise FormulaError(f"'{'and' if isinstance(node.op, ast.And) else 'or'}' is not allowed")
        elif isinstance(node, ast.JoinedStr):
            raise FormulaError("strings are not allowed")
        elif isinstance(node, ast.Subscript):
            raise FormulaError("indexing ('[...]') is not allowed: write x0, x1, … for coordinates")
        elif isinstance(node, ast.IfExp):
            raise FormulaError("'if … else' is not allowed")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            raise FormulaError("must be a single expression, not a "
                               f"{type(node).__name__.lower()}")
        elif isinstance(node, (ast.keyword, ast.Starred, ast.arguments, ast.arg)):
            continue  # refused by the enclosing call or lambda, which ast.walk sees first
        else:
            raise FormulaError(f"{_describe(node)} is not allowed")
    # Callees were checked by _check_call; the rest are variables or constants.
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    variables = []
    for node in names:
        if id(node) in callees or node.id in CONSTANTS:
            continue
        if node.id in FUNCTIONS:
            raise FormulaError(f"'{node.id}' is a function: write {node.id}(...)")
        variables.append(node.id)
    return variables


def _check_call(node):
    if not isinstance(node.func, ast.Name):
        if isinstance(node.func, ast.Attribute):
            raise FormulaError(f"attribute access ('.{node.func.attr}') is not allowed")
        raise FormulaError(f"cannot call {_describe(node.func)}")
    name = node.func.id
    if name not in FUNCTIONS:
        if name in CONSTANTS or name == "t" or name in ("x", "y") or _INDEXED.match(name):
            raise FormulaError(f"'{name}' is not a function: write '*' to multiply")
        raise FormulaError(f"unknown function '{name}' (known: {', '.join(FUNCTIONS)})")
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise FormulaError(f"{name}() takes a single plain argument")
    if len(node.args) != 1:
        raise FormulaError(f"{name}() takes exactly one argument ({len(node.args)} given)")


def _describe(node):
    try:
        return f"'{ast.unparse(node)}'"
    except Exception:  # pragma: no cover - every node unparses in 3.11
        return type(node).__name__


def _variables(names, dim):
    """The sympy symbols of coordinates 0 … dim−1 and the dimension."""
    unique = list(dict.fromkeys(names))
    plain = [name for name in unique if name in ("x", "y")]
    indexed = [name for name in unique if _INDEXED.match(name)]
    others = [name for name in unique if name not in plain and name not in indexed and name != "t"]
    if others:
        if indexed:
            allowed = "x0, x1, …, t"
        elif plain:
            allowed = "x, y, t"
        else:
            allowed = "x, y, t or x0, x1, …, t"
        raise FormulaError(f"unknown variable '{others[0]}' (allowed: {allowed})")
    if plain and indexed:
        raise FormulaError(f"mixes {plain[0]} with {indexed[0]}: use either x, y or x0, x1, …")
    if dim is not None and not 1 <= dim <= MAX_DIM:
        raise FormulaError(f"dim = {dim} is out of range (1 … {MAX_DIM:,})")
    if plain:
        needed = 2 if "y" in plain else 1
        if dim is not None and not needed <= dim <= 2:
            if dim > 2:
                raise FormulaError(f"x, y name a 1- or 2-D problem but dim = {dim}: "
                                   f"write x0 … x{dim - 1}")
            raise FormulaError(f"uses y, which needs dim = 2, but dim = {dim}")
        dim = dim or needed
        labels = ["x", "y"][:dim]
    elif indexed:
        highest = max(int(name[1:]) for name in indexed)
        if highest >= MAX_DIM:
            raise FormulaError(f"x{highest} is beyond the largest dimension, {MAX_DIM:,}")
        if dim is not None and dim <= highest:
            raise FormulaError(f"uses x{highest}, which needs dim >= {highest + 1}, "
                               f"but dim = {dim}")
        dim = dim or highest + 1
        labels = [f"x{i}" for i in range(dim)]
    else:
        dim = dim or 1
        labels = [f"x{i}" for i in range(dim)]
    return [sympy.Symbol(label, real=True) for label in labels], dim


class _Converter(ast.NodeVisitor):
    """The checked syntax tree as a sympy expression (no eval, no sympy parser namespace)."""

    def __init__(self, variables):
        self.names = {str(symbol): symbol for symbol in variables}
        self.names["t"] = sympy.Symbol("t", real=True)
        self.names.update(CONSTANTS)

    def visit_Constant(self, node):
        if isinstance(node.value, int):
            return sympy.Integer(node.value)
        return sympy.Float(node.value)  # the double itself, 53 bits

    def visit_Name(self, node):
        return self.names[node.id]

    def visit_UnaryOp(self, node):
        operand = self.visit(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand

    def visit_Call(self, node):
        argument = self.visit(node.args[0])
        if not argument.free_symbols and not math.isfinite(_float_value(argument).real):
            # Checked before the function sees it: sympy's cos(e**e**e**e) or
            # sin(exp(1e308)) chases the exact digits of a huge argument for ever.
            raise FormulaError(f"{ast.unparse(node.args[0])} is too large for a float")
        return FUNCTIONS[node.func.id](argument)

    def visit_BinOp(self, node):
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise FormulaError(f"divides by zero: {ast.unparse(node)}")
            return left / right
        _check_power(left, right, node)
        return left ** right

    def generic_visit(self, node):  # pragma: no cover - _check refused it already
        raise FormulaError(f"{_describe(node)} is not allowed")


def _check_power(base, exponent, node):
    """Refuse powers whose exact value sympy would take forever to compute."""
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
        raise FormulaError(f"exponent {_short(exponent)} in {ast.unparse(node)} is too large "
                           f"(at most {MAX_EXPONENT:,} in absolute value)")
    if base.is_Rational and exponent.is_Rational and base != 0:
        bits = max(abs(base.p).bit_length(), base.q.bit_length()) * math.ceil(abs(exponent))
        if bits > MAX_CONSTANT_BITS:
            raise FormulaError(f"{ast.unparse(node)} is too large for a float")
    if base == 0 and exponent.is_Number and exponent < 0:
        raise FormulaError(f"divides by zero: {ast.unparse(node)}")


def _float_value(node) -> complex:
    """A constant as the compiled code will compute it: in floats, with Python's math.

    sympy's own evalf would chase exact digits (``sin(exp(exp(20)))`` needs
    ~10⁸ of them and never returns); floats are what the kernels use anyway.
    """
    try:
        return complex(sympy.lambdify((), node, modules="math")())
    except OverflowError:  # beyond the float range (also a huge exact integer)
        return complex(math.inf)
    except (ValueError, ZeroDivisionError):  # a math domain error: sqrt(-1), log(-2), ...
        return complex(0.0, 1.0)


def _check_real(expr):
    """Every constant in ``expr`` is a finite real number, every head printable."""
    if expr.has(*_NOT_FINITE):
        raise FormulaError("is infinite or undefined (a division by zero, log(0)?)")
    pending = [expr]
    while pending:
        node = pending.pop()
        if not node.free_symbols and not isinstance(node, (sympy.core.numbers.Pi,
                                                           sympy.core.numbers.Exp1)):
            number = _float_value(node)
            if number.imag != 0.0:
                raise FormulaError(f"is not real: it has the imaginary constant {_short(node)} "
                                   "(a sqrt, log or fractional power of a negative number?)")
            if not math.isfinite(number.real):
                raise FormulaError(f"{_short(node)} is too large for a float")
            if not node.is_Number:
                pending.extend(node.args)
            continue
        if not isinstance(node, _PRINTABLE):
            raise FormulaError(f"cannot generate code for {node}")  # pragma: no cover
        pending.extend(node.args)


def _short(number):
    """A constant for a message, however many digits it has."""
    text = str(number)
    return text if len(text) <= 24 else str(sympy.N(number, 4))


# --- code generation ----------------------------------------------------------


def _fold_constants(expr):
    """Constant subexpressions (``sqrt(2)/2``, ``2*pi``) as the nearest double; pi, e stay named."""
    if expr.is_Number or not expr.args:
        return expr
    if not expr.free_symbols:
        return sympy.Float(float(expr.evalf(30)))
    return expr.func(*(_fold_constants(arg) for arg in expr.args))


class _Printer(PythonCodePrinter):
    """sympy's Python printer with float literals, unrolled integer powers and hoisted operands.

    An operand printed more than once (the base of b*b*b, the argument of sign)
    is first assigned to a temporary ``p<k>``; :attr:`pending` holds those
    assignments for the caller to emit before the line being printed.
    """

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})
        self.pending = []
        self._hoisted = {}

    def _float(self, number):
        return repr(float(number))

    def _print_Integer(self, expr):
        return self._float(expr)

    def _print_Rational(self, expr):
        return self._float(expr)

    _print_Half = _print_Rational
    _print_Zero = _print_Integer
    _print_One = _print_Integer
    _print_NegativeOne = _print_Integer

    def _print_Float(self, expr):
        return self._float(expr)

    def parenthesize(self, item, level, strict=False):
        if item.is_Number and item >= 0:  # a float literal needs no parentheses
            return self._print(item)
        return super().parenthesize(item, level, strict)

    def _operand(self, expr):
        code = self._print(expr)
        if expr.is_Symbol:
            return code
        if code not in self._hoisted:
            name = f"p{len(self._hoisted)}"
            self._hoisted[code] = name
            self.pending.append(f"{name} = {code}")
        return self._hoisted[code]

    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.args
        if exponent.is_Number:
            power = float(exponent)
            if power == 0.5:
                return f"math.sqrt({self._print(base)})"
            if power == -0.5:
                return f"(1.0/math.sqrt({self._print(base)}))"
            if power.is_integer() and 1 <= abs(power) <= MAX_UNROLLED_POWER:
                operand = self._operand(base) if abs(power) > 1 else self.parenthesize(base, 60)
                product = "*".join([operand] * int(abs(power)))
                if power > 0:
                    return f"({product})"
                return f"(1.0/{product})" if abs(power) == 1 else f"(1.0/({product}))"
        return f"math.pow({self._print(base)}, {self._print(exponent)})"

    def _print_sign(self, expr):
        v = self._operand(expr.args[0])
        # NaN stays NaN (the kernels then see a NaN gradient), ±0 stays ±0.
        return f"(1.0 if {v} > 0.0 else (-1.0 if {v} < 0.0 else {v}))"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"


def _generate(exprs, variables, dim, formula, expr):
    """Source of a module defining ``value_and_grad`` for ``exprs`` = [f, ∂f/∂x_0, …]."""
    taken = {str(symbol) for symbol in variables} | {"t"}
    temporaries = (sympy.Symbol(f"s{i}", real=True) for i in range(10**9)
                   if f"s{i}" not in taken)
    replacements, reduced = sympy.cse(exprs, symbols=temporaries, optimizations="basic")
    printer = _Printer()
    used = set().union(*(e.free_symbols for e in reduced),
                       *(e.free_symbols for _, e in replacements))
    body = [f"{symbol} = theta[{i}]" for i, symbol in enumerate(variables) if symbol in used]

    def emit(target, value):
        code = printer.doprint(value)
        body.extend(printer.pending)
        printer.pending.clear()
        body.append(f"{target} = {code}" if target else f"return {code}")

    for symbol, value in replacements:
        emit(str(symbol), value)
    zeros = [i for i, g in enumerate(reduced[1:]) if g == 0]
    if len(zeros) > MAX_UNROLLED_POWER:
        body.append(f"for i in range({dim}):")
        body.append("    grad[i] = 0.0")
    else:
        body.extend(f"grad[{i}] = 0.0" for i in zeros)
    for i, gradient in enumerate(reduced[1:]):
        if gradient != 0:
            emit(f"grad[{i}]", gradient)
    emit(None, reduced[0])
    lines = [
        '"""Generated by sweep.kernels.formula: f and its gradient for one formula. Do not edit."""',
        "import math",
        "",
        f"EXPR = {expr!r}",
        f"DIM = {dim}",
        "",
        "",
        "def value_and_grad(theta, grad, t, key):",
        f'    """f = {formula} (dim {dim}); writes ∇f into grad and returns f."""',
        *(f"    {line}" for line in body),
        "",
    ]
    return "\n".join(lines)


def _load(source):
    """Execute ``source`` as a registered module named after its hash; its ``value_and_grad``."""
    name = "sweep_formula_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    module = sys.modules.get(name)
    if module is not None and getattr(module, "SOURCE", None) == source:
        return module.value_and_grad
    filename = f"<{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name, "Generated by sweep.kernels.formula.")
    module.__file__ = filename
    code = compile(source, filename, "exec")
    exec(code, module.__dict__)
    module.SOURCE = source
    sys.modules[name] = module
    return module.value_and_grad
