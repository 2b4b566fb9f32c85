"""sweep.tuning.expected_best against brute force and Monte Carlo, and its plot."""
import itertools
import shutil

import numpy as np
import pytest
import xarray as xr

from sweep.sensitivity import MetricError
from sweep.tuning import expected_best, expected_best_sorted

OPTIMIZERS = ("adam", "momentum")


def result(seed=0, alpha=3, beta1=2, beta2=2, seeds=None, nan_share=0.0):
    """A sweep-shaped result made by hand: adam reads every axis; momentum reads alpha and
    beta1 only, so its values are broadcast copies along beta2 (as the engine writes them)."""
    rng = np.random.default_rng(seed)
    coords = {"optimizer": list(OPTIMIZERS), "alpha": np.logspace(-3, -1, alpha),
              "beta1": np.linspace(0.5, 0.9, beta1), "beta2": np.linspace(0.9, 0.999, beta2),
              "eps": [1e-8]}
    dims = ["optimizer", "alpha", "beta1", "beta2", "eps"]
    if seeds:
        coords["seed"] = np.arange(seeds)
        dims.append("seed")
    shape = [len(coords[d]) for d in dims]
    loss = rng.lognormal(0.0, 2.0, shape)
    loss[1] = loss[1][:, :, :1]  # momentum: one value along beta2, copied to every beta2
    loss[rng.random(shape) < nan_share] = np.nan
    error = rng.uniform(0.05, 0.9, shape)
    error[1] = error[1][:, :, :1]
    uses = np.array([[True, True, True, True], [True, True, False, False]])
    return xr.Dataset(
        {"final_loss": (dims, loss), "test_error": (dims, error),
         "diverged": (dims, np.isnan(loss)),
         "final_x": (dims + ["dim"], np.zeros(shape + [2]))},
        coords={**coords, "axis": ["alpha", "beta1", "beta2", "eps"],
                "uses_axis": (("optimizer", "axis"), uses)},
        attrs={"objective": "by hand"})


def one_optimizer(values):
    """A result with one optimizer whose cells are ``values`` along alpha."""
    values = np.asarray(values, dtype=np.float64)
    return xr.Dataset({"final_loss": (("optimizer", "alpha"), values[None])},
                      coords={"optimizer": ["adam"], "alpha": np.arange(values.size)})


def brute_force(values, k, best=min):
    """The mean over every one of the n^k equally likely k-tuples of cells of the best one."""
    return float(np.mean([best(t) for t in itertools.product(values, repeat=k)]))


# --- the closed form ---------------------------------------------------------------------

@pytest.mark.parametrize("values", [[3.0], [2.0, -1.0], [5.0, 1.0, 1.0, 4.0],
                                    [0.1, 7.0, 7.0, 7.0, -2.5], [1e8, 1e8 + 1, 1e8 - 3]])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_closed_form_equals_enumerating_every_tuple(values, k):
    found = expected_best(one_optimizer(values), "final_loss", [k]).item()
    assert found == pytest.approx(brute_force(values, k), rel=1e-13, abs=1e-12)
    found = expected_best(one_optimizer(values), "final_loss", [k], maximize=True).item()
    assert found == pytest.approx(brute_force(values, k, max), rel=1e-13, abs=1e-12)


def test_the_probability_form_and_the_survival_form_agree():
    # The docstring's Σ v_(i) P(best = v_(i)) and the survival form it is computed in.
    values = np.sort(np.random.default_rng(3).normal(size=50))
    n = values.size
    i = np.arange(1, n + 1)
    for k in (1, 2, 7, 40):
        probability = ((n - i + 1) / n) ** k - ((n - i) / n) ** k
        assert probability.sum() == pytest.approx(1.0, abs=1e-14)
        assert expected_best_sorted(values, k) == pytest.approx(values @ probability, abs=1e-13)


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_agrees_with_monte_carlo_within_four_standard_errors(k):
    rng = np.random.default_rng(0)
    ds = result(seed=1, alpha=4, beta1=3, beta2=3)
    values = ds["final_loss"].sel(optimizer="adam").values.ravel()  # 36 distinct cells
    draws = values[rng.integers(0, values.size, (200_000, k))].min(axis=1)
    error = draws.std(ddof=1) / np.sqrt(draws.size)
    exact = expected_best(ds, "final_loss", [k]).sel(optimizer="adam").item()
    assert abs(exact - draws.mean()) < 4 * error


