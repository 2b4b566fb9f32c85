"""The measures of the model studies (examples/loshchilov2019.py, ma2019.py, chen2023.py) on
small tables made up here, where the answer is known, so that each can fail; and the
figure they share (:func:`sweep.plot.panels.heatmap_panels`).

No sweep runs here: each study's notebook runs its script at the small size, figure and
explorer page included (tests/test_notebooks.py), and CI runs each sweep once."""
import importlib.util
import sys

import numpy as np
import pytest
import xarray as xr

from conftest import ROOT

pytest.importorskip("pandas")
sys.path.insert(0, str(ROOT / "examples"))
import study_tools as tools  # noqa: E402

ALPHA = np.geomspace(1e-4, 1e-1, 13)  # 4 a decade, as the studies' grids


def _example(name):
    spec = importlib.util.spec_from_file_location(f"study_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def loshchilov():
    return _example("loshchilov2019")


@pytest.fixture(scope="module")
def ma():
    return _example("ma2019")


@pytest.fixture(scope="module")
def chen():
    return _example("chen2023")


def _log_axis(name, values):
    return (name, np.asarray(values, dtype=np.float64), {"scale": "log", "long_name": name})


def edge_map(lam, alpha, edge, good=0.05, bad=0.5, axis="l2"):
    """A test-error table (axis, alpha): ``good`` up to λ = edge(α), ``bad`` above."""
    lam_grid, alpha_grid = np.meshgrid(lam, alpha, indexing="ij")
    values = np.where(lam_grid <= edge(alpha_grid) * (1 + 1e-9), good, bad)
    return xr.DataArray(values, dims=(axis, "alpha"),
                        coords={axis: _log_axis(axis, lam), "alpha": _log_axis("alpha", alpha)})


# --- study_tools -------------------------------------------------------------------------

def test_largest_near_best_follows_a_diagonal_edge():
    lam = np.geomspace(1e-6, 1.0, 25)
    table = edge_map(lam, ALPHA, lambda a: 1e-5 / a)  # edge ∝ 1/α: slope −1
    edge = tools.largest_near_best(table, "l2", delta=0.005, trains=0.2)
    np.testing.assert_allclose(edge.values, 1e-5 / ALPHA, rtol=1e-9)
    assert tools.log_slope(edge["alpha"], edge) == pytest.approx(-1.0)


def test_largest_near_best_is_within_delta_of_each_lines_own_best():
    lam = np.geomspace(1e-3, 1.0, 4)
    values = np.array([[0.10, 0.30], [0.104, 0.30], [0.2, 0.40], [0.9, 0.9]])  # (λ, α)
    table = xr.DataArray(values, dims=("l2", "alpha"), coords={"l2": lam, "alpha": [1e-3, 1e-2]})
    edge = tools.largest_near_best(table, "l2", delta=0.005, trains=0.2)
    assert edge.values[0] == lam[1]  # 0.104 is within 0.005 of 0.10; 0.2 is not
    assert np.isnan(edge.values[1])  # that α's best, 0.30, does not train
    best = tools.argmin_along(table, "l2", trains=0.2)
    assert best.values[0] == lam[0] and np.isnan(best.values[1])


def test_log_slope_needs_two_distinct_points():
    assert np.isnan(tools.log_slope([1e-3, 1e-2], [1.0, np.nan]))
    assert tools.log_slope([1e-3, 1e-2, 1e-1], [5.0, 5.0, 5.0]) == pytest.approx(0.0)
    assert tools.log_slope([1e-3, 1e-2], [1e-3, 1e-1]) == pytest.approx(2.0)


def test_trained_range_and_best_cell():
    line = xr.DataArray([0.5, 0.1, 0.05, np.inf, 0.15], dims=["alpha"],
                        coords={"alpha": [1e-4, 1e-3, 1e-2, 1e-1, 1.0]})
    assert tools.trained_range(line, 0.2) == (1e-3, 1.0)  # the coordinates, not contiguity
    assert all(np.isnan(tools.trained_range(line, 0.01)))
    ties = xr.DataArray([[0.2, 0.1], [0.1, 0.3]], dims=("l2", "alpha"),
                        coords={"l2": [1.0, 2.0], "alpha": [3.0, 4.0]})
    assert tools.best_cell(ties) == {"value": 0.1, "l2": 1.0, "alpha": 4.0}  # first in order


def test_seed_mean_counts_a_diverged_seed_as_chance():
    error = np.array([[0.1, 0.2], [np.nan, np.nan], [0.3, 0.3]])  # (seed, alpha)
    diverged = np.array([[False, False], [True, True], [False, True]])
    dims = ("optimizer", "seed", "alpha", "beta2")
    ds = xr.Dataset({"test_error": (dims, error[None, :, :, None]),
                     "diverged": (dims, diverged[None, :, :, None])},
                    coords={"optimizer": ["adam"], "seed": [0, 1, 2], "alpha": [1e-3, 1e-2],
                            "beta2": [0.999]})
    mean = tools.seed_mean(ds, "adam")
    assert mean.dims == ("alpha",)  # beta2, of one value, dropped
    np.testing.assert_allclose(mean.values, [(0.1 + 0.9 + 0.3) / 3, (0.2 + 0.9 + 0.9) / 3])
    assert tools.seed_mean(ds, "adam", keep=("beta2",)).dims == ("alpha", "beta2")
    every = ds.assign(diverged=ds["diverged"] | True)
    assert np.isposinf(tools.seed_mean(every, "adam").values).all()  # drawn as diverged
    np.testing.assert_allclose(tools.seed_spread(ds, "adam").values, [0.8, 0.7])


# --- Loshchilov & Hutter: separability ----------------------------------------------------

def _adamw_table(value_of_decay):
    """AdamW's table (weight_decay, alpha) on the study's grid, a function of α·λ."""
    lam = np.geomspace(1e-5, 1e2, 29)
    lam_grid, alpha_grid = np.meshgrid(lam, ALPHA, indexing="ij")
    return xr.DataArray(value_of_decay(alpha_grid * lam_grid), dims=("weight_decay", "alpha"),
                        coords={"weight_decay": _log_axis("weight_decay", lam),
                                "alpha": _log_axis("alpha", ALPHA)})


def test_decoupled_reads_the_cells_at_each_decay_per_step(loshchilov):
    view = loshchilov.decoupled(_adamw_table(lambda decay: np.log10(decay)))
    assert view.dims == ("decay", "alpha") and view.sizes["decay"] == 17
    np.testing.assert_allclose(view["decay"].values, loshchilov.DECAY)
    expected = np.log10(loshchilov.DECAY)[:, None] * np.ones(ALPHA.size)
    np.testing.assert_allclose(view.values, expected, atol=1e-9)  # constant along α
    assert view["decay"].attrs["scale"] == "log"


def test_decoupled_keeps_only_decays_every_alpha_has(loshchilov):
    lam = np.array([1e-3, 1e-2, 1e-1])
    table = xr.DataArray(np.zeros((3, 2)), dims=("weight_decay", "alpha"),
                         coords={"weight_decay": lam, "alpha": [1e-3, 1e-2]})
    view = loshchilov.decoupled(table)  # α·λ = 1e-5 and 1e-4 for both α; 1e-6 and 1e-3 not
    np.testing.assert_allclose(view["decay"].values, [1e-5, 1e-4])


def test_separable_adamw_beside_diagonal_adam_reproduces(loshchilov):
    lam = np.geomspace(1e-6, 1.0, 25)
    adam = edge_map(lam, ALPHA, lambda a: 1e-6 / a)  # slope −1
    adamw = edge_map(loshchilov.DECAY, ALPHA, lambda a: 1e-3 + 0 * a, axis="decay")  # flat
    found = loshchilov.measure({"adam": adam, "adamw": adamw})
    assert found["adam"]["slope"] == pytest.approx(-1.0)
    assert found["adamw"]["slope"] == pytest.approx(0.0, abs=1e-12)
    assert loshchilov.reproduces(found)
    swapped = loshchilov.measure({"adam": adamw, "adamw": adam})
    assert not loshchilov.reproduces(swapped)
    flat = loshchilov.measure({"adam": adamw, "adamw": adamw})
    assert not loshchilov.reproduces(flat)  # neither depends on α: nothing to tell apart


def test_loshchilov_figure_has_both_maps_on_one_colour_scale(loshchilov):
    pytest.importorskip("matplotlib")
    lam = np.geomspace(1e-6, 1.0, 25)
    maps = {"adam": edge_map(lam, ALPHA, lambda a: 1e-6 / a),
            "adamw": edge_map(loshchilov.DECAY, ALPHA, lambda a: 1e-3 + 0 * a, axis="decay")}
    fig = loshchilov.figure(maps, loshchilov.measure(maps))
    meshes = [c for ax in fig.axes[:2] for c in ax.collections if c.get_gid() == "values"]
    assert len(meshes) == 2 and meshes[0].norm.vmin == meshes[1].norm.vmin
    assert "reproduces" in fig.get_suptitle()


# --- Ma & Yarats: warm-up against RAdam ---------------------------------------------------

def test_warmup_is_two_over_one_minus_beta2(ma):
    assert [ma.warmup_steps(b) for b in (0.9, 0.99, 0.999)] == [20, 200, 2000]
    tables = ma.grids()
    plain = tables.pop("no warm-up")
    assert plain["sweep"]["optimizers"] == ["adam", "radam"] and "schedule" not in plain
    assert [t["grid"]["beta2"] for t in tables.values()] == [[b] for b in plain["grid"]["beta2"]]
    for table in tables.values():
        assert table["sweep"]["optimizers"] == ["adam"]
        assert table["schedule"]["warmup"] == ma.warmup_steps(table["grid"]["beta2"][0])
        assert table["grid"]["alpha"] == plain["grid"]["alpha"]


def _summary(ma, warm_max, warm_best, radam_max=0.1, radam_best=0.05):
    import pandas as pd

    rows = [{"variant": "adam", "beta2": 0.99, "alpha_max": 0.01, "best test error": 0.06},
            {"variant": ma.WARMED, "beta2": 0.99, "alpha_max": warm_max,
             "best test error": warm_best},
            {"variant": "radam", "beta2": 0.99, "alpha_max": radam_max,
             "best test error": radam_best}]
    return pd.DataFrame(rows)


def test_warmup_matches_radam_within_a_grid_step_and_delta(ma):
    assert ma.matches(_summary(ma, 0.1 * 10 ** 0.25, 0.054))["matches"].all()
    assert not ma.matches(_summary(ma, 0.1 * 10 ** 0.5, 0.05))["matches"].any()  # two steps
    assert not ma.matches(_summary(ma, 0.1, 0.056))["matches"].any()  # 0.006 > δ
    assert not ma.matches(_summary(ma, np.nan, 0.05))["matches"].any()  # never trains
    assert "does not reproduce" in ma.verdict(_summary(ma, 0.1, 0.06))


# --- Chen et al.: Lion against AdamW ------------------------------------------------------

def _blob(alpha_centre, lam_centre, best=0.05):
    """A table (weight_decay, alpha) with a 3 × 3 good region centred on the given cell."""
    alpha = np.geomspace(1e-5, 1e-1, 17)
    lam = np.geomspace(1e-3, 1e2, 11)
    i = int(np.argmin(abs(np.log10(lam) - np.log10(lam_centre))))
    j = int(np.argmin(abs(np.log10(alpha) - np.log10(alpha_centre))))
    values = np.full((lam.size, alpha.size), 0.3)
    values[i - 1:i + 2, j - 1:j + 2] = best + 0.002
    values[i, j] = best
    return xr.DataArray(values, dims=("weight_decay", "alpha"),
                        coords={"weight_decay": _log_axis("weight_decay", lam),
                                "alpha": _log_axis("alpha", alpha)})


def test_good_region_centre_is_the_geometric_mean(chen):
    region = chen.good_region(_blob(1e-3, 1.0))
    assert region["cells"] == 9
    assert region["alpha"] == pytest.approx(1e-3) and region["weight_decay"] == pytest.approx(1.0)


def test_lion_advice_holds_only_with_both_factors_in_range(chen):
    adamw = _blob(1e-3, 0.1)
    holding = chen.summary({"lion": _blob(1e-3 / 10 ** 0.75, 1.0), "adamw": adamw})
    assert chen.ratios(holding)["alpha (centre)"] == pytest.approx(10 ** 0.75)
    assert chen.holds(holding)
    same = chen.summary({"lion": _blob(1e-3, 0.1), "adamw": adamw})
    assert not chen.holds(same)
    worse = chen.summary({"lion": _blob(1e-3 / 10 ** 0.75, 1.0, best=0.07), "adamw": adamw})
    assert not chen.holds(worse)  # the same place, but not a comparable best
    too_far = chen.summary({"lion": _blob(1e-3 / 10 ** 0.75, 10 ** 1.5), "adamw": adamw})
    assert not chen.holds(too_far)  # λ 10^2.5 = 316× larger


# --- the shared figure --------------------------------------------------------------------

def test_heatmap_panels_share_one_scale_over_different_axes():
    pytest.importorskip("matplotlib")
    from sweep.plot.panels import heatmap_panels

    first = edge_map(np.geomspace(1e-6, 1.0, 7), ALPHA, lambda a: 1e-4 + 0 * a)
    second = edge_map(np.geomspace(1e-3, 1e2, 6), ALPHA, lambda a: 1.0 + 0 * a,
                      bad=0.9, axis="weight_decay")
    second[0, 0] = np.inf  # a diverged cell
    fig = heatmap_panels({"one": first, "two": second}, label="test error", scale="log")
    meshes = [c for ax in fig.axes[:2] for c in ax.collections if c.get_gid() == "values"]
    assert [m.norm.vmin for m in meshes] == [0.05, 0.05]
    assert [m.norm.vmax for m in meshes] == [0.9, 0.9]
    assert fig.axes[0].get_yscale() == "log" and fig.axes[1].get_ylabel() == "weight_decay"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["diverged"]
    with pytest.raises(Exception, match="two dims"):
        heatmap_panels({"bad": first.isel(l2=0)}, label="x")
