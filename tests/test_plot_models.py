"""Figures of model results (an MLP and a logistic model, with seeds), seeds summarised by
their median, one-axis figures, and the small findings of issue #28 (the summary line's
rate, unknown rules of other libraries, listed axes over decades, the penalty's text)."""
import math

import numpy as np
import pytest
import xarray as xr

import sweep
from sweep import plot
from sweep.cli import main, rate_text
from sweep.sensitivity import available_metrics, default_metric, metric, sensitivity

pytest.importorskip("matplotlib")

ALPHA3 = {"min": 1e-2, "max": 1.0, "num": 3, "scale": "log"}


def mlp_grid(record_every=5):
    """adam and sgd training a tiny MLP on iris, three seeds, α × β₁."""
    return {"sweep": {"optimizers": ["adam", "sgd"], "steps": 20, "record_every": record_every},
            "objective": {"model": "mlp", "hidden": [4], "data": "iris", "batch_size": 16,
                          "seeds": 3},
            "grid": {"alpha": ALPHA3, "beta1": [0.0, 0.9]}}


def logistic_grid():
    """One swept axis (α), two seeds, no recorded curves."""
    return {"sweep": {"optimizers": ["adam", "sgd"], "steps": 30},
            "objective": {"model": "logistic", "data": "breast_cancer", "batch_size": 32,
                          "seeds": 2},
            "grid": {"alpha": {"min": 1e-3, "max": 10.0, "num": 4, "scale": "log"}}}


@pytest.fixture(scope="module")
def mlp():
    return sweep.run(mlp_grid(), n_jobs=1)


@pytest.fixture(scope="module")
def logistic():
    return sweep.run(logistic_grid(), n_jobs=1)