def test_one_draw_is_the_mean_and_many_approach_the_minimum():
    ds = result(alpha=4, beta1=3, beta2=2)
    found = expected_best(ds, "final_loss", [1, 2, 8, 64, 10_000])
    for name in OPTIMIZERS:
        values = ds["final_loss"].sel(optimizer=name)
        curve = found.sel(optimizer=name).values
        assert curve[0] == pytest.approx(float(values.mean()), rel=1e-14)
        assert curve[-1] == pytest.approx(float(values.min()), rel=1e-12)
        assert np.all(np.diff(curve) <= 0)  # a larger budget never does worse
        assert float(values.min()) <= curve.min() and curve.max() <= float(values.max())


def test_maximize_is_minimize_of_the_negated_metric():
    ds = result(seed=4)
    negated = ds.assign(final_loss=-ds["final_loss"])
    budgets = [1, 2, 5, 1000]
    up = expected_best(ds, "final_loss", budgets, maximize=True)
    down = expected_best(negated, "final_loss", budgets)
    np.testing.assert_allclose(up.values, -down.values, rtol=1e-14)
    np.testing.assert_allclose(up.sel(budget=1000).values,
                               ds["final_loss"].max(["alpha", "beta1", "beta2", "eps"]).values)
    assert up.attrs["maximize"] == 1 and "largest" in up.attrs["protocol"]


def test_a_large_budget_and_ties_stay_exact():
    values = [2.0] * 5 + [9.0] * 5
    assert expected_best_sorted(values, 1) == 5.5
    assert expected_best_sorted(values, 2 ** 62) == 2.0  # (n − i + 1)/n)^k underflows: no NaN
    assert expected_best_sorted([4.0] * 7, 3) == 4.0


# --- the search space --------------------------------------------------------------------

def test_dims_left_out_of_over_are_kept_one_search_each():
    ds = result(seeds=3)
    found = expected_best(ds, "final_loss", [1, 4], over=["alpha", "beta1", "beta2", "eps"])
    assert found.dims == ("optimizer", "budget", "seed")
    np.testing.assert_array_equal(found["seed"].values, [0, 1, 2])
    for seed in range(3):
        alone = expected_best(ds.sel(seed=seed), "final_loss", [1, 4])
        np.testing.assert_allclose(found.sel(seed=seed).values, alone.values, rtol=1e-14)
    # The default searches the seeds too: more cells, one number per optimizer and budget.
    every = expected_best(ds, "final_loss", [1, 4])
    assert every.dims == ("optimizer", "budget")
    assert every["cells"].values.tolist() == [3 * 2 * 2 * 3, 3 * 2 * 3]


def test_over_one_axis_by_name():
    ds = result()
    found = expected_best(ds, "final_loss", [2], over="alpha")
    assert found.dims == ("optimizer", "budget", "beta1", "beta2", "eps")
    assert found.attrs["over"] == "alpha"
    assert (found["cells"] == 3).all()


def test_momentum_draws_only_its_distinct_cells():
    ds = result(alpha=3, beta1=2, beta2=4)
    found = expected_best(ds, "final_loss", [1, 3])
    assert found["cells"].sel(optimizer="momentum").item() == 3 * 2  # not × 4 values of beta2
    assert found["cells"].sel(optimizer="adam").item() == 3 * 2 * 4
    # Drawn with replacement, copies change no value, only n; so spoil the copies to see
    # that the search reads the first beta2 alone, as uses_axis says it may.
    spoiled = ds.copy(deep=True)
    spoiled["final_loss"].loc[{"optimizer": "momentum", "beta2": ds["beta2"][1:]}] = 1e9
    again = expected_best(spoiled, "final_loss", [1, 3])
    np.testing.assert_array_equal(again.values, found.values)
    # Without uses_axis every cell counts.
    plain = expected_best(spoiled.drop_vars("uses_axis"), "final_loss", [1])
    assert plain["cells"].sel(optimizer="momentum").item() == 3 * 2 * 4
    assert plain.sel(optimizer="momentum").item() > 1e8


