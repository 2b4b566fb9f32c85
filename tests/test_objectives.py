"""Every registered objective: gradient against finite differences, minima, metadata."""
import math

import numpy as np
import pytest

from sweep.kernels.objectives import OBJECTIVES, problem

# Each n-dimensional objective at a couple of sizes; the fixed ones as they are.
PROBLEMS = [problem(name, dim=dim) for name, entry in OBJECTIVES.items() if "dim" in entry.params
            or entry.fixed_dim for dim in ((2,) if entry.fixed_dim else (entry.min_dim, 5))]
PROBLEMS.append(problem("quadratic", dim=6, kappa=1000.0))
IDS = [f"{p.name}-{p.dim}" for p in PROBLEMS]


def evaluate(the_problem, x):
    grad = np.empty_like(x)
    value = the_problem.value_and_grad(x, grad, 1.0, 0)
    return value, grad


def central_difference(the_problem, x, h=1e-6):
    grad = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h * max(1.0, abs(x[i]))
        up, _ = evaluate(the_problem, x + step)
        down, _ = evaluate(the_problem, x - step)
        grad[i] = (up - down) / (2 * step[i])
    return grad


@pytest.mark.parametrize("the_problem", PROBLEMS, ids=IDS)
def test_gradient_matches_finite_differences(the_problem):
    rng = np.random.default_rng(7)
    (xmin, xmax), (ymin, ymax) = the_problem.box
    for _ in range(20):
        x = rng.uniform(min(xmin, ymin), max(xmax, ymax), the_problem.dim) * 0.9
        value, grad = evaluate(the_problem, x)
        assert math.isfinite(value)
        numeric = central_difference(the_problem, x)
        scale = max(1.0, np.abs(numeric).max())
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("the_problem", PROBLEMS, ids=IDS)
def test_minimizers_are_stationary_at_the_stated_minimum(the_problem):
    for point in the_problem.minimizers:
        value, grad = evaluate(the_problem, np.array(point, dtype=float))
        assert value == pytest.approx(the_problem.minimum, abs=1e-12)
        assert np.abs(grad).max() < 1e-8


@pytest.mark.parametrize("the_problem", PROBLEMS, ids=IDS)
def test_minimizers_are_local_minima(the_problem):
    rng = np.random.default_rng(3)
    for point in the_problem.minimizers:
        centre = np.array(point, dtype=float)
        for _ in range(50):
            nudged = centre + rng.normal(0, 1e-3, centre.size)
            assert evaluate(the_problem, nudged)[0] > the_problem.minimum


@pytest.mark.parametrize("the_problem", PROBLEMS, ids=IDS)
def test_metadata_is_consistent(the_problem):
    assert the_problem.starts and all(len(s) == the_problem.dim for s in the_problem.starts)
    assert all(len(m) == the_problem.dim for m in the_problem.minimizers)
    assert the_problem.bound > 0
    (xmin, xmax), (ymin, ymax) = the_problem.box
    assert xmin < xmax and ymin < ymax
    # Unbounded objectives have neither minimizers nor f*.
    assert bool(the_problem.minimizers) == (not math.isnan(the_problem.minimum))


def test_the_registry_holds_every_objective_of_update_rules():
    assert set(OBJECTIVES) == {
        "rosenbrock", "rosenbrock_nd", "beale", "himmelblau", "booth", "saddle", "monkey_saddle",
        "rastrigin", "ackley", "styblinski_tang", "six_hump_camel", "goldstein_price", "quadratic",
        "nqm"}
    # (logistic regression is a model objective now: sweep.models, tests/test_models.py)


def test_formulas_against_the_table():
    """Spot values written straight from docs/update_rules.md's table."""
    def value(name, point, **params):
        return evaluate(problem(name, **params), np.array(point, dtype=float))[0]

    x, y = 0.3, -1.7
    assert value("rosenbrock", (x, y)) == pytest.approx((1 - x) ** 2 + 100 * (y - x * x) ** 2)
    assert value("beale", (x, y)) == pytest.approx(
        (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2)
    assert value("booth", (x, y)) == pytest.approx((x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2)
    assert value("ackley", (x, y)) == pytest.approx(
        -20 * math.exp(-0.2 * math.sqrt(0.5 * (x * x + y * y)))
        - math.exp(0.5 * (math.cos(2 * math.pi * x) + math.cos(2 * math.pi * y))) + math.e + 20)
    assert value("goldstein_price", (x, y)) == pytest.approx(
        (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y))
        * (30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y)))
    point = np.array([0.5, -1.0, 2.0])
    eigenvalues = np.logspace(0, 2, 3)
    assert value("quadratic", point, dim=3, kappa=100.0) == pytest.approx(
        0.5 * (eigenvalues * point**2).sum())
    assert value("rastrigin", point, dim=3) == pytest.approx(
        30 + (point**2 - 10 * np.cos(2 * np.pi * point)).sum())
    assert value("styblinski_tang", point, dim=3) == pytest.approx(
        0.5 * (point**4 - 16 * point**2 + 5 * point).sum())
    assert value("rosenbrock_nd", point, dim=3) == pytest.approx(
        sum(100 * (point[i + 1] - point[i] ** 2) ** 2 + (1 - point[i]) ** 2 for i in range(2)))
