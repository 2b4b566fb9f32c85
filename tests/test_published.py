"""The published results the examples reproduce, at a small size (examples/wilson2017.py,
examples/choi2019.py): each test checks a claim an example makes, where it holds at that
size, and the numbers the example's table reports against the dataset they came from."""
import importlib.util

import numpy as np
import pytest
import xarray as xr

from conftest import ROOT

pytest.importorskip("pandas")


def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wilson():
    module = _example("wilson2017")
    results, _ = module.run(small=True, n_jobs=1)
    return module, results, module.table(results)


@pytest.fixture(scope="module")
def choi():
    module = _example("choi2019")
    results, _ = module.run(small=True, n_jobs=1)
    wide = module.per_optimizer(results)
    return module, wide, module.narrow(wide)


# --- Wilson et al. 2017, section 3.3 ---------------------------------------------------

def test_wilson_negative_share_is_between_gd_and_nothing(wilson):
    module, _, _ = wilson
    share = module.negative_share(module.grids()["full batch"])
    assert 0.1 < share < 0.5  # p = 3/4: a quarter of the test labels, give or take


def test_wilson_gd_sgd_momentum_reach_zero_test_error(wilson):
    _, results, table = wilson
    rows = table.set_index("optimizer")
    for name in ("GD", "SGD", "momentum"):
        assert rows.loc[name, "test error"] == 0.0, name
        assert rows.loc[name, "train error"] == 0.0, name
    # Not only the chosen α: every α that did not diverge.
    for ds in results.values():
        for optimizer in set(ds["optimizer"].values) & {"sgd", "momentum"}:
            cells = ds.sel(optimizer=optimizer)
            error = cells["test_error"].values[~cells["diverged"].values]
            assert error.size and (error == 0).all(), optimizer


def test_wilson_adaptive_methods_predict_plus_one_everywhere(wilson):
    module, results, table = wilson
    share = module.negative_share(module.grids()["full batch"])
    rows = table.set_index("optimizer")
    cells = results["full batch"]
    for name in ("adagrad", "rmsprop", "adam"):
        assert rows.loc[name, "test error"] == pytest.approx(share, abs=1e-12), name
        assert rows.loc[name, "train error"] == 0.0, name  # they fit the training set
        one = cells.sel(optimizer=name)
        error = one["test_error"].values[~one["diverged"].values]
        assert error.size and np.allclose(error, share, rtol=0, atol=1e-12), name


def test_wilson_table_keeps_the_best_fitting_alpha(wilson):
    _, results, table = wilson
    full = results["full batch"]
    for _, row in table[table["batch"] == "full batch"].iterrows():
        name = "sgd" if row["optimizer"] == "GD" else row["optimizer"]
        cells = full.sel(optimizer=name)
        loss = cells["final_loss"].where(~cells["diverged"])
        assert row["final train loss"] == float(loss.min())
        assert float(loss.sel(alpha=row["alpha"]).squeeze()) == row["final train loss"]
    assert list(table["optimizer"]) == ["GD", "SGD", "momentum", "adagrad", "rmsprop", "adam"]


# --- Choi et al. 2019 on digits --------------------------------------------------------

def test_choi_narrow_is_the_subset_it_claims(choi):
    module, wide, narrow = choi
    assert list(narrow) == ["sgd", "momentum", "adam"]
    for name, ds in narrow.items():
        centre = module.NARROW_CENTRE[name]
        alpha = ds["alpha"].values
        assert alpha.size >= 2 and (alpha >= centre / 10 ** 0.5 * (1 - 1e-9)).all() \
            and (alpha <= centre * 10 ** 0.5 * (1 + 1e-9)).all(), name
        assert ds["eps"].values.tolist() == [1e-8] and ds["beta1"].values.tolist() == [0.9]
        # the same bits as the wide grid's cells
        same = wide[name]["test_error"].sel(alpha=alpha, eps=[1e-8], beta1=[0.9])
        np.testing.assert_array_equal(same.values, ds["test_error"].values)


def test_choi_best_cells_are_the_minimum_of_each_search(choi):
    module, wide, narrow = choi
    for searches in (wide, narrow):
        table = module.best_cells(searches).set_index("optimizer")
        for name, ds in searches.items():
            error = ds["test_error"].fillna(module.CHANCE)
            best = table.loc[name]
            assert best["best test error"] == float(error.min()), name
            at = {a: best[a] for a in ("alpha", "beta1", "eps") if not np.isnan(best[a])}
            assert float(error.sel(at).min()) == best["best test error"], name
            assert best["test images wrong"] == round(best["best test error"] * 450)


