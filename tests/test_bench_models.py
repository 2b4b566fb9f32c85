"""The "models" rows of the bench (:mod:`sweep.bench_models`) at a tiny size.

The baselines must compute what the engine computes, or their rows compare nothing:
torch and JAX end at the engine's θ. Speed itself is never asserted.
"""
import builtins
import importlib.util
import io

import numpy as np
import pytest

from conftest import ROOT  # noqa: F401  (puts this checkout on sys.path)
from sweep import bench_models

CELLS, STEPS = 4, 20
requires_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                    reason="torch is not installed")
requires_jax = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None or importlib.util.find_spec("optax") is None,
    reason="jax and optax are not installed")


@pytest.fixture(scope="module")
def engine_theta():
    return bench_models.engine_theta(CELLS, STEPS)


@pytest.fixture(scope="module")
def theta0():
    return bench_models.workload(CELLS, STEPS).theta0


def assert_same_trajectory(theta, engine, theta0):
    """Each cell's θ agrees with the engine's to 1e-9 of how far it moved from θ₀ (so a
    baseline that did not train, or trained on other batches, fails)."""
    assert theta.shape == engine.shape == (CELLS, theta0.size)
    moved = np.abs(engine - theta0).max(axis=1)
    assert (moved > 1e-4).all()  # every cell trained, even α = 1e-4's
    error = np.abs(theta - engine).max(axis=1)
    assert (error <= 1e-9 * moved).all(), error / moved


@requires_torch
def test_torch_ends_where_the_engine_does(engine_theta, theta0):
    assert_same_trajectory(bench_models.torch_theta(CELLS, STEPS), engine_theta, theta0)


@requires_jax
def test_jax_ends_where_the_engine_does(engine_theta, theta0):
    assert_same_trajectory(bench_models.jax_theta(CELLS, STEPS), engine_theta, theta0)


def test_theta_layout_round_trips_in_torch_order():
    sizes = (3, 4, 2)
    theta = np.arange(3 * 4 + 4 + 4 * 2 + 2, dtype=np.float64)
    (w1, b1), (w2, b2) = bench_models.split_theta(theta, sizes)
    # parameters_to_vector: W₁ (out × in, row-major), b₁, W₂, b₂; W stored as (in, out).
    assert w1.shape == (3, 4) and w1[2, 1] == 1 * 3 + 2 and b1.tolist() == [12, 13, 14, 15]
    assert w2.shape == (4, 2) and w2[3, 1] == 16 + 1 * 4 + 3 and b2.tolist() == [24, 25]
    stacked = np.stack([theta, -theta])
    assert np.array_equal(bench_models.join_theta(bench_models.split_theta(stacked, sizes)),
                          stacked)


def test_padded_batches_weigh_each_batch_to_its_mean():
    work = bench_models.workload(CELLS, 50)  # 1 347 samples: step 43 is 3 long
    rows, weights = bench_models.padded_batches(work)
    assert rows.shape == weights.shape == (50, 32)
    assert np.allclose(weights.sum(axis=1), 1.0)
    short = [step for step, taken in enumerate(work.batches) if len(taken) < 32]
    assert short == [42] and (weights[42, 3:] == 0).all() and (weights[42, :3] == 1 / 3).all()
    assert np.array_equal(rows[42, :3], work.batches[42])


def test_flops_of_a_step_by_hand():
    # MLP 64-32-10: forward 2·32·(64·32 + 32·10); backward that (the weight gradients)
    # plus 2·32·(32·10) (the hidden layer's errors; the input layer needs none);
    # Adam 13 per parameter (2 410).
    products = 64 * 32 + 32 * 10
    expected = 2 * 32 * products * 2 + 2 * 32 * (32 * 10) + 13 * 2410
    assert bench_models.flops_per_step() == expected
    assert bench_models.flops_per_step((64, 64, 32, 10)) == \
        2 * 32 * (64 * 64 + 64 * 32 + 32 * 10) * 2 + 2 * 32 * (64 * 32 + 32 * 10) + 13 * 6570
    assert bench_models.flops_per_step((2, 1), batch=1) == 4 + 4 + 13 * 3  # no input error


def test_peak_is_cores_clock_and_the_vector_units_flops_per_cycle():
    assert bench_models.peak_flops(cores=2, ghz=2.6, per_cycle=32) == pytest.approx(166.4e9)
    assert bench_models.flops_per_cycle({"sse2", "avx2", "fma", "avx512f"}) == 32
    assert bench_models.flops_per_cycle({"sse2", "avx", "avx2", "fma"}) == 16
    assert bench_models.flops_per_cycle({"sse2"}) == 4
    ghz = bench_models.cpu_ghz()
    if ghz is not None:
        per_cycle = bench_models.flops_per_cycle()
        assert 0.5 < ghz < 10 and per_cycle in (4, 16, 32)
        assert bench_models.peak_flops(cores=1) == pytest.approx(ghz * per_cycle * 1e9)


def test_model_rows_without_torch_or_jax_say_so(monkeypatch):
    real_import = builtins.__import__

    def without_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_torch)
    monkeypatch.setattr(bench_models, "_jax", lambda: None)
    results = bench_models.model_rows(2, 3, 1, n_jobs=1)
    assert list(results["rows"]) == [bench_models.ENGINE_ROW] and results["ratios"] == {}
    assert any("no torch row" in note for note in results["notes"])
    assert any("no JAX row" in note for note in results["notes"])
    assert any("baselines only train" in note for note in results["notes"])
    row = results["rows"][bench_models.ENGINE_ROW]
    assert row["min"] <= row["median"] <= row["max"] and row["cells"] == 2
    assert row["evaluations"] == 2  # step 0 and the last: 3 steps < eval_every
    out = io.StringIO()
    bench_models.print_model_rows(results, out)
    assert bench_models.ENGINE_ROW in out.getvalue()


@requires_torch
@requires_jax
def test_model_rows_with_both_baselines():
    results = bench_models.model_rows(2, 3, 2)
    rows = results["rows"]
    assert list(rows) == [bench_models.ENGINE_ROW, bench_models.TORCH_ROW, bench_models.JAX_ROW]
    engine = rows[bench_models.ENGINE_ROW]["median"]
    for name, ratio in results["ratios"].items():
        assert ratio == engine / rows[name]["median"]
        assert rows[name]["repeats"] == 2
    if results["peak_flops"] is not None:
        share = results["share_of_peak"][bench_models.TORCH_ROW]
        assert share == rows[bench_models.TORCH_ROW]["median"] * results["flops_per_step"] \
            / results["peak_flops"]
        counted = results["share_of_peak"][f"{bench_models.ENGINE_ROW} counting evaluation"]
        assert counted > results["share_of_peak"][bench_models.ENGINE_ROW]
