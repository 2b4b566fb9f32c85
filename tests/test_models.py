"""Models trained on data: the engine against torch, against finite differences, against itself.

tests/fixtures/torch_models.json is written by tests/fixtures/make_model_fixture.py
(run it with a Python that has torch): torch trains each cell on the same data,
from the same θ₀ and on the same minibatches; the engine must end where torch
ends, to float rounding.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import sweep
from sweep.kernels.models import (Network, batch_of_step, epoch_order, initial_weights,
                            network_functions)
from sweep.kernels.training import lane_blocks
from sweep import models

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "torch_models.json"), encoding="utf-8") as _file:
    FIXTURE = json.load(_file)
AXES = ("alpha", "beta1", "beta2", "eps")


def _grid(case: dict) -> dict:
    """The case's grid with axes that hold every one of its cells."""
    grid = json.loads(json.dumps(case["grid"]))
    cells = case["cells"]
    grid["grid"] = {axis: sorted({cell[1 + i] for cell in cells if cell[1 + i] is not None}
                                 or {0.5}) for i, axis in enumerate(AXES)}
    grid["objective"]["seeds"] = sorted({cell[5] for cell in cells})
    return grid


def _cell(ds, cell):
    name, alpha, beta1, beta2, eps, seed = cell
    where = {"optimizer": name, "alpha": alpha}
    for axis, value in zip(AXES[1:], (beta1, beta2, eps)):
        where[axis] = value if value is not None else ds[axis].values[0]
    if "seed" in ds.dims:
        where["seed"] = seed
    return ds.sel(where).isel(start=0)


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda case: "-".join(
    str(case["grid"]["objective"][key]) for key in ("model", "data") if
    isinstance(case["grid"]["objective"][key], str)))
def test_engine_trains_as_torch(case):
    ds = sweep.run(_grid(case))
    for cell, expected in zip(case["cells"], case["results"]):
        got = _cell(ds, cell)
        scale = max(1.0, np.abs(expected["final_x"]).max())
        np.testing.assert_allclose(got.final_x.values, expected["final_x"], rtol=0,
                                   atol=1e-10 * scale, err_msg=str(cell))
        for metric in ("final_loss", "test_loss"):
            np.testing.assert_allclose(float(got[metric]), expected[metric], rtol=1e-10,
                                       err_msg=f"{metric} {cell}")
        for metric in ("test_error", "train_error"):
            assert (math.isnan(expected[metric]) and math.isnan(float(got[metric]))) or \
                float(got[metric]) == expected[metric], (metric, cell)


def _small(**objective):
    # adam (state and decay) and sgd (neither): the lane step after the gradient is the
    # lockstep kernel's (sweep.kernels.lanes), held for every rule by tests/test_lockstep.py.
    return {"sweep": {"optimizers": ["adam", "sgd"], "steps": 37, "record_every": 9,
                      "schedule": ["constant", "cosine"]},
            "objective": {"batch_size": 7, "seeds": [0, 5], "eval_every": 4, "bound": 30.0,
                          **objective},
            "grid": {"alpha": [1e-3, 3e-2, 10.0], "beta1": [0.0, 0.9], "beta2": [0.99]}}


@pytest.mark.parametrize("objective", [
    {"model": "mlp", "hidden": [5, 3], "data": "iris", "noise": 0.1},
    {"model": "mlp", "hidden": [4], "activation": "relu", "data": "wine", "loss": "squared"},
    {"model": "linear", "data": "diabetes"},
    {"model": "logistic", "data": "breast_cancer", "l2": 1e-2},
], ids=lambda objective: f"{objective['model']}-{objective['data']}")
def test_lockstep_equals_simple(objective):
    """The training kernel with many lanes gives the one-lane kernel's bits, for cells
    that diverge (α = 10), with schedules, two seeds, noise, several β per lane block."""
    fast = sweep.run(_small(**objective))
    simple = sweep.run(_small(**objective), kernel="simple")
    for name in fast.data_vars:
        np.testing.assert_array_equal(fast[name].values, simple[name].values, err_msg=name)
    assert fast.diverged.any() and not fast.diverged.all()


def test_blocks_and_workers_do_not_change_the_bits():
    grid = _small(model="mlp", hidden=[3], data="iris")
    one = sweep.run(grid, n_jobs=1)
    other = sweep.run(grid, n_jobs=2, block_cells=5)
    for name in one.data_vars:
        np.testing.assert_array_equal(one[name].values, other[name].values, err_msg=name)


NETWORKS = [Network(sizes=(3, 4, 2), activation="tanh", loss="cross_entropy", bias=True),
            Network(sizes=(3, 4, 3, 3), activation="relu", loss="cross_entropy", bias=True),
            Network(sizes=(3, 2), activation="tanh", loss="squared", bias=False),
            Network(sizes=(3, 1), activation="tanh", loss="logistic", bias=True),
            Network(sizes=(3, 5, 2), activation="tanh", loss="squared", bias=True)]