def test_choi_expected_best_runs_from_the_mean_to_the_best_cell(choi):
    module, wide, _ = choi
    curves = module.expected(wide, [1, 2, 4, 2 ** 40])
    table = module.best_cells(wide).set_index("optimizer")
    for name, ds in wide.items():
        curve = curves.sel(optimizer=name).values
        assert (np.diff(curve) <= 1e-15).all(), name  # more trials never hurt
        assert curve[-1] == pytest.approx(table.loc[name, "best test error"], abs=1e-12)
        n = int(curves["cells"].sel(optimizer=name))
        assert n == table.loc[name, "cells"]
        # k = 1 is the mean over the distinct cells (momentum and sgd read no ε)
        distinct = ds["test_error"].fillna(module.CHANCE)
        for axis in ("beta1", "eps"):
            if axis not in module._read_axes(ds, name):
                distinct = distinct.isel({axis: [0]})
        assert distinct.size == n
        assert curve[0] == pytest.approx(float(distinct.mean()), rel=1e-12)


def test_choi_large_eps_makes_adam_a_slow_sgd(choi):
    """A claim of the notebook that holds at any size: with ε = 1e2 ≫ √v̂ Adam's step is
    α·m̂/ε, so at α = 1e-3 it barely moves in 200 steps (near chance) while ε = 1e-8 trains."""
    _, wide, _ = choi
    adam = wide["adam"]["test_error"].sel(optimizer="adam", alpha=1e-3, beta1=0.9).squeeze()
    assert float(adam.sel(eps=1e2)) > 0.7
    assert float(adam.sel(eps=1e-8)) < 0.2


def test_choi_figure_has_a_line_per_optimizer_and_search(choi):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    module, wide, narrow = choi
    fig = module.figure(wide, narrow)
    for ax in fig.axes:
        assert sorted(line.get_gid() for line in ax.lines if line.get_gid()) == \
            ["adam", "momentum", "sgd"]
    import matplotlib.pyplot as plt

    plt.close(fig)


# --- Zhang et al. 2019 (its sweep runs in notebooks/zhang2019.ipynb) --------------------

def test_zhang_critical_batch_size_is_the_last_within_twice_perfect_scaling():
    module = _example("zhang2019")
    sizes = [1.0, 2.0, 4.0, 8.0, 16.0]
    # Perfect scaling from 800: 400, 200, 100, 50; twice that: 800, 400, 200, 100.
    steps = xr.DataArray([800.0, 400.0, 210.0, 190.0, 180.0], dims="batch_size",
                         coords={"batch_size": sizes})
    assert module.critical_batch_size(steps) == 8.0
    assert module.critical_batch_size(steps.where(steps.batch_size < 8)) == 4.0


def test_zhang_steps_are_read_off_the_mean_over_seeds():
    """One seed alone reaches the target at step 1, their mean at step 2; a diverged seed
    keeps its cell from ever reaching it."""
    module = _example("zhang2019")
    target = module.TARGET_SHARE * module.initial_loss(3)
    seeds = np.array([[[9.0, 1.6, 0.5, 0.1], [9.0, 0.6, 1.3, 0.1]],
                      [[9.0, 0.1, 0.1, 0.1], [9.0, np.nan, np.nan, np.nan]]]) * target
    loss = xr.DataArray(seeds[None, None].transpose(0, 1, 3, 2, 4),
                        dims=("optimizer", "start", "seed", "alpha", "step"),
                        coords={"optimizer": ["sgd"], "start": [0], "seed": [0, 1],
                                "alpha": [0.1, 0.2], "step": range(4)})
    ds = xr.Dataset({"loss": loss, "diverged": loss.isnull().any("step")},
                    coords={"dim": range(3)}, attrs={"steps": 3})
    derived = module.mean_curve_steps(ds)
    np.testing.assert_array_equal(derived["steps_to_tol"].sel(optimizer="sgd").values,
                                  [2.0, np.nan])
    assert derived["diverged"].sel(optimizer="sgd").values.tolist() == [False, True]
