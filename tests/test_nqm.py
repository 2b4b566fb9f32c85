"""The noisy quadratic model: its minibatch noise, its grid axis, and the closed form of its
expected loss against the mean of the engine's runs over many seeds."""
import numpy as np
import pytest

import sweep
from conftest import assert_same_bits, grid_table
from sweep.errors import ConfigError
from sweep.kernels.objectives import nqm_curvatures, nqm_start, problem
from sweep.kernels.random import counter_key, normal
from sweep.kernels.step import NOISE_STREAM
from sweep.nqm import expected_loss, steps_to_target

DIM, STEPS, SEEDS = 8, 60, 1000
CHECKED_STEPS = (1, 5, 20, 60)


def nqm_table(**grid):
    return {"sweep": {"optimizers": ["sgd", "momentum"], "steps": STEPS, "record_every": 1},
            "objective": {"name": "nqm", "dim": DIM, "seeds": SEEDS}, "grid": grid}


@pytest.fixture(scope="module")
def runs():
    return sweep.run(nqm_table(alpha=[0.05, 0.3], batch_size=[1, 16], beta1=[0.5, 0.9]))


def z_scores(ds, optimizer, alpha, batch_size, beta1, closed_form=None):
    """(mean over seeds − closed form) / its standard error, at CHECKED_STEPS; the closed
    form's arguments are the cell's, but for those ``closed_form`` gives."""
    loss = ds["loss"].sel(optimizer=optimizer, alpha=alpha, batch_size=batch_size,
                          beta1=beta1).squeeze().transpose("seed", "step").values
    mean, error = loss.mean(axis=0), loss.std(axis=0, ddof=1) / np.sqrt(loss.shape[0])
    arguments = dict(alpha=alpha, batch_size=batch_size, beta1=beta1, dim=DIM, steps=STEPS)
    arguments.update(closed_form or {})
    expected = expected_loss(optimizer, **arguments)
    return np.array([(mean[t] - expected[t]) / error[t] for t in CHECKED_STEPS])


CELLS = [(optimizer, alpha, batch_size, beta1) for optimizer in ("sgd", "momentum")
         for alpha in (0.05, 0.3) for batch_size in (1, 16)
         for beta1 in ((0.9,) if optimizer == "sgd" else (0.5, 0.9))]


@pytest.mark.parametrize("optimizer, alpha, batch_size, beta1", CELLS)
def test_expected_loss_is_the_mean_over_seeds(runs, optimizer, alpha, batch_size, beta1):
    """Within Monte-Carlo error: 4.5 standard errors at each of four steps (the loss is a
    sum of squares, near normal in the mean of 1 000 seeds)."""
    z = z_scores(runs, optimizer, alpha, batch_size, beta1)
    assert np.all(np.abs(z) < 4.5), z


@pytest.mark.parametrize("wrong", [dict(batch_size=2.0), dict(alpha=0.33)])
def test_the_comparison_sees_a_wrong_closed_form(runs, wrong):
    """The same check rejects the curve of twice the batch or a tenth more step size: it
    has the power to fail."""
    z = z_scores(runs, "momentum", 0.3, 1, 0.9, closed_form=wrong)
    assert np.any(np.abs(z) > 6.0), z


def test_the_minibatch_noise_is_sqrt_h_over_b_times_the_counter_normal():
    """θ₁ = θ₀ − α (hθ₀ + √(h/B) z): recover z from one SGD step, for two batch sizes
    (θ₀ the customary start, one draw of N(0, I))."""
    alpha, seeds = 0.1, [3, 8]
    table = nqm_table(alpha=[alpha], batch_size=[1, 25])
    table["sweep"].update(optimizers=["sgd"], steps=1)
    table["objective"]["seeds"] = seeds
    ds = sweep.run(table)
    h, start = nqm_curvatures(DIM), np.array(nqm_start(DIM))
    for seed in seeds:
        key = counter_key(seed, 0, 1, NOISE_STREAM)
        z = np.array([normal(key, i) for i in range(DIM)])
        for batch_size in (1, 25):
            theta = ds["final_x"].sel(seed=seed, batch_size=batch_size).squeeze().values
            drawn = (start - theta - alpha * h * start) / (alpha * np.sqrt(h / batch_size))
            np.testing.assert_allclose(drawn, z, rtol=1e-9, atol=1e-9)


