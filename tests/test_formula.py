"""Formula objectives (sweep.kernels.formula): values, gradients, compiled code, module plumbing, errors."""
import ast
import linecache
import math
import os
import pickle
import re
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from numba.extending import register_jitable

from sweep.kernels import objectives
from sweep.kernels.formula import FormulaError, formula_objective

ROOT = Path(__file__).resolve().parents[1]

ROSENBROCK = "(1 - x)**2 + 100*(y - x**2)**2"
BEALE = "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2"
BOOTH = "(x + 2*y - 7)**2 + (2*x + y - 5)**2"
QUADRATIC = "0.5*(x0**2 + 2*x1**2 + 3*x2**2 + 4*x3**2) + x0*x3"
WAVY = "exp(-x**2)*sin(3*y) + sqrt(1 + x**2 + y**2)"
MOVING = "(x - sin(t))**2 + y**2/t"

# (formula, dim, box for the random points): used by the finite-difference and compiled tests.
CATALOGUE = [
    (ROSENBROCK, None, (-2.0, 2.0)),
    (BEALE, None, (-4.5, 4.5)),
    (BOOTH, None, (-10.0, 10.0)),
    (QUADRATIC, None, (-3.0, 3.0)),
    (WAVY, None, (-2.0, 2.0)),
    (MOVING, None, (-2.0, 2.0)),
    ("log(1 + x**2) + atan(y)*tanh(x) + cosh(y/3) - sinh(x/4)", None, (-3.0, 3.0)),
    ("asin(x/3) + acos(y/3) + tan(x/2) + e**(x/2) + pi*y", None, (-2.0, 2.0)),
    ("abs(x - 0.3) + 2*Abs(y)**3 + 1/(1 + x**2 + y**4) - 2**x*3**(-y)", None, (-2.0, 2.0)),
    ("x**y + sqrt(x)*y**5 + x**-3 + y**20/1e6 + x**(2/3)", None, (0.5, 2.0)),
    ("x1**3/(x0**2 + 1) + x3*t/7", 12, (-2.0, 2.0)),
]
CATALOGUE_IDS = [f"{i}:{formula[:24]}" for i, (formula, _, _) in enumerate(CATALOGUE)]


def evaluate(function, x, t=1.0):
    grad = np.full_like(x, np.nan)  # every component must be written
    value = function(x, grad, t, 0)
    return value, grad


def central_difference(function, x, t, h=1e-6):
    grad = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h * max(1.0, abs(x[i]))
        up, _ = evaluate(function, x + step, t)
        down, _ = evaluate(function, x - step, t)
        grad[i] = (up - down) / (2 * step[i])
    return grad


def points(dim, box, count, seed=3):
    return np.random.default_rng(seed).uniform(box[0], box[1], (count, dim))


# --- values and gradients ------------------------------------------------------


@pytest.mark.parametrize("formula, reference, box", [
    (ROSENBROCK, objectives.rosenbrock, (-2.0, 3.0)),
    (BEALE, objectives.beale, (-4.5, 4.5)),
    (BOOTH, objectives.booth, (-10.0, 10.0)),
    ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", objectives.himmelblau, (-5.0, 5.0)),
], ids=["rosenbrock", "beale", "booth", "himmelblau"])
def test_matches_the_builtin_objective(formula, reference, box):
    function, _, dim = formula_objective(formula)
    assert dim == 2
    for x in points(2, box, 500):
        value, grad = evaluate(function, x)
        expected_grad = np.empty(2)
        expected = reference(x, expected_grad, 1.0, 0)
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)
        # Summed in another order: allow rounding relative to the gradient's size.
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-12,
                                   atol=1e-12 * np.abs(expected_grad).max())


