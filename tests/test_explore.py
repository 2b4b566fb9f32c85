"""The explorer page: its data preparation, the subcommand's errors, and the page itself
opened in headless Chromium (selenium), where clicks, selectors and the URL hash are
checked against the model state read back from BokehJS."""
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sweep
from conftest import grid_table
from sweep.cli import main
from sweep.explore import data as prep
from sweep.explore import explore
from sweep.explore.page import BOKEH_MISSING, build
from sweep.plot import DIVERGED_COLOR

pytest.importorskip("bokeh")

CHROMEDRIVER = "/usr/bin/chromedriver"
LOG_ALPHA = {"min": 1e-4, "max": 1.0, "num": 5, "scale": "log"}


def small(record_every):
    """adam and momentum on Rosenbrock from two starts: momentum diverges at large α."""
    return grid_table(["adam", "momentum"], steps=60, objective="rosenbrock",
                      record_every=record_every, alpha=LOG_ALPHA, beta1=[0.0, 0.5, 0.9],
                      beta2=[0.9, 0.999], start=[[-1.2, 1.0], [-2.0, 2.0]])


@pytest.fixture(scope="module")
def recorded():
    return sweep.run(small(5), n_jobs=1)


@pytest.fixture(scope="module")
def plain():
    return sweep.run(small(0), n_jobs=1)


@pytest.fixture(scope="module")
def saved(recorded, plain, tmp_path_factory):
    folder = tmp_path_factory.mktemp("explore")
    recorded.to_zarr(folder / "recorded.zarr", zarr_format=2, consolidated=True)
    plain.to_netcdf(folder / "plain.nc", engine="h5netcdf")
    return folder


def flat_index(ds, optimizer, **where):
    """The page's flat cell index: C order over optimizer and final_loss's grid dims."""
    dims = prep.grid_dims(ds)
    shape = [ds.sizes["optimizer"]] + [ds.sizes[d] for d in dims]
    index = [list(ds["optimizer"].values).index(optimizer)] + [where.get(d, 0) for d in dims]
    return int(np.ravel_multi_index(index, shape))


# --- data preparation --------------------------------------------------------------

def test_choose_cells_takes_the_first_then_best_then_spread_over_the_ranks():
    rng = np.random.default_rng(0)
    ranked = rng.permutation(200).reshape(2, 100).astype(float)
    ranked[1, :10] = np.inf  # diverged: rank last
    first = [5, 150]
    chosen = prep.choose_cells(ranked, 40, first)
    assert len(chosen) == 40 and np.all(np.diff(chosen) > 0)  # sorted, distinct
    assert set(first) <= set(chosen)
    for o in range(2):
        mine = chosen[(chosen >= 100 * o) & (chosen < 100 * (o + 1))] - 100 * o
        order = list(np.argsort(ranked[o], kind="stable"))
        ranks = sorted(order.index(c) for c in mine)
        assert ranks[:5] == [0, 1, 2, 3, 4]  # the best cells
        assert ranks[-1] == 99  # the spread reaches the worst (diverged for optimizer 1)
        assert max(np.diff(ranks)) <= 15  # and leaves no wide gap in between
    assert len(prep.choose_cells(ranked, 10_000)) == 200  # never more than there are
    assert len(prep.choose_cells(ranked, 0, first)) == 0
    # More cells on the first view than the budget: chosen among them by the same rule.
    view = np.arange(0, 200, 2)
    few = prep.choose_cells(ranked, 20, view)
    assert len(few) == 20 and set(few) <= set(view)
    assert sum(few < 100) == 10  # shared by the optimizers
    best_of_view = min(view[view < 100], key=lambda c: ranked[0, c])
    assert best_of_view in few


def test_paths_are_thinned_to_at_most_a_hundred_points():
    for count in (1, 2, 50, 100, 101, 1000, 2001):
        keep = prep.thin_indices(count)
        assert keep[0] == 0 and keep[-1] == count - 1 and len(keep) <= 100
    for steps in (1, 60, 98, 99, 100, 2000, 10**6):
        every = prep.record_every_for(steps)
        points = len(range(0, steps + 1, every)) + (steps % every != 0)
        assert points <= 100 and (every == 1 or points >= 50)