def test_nqm_is_the_quadratic_of_curvatures_one_over_i():
    nqm = problem("nqm", dim=5, batch_size=4)
    x, grad = np.arange(1.0, 6.0), np.zeros(5)
    value = nqm.value_and_grad(x, grad, 1.0, 0)
    np.testing.assert_allclose(grad, x / np.arange(1.0, 6.0))
    assert value == pytest.approx(0.5 * np.sum(x * x / np.arange(1.0, 6.0)))
    assert nqm.noise == 0.5 and nqm.minimum == 0.0
    # Every batch size runs one compiled function.
    assert problem("nqm", dim=5, batch_size=9).value_and_grad is nqm.value_and_grad


def test_sgd_closed_form_is_the_scalar_recursion():
    alpha, batch_size, dim, steps = 0.2, 4.0, 3, 5
    h, start = nqm_curvatures(dim), np.array([0.5, -2.0, 1.5])
    s = start**2
    expected = [0.5 * h @ s]
    for _ in range(steps):
        s = (1 - alpha * h) ** 2 * s + alpha**2 * h / batch_size
        expected.append(0.5 * h @ s)
    np.testing.assert_allclose(expected_loss("sgd", alpha=alpha, batch_size=batch_size,
                                             dim=dim, steps=steps, start=start), expected,
                               rtol=1e-14)


def test_closed_form_broadcasts_over_cells():
    curves = expected_loss("momentum", alpha=[[0.1], [0.2]], batch_size=[1, 2, 4], dim=4,
                           steps=7, beta1=0.9)
    assert curves.shape == (2, 3, 8)
    one = expected_loss("momentum", alpha=0.2, batch_size=2, dim=4, steps=7, beta1=0.9)
    np.testing.assert_allclose(curves[1, 1], one, rtol=1e-13)
    np.testing.assert_array_equal(steps_to_target(np.array([[3.0, 2.0, 1.0], [3.0, 3.0, 3.0]]),
                                                  2.0), [1.0, np.nan])
    with pytest.raises(ValueError, match="no closed form for 'adam'"):
        expected_loss("adam", alpha=0.1, batch_size=1, dim=2, steps=1)


@pytest.mark.parametrize("objective, grid, key, message", [
    ({"noise": 0.1}, {}, "objective.noise", "gradient noise is its minibatch's"),
    ({}, {"noise": [0.1, 0.2]}, "grid.noise", "gradient noise is its minibatch's"),
    ({}, {"batch_size": [0, 4]}, "grid.batch_size[0]", ">= 1"),
    ({"batch_size": 0}, {}, "objective.batch_size", ">= 1"),
    ({"batch_size": 4}, {"batch_size": [1, 2]}, "grid.batch_size", "not both"),
])
def test_nqm_config_errors_name_the_key(tmp_path, objective, grid, key, message):
    table = nqm_table(**grid)
    table["objective"].update(objective)
    with pytest.raises(ConfigError) as caught:
        sweep.run(table)
    assert key in str(caught.value) and message in str(caught.value)


def test_batch_size_is_not_an_axis_of_other_landscapes():
    table = grid_table(optimizers=("sgd",), steps=2, objective="quadratic", alpha=[0.1])
    table["grid"]["batch_size"] = [1, 2]
    with pytest.raises(ConfigError, match="grid.batch_size"):
        sweep.run(table)


def test_recording_the_loss_alone_keeps_its_bits(tmp_path):
    """``sweep.record = "loss"``: the same loss curves as with θ recorded, from either CPU
    kernel, in memory and in a .zarr store; no trajectory."""
    table = nqm_table(alpha=[0.05, 0.3], batch_size=[1, 16])
    table["sweep"].update(steps=20, record_every=3)
    table["objective"]["seeds"] = 2
    both = sweep.run(table)
    table["sweep"]["record"] = "loss"
    for kernel in ("lockstep", "simple"):
        alone = sweep.run(table, kernel=kernel)
        assert "trajectory" not in alone and "trajectory" in both
        assert_same_bits(alone["loss"].values, both["loss"].values)
    stored = sweep.run(table, output=tmp_path / "loss.zarr")
    assert "trajectory" not in stored
    assert_same_bits(stored["loss"].values, both["loss"].values)
    # σ is not nqm's noise: the attribute says whose it is
    assert "batch_size" in stored.attrs["noise"]


def test_record_must_name_what_to_record():
    table = nqm_table(alpha=[0.1])
    table["sweep"]["record"] = "theta"
    with pytest.raises(ConfigError, match='sweep.record.*"trajectory", "loss"'):
        sweep.run(table)