@pytest.mark.parametrize("formula, reference", [
    (QUADRATIC, lambda x, t: (0.5 * (x[0]**2 + 2 * x[1]**2 + 3 * x[2]**2 + 4 * x[3]**2) + x[0] * x[3],
                              [x[0] + x[3], 2 * x[1], 3 * x[2], 4 * x[3] + x[0]])),
    (WAVY, lambda x, t: (math.exp(-x[0]**2) * math.sin(3 * x[1]) + math.hypot(1, x[0], x[1]),
                         [-2 * x[0] * math.exp(-x[0]**2) * math.sin(3 * x[1])
                          + x[0] / math.hypot(1, x[0], x[1]),
                          3 * math.exp(-x[0]**2) * math.cos(3 * x[1])
                          + x[1] / math.hypot(1, x[0], x[1])])),
    (MOVING, lambda x, t: ((x[0] - math.sin(t))**2 + x[1]**2 / t,
                           [2 * (x[0] - math.sin(t)), 2 * x[1] / t])),
    ("e**x + pi*y - 1/3", lambda x, t: (math.exp(x[0]) + math.pi * x[1] - 1 / 3,
                                        [math.exp(x[0]), math.pi])),
], ids=["quadratic-4d", "exp-sin-sqrt", "with-t", "constants"])
def test_matches_the_closed_form(formula, reference):
    function, _, dim = formula_objective(formula)
    for k, x in enumerate(points(dim, (-2.0, 2.0), 200)):
        t = float(k + 1)
        value, grad = evaluate(function, x, t)
        expected, expected_grad = reference(x, t)
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-14)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-14)


def test_t_is_the_step_and_has_no_gradient():
    function, _, dim = formula_objective("x*t + t**2")
    assert dim == 1
    x = np.array([3.0])
    assert evaluate(function, x, 1.0) == (4.0, pytest.approx([1.0]))
    value, grad = evaluate(function, x, 5.0)
    assert value == 40.0 and grad.tolist() == [5.0]


@pytest.mark.parametrize("formula, dim, box", CATALOGUE, ids=CATALOGUE_IDS)
def test_gradient_matches_finite_differences(formula, dim, box):
    function, _, dim = formula_objective(formula, dim)
    for k, x in enumerate(points(dim, box, 30)):
        t = 1.0 + 3 * k
        value, grad = evaluate(function, x, t)
        assert math.isfinite(value) and np.isfinite(grad).all()
        numeric = central_difference(function, x, t)
        scale = max(1.0, np.abs(numeric).max())
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("formula, dim, box", CATALOGUE, ids=CATALOGUE_IDS)
def test_compiled_equals_plain_python(formula, dim, box):
    function, _, dim = formula_objective(formula, dim)
    register_jitable(function)

    @njit(error_model="numpy")
    def run(xs, ts, grads, values):
        for k in range(xs.shape[0]):
            values[k] = function(xs[k], grads[k], ts[k], 0)

    xs = points(dim, box, 100)
    ts = np.arange(1.0, 101.0)
    grads, values = np.full_like(xs, np.nan), np.full(100, np.nan)
    run(xs, ts, grads, values)
    plain = [evaluate(function, x, t) for x, t in zip(xs, ts)]
    expected_values = np.array([value for value, _ in plain])
    expected_grads = np.array([grad for _, grad in plain])
    assert np.isfinite(expected_grads).all()
    # Same bits, not just close: the generated code leaves nothing to the compiler's choice.
    assert np.array_equal(values.view(np.int64), expected_values.view(np.int64))
    assert np.array_equal(grads.view(np.int64), expected_grads.view(np.int64))


def test_outside_the_domain_compiled_code_gives_nan_where_python_raises():
    function, _, _ = formula_objective("sqrt(x - 3) + log(y) + 1/(x - 1)")
    register_jitable(function)

    @njit(error_model="numpy")
    def run(x, grad):
        return function(x, grad, 1.0, 0)

    grad = np.empty(2)
    assert math.isnan(run(np.array([1.0, 1.0]), grad))
    assert math.isinf(run(np.array([4.0, 0.0]), grad))
    with pytest.raises(ValueError):
        evaluate(function, np.array([1.0, 1.0]))