# --- missing values ----------------------------------------------------------------------

def test_missing_worst_counts_a_nan_as_the_worst_finite_cell():
    values = [1.0, np.nan, 3.0, 2.0]
    found = expected_best(one_optimizer(values), "final_loss", [1, 2]).values[0]
    assert found[0] == pytest.approx(np.mean([1, 3, 3, 2]))
    assert found[1] == pytest.approx(brute_force([1, 3, 3, 2], 2))
    up = expected_best(one_optimizer(values), "final_loss", [2], maximize=True).item()
    assert up == pytest.approx(brute_force([1, 1, 3, 2], 2, max))  # worst is now the smallest


def test_missing_as_a_number_and_dropped():
    values = [1.0, np.nan, 3.0, np.inf]
    given = expected_best(one_optimizer(values), "final_loss", [2], missing=10.0)
    assert given.item() == pytest.approx(brute_force([1, 10, 3, 10], 2))
    assert given["cells"].item() == 4 and "10" in given.attrs["missing"]
    dropped = expected_best(one_optimizer(values), "final_loss", [2], missing="drop")
    assert dropped.item() == pytest.approx(brute_force([1, 3], 2))
    assert dropped["cells"].item() == 2


def test_a_search_with_nothing_finite():
    values = [np.nan, np.nan]
    for missing in ("worst", "drop"):
        found = expected_best(one_optimizer(values), "final_loss", [1], missing=missing)
        assert np.isnan(found.item())
    assert expected_best(one_optimizer(values), "final_loss", [3], missing=7.0).item() == 7.0


def test_missing_per_seed_and_diverged_as_a_share():
    ds = result(seeds=2, nan_share=0.3, seed=5)
    found = expected_best(ds, "final_loss", [1], over=["alpha", "beta1", "beta2", "eps"])
    for seed in range(2):
        cells = ds["final_loss"].sel(optimizer="adam", seed=seed)
        worst = float(cells.max())  # of this seed's search, not of the whole dataset
        assert found.sel(optimizer="adam", seed=seed, budget=1).item() == \
            pytest.approx(float(cells.fillna(worst).mean()))
    share = expected_best(ds, "diverged", [1]).sel(optimizer="adam").item()
    assert share == pytest.approx(float(ds["diverged"].sel(optimizer="adam").mean()))


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    (dict(metric="test_eror"), "unknown metric 'test_eror'"),
    (dict(metric="final_x"), "final_x is not one number per cell"),
    (dict(budgets=[0]), "budgets[0] = 0"),
    (dict(budgets=[1, -2]), "budgets[1] = -2"),
    (dict(budgets=[2.5]), "budgets[0] = 2.5"),
    (dict(budgets=[True]), "budgets[0] = True"),
    (dict(budgets="3"), "budgets[0] = '3'"),
    (dict(budgets=[]), "budgets is empty"),
    (dict(budgets=[2, 2]), "appears twice"),
    (dict(over=["alpha", "seed"]), "over: 'seed' is not a dim"),
    (dict(over="optimizer"), "over = optimizer"),
    (dict(missing="zero"), "missing = 'zero'"),
    (dict(missing=float("nan")), "missing = nan"),
    (dict(missing=None), "missing = None"),
])
def test_bad_input_is_a_value_error_that_names_it(kwargs, words):
    arguments = dict(metric="final_loss", budgets=[1, 2]) | kwargs
    with pytest.raises(ValueError) as raised:
        expected_best(result(), arguments.pop("metric"), arguments.pop("budgets"), **arguments)
    assert isinstance(raised.value, MetricError)
    assert words in str(raised.value)


def test_budgets_may_be_one_int_or_numpy_ints():
    ds = result()
    assert expected_best(ds, "final_loss", 4)["budget"].values.tolist() == [4]
    found = expected_best(ds, "final_loss", np.array([8, 1]))
    assert found["budget"].values.tolist() == [8, 1]  # in the order given


# --- a real sweep ------------------------------------------------------------------------