def test_computed_paths_are_the_engines_bits(recorded, plain):
    cells = np.array([0, 7, flat_index(plain, "momentum", start=1, alpha=4, beta1=2, beta2=1),
                      flat_index(plain, "adam", start=1, alpha=2, beta1=1, beta2=1)])
    x, y, loss, steps, problem, curves = prep.computed_paths(plain, cells, n_jobs=1)
    assert curves == {}  # a landscape has no curves besides the loss
    assert problem.name == "rosenbrock" and list(steps) == list(range(61))
    rx, ry, rloss, rsteps = prep.recorded_paths(recorded, cells)
    at = np.searchsorted(steps, rsteps)
    # The same kernels on the same cells: the recorded points, bit for bit.
    np.testing.assert_array_equal(x[:, at], rx)
    np.testing.assert_array_equal(y[:, at], ry)
    np.testing.assert_array_equal(loss[:, at], rloss)
    diverged = plain["diverged"].transpose("optimizer", *prep.grid_dims(plain)).values.ravel()
    assert diverged[cells[2]] and np.isnan(x[2, -1])  # a diverged cell's path stops


def test_prepare_uses_recorded_paths_and_computes_them_when_absent(recorded, plain):
    with_paths = prep.prepare(recorded, cells_with_paths=30)
    assert with_paths.path_source == "recorded" and with_paths.path_x.shape == (30, 13)
    without = prep.prepare(plain, cells_with_paths=30)
    assert without.path_source == "computed" and without.path_x.shape == (30, 61)
    assert without.path_x.dtype == np.float32 and without.cell_values["final_loss"].dtype == np.float32
    assert without.contours is not None and without.contours[:4] == b"\x89PNG"
    # The page opens on α × β₁ at the first start and β₂: those 2 × 15 cells come first.
    view = prep.default_view_cells(plain, "alpha", "beta1")
    assert set(view) == set(without.path_cells) and len(view) == 30


def test_the_page_of_a_hundred_thousand_cells_with_ten_thousand_paths_is_small(tmp_path):
    table = grid_table(["adam", "rmsprop"], steps=150, objective="rosenbrock",
                       alpha={"min": 1e-4, "max": 1e-1, "num": 25, "scale": "log"},
                       beta1={"min": 0.0, "max": 0.95, "num": 20},
                       beta2={"min": 0.9, "max": 0.999, "num": 10},
                       eps={"min": 1e-8, "max": 1e-4, "num": 5, "scale": "log"},
                       start=[[-1.2, 1.0], [-2.0, 2.0]])
    ds = sweep.run(table)
    assert ds["final_loss"].size == 100_000
    data = prep.prepare(ds, cells_with_paths=10_000)
    assert data.path_x.shape == (10_000, 76) and data.path_x.dtype == np.float32
    assert len(build(data).encode("utf-8")) <= 25e6


