"""Semantics of the per-cell metrics: steps_to_tol, best/final loss, divergence, records."""
import math

import numpy as np
import pytest

import sweep
from conftest import assert_same_bits, grid_table


def recorded(optimizers=("adam",), **kwargs):
    kwargs.setdefault("record_every", 1)
    return sweep.run(grid_table(optimizers=optimizers, **kwargs))


def test_metrics_agree_with_the_recorded_trajectory():
    ds = recorded(optimizers=("adam", "momentum", "rmsprop"), steps=300, objective="booth",
                  start=[[0.0, 0.0], [5.0, -4.0]], tol=1e-4,
                  alpha=[1e-3, 1e-2, 0.1, 0.5], beta1=[0.0, 0.9], beta2=[0.9, 0.999])
    minimum = ds.attrs["minimum"]
    loss = ds["loss"].values
    trajectory = ds["trajectory"].values
    finite = ~ds["diverged"].values
    assert finite.any()
    f = loss[finite]
    assert_same_bits(ds["final_loss"].values[finite], f[:, -1])
    assert_same_bits(ds["final_x"].values[finite], trajectory[finite][:, -1])
    assert_same_bits(ds["best_loss"].values[finite], f.min(axis=-1))
    hit = f - minimum <= 1e-4
    expected = np.where(hit.any(axis=-1), hit.argmax(axis=-1), np.nan)
    assert_same_bits(ds["steps_to_tol"].values[finite], expected)
    assert np.isfinite(expected).any() and np.isnan(expected).any()
    gaps = ds["final_x"].values[finite] - np.array([1.0, 3.0])
    np.testing.assert_allclose(ds["distance"].values[finite], np.sqrt((gaps**2).sum(-1)), rtol=1e-15)


def test_steps_to_tol_is_zero_at_the_minimum_and_nan_without_f_star():
    at_minimum = recorded(steps=10, objective="booth", start=[[1.0, 3.0]], eps=[1e-8])
    assert at_minimum["steps_to_tol"].item() == 0
    saddle = recorded(steps=50, objective="saddle", alpha=[0.1])
    assert math.isnan(saddle["steps_to_tol"].item()) and math.isnan(saddle["distance"].item())
    assert math.isnan(saddle.attrs["minimum"])


def test_gradient_descent_diverges_beyond_two_over_kappa():
    # On ½ Σ λ_i x_i² with λ up to κ, GD is stable iff α < 2/κ.
    kappa = 10.0
    ds = recorded(optimizers=("sgd",), steps=400, objective="quadratic", tol=1e-8,
                  alpha=[0.5 / kappa, 1.9 / kappa, 2.1 / kappa, 3.0 / kappa])
    diverged = ds["diverged"].squeeze().values
    assert list(diverged) == [False, False, True, True]
    final = ds["final_loss"].squeeze().values
    assert np.isnan(final[2:]).all() and (final[:2] < 1e-8).all()
    assert np.isnan(ds["final_x"].squeeze().values[2:]).all()


def test_a_diverged_cell_stops_and_its_record_is_nan_from_then_on():
    bound = 1e3
    table = grid_table(optimizers=("sgd",), steps=100, objective="quadratic", record_every=1,
                       alpha=[0.3])
    table["objective"]["bound"] = bound
    ds = sweep.run(table)
    trajectory = ds["trajectory"].squeeze().values  # (step, dim)
    inside = np.abs(trajectory).max(axis=-1) <= bound
    first_out = int(np.argmin(inside))
    assert ds["diverged"].item() and 0 < first_out < 100
    assert inside[:first_out].all() and np.isnan(trajectory[first_out:]).all()
    assert np.isnan(ds["loss"].squeeze().values[first_out:]).all()
    # The iterate that crossed the bound is the plain GD one: |1 − αλ_max|^t growth.
    assert abs(1 - 0.3 * 10.0) ** first_out > bound / 2
    assert ds["best_loss"].item() == np.nanmin(ds["loss"].values)


def test_zero_eps_dividing_by_zero_is_reported_as_diverged():
    # At the minimum g = 0, so m̂ / (√v̂ + 0) = 0/0.
    ds = recorded(steps=5, objective="booth", start=[[1.0, 3.0]], eps=[0.0, 1e-8])
    assert list(ds["diverged"].squeeze().values) == [True, False]
    assert ds["best_loss"].squeeze().values[0] == 0.0  # f(θ_0) was seen before the NaN


def test_non_finite_loss_counts_as_divergence():
    # Goldstein–Price overflows long before |θ| reaches its bound with a huge bound.
    table = grid_table(optimizers=("sgd",), steps=50, objective="goldstein_price", alpha=[1.0])
    table["objective"]["bound"] = 1e300
    ds = sweep.run(table)
    assert ds["diverged"].item() and math.isnan(ds["final_loss"].item())


@pytest.mark.parametrize("steps, every, expected", [
    (10, 3, [0, 3, 6, 9, 10]), (9, 3, [0, 3, 6, 9]), (5, 1, [0, 1, 2, 3, 4, 5]), (4, 10, [0, 4])])
def test_recorded_steps(steps, every, expected):
    ds = recorded(steps=steps, record_every=every)
    assert list(ds["step"].values) == expected
    assert ds["trajectory"].sizes["step"] == len(expected)
    assert_same_bits(ds["trajectory"].isel(step=0).squeeze().values, [0.0, 0.0])


def test_no_trajectories_unless_asked():
    ds = sweep.run(grid_table(steps=10))
    assert "trajectory" not in ds and "loss" not in ds and "step" not in ds.dims