def test_on_a_real_sweep(small_grid, tmp_path):
    import sweep
    from sweep.plot import tuning_curves

    table = small_grid(optimizers=("adam", "momentum"), steps=50, objective="rosenbrock",
                       alpha=[1e-3, 1e-2, 1e-1], beta1=[0.5, 0.9], beta2=[0.9, 0.999])
    ds = sweep.run(table)
    found = expected_best(ds, "final_loss", [1, 2, 4])
    starts = ds.sizes["start"]
    assert found["cells"].values.tolist() == [starts * 3 * 2 * 2, starts * 3 * 2]
    momentum = ds["final_loss"].sel(optimizer="momentum").isel(beta2=0)
    worst = float(momentum.max())
    assert found.sel(optimizer="momentum", budget=1).item() == \
        pytest.approx(float(momentum.fillna(worst).mean()))
    tuning_curves(ds, "final_loss").savefig(tmp_path / "real.png")


# --- the plot ----------------------------------------------------------------------------

def test_tuning_curves_draws_one_line_per_optimizer(tmp_path):
    pytest.importorskip("matplotlib")
    from sweep.plot import _optimizer_colors, tuning_curves

    ds = result(alpha=6, beta1=3, beta2=3)
    ds = ds.assign(test_error=ds["test_error"].where(ds["test_error"] < 0.8))  # some diverged
    fig = tuning_curves(ds, "test_error")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    assert list(lines) == list(OPTIMIZERS)
    colors = _optimizer_colors(list(OPTIMIZERS))
    for name, line in lines.items():
        assert line.get_color() == colors[name]
    # Default budgets: 1, 2, 4, … up to adam's 54 cells, then 54.
    np.testing.assert_array_equal(lines["adam"].get_xdata(), [1, 2, 4, 8, 16, 32, 54])
    expected = expected_best(ds, "test_error", [1, 2, 4, 8, 16, 32, 54])
    np.testing.assert_allclose(lines["momentum"].get_ydata(),
                               expected.sel(optimizer="momentum").values)
    assert "expected best test_error of k random cells" in ax.get_title().lower()
    assert "budget k" in ax.get_xlabel() and "expected best test error" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        ["adam (54 cells)", "momentum (18 cells)", "best cell (k → ∞)"]
    path = tmp_path / "tuning_curves.png"
    fig.savefig(path, dpi=100)
    assert path.stat().st_size > 10_000
    shutil.copy(path, "/tmp/tuning_curves.png")  # to look at


def test_tuning_curves_with_seeds_kept_a_given_axes_and_log_losses(tmp_path):
    pytest.importorskip("matplotlib")
    from sweep.plot import _figure, tuning_curves

    ds = result(seeds=3, alpha=5, beta1=3, beta2=2)
    ax = _figure().add_subplot()
    fig = tuning_curves(ds, "final_loss", [1, 3, 9, 27], ax=ax,
                        over=["alpha", "beta1", "beta2", "eps"], optimizers=["momentum"])
    assert fig is ax.figure
    assert ax.get_yscale() == "log"  # lognormal losses spanning decades
    assert "mean over seed" in ax.get_title() and "every cell has a value" in ax.get_title()
    assert len(ax.collections) == 1  # the band across seeds
    fig.savefig(tmp_path / "seeds.png")
    shutil.copy(tmp_path / "seeds.png", "/tmp/tuning_curves_seeds.png")


def test_tuning_curves_rejects_an_unknown_optimizer():
    pytest.importorskip("matplotlib")
    from sweep.plot import PlotError, tuning_curves

    with pytest.raises(PlotError, match="optimizer 'sgd'"):
        tuning_curves(result(), "final_loss", optimizers=["sgd"])


def test_tuning_curves_with_an_optimizer_that_always_diverged():
    pytest.importorskip("matplotlib")
    from sweep.plot import tuning_curves

    ds = result()
    ds["final_loss"].loc[{"optimizer": "momentum"}] = np.nan
    fig = tuning_curves(ds, "final_loss", [1, 2])
    momentum = [line for line in fig.axes[0].get_lines() if line.get_gid() == "momentum"]
    assert np.isnan(momentum[0].get_ydata()).all()  # drawn as nothing, and no error