@pytest.mark.parametrize("network", NETWORKS, ids=lambda n: f"{n.loss}-{n.activation}-{n.sizes}")
def test_gradient_matches_finite_differences(network):
    """The plain-Python forward and backward (two lanes), against central differences."""
    rng = np.random.default_rng(1)
    samples = 6
    x = rng.standard_normal((samples, network.sizes[0]))
    outputs = network.sizes[-1]
    if network.loss == "cross_entropy":
        y = rng.integers(0, outputs, (samples, 1)).astype(float)
    elif network.loss == "logistic":
        y = np.where(rng.random((samples, 1)) < 0.5, -1.0, 1.0)
    else:
        y = rng.standard_normal((samples, outputs))
    gradient, _, _ = network_functions(network, lanes=2)
    _, evaluate, _ = network_functions(network, lanes=1)
    theta = rng.standard_normal((network.dim, 2)) * 0.7
    grad = np.empty_like(theta)
    acts = np.empty((network.units, 3, 2))  # tiles of 3 samples, 2 lanes
    deltas = np.empty_like(acts)
    order = np.array([4, 1, 3, 0, 5, 2])
    l2 = 0.3
    gradient(theta, grad, acts, deltas, x, y, order, 1, 4, l2)  # rows 1, 3, 0, 5

    def objective(point):
        loss, error = np.empty(1), np.empty(1)
        evaluate(point[:, None].copy(), np.empty((network.units, 2, 1)), x[[1, 3, 0, 5]],
                 y[[1, 3, 0, 5]], np.arange(4), network.loss == "logistic", loss, error)
        return loss[0] + 0.5 * l2 * float(point @ point)

    for lane in range(2):
        numeric = np.empty(network.dim)
        for i in range(network.dim):
            step = np.zeros(network.dim)
            step[i] = 1e-6
            numeric[i] = (objective(theta[:, lane] + step) - objective(theta[:, lane] - step)) / 2e-6
        np.testing.assert_allclose(grad[:, lane], numeric, rtol=1e-6, atol=1e-8)


def test_minibatches_are_epochs_of_permutations():
    batches = models.minibatches(10, 4, 9, seed=3)
    assert [len(rows) for rows in batches] == [4, 4, 2] * 3  # the last batch of an epoch is short
    for epoch in range(3):
        rows = np.concatenate(batches[3 * epoch:3 * epoch + 3])
        assert sorted(rows) == list(range(10))
    epochs = [np.concatenate(batches[3 * e:3 * e + 3]) for e in range(3)]
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    again = models.minibatches(10, 4, 9, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other = models.minibatches(10, 4, 9, seed=4)
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other))
    full = models.minibatches(5, 0, 2, seed=0)  # a full batch: the rows in order
    assert all(list(rows) == list(range(5)) for rows in full)


def test_epoch_order_is_uniform():
    """Every row is equally likely at every position (Fisher–Yates, not a biased shuffle)."""
    counts = np.zeros((4, 4))
    order = np.empty(4, dtype=np.int64)
    for epoch in range(4000):
        epoch_order(order, 0, 0, epoch, 2)
        counts[np.arange(4), order] += 1
    assert np.abs(counts / 4000 - 0.25).max() < 0.035
    assert batch_of_step(7, 10, 4) == (2, 4, 4)


def test_initial_weights_follow_torch_default():
    network = Network(sizes=(50, 40, 3), activation="tanh", loss="cross_entropy", bias=True)
    theta = initial_weights(network, 0, 0)
    first = theta[:50 * 40 + 40]
    bound = 1 / math.sqrt(50)
    assert np.abs(first).max() <= bound and np.abs(first).max() > 0.95 * bound
    assert abs(first.var() - bound**2 / 3) < 0.1 * bound**2 / 3  # uniform on [−b, b]
    assert np.abs(theta[2040:]).max() <= 1 / math.sqrt(40)
    assert not np.array_equal(theta, initial_weights(network, 1, 0))
    assert np.array_equal(theta, initial_weights(network, 0, 0))


def test_lane_blocks_never_mix_seeds_or_starts():
    ids = np.array([[0, 0, 0]] * 5 + [[1, 0, 0]] * 3 + [[1, 1, 0]] * 2)
    order = np.arange(10)
    assert lane_blocks(ids, order, 4).tolist() == [[0, 4], [4, 1], [5, 3], [8, 2]]


def test_a_model_result_has_its_metrics_and_curves():
    ds = sweep.run(_small(model="mlp", hidden=[3], data="iris"))
    assert {"test_loss", "test_error", "train_error", "test_loss_curve",
            "test_error_curve", "loss"} <= set(ds.data_vars)
    assert "trajectory" not in ds  # θ of every step would be thousands of numbers a cell
    assert list(ds.step.values) == [0, 9, 18, 27, 36, 37]
    kept = ~ds.diverged
    last = ds.test_error_curve.isel(step=-1)
    np.testing.assert_array_equal(last.where(kept).values, ds.test_error.where(kept).values)
    np.testing.assert_array_equal(ds.loss.isel(step=-1).where(kept).values,
                                  ds.final_loss.where(kept).values)
    assert ds.test_error.where(kept).max() <= 1 and ds.test_error.where(kept).min() >= 0


def test_legacy_logistic_is_the_logistic_model_on_blobs():
    grid = {"sweep": {"optimizers": ["adam"], "steps": 30},
            "objective": {"name": "logistic", "batch_size": 0},
            "grid": {"alpha": [0.1]}}
    ds = sweep.run(grid)
    model = {"sweep": grid["sweep"], "grid": grid["grid"],
             "objective": {"model": "logistic", "data": "blobs", "standardize": False,
                           "test_fraction": 0.0, "l2": 1e-2}}
    np.testing.assert_array_equal(ds.final_x.values, sweep.run(model).final_x.values)
    assert math.isfinite(ds.attrs["minimum"]) and ds.final_loss.item() >= ds.attrs["minimum"]