# --- the subcommand ------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    (["--x", "gamma"], "--x gamma: unknown axis"),
    (["--x", "alpha", "--y", "alpha"], "--x and --y are both 'alpha'"),
    (["--metric", "accuracy"], "--metric accuracy: not a metric"),
    (["--cells-with-paths", "-1"], "--cells-with-paths -1: must be >= 0"),
])
def test_bad_requests_exit_2_with_one_line_and_no_page(saved, tmp_path, capsys, extra, message):
    page = tmp_path / "page.html"
    assert main(["explore", str(saved / "plain.nc"), "-o", str(page), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_result_exits_2(tmp_path, capsys):
    bogus = tmp_path / "notes.nc"
    bogus.write_text("not a dataset")
    other = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(other, engine="h5netcdf")
    for path, message in ((bogus, "not a sweep result (it cannot be read as a netCDF file)"),
                          (other, "not a result written by sweep"),
                          (tmp_path / "missing.zarr", "no such file")):
        assert main(["explore", str(path), "-o", str(tmp_path / "p.html")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p.html").exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_without_bokeh_one_sentence_names_the_extra(saved, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "bokeh", None)  # import bokeh raises ImportError
    assert main(["explore", str(saved / "plain.nc"), "-o", str(tmp_path / "p.html")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {BOKEH_MISSING}"
    assert list(tmp_path.iterdir()) == []


def test_the_command_writes_a_page(saved, tmp_path, capsys):
    page = tmp_path / "sub" / "page.html"
    assert main(["explore", str(saved / "recorded.zarr"), "-o", str(page)]) == 0
    assert "explore: 120 cells" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    # Standalone: BokehJS inlined, nothing fetched from a CDN.
    assert "cdn.bokeh.org" not in text and "<script src=" not in text
    assert "Bokeh.embed" in text or "embed_items" in text


# --- in the browser -------------------------------------------------------------------

@pytest.fixture(scope="module")
def driver():
    if not os.path.exists(CHROMEDRIVER) or shutil.which("chromium") is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = shutil.which("chromium")  # Debian's, never a downloaded one
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def page(saved, tmp_path_factory):
    path = tmp_path_factory.mktemp("pages") / "recorded.html"
    return explore(xr.open_zarr(saved / "recorded.zarr").load(), path, cells_with_paths=60)


def wait_for(driver, script, timeout=10.0, *args):
    """Poll a JavaScript expression (a function body that returns) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {script}")
        time.sleep(0.05)


def open_page(driver, path, hash_=""):
    driver.get("about:blank")  # a new document, even when only the hash differs
    driver.get_log("browser")
    driver.get(Path(path).as_uri() + hash_)
    wait_for(driver, "return !!(window.Bokeh && Bokeh.documents.length && "
                     "Bokeh.documents[0].is_idle && window.__sweepExplore)")
    wait_for(driver, "return window.location.hash.startsWith('#metric=')")


def model(driver, name, expression):
    """``expression`` of the model named ``name`` in the page's Bokeh document (JS, ``m``)."""
    return driver.execute_script(
        f"const m = Bokeh.documents[0].get_model_by_name(arguments[0]); return {expression};", name)


def severe(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def click_cell(driver, optimizer, k):
    """A real mouse click (Chromium's input events) at the middle of heatmap square ``k``."""
    x, y = driver.execute_script("""
        const doc = Bokeh.documents[0];
        const view = Bokeh.index.find_one(doc.get_model_by_name('heatmap:' + arguments[0]));
        const src = doc.get_model_by_name('heat:' + arguments[0]), k = arguments[1];
        const box = view.canvas_view.el.getBoundingClientRect();
        const xs = view.frame.x_scale, ys = view.frame.y_scale;
        return [box.left + (xs.compute(src.data.left[k]) + xs.compute(src.data.right[k])) / 2,
                box.top + (ys.compute(src.data.bottom[k]) + ys.compute(src.data.top[k])) / 2];
    """, optimizer, k)
    for kind in ("mousePressed", "mouseReleased"):
        driver.execute_cdp_cmd("Input.dispatchMouseEvent",
                               {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def choose(driver, name, value):
    """Pick ``value`` in the select widget named ``name``, through its <select> element."""
    driver.execute_script("""
        const select = Bokeh.documents[0].get_model_by_name(arguments[0]);
        const view = Bokeh.index.find_one(select);
        view.input_el.selectedIndex = select.options.findIndex(
            (o) => (Array.isArray(o) ? o[0] : o) === arguments[1]);
        view.input_el.dispatchEvent(new Event('change'));
    """, name, value)


def press(driver, name):
    driver.execute_script(
        "Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name(arguments[0])).button_el.click()",
        name)


def square(ds, ix, iy):
    """The heatmap row of (α index, β₁ index): rows go along α, then up β₁."""
    return iy * ds.sizes["alpha"] + ix


def test_the_page_renders_the_data_without_errors(driver, page, recorded):
    open_page(driver, page)
    assert severe(driver) == []
    colours = model(driver, "heat:momentum", "Array.from(m.data.color)")
    expected = recorded["diverged"].sel(optimizer="momentum").isel(start=0, beta2=0, eps=0)
    expected = expected.transpose("beta1", "alpha").values.ravel()
    assert expected.any() and not expected.all()
    assert [c == DIVERGED_COLOR for c in colours] == list(expected)
    texts = model(driver, "heat:adam", "Array.from(m.data.text)")
    assert_texts(texts, recorded, "final_loss", "adam", start=0, beta2=0)


def assert_texts(texts, ds, metric, optimizer, **where):
    """The heatmap's hover texts are the cells' values (3 digits), or what they are."""
    cells = ds.sel(optimizer=optimizer).isel(eps=0, **where)
    values = cells[metric].transpose("beta1", "alpha").values.ravel()
    diverged = cells["diverged"].transpose("beta1", "alpha").values.ravel()
    assert len(texts) == len(values)
    for text, value, lost in zip(texts, values, diverged):
        if lost:
            assert text == "diverged"
        elif metric == "steps_to_tol":
            assert text == (f"{value:g}" if np.isfinite(value) else
                            f"did not reach tol in {ds.attrs['steps']} steps")
        else:  # Rosenbrock: f* = 0
            assert float(text) == pytest.approx(max(value, 1e-16), rel=0.01)


def test_a_click_shows_the_cells_path_numbers_and_hash(driver, page, recorded):
    open_page(driver, page)
    click_cell(driver, "adam", square(recorded, 2, 1))
    wait_for(driver, "return Bokeh.documents[0].get_model_by_name('path').data.xs.length == 1")
    xs = model(driver, "path", "Array.from(m.data.xs[0])")
    ys = model(driver, "path", "Array.from(m.data.ys[0])")
    cell = recorded["trajectory"].sel(optimizer="adam").isel(start=0, alpha=2, beta1=1, beta2=0,
                                                              eps=0)
    np.testing.assert_allclose(xs, cell.sel(dim=0).values, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ys, cell.sel(dim=1).values, rtol=1e-6, atol=1e-7)
    losses = model(driver, "loss_lines", "Array.from(m.data.ys[0])")
    np.testing.assert_allclose(losses, recorded["loss"].sel(optimizer="adam").isel(
        start=0, alpha=2, beta1=1, beta2=0, eps=0).values, rtol=1e-5)
    info = model(driver, "info", "m.text")
    assert "adam" in info and "<td>0.01</td>" in info and "<td>0.5</td>" in info
    index = flat_index(recorded, "adam", alpha=2, beta1=1)
    assert f"cell={index}" in driver.execute_script("return window.location.hash")
    outline = model(driver, "outline:adam", "Array.from(m.data.left)")
    assert len(outline) == 1
    assert severe(driver) == []


def test_selectors_change_the_heatmaps(driver, page, recorded):
    open_page(driver, page)
    before = model(driver, "heat:adam", "Array.from(m.data.text)")
    choose(driver, "axis:start", "1")
    wait_for(driver, "return window.location.hash.includes('start=(-2%2C%202)')")
    after = model(driver, "heat:adam", "Array.from(m.data.text)")
    assert after != before
    assert_texts(after, recorded, "final_loss", "adam", start=1, beta2=0)
    # Off the first view only some squares have a path (60 of 120 cells): dots mark them.
    stored = set(prep.prepare(recorded, cells_with_paths=60).path_cells)
    with_path = [square(recorded, a, b) for a in range(5) for b in range(3)
                 if flat_index(recorded, "adam", start=1, alpha=a, beta1=b) in stored]
    assert 0 < len(with_path) < 15
    dots = model(driver, "dots:adam", "Array.from(m.data.x)")
    centres = model(driver, "heat:adam", "Array.from(m.data.cx)")
    assert dots == [centres[k] for k in sorted(with_path)]
    choose(driver, "metric", "steps_to_tol")
    wait_for(driver, "return window.location.hash.includes('metric=steps_to_tol')")
    assert model(driver, "colorbar", "m.title").startswith("steps to f − f*")
    texts = model(driver, "heat:momentum", "Array.from(m.data.text)")
    assert_texts(texts, recorded, "steps_to_tol", "momentum", start=1, beta2=0)
    from sweep.sensitivity import sensitivity

    main_effects = model(driver, "sensitivity", "Array.from(m.data.main)")
    expected = sensitivity(recorded, "steps_to_tol")["main"].values.ravel()
    assert main_effects == pytest.approx(np.nan_to_num(expected), abs=1e-4)
    assert severe(driver) == []


def test_the_hash_reopens_the_same_view(driver, page, recorded):
    open_page(driver, page)
    choose(driver, "axis:beta2", "1")
    click_cell(driver, "momentum", square(recorded, 0, 2))
    wait_for(driver, "return window.location.hash.includes('cell=')")
    press(driver, "pin")
    click_cell(driver, "adam", square(recorded, 3, 0))
    wait_for(driver, "return window.location.hash.includes('pins=')")
    link = driver.execute_script("return window.location.hash")
    pinned = flat_index(recorded, "momentum", alpha=0, beta1=2, beta2=1)
    clicked = flat_index(recorded, "adam", alpha=3, beta1=0, beta2=1)
    assert f"cell={clicked}" in link and f"pins={pinned}" in link and "beta2=0.999" in link
    info = model(driver, "info", "m.text")

    open_page(driver, page, link)
    assert driver.execute_script("return window.location.hash") == link
    assert model(driver, "axis:beta2", "m.value") == "1"
    wait_for(driver, "return Bokeh.documents[0].get_model_by_name('path').data.xs.length == 2")
    assert model(driver, "info", "m.text") == info
    assert model(driver, "path", "Array.from(m.data.color)") == ["#111111", "#1f77b4"]
    assert len(model(driver, "outline:momentum", "Array.from(m.data.left)")) == 1
    press(driver, "clear")
    wait_for(driver, "return !window.location.hash.includes('pins=')")
    assert model(driver, "path", "m.data.xs.length") == 1
    assert severe(driver) == []


def test_a_cell_without_a_stored_path_says_so(driver, saved, tmp_path):
    page = explore(xr.open_dataset(saved / "plain.nc", engine="h5netcdf").load(),
                   tmp_path / "few.html", cells_with_paths=0)
    open_page(driver, page)
    click_cell(driver, "adam", 0)
    wait_for(driver, "return window.location.hash.includes('cell=')")
    assert model(driver, "path", "m.data.xs.length") == 0
    assert "No path stored" in model(driver, "trajectory", "m.title.text")
    assert "adam" in model(driver, "info", "m.text")
    assert severe(driver) == []
