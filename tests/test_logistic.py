"""``name = "logistic"``: the logistic model on the generated blobs, f*, minibatches."""
import math

import numpy as np
import pytest

import sweep
from conftest import assert_same_bits
from sweep.kernels.logistic import make_data
from sweep.kernels.models import network_functions
from sweep.config import validate
from sweep.models import build, minibatches


def legacy(**params):
    """The problem of ``[objective] name = "logistic"`` with ``params``."""
    table = {"sweep": {"optimizers": ["sgd"], "steps": 1},
             "objective": {"name": "logistic", **params}}
    return build(validate(table).spec.params)


def test_f_star_is_the_minimum_of_the_full_data_loss():
    the_problem = legacy(features=3, samples=300, batch_size=0, l2=0.05)
    (w_star,) = the_problem.minimizers
    training = the_problem.model
    gradient, evaluate, _ = network_functions(training.network, lanes=1)
    theta = np.array(w_star)[:, None]
    grad = np.empty_like(theta)
    units = training.network.units
    data = training.data
    gradient(theta, grad, np.empty((units, 7, 1)), np.empty((units, 7, 1)), data.x_train,
             data.y_train, np.arange(300), 0, 300, data.l2)
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
    data = legacy(data_seed=3, samples=100).model.data
    assert_same_bits(data.x_train, a[0][:, :2])  # the blobs as they are: no split, no scaling
    assert data.x_test.shape == (0, 2)


def test_an_epoch_of_minibatch_gradients_averages_to_the_full_gradient():
    """Without replacement, an epoch's batches cover every sample once: their gradients,
    weighted by batch size, average to the full-data gradient."""
    training = legacy(batch_size=8).model
    gradient, _, _ = network_functions(training.network, lanes=1)
    data = training.data
    theta = np.array([[0.3], [-0.7], [0.2]])
    units = training.network.units
    scratch = (np.empty((units, 3, 1)), np.empty((units, 3, 1)))  # tiles of 3 samples

    def batch_gradient(rows):
        grad = np.empty_like(theta)
        gradient(theta, grad, *scratch, data.x_train, data.y_train, rows, 0, len(rows), data.l2)
        return grad[:, 0]

    exact = batch_gradient(np.arange(200))
    batches = minibatches(200, 8, 25, seed=1)
    average = sum(len(rows) * batch_gradient(rows) for rows in batches) / 200
    np.testing.assert_allclose(average, exact, rtol=1e-12, atol=1e-15)
    assert np.std([batch_gradient(rows) for rows in batches], axis=0).min() > 0


def logistic_grid(**sweep_keys):
    return {"sweep": {"optimizers": ["sgd", "adam"], "steps": 400, "record_every": 50,
                      "tol": 1e-3, **sweep_keys},
            "objective": {"name": "logistic", "batch_size": 4, "samples": 64, "seeds": [0, 1]},
            "grid": {"alpha": {"min": 1e-3, "max": 1.0, "num": 4, "scale": "log"},
                     "beta1": [0.0, 0.9]}}


def test_minibatch_streams_are_identical_for_any_workers_and_blocks():
    reference = sweep.run(logistic_grid(), n_jobs=1)
    for n_jobs, block_cells in ((2, 1), (2, 3), (1, 5)):
        other = sweep.run(logistic_grid(), n_jobs=n_jobs, block_cells=block_cells)
        assert_same_bits(reference["final_x"].values, other["final_x"].values)
        assert_same_bits(reference["loss"].values, other["loss"].values)


def test_training_reaches_the_tolerance():
    ds = sweep.run(logistic_grid())
    assert math.isfinite(ds.attrs["minimum"])
    reached = np.isfinite(ds["steps_to_tol"].sel(optimizer="adam").values)
    assert reached.any() and not reached.all()
    # Seeds draw different minibatches.
    final = ds["final_x"].sel(optimizer="adam").isel(alpha=2, beta1=1).squeeze().values
    assert not np.array_equal(final[0], final[1])
