"""The explorer on model results: an MLP with recorded curves and three seeds (α × β₁), a
logistic model with one swept axis and no recorded curves (computed for the page), in
headless Chromium: the seed summary selector, a click's training and test curves, the
heatmaps sized to the window."""
import numpy as np
import pytest

import sweep
from sweep.explore import data as prep
from sweep.explore import explore
from test_explore import choose, click_cell, driver, model, open_page, severe, wait_for  # noqa: F401
from test_plot_models import logistic_grid, mlp_grid

pytest.importorskip("bokeh")


@pytest.fixture(scope="module")
def mlp():
    return sweep.run(mlp_grid(record_every=5), n_jobs=1)


@pytest.fixture(scope="module")
def logistic():
    return sweep.run(logistic_grid(), n_jobs=1)


@pytest.fixture(scope="module")
def pages(mlp, logistic, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model_pages")
    return {"mlp": explore(mlp, folder / "mlp.html"),
            "logistic": explore(logistic, folder / "logistic.html", n_jobs=1)}


def squeeze(da):
    return da.squeeze([d for d in ("start", "beta2", "eps") if d in da.dims])


# --- data ----------------------------------------------------------------------------------

def test_prepare_takes_a_models_metrics_and_recorded_curves(mlp):
    data = prep.prepare(mlp)
    assert data.kind == "model" and data.metric == "test_error"
    assert data.metrics[:3] == ["test_error", "test_loss", "train_error"]
    assert "distance" not in data.metrics and "steps_to_tol" not in data.metrics
    assert (data.x, data.y) == ("alpha", "beta1") and data.replicates == ["seed"]
    assert data.path_source == "recorded" and data.contours is None
    assert set(data.curves) == {"test_loss", "test_error"}
    assert data.path_x.shape[1] == 0  # a model records no θ
    dims = prep.grid_dims(mlp)
    flat = mlp["test_error_curve"].transpose("optimizer", *dims, "step").values.reshape(
        -1, mlp.sizes["step"])
    np.testing.assert_allclose(data.curves["test_error"], flat[data.path_cells], rtol=1e-6)


def test_computed_curves_are_the_recorded_ones(logistic):
    """Without record_every the page runs the chosen cells again: the curves a recorded
    sweep gives, bit for bit."""
    cells = np.array([0, 3, 9, 14])
    _, _, loss, steps, _, curves = prep.computed_paths(logistic, cells, n_jobs=1)
    recorded = sweep.run({**logistic_grid(), "sweep": {**logistic_grid()["sweep"],
                                                       "record_every": 1}}, n_jobs=1)
    dims = prep.grid_dims(recorded)
    for name, variable in (("loss", "loss"), ("test_error", "test_error_curve"),
                           ("test_loss", "test_loss_curve")):
        flat = recorded[variable].transpose("optimizer", *dims, "step").values.reshape(
            -1, recorded.sizes["step"])[cells]
        got = loss if name == "loss" else curves[name]
        np.testing.assert_array_equal(got, flat)
    assert list(steps) == list(recorded["step"].values)


def test_one_swept_axis_opens_as_strips(logistic):
    data = prep.prepare(logistic, n_jobs=1)
    assert data.x == "alpha" and data.sizes[data.y] == 1
    assert data.path_source == "computed" and data.curves["test_error"].shape[0] > 0
    assert data.ignored == {"adam": "", "sgd": ""}  # β₁ is not swept: nothing to note


# --- in the browser ---------------------------------------------------------------------

def texts(driver, optimizer):
    return model(driver, f"heat:{optimizer}", "Array.from(m.data.text)")


def assert_values(texts_, expected):
    """Hover texts "0.184 (median of 3 seeds)" against the expected (β₁, α) grid."""
    numbers = [float(t.split(" ")[0]) for t in texts_]
    np.testing.assert_allclose(numbers, np.ravel(expected), rtol=5e-3)  # 3 digits shown


def test_the_seed_selector_summarises_or_shows_one_seed(driver, pages, mlp):
    open_page(driver, pages["mlp"])
    assert model(driver, "axis:seed", "m.value") == "median"
    errors = squeeze(mlp["test_error"].sel(optimizer="adam")).transpose("seed", "beta1", "alpha")
    shown = texts(driver, "adam")
    assert all(t.endswith("(median of 3 seeds)") for t in shown)
    assert_values(shown, errors.median("seed"))
    for value, expected in (("mean", errors.mean("seed")), ("best", errors.min("seed")),
                            ("worst", errors.max("seed")), ("1", errors.isel(seed=1))):
        choose(driver, "axis:seed", value)
        wait_for(driver, f"return window.location.hash.includes('seed={value}')")
        assert_values(texts(driver, "adam"), expected)
    assert severe(driver) == []


def test_a_click_shows_every_seeds_training_and_test_curves(driver, pages, mlp):
    open_page(driver, pages["mlp"])
    click_cell(driver, "sgd", 1 * mlp.sizes["alpha"] + 2)  # β₁ = 0.9, α = 1
    wait_for(driver, "return Bokeh.documents[0].get_model_by_name('loss_lines').data.xs.length == 4")
    cell = squeeze(mlp.sel(optimizer="sgd").isel(alpha=2, beta1=1))
    losses = model(driver, "loss_lines", "m.data.ys.map((y) => Array.from(y))")
    for seed in range(3):
        np.testing.assert_allclose(losses[seed], cell["loss"].isel(seed=seed), rtol=1e-5)
    np.testing.assert_allclose(losses[3], cell["loss"].median("seed"), rtol=1e-5)  # thick
    assert model(driver, "loss_lines", "Array.from(m.data.alpha)") == [0.35, 0.35, 0.35, 1]
    tests = model(driver, "test_loss_lines", "m.data.ys.map((y) => Array.from(y))")
    np.testing.assert_allclose(tests[1], cell["test_loss_curve"].isel(seed=1), rtol=1e-5)
    errors = model(driver, "error_lines", "m.data.ys.map((y) => Array.from(y))")
    np.testing.assert_allclose(errors[2], cell["test_error_curve"].isel(seed=2), rtol=1e-5)
    info = model(driver, "info", "m.text")
    assert info.count("<tr data-cell=") == 3 and "median of 3 seeds" in info
    assert "test error" in info and "train loss" in info
    assert "Training (solid) and test (dashed) loss" in model(driver, "loss", "m.title.text")
    assert severe(driver) == []


def test_the_heatmaps_fill_the_window(driver, pages):
    open_page(driver, pages["mlp"])
    wide = model(driver, "heatmap:adam", "m.width")
    assert wide >= 450  # two maps share a 1400-pixel window, not 300 pixels each
    box = driver.execute_script("""
        const view = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('heatmap:sgd'));
        return view.el.getBoundingClientRect().right;""")
    assert box <= 1400
    driver.set_window_size(1000, 1400)
    try:
        wait_for(driver, "return Bokeh.documents[0].get_model_by_name('heatmap:adam').width < "
                 + str(wide))
    finally:
        driver.set_window_size(1400, 1400)


def test_a_one_axis_model_page_with_computed_curves(driver, pages, logistic):
    open_page(driver, pages["logistic"])
    errors = squeeze(logistic["test_error"].sel(optimizer="adam")).squeeze("beta1")
    assert_values(texts(driver, "adam"), errors.median("seed"))
    click_cell(driver, "adam", 2)
    wait_for(driver, "return Bokeh.documents[0].get_model_by_name('error_lines').data.xs.length == 3")
    assert model(driver, "heatmap:adam", "m.height") < 250  # a strip, one cell high
    assert severe(driver) == []