# --- variables and dimensions ------------------------------------------------------


@pytest.mark.parametrize("formula, dim, expected_dim, x, expected_grad", [
    ("x**2", None, 1, [3.0], [6.0]),
    ("x**2", 2, 2, [3.0, 7.0], [6.0, 0.0]),
    ("y**2", None, 2, [3.0, 7.0], [0.0, 14.0]),
    ("x2**2", None, 3, [1.0, 2.0, 3.0], [0.0, 0.0, 6.0]),
    ("x2**2", 5, 5, [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 6.0, 0.0, 0.0]),
    ("x0*x11", None, 12, list(range(12)), [11.0] + [0.0] * 10 + [0.0]),
    ("t", None, 1, [3.0], [0.0]),
    ("3", 3, 3, [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]),
    ("x - x + 2", None, 1, [5.0], [0.0]),
])
def test_variables_decide_the_dimension(formula, dim, expected_dim, x, expected_grad):
    function, _, got = formula_objective(formula, dim)
    assert got == expected_dim
    _, grad = evaluate(function, np.array(x, dtype=float), 2.0)
    assert grad.tolist() == expected_grad


def test_many_unnamed_coordinates_are_zeroed_in_a_loop():
    function, source, dim = formula_objective("x1**2", 1000)
    assert dim == 1000 and source.count("\n") < 30
    _, grad = evaluate(function, np.full(1000, 2.0))
    assert grad[1] == 4.0 and np.count_nonzero(grad) == 1


# --- the generated module ----------------------------------------------------------


def test_the_generated_module_is_registered_and_reused():
    function, source, _ = formula_objective(ROSENBROCK)
    name = function.__module__
    assert re.fullmatch(r"sweep_formula_[0-9a-f]{16}", name)
    assert sys.modules[name].value_and_grad is function
    assert formula_objective(ROSENBROCK)[0] is function
    assert formula_objective(ROSENBROCK, 2)[0] is function  # same source, same module
    assert formula_objective(ROSENBROCK.replace(" ", ""))[0] is not function
    assert formula_objective("x**2", 1)[0] is not formula_objective("x**2", 2)[0]
    # Pickled by name (numba's cache key for a kernel calling it).
    assert pickle.loads(pickle.dumps(function)) is function
    # The source is what runs, and what linecache shows.
    filename = function.__code__.co_filename
    assert "".join(linecache.getlines(filename)) == source
    assert "def value_and_grad(theta, grad, t, key):" in source
    assert "(1 - x)**2 + 100*(y - x**2)**2" in source


def test_a_traceback_shows_the_generated_line():
    function, _, _ = formula_objective("sqrt(x - 3) + y")
    with pytest.raises(ValueError) as info:
        evaluate(function, np.array([1.0, 2.0]))
    text = "".join(traceback.format_exception(info.value))
    assert "math.sqrt(x - 3.0)" in text
    assert function.__module__ in text


