"""The built-in logistic-regression objective: data, f*, minibatches."""
import math

import numpy as np
import pytest

import sweep
from conftest import assert_same_bits
from kernels.logistic import make_data
from kernels.objectives import problem
from kernels.random import counter_key


def test_f_star_is_the_minimum_of_the_full_data_loss():
    the_problem = problem("logistic", features=3, samples=300, batch_size=0, l2=0.05)
    (w_star,) = the_problem.minimizers
    grad = np.empty(4)
    value = the_problem.value_and_grad(np.array(w_star), grad, 1.0, 0)
    assert value == pytest.approx(the_problem.minimum, rel=1e-14)
    assert np.abs(grad).max() < 1e-12
    # Independently: the loss written with numpy at the minimizer and nearby.
    inputs, labels = make_data(300, 3, 0)

    def loss(w):
        return np.log1p(np.exp(-labels * (inputs @ w))).mean() + 0.025 * (w @ w)

    assert loss(np.array(w_star)) == pytest.approx(the_problem.minimum, rel=1e-13)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert loss(np.array(w_star) + rng.normal(0, 1e-3, 4)) > the_problem.minimum


def test_data_depend_on_the_seed_only():
    a, b = make_data(100, 2, 3), make_data(100, 2, 3)
    assert_same_bits(a[0], b[0])
    assert not np.array_equal(a[0], make_data(100, 2, 4)[0])
    assert set(a[1]) == {-1.0, 1.0} and (a[0][:, -1] == 1.0).all()


def test_the_minibatch_gradient_is_unbiased():
    full = problem("logistic", batch_size=0)
    mini = problem("logistic", batch_size=8)
    w = np.array([0.3, -0.7, 0.2])
    exact = np.empty(3)
    full_value = full.value_and_grad(w, exact, 1.0, 0)
    draws = np.empty((4000, 3))
    for k in range(draws.shape[0]):
        value = mini.value_and_grad(w, draws[k], 1.0, counter_key(1, 0, k + 1, 0))
        assert value == full_value  # the value is always the full-data loss
    spread = draws.std(axis=0) / math.sqrt(draws.shape[0])
    assert (np.abs(draws.mean(axis=0) - exact) < 4 * spread).all()
    assert (draws.std(axis=0) > 0).all()  # it is a minibatch, not the full gradient


def logistic_grid(**sweep_keys):
    return {"sweep": {"optimizers": ["sgd", "adam"], "steps": 400, "record_every": 50,
                      "tol": 1e-3, **sweep_keys},
            "objective": {"name": "logistic", "batch_size": 4, "samples": 64, "seeds": 2},
            "grid": {"alpha": {"min": 1e-3, "max": 1.0, "num": 4, "scale": "log"},
                     "beta1": [0.0, 0.9]}}


def test_minibatch_streams_are_identical_for_any_workers_and_blocks():
    reference = sweep.run(logistic_grid(), n_jobs=1)
    for n_jobs, block_cells in ((2, 1), (2, 3), (1, 5)):
        other = sweep.run(logistic_grid(), n_jobs=n_jobs, block_cells=block_cells)
        assert_same_bits(reference["trajectory"].values, other["trajectory"].values)


def test_training_reaches_the_tolerance():
    ds = sweep.run(logistic_grid())
    assert math.isfinite(ds.attrs["minimum"])
    reached = np.isfinite(ds["steps_to_tol"].sel(optimizer="adam").values)
    assert reached.any() and not reached.all()
    # Seeds draw different minibatches.
    paths = ds["trajectory"].sel(optimizer="adam").isel(alpha=2, beta1=1).squeeze().values
    assert not np.array_equal(paths[0], paths[1])
