"""Noise, seeds, schedules and projection, through the whole engine."""
import math

import numpy as np
import pytest

import sweep
from conftest import assert_same_bits, grid_table
from sweep.kernels.step import NOISE_STREAM
from sweep.kernels.objectives import problem
from sweep.kernels.random import counter_key, normal
from sweep.kernels.schedules import SCHEDULES


def noisy_grid(**kwargs):
    table = grid_table(optimizers=("sgd", "adam", "rmsprop"), steps=60, objective="rosenbrock",
                       start=[[-1.2, 1.0], [0.5, 0.5]], record_every=5,
                       alpha={"min": 1e-3, "max": 0.3, "num": 5, "scale": "log"},
                       beta1=[0.0, 0.9], beta2=[0.9, 0.999], **kwargs)
    table["objective"].update(noise=0.5, seeds=3)
    return table


def test_noise_is_identical_for_any_workers_and_blocks():
    reference = sweep.run(noisy_grid(), n_jobs=1)
    assert reference.sizes["seed"] == 3
    for n_jobs, block_cells in ((2, None), (2, 1), (1, 7)):
        other = sweep.run(noisy_grid(), n_jobs=n_jobs, block_cells=block_cells)
        for name in ("trajectory", "final_loss", "steps_to_tol", "diverged"):
            assert_same_bits(reference[name].values, other[name].values)


def test_the_noise_of_a_step_is_sigma_times_the_counter_normal():
    """θ₁ = θ₀ − α (∇f(θ₀) + σ z): recover z from one SGD step and compare with the generator."""
    sigma, alpha = 0.7, 0.01
    table = grid_table(optimizers=("sgd",), steps=1, objective="booth", record_every=1,
                       start=[[0.0, 0.0], [2.0, -1.0]], alpha=[alpha])
    table["objective"].update(noise=sigma, seeds=[5, 11])
    ds = sweep.run(table)
    booth = problem("booth").value_and_grad
    for start in range(2):
        x0 = np.array(table["objective"]["start"][start])
        grad = np.empty(2)
        booth(x0, grad, 1.0, 0)
        for seed in (5, 11):
            x1 = ds["trajectory"].sel(seed=seed).isel(optimizer=0, start=start, step=1).squeeze().values
            drawn = (x0 - alpha * grad - x1) / (alpha * sigma)
            key = counter_key(seed, start, 1, NOISE_STREAM)
            np.testing.assert_allclose(drawn, [normal(key, 0), normal(key, 1)], rtol=1e-9)


def test_seeds_give_different_paths_and_the_loss_is_noise_free():
    ds = sweep.run(noisy_grid())
    paths = ds["trajectory"].isel(optimizer=1, start=0, alpha=2, beta1=1, beta2=1).values
    assert not np.array_equal(paths[0], paths[1]) and not np.array_equal(paths[1], paths[2])
    # The recorded loss is f(θ) without noise.
    rosenbrock = problem("rosenbrock").value_and_grad
    finite = ~ds["diverged"].values
    x = ds["final_x"].values[finite]
    grad = np.empty(2)
    expected = [rosenbrock(point, grad, 0.0, 0) for point in x]
    np.testing.assert_array_equal(ds["final_loss"].values[finite], expected)


def test_zero_noise_is_the_deterministic_run():
    table = noisy_grid()
    table["objective"]["noise"] = 0.0
    noisy_free = sweep.run(table)
    plain = sweep.run({**noisy_grid(), "objective": {"name": "rosenbrock",
                                                     "start": [[-1.2, 1.0], [0.5, 0.5]]}})
    for seed in range(3):
        assert_same_bits(noisy_free["trajectory"].isel(seed=seed).values, plain["trajectory"].values)


def reference_scale(kind, t, steps, warmup=0, every=1, factor=1.0):
    """The schedules as docs/grid_file.md ([schedule]) states them, written again independently."""
    warm = min(1.0, t / warmup) if warmup else 1.0
    return warm * {
        "constant": 1.0,
        "inverse_sqrt": t ** -0.5,
        "cosine": 0.5 * (1 + math.cos(math.pi * t / steps)),
        "step": factor ** ((t - 1) // every),
    }[kind]


@pytest.mark.parametrize("warmup", [0, 7])
def test_schedules_match_their_formulas(warmup):
    """On f(x) = x (gradient 1), SGD's steps are exactly −α_t."""
    steps, alpha = 40, 0.1
    table = {"sweep": {"optimizers": ["sgd"], "steps": steps, "record_every": 1,
                       "schedule": list(SCHEDULES)},
             "schedule": {"warmup": warmup, "every": 9, "factor": 0.5},
             "objective": {"expr": "x", "start": [[0.0]]},
             "grid": {"alpha": [alpha]}}
    ds = sweep.run(table)
    assert list(ds["schedule"].values) == list(SCHEDULES)
    for kind in SCHEDULES:
        path = ds["trajectory"].sel(schedule=kind).squeeze().values
        taken = -np.diff(path) / alpha
        expected = [reference_scale(kind, t, steps, warmup, 9, 0.5) for t in range(1, steps + 1)]
        np.testing.assert_allclose(taken, expected, rtol=1e-12, atol=1e-15, err_msg=kind)


def test_projection_keeps_every_iterate_in_the_box():
    table = grid_table(optimizers=("sgd", "momentum", "adam"), steps=200, objective="rosenbrock",
                       start=[[-1.2, 0.5], [0.5, -0.4]], record_every=1,
                       alpha={"min": 1e-3, "max": 1.0, "num": 6, "scale": "log"}, beta1=[0.0, 0.9])
    table["objective"]["bounds"] = [[-1.5, 0.8], [-0.5, 0.6]]
    ds = sweep.run(table)
    x, y = ds["trajectory"].isel(dim=0).values, ds["trajectory"].isel(dim=1).values
    finite = np.isfinite(x)
    assert finite.all()  # inside a box nothing diverges here
    assert (x >= -1.5).all() and (x <= 0.8).all() and (y >= -0.5).all() and (y <= 0.6).all()
    assert (x == 0.8).any() and (y == 0.6).any()  # the projection was active
    # Rosenbrock's minimum (1, 1) is outside: the constrained optimum is on the boundary.
    assert (ds["final_x"].isel(dim=0) == 0.8).any()


def test_one_interval_bounds_every_coordinate():
    """GD at α = 0.3 > 2/κ diverges on the quadratic; projected onto [−1, 2]² it cannot."""
    table = grid_table(optimizers=("sgd",), steps=50, objective="quadratic", record_every=1,
                       start=[[1.5, -0.5]], alpha=[0.3])
    assert sweep.run(table)["diverged"].item()
    table["objective"]["bounds"] = [-1.0, 2.0]
    ds = sweep.run(table)
    path = ds["trajectory"].squeeze().values
    assert not ds["diverged"].item()
    assert path.max() == 2.0 and path.min() == -1.0 and np.isfinite(path).all()