def test_every_literal_is_a_float_and_small_powers_are_products():
    _, source, _ = formula_objective("x**2/2 + 1/3*y + 2**-1*x + x**3*y**-2 + y**20 + x**(1/2)", 2)
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    parents = {child: node for node in ast.walk(function) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(function):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            # ints only as theta[i] / grad[i] indices
            assert isinstance(node.value, float) or isinstance(parents[node], ast.Subscript), \
                ast.unparse(parents[node])
    assert not any(isinstance(node, ast.Pow) for node in ast.walk(function))
    assert "x*x*x" in source and "math.pow(y, 20.0)" in source and "math.sqrt(x)" in source
    assert "0.3333333333333333" in source


def test_the_source_is_the_same_in_another_process():
    _, source, _ = formula_objective(BEALE)
    code = ("import sys; from sweep.kernels.formula import formula_objective; "
            f"sys.stdout.write(formula_objective({BEALE!r})[1])")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout == source


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("formula, dim, message", [
    ("(1 - x)**2 + 100*(y - x**2", None, r"^syntax error at column 18: '\(' was never closed"),
    ("x +* y", None, r"^syntax error at column 4"),
    ("", None, r"^is empty$"),
    ("x + z", None, r"^unknown variable 'z' \(allowed: x, y, t\)$"),
    ("x0 + z", None, r"^unknown variable 'z' \(allowed: x0, x1, …, t\)$"),
    ("x01 + 1", None, r"unknown variable 'x01'"),
    ("x + x1", None, r"^mixes x with x1: use either x, y or x0, x1, …$"),
    ("x0 + y", None, r"^mixes y with x0"),
    ("foo(x)", None, r"^unknown function 'foo' \(known: exp, log, sqrt, "),
    ("gamma(x)", None, r"^unknown function 'gamma'"),
    ("x.__class__", None, r"^attribute access \('\.__class__'\) is not allowed$"),
    ("x0.real", None, r"attribute access"),
    ("__import__('os').getcwd()", None, r"attribute access \('\.getcwd'\)"),
    ("__import__('os')", None, r"^unknown function '__import__'"),
    ("lambda x: x**2", None, r"^lambda is not allowed$"),
    ("'x**2'", None, r"^strings are not allowed$"),
    ("x < y", None, r"^comparisons \('<'\) are not allowed$"),
    ("x if y else 1", None, r"'if … else' is not allowed"),
    ("x and y", None, r"'and' is not allowed"),
    ("x^2", None, r"^operator '\^' is not allowed: write \*\* for a power$"),
    ("x % 2", None, r"^operator '%' is not allowed$"),
    ("x[0]", None, r"indexing"),
    ("x, y", None, r"single expression, not a tuple"),
    ("I*x", None, r"^unknown variable 'I'"),
    ("E", 2, r"^unknown variable 'E'"),
    ("S(1)*x", None, r"^unknown function 'S'"),
    ("N + Q + x", None, r"^unknown variable 'N'"),
    ("beta*x", None, r"^unknown variable 'beta'"),
    ("lambda", None, r"^syntax error"),
    ("1j*x", None, r"^imaginary number 1j is not allowed"),
    ("True*x", None, r"True is not allowed"),
    ("sqrt(-1)*x", None, r"^is not real"),
    ("log(-2) + x", None, r"^is not real"),
    ("asin(2)*x", None, r"^is not real: .*asin\(2\)"),
    ("x/0", None, r"^divides by zero"),
    ("log(0)*x", None, r"infinite or undefined"),
    ("1e400*x", None, r"^number 1e400 is too large for a float$"),
    ("10**400*x", None, r"too large for a float"),
    ("exp(1000)*x", None, r"^exp\(1000\) is too large for a float$"),
    ("10**10**10", None, r"^exponent 10000000000 .* is too large"),
    ("(2*x)**(10**10)", None, r"is too large"),
    ("sin", None, r"^'sin' is a function: write sin\(...\)$"),
    ("x(2)", None, r"^'x' is not a function"),
    ("log(x, 2)", None, r"^log\(\) takes exactly one argument \(2 given\)$"),
    ("exp(x=1)", None, r"^exp\(\) takes a single plain argument$"),
    ("x + y", 1, r"^uses y, which needs dim = 2, but dim = 1$"),
    ("x + y", 3, r"^x, y name a 1- or 2-D problem but dim = 3: write x0 … x2$"),
    ("x0 + x3", 3, r"^uses x3, which needs dim >= 4, but dim = 3$"),
    ("x0", 0, r"^dim = 0 is out of range"),
    ("x" * 10_001, None, r"^is too long"),
])
def test_bad_formulas_are_refused_with_a_useful_message(formula, dim, message):
    with pytest.raises(FormulaError, match=message):
        formula_objective(formula, dim)


def test_formula_error_is_a_value_error():
    assert issubclass(FormulaError, ValueError)
    with pytest.raises(FormulaError, match="must be a string"):
        formula_objective(3)