@pytest.fixture(scope="module")
def saved(mlp, logistic, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    mlp.to_netcdf(folder / "mlp.nc", engine="h5netcdf")
    logistic.to_netcdf(folder / "logistic.nc", engine="h5netcdf")
    return folder


def cell_values(fig):
    """The heatmap panels' values (masked cells as NaN), panel by panel."""
    out = []
    for ax in fig.axes:
        meshes = [c for c in ax.collections if c.get_gid() == "values"]
        if meshes:
            out.append(np.ma.filled(meshes[0].get_array().astype(float), np.nan))
    return out


# --- the metrics a result has ---------------------------------------------------------

def test_a_model_offers_its_test_metrics_first_and_not_the_missing_ones(mlp):
    have = available_metrics(mlp)
    assert have[:3] == ["test_error", "test_loss", "train_error"]
    assert "distance" not in have and "steps_to_tol" not in have  # all missing for a model
    assert "test_accuracy" in available_metrics(mlp, accuracies=True)
    assert default_metric(mlp) == "test_error"
    assert metric(mlp, "test_error").label.startswith("test error")
    assert metric(mlp, "final_loss").label.startswith("final training loss")
    accuracy = metric(mlp, "test_accuracy")
    assert accuracy.higher_is_better
    np.testing.assert_allclose(accuracy.values, 1 - mlp["test_error"])


def test_a_metric_with_no_value_is_refused_with_its_reason(mlp):
    real = mlp.assign(test_error=mlp["test_error"] * np.nan)
    assert "test_error" not in available_metrics(real)
    assert default_metric(real) == "test_loss"
    with pytest.raises(ValueError, match="test_error has no value in this result"):
        metric(real, "test_error")


# --- seeds are summarised, not cherry-picked ---------------------------------------------

def test_the_default_heatmap_is_the_median_over_seeds_then_the_best(mlp):
    fig = plot.heatmap(mlp, x="alpha", y="beta1")
    assert "test error" in fig._suptitle.get_text()
    assert "median over 3 seeds" in fig._suptitle.get_text()
    expected = mlp["test_error"].median("seed").min(["start", "beta2", "eps"])
    for panel, name in zip(cell_values(fig), ["adam", "sgd"]):
        np.testing.assert_allclose(panel, expected.sel(optimizer=name).transpose("beta1", "alpha"))
    best = plot.heatmap(mlp, x="alpha", y="beta1", seeds="best")
    assert "best over 3 seeds" in best._suptitle.get_text()
    np.testing.assert_allclose(cell_values(best)[0], mlp["test_error"].sel(optimizer="adam").min(
        ["seed", "start", "beta2", "eps"]).transpose("beta1", "alpha"))
    one = plot.heatmap(mlp, x="alpha", y="beta1", select={"seed": 2})
    assert "seeds" not in one._suptitle.get_text() and "seed = 2" in one._suptitle.get_text()


def test_a_median_over_seeds_is_diverged_only_when_half_of_them_are():
    # Two cells × three seeds; diverged seeds are +inf in rank, never averaged.
    values = np.array([[1e-5, 1.0, 10.0], [1e-5, np.nan, np.nan]])
    diverged = np.isnan(values)
    ds = xr.Dataset({"final_loss": (("optimizer", "seed", "alpha"), values.T[None]),
                     "diverged": (("optimizer", "seed", "alpha"), diverged.T[None])},
                    coords={"optimizer": ["adam"], "seed": [0, 1, 2], "alpha": [0.1, 1.0]},
                    attrs={"minimum": 0.0})
    grid = cell_values(plot.heatmap(ds, x="alpha", y="seed", seeds="median"))  # seed plotted: as is
    assert grid[0].shape == (3, 2)
    ax = plot.profile(ds, "alpha").axes[0]
    line = ax.get_lines()[0].get_ydata()
    assert line[0] == pytest.approx(1.0)  # the median, not the best seed's 1e-5
    assert np.isnan(line[1])  # two of three seeds diverged: the median diverged
    marks = [c for c in ax.collections if c.get_gid() == "diverged"]
    assert len(marks) == 1 and list(marks[0].get_offsets()[:, 0]) == [1.0]  # a ✕ at α = 1
    assert plot.profile(ds, "alpha", seeds="best").axes[0].get_lines()[0].get_ydata()[1] == \
        pytest.approx(1e-5)


# --- one-axis figures ---------------------------------------------------------------------

def test_profile_of_one_swept_axis_with_the_seeds_as_a_band(logistic):
    fig = plot.profile(logistic, "alpha")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "test error" in ax.get_ylabel()
    assert "median over 2 seeds" in ax.get_title()
    errors = logistic["test_error"].squeeze(["start", "beta1", "beta2", "eps"])
    for line in ax.get_lines():
        if line.get_gid() in ("adam", "sgd"):
            np.testing.assert_allclose(line.get_ydata(),
                                       errors.sel(optimizer=line.get_gid()).median("seed"))
    bands = {c.get_gid(): c for c in ax.collections if (c.get_gid() or "").startswith("band:")}
    assert set(bands) == {"band:adam", "band:sgd"}
    ys = bands["band:sgd"].get_paths()[0].vertices[:, 1]
    sgd = errors.sel(optimizer="sgd")
    assert ys.min() == pytest.approx(float(sgd.min())) and ys.max() == pytest.approx(float(sgd.max()))


def test_profile_takes_the_best_configuration_of_the_median_and_its_seeds(mlp):
    ax = plot.profile(mlp, "alpha", "test_accuracy").axes[0]
    assert "higher is better" in ax.get_ylabel()
    accuracy = (1 - mlp["test_error"]).sel(optimizer="adam").squeeze(["start", "beta2", "eps"])
    median = accuracy.median("seed")
    line = next(line for line in ax.get_lines() if line.get_gid() == "adam")
    np.testing.assert_allclose(line.get_ydata(), median.max("beta1"))  # the best: the largest
    sliced = plot.profile(mlp, "alpha", "test_loss", select={"beta1": 0.9}).axes[0]
    loss = mlp["test_loss"].sel(optimizer="sgd", beta1=0.9).squeeze(["start", "beta2", "eps"])
    line = next(line for line in sliced.get_lines() if line.get_gid() == "sgd")
    np.testing.assert_allclose(line.get_ydata(), loss.median("seed"))
    assert "β₁ = 0.9" in sliced.get_title()


def test_profile_refuses_an_axis_it_cannot_draw(mlp):
    with pytest.raises(plot.PlotError, match="unknown axis 'gamma'"):
        plot.profile(mlp, "gamma")
    with pytest.raises(plot.PlotError, match="beta2 has one value"):
        plot.profile(mlp, "beta2")
    with pytest.raises(plot.PlotError, match="seeds = 'typical'"):
        plot.profile(mlp, "alpha", seeds="typical")


# --- the command ------------------------------------------------------------------------

def test_plot_command_on_a_model_draws_its_test_error_first(saved, tmp_path, capsys):
    out = tmp_path / "mlp"
    assert main(["plot", str(saved / "mlp.nc"), "-o", str(out), "--quiet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"test_error-alpha.png", "test_error-beta1.png", "test_error-alpha-beta1.png",
            "sensitivity-test_error.png", "test_loss-alpha-beta1.png"} <= names
    assert not any(n.startswith(("distance", "steps_to_tol")) for n in names)
    index = (out / "index.md").read_text()
    assert index.index("## `test_error`") < index.index("## `final_loss`")
    assert "median over 3 seeds; then best over the axes not shown" in index


def test_plot_command_with_one_swept_axis_draws_lines(saved, tmp_path, capsys):
    out = tmp_path / "logistic"
    assert main(["plot", str(saved / "logistic.nc"), "-o", str(out), "--quiet",
                 "--metric", "test_error", "train_error", "--seeds", "mean"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"test_error-alpha.png", "train_error-alpha.png"} <= names
    assert "One swept axis (alpha): lines, no heatmaps." in capsys.readouterr().err
    assert "mean over 2 seeds" in (out / "index.md").read_text()


def test_plot_command_refuses_a_metric_the_result_lacks(saved, tmp_path, capsys):
    assert main(["plot", str(saved / "logistic.nc"), "-o", str(tmp_path / "x"),
                 "--metric", "distance"]) == 2
    err = capsys.readouterr().err
    assert "--metric distance: not a metric of" in err and "test_error" in err
    assert main(["plot", str(saved / "logistic.nc"), "-o", str(tmp_path / "x"),
                 "--metric", "test_eror"]) == 2
    assert 'Perhaps you meant "test_error"?' in capsys.readouterr().err


# --- the smaller findings ---------------------------------------------------------------------

def test_the_summary_line_gives_the_rate_in_the_unit_that_fits():
    assert rate_text(3773.0) == "3.77 k trajectory-steps/s"
    assert rate_text(61.1e6) == "61.1 M trajectory-steps/s"
    assert rate_text(999.9) == "1000 trajectory-steps/s"
    assert rate_text(math.nan) == "no trajectory-steps computed"


def test_a_rule_of_another_library_lists_the_known_rules():
    from sweep.config import ConfigError

    table = {"sweep": {"optimizers": ["lamb"], "steps": 3}, "objective": {"name": "booth"}}
    with pytest.raises(ConfigError) as raised:
        sweep.config.validate(table)
    assert "Perhaps" not in str(raised.value) and "Known optimizers: sgd," in str(raised.value)


def test_a_listed_axis_over_decades_is_log_scaled():
    from sweep.config import _infer_scale

    assert _infer_scale([1e-8, 1e-4]) == "log"
    assert _infer_scale([1e-8, 1e-6, 1e-4]) == "log"
    assert _infer_scale([0.9, 0.999]) == "linear"
    assert _infer_scale([0.0, 0.5, 0.9]) == "linear"
    assert _infer_scale([1.0, 50.5, 100.0]) == "linear"  # evenly spaced


def test_the_sensitivity_penalty_says_it_is_a_log10():
    values = np.array([[1e-3, 1e-1, np.nan, 1.0]])
    ds = xr.Dataset({"final_loss": (("optimizer", "alpha"), values),
                     "diverged": (("optimizer", "alpha"), np.isnan(values))},
                    coords={"optimizer": ["adam"], "alpha": [1e-3, 1e-2, 1e-1, 1.0]},
                    attrs={"minimum": 0.0})
    treatment = sensitivity(ds, "final_loss").attrs["treatment"]
    assert "diverged cells (25%) count as log10 = 1" in treatment
    assert "final loss f(θ) − f* = 10" in treatment


def test_tuning_curves_search_each_seed_and_refuse_a_missing_metric(mlp):
    from sweep.sensitivity import MetricError
    from sweep.tuning import expected_best

    ax = plot.tuning_curves(mlp, "test_error", [1, 2, 4]).axes[0]
    assert "mean over seed" in ax.get_title() and "test error" in ax.get_ylabel()
    per_seed = expected_best(mlp, "test_error", [1, 2, 4],
                             over=["start", "alpha", "beta1", "beta2", "eps"])
    adam = next(line for line in ax.get_lines() if line.get_gid() == "adam")
    np.testing.assert_allclose(adam.get_ydata(), per_seed.sel(optimizer="adam").mean("seed"))
    with pytest.raises(MetricError, match="distance is unknown for this objective"):
        plot.tuning_curves(mlp, "distance")
