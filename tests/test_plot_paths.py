"""Trajectories and animations on every kind of objective: built-in, formula, Python file;
frame spacing, the fitted view, the structured objective attrs."""
import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import sweep  # noqa: E402
from conftest import grid_table  # noqa: E402
from sweep.kernels.objectives import Problem  # noqa: E402
from sweep import plot, plot_cli  # noqa: E402
from sweep.config import load  # noqa: E402
from sweep.names import spec_from_attrs  # noqa: E402

BOWL = """
def bowl(x, grad, t, key):
    value = 0.0
    for i in range(x.shape[0]):
        grad[i] = 2.0 * (x[i] - 1.0)
        value += (x[i] - 1.0) ** 2
    return value
"""

GRID = """
[sweep]
optimizers = ["adam", "momentum"]
steps = 60
record_every = 2

[objective]
{objective}
start = [[-2.0, 3.0]]
minimizers = [[1.0, 1.0]]
minimum = 0.0
box = [[-3, 3], [-3, 4]]

[grid]
alpha = [0.05, 0.1]
beta1 = [0.0, 0.9]
"""


@pytest.fixture(scope="module")
def bowl_result(tmp_path_factory):
    """A Python-file objective: its grid, its file and its result (.zarr and .nc)."""
    folder = tmp_path_factory.mktemp("bowl")
    (folder / "bowl.py").write_text(BOWL)
    grid = folder / "grid.toml"
    grid.write_text(GRID.format(objective='file = "bowl.py"\nfunction = "bowl"'))
    ds = sweep.run(grid, output=folder / "bowl.zarr", n_jobs=1)
    sweep.run(grid, output=folder / "bowl.nc", n_jobs=1)
    return folder, grid, ds


@pytest.fixture(scope="module")
def formula_result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formula")
    grid = folder / "grid.toml"
    grid.write_text(GRID.format(objective='expr = "(x - 1)**2 + (y - 1)**2"'))
    return sweep.run(grid, n_jobs=1)


def gif_frames(path):
    with Image.open(path) as gif:
        return gif.n_frames


# --- the objective's description survives the store ----------------------------

@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_the_objective_spec_round_trips_through_the_store(bowl_result, suffix):
    folder, grid, _ = bowl_result
    stored = plot_cli.open_result(str(folder / f"bowl{suffix}"))
    spec = spec_from_attrs(stored.attrs)
    assert spec == load(grid).spec  # kind, file, function, digest, dim, box, minimizers, minimum
    assert spec.box == ((-3.0, 3.0), (-3.0, 4.0)) and spec.minimizers == ((1.0, 1.0),)


def test_builtin_parameters_are_stored_as_json_and_old_prose_still_reads():
    table = grid_table(["adam"], steps=3, objective="quadratic")
    table["objective"].update(dim=2, kappa=100)
    ds = sweep.run(table, n_jobs=1)
    assert ds.attrs["objective_params"] == '{"dim": 2, "kappa": 100.0}'
    assert spec_from_attrs(ds.attrs).params == (("dim", 2), ("kappa", 100.0))
    assert plot._parse_params("dim = 2, kappa = 100.0") == {"dim": 2, "kappa": 100.0}


# --- Python-file and formula objectives are drawn with their contours -----------

def test_a_python_file_objective_is_rebuilt_from_its_file(bowl_result):
    _, _, ds = bowl_result
    fig = plot.trajectories(ds, {"alpha": 0.1})
    ax = fig.axes[0]
    assert ax.collections  # contours of the user's function
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "minimum" in labels  # the minimizers given in the grid file


def test_a_python_file_that_is_gone_or_changed_is_refused_and_nothing_written(
        bowl_result, tmp_path, capsys):
    folder, grid, _ = bowl_result
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "bowl.py").write_text(BOWL)
    (copy / "grid.toml").write_text(grid.read_text())
    result = copy / "r.zarr"
    sweep.run(copy / "grid.toml", output=result, n_jobs=1)
    (copy / "bowl.py").write_text(BOWL + "\n# edited\n")
    gif = tmp_path / "out" / "paths.gif"
    assert plot_cli.animate_main([str(result), "-o", str(gif), "--frames", "3"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "changed since the sweep ran" in err
    (copy / "bowl.py").unlink()
    assert plot_cli.animate_main([str(result), "-o", str(gif), "--frames", "3"]) == 2
    assert "bowl.py is gone" in capsys.readouterr().err
    leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert leftovers == []  # no GIF, no partial file


def test_a_formula_is_rebuilt_with_its_box_and_minimizers(formula_result):
    fig = plot.trajectories(formula_result, {"alpha": 0.1})
    ax = fig.axes[0]
    assert ax.collections
    stars = [line for line in ax.get_lines() if line.get_label() == "minimum"]
    assert len(stars) == 1 and list(stars[0].get_xydata()[0]) == [1.0, 1.0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert -3 <= x0 and x1 <= 3 and -3 <= y0 and y1 <= 4  # inside the stored box


def test_a_one_dimensional_objective_is_refused(tmp_path, capsys):
    table = grid_table(["adam"], steps=20, record_every=5, objective="quadratic")
    table["objective"].update(dim=1)
    ds = sweep.run(table, n_jobs=1)
    path = tmp_path / "one.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    assert plot_cli.animate_main([str(path), "-o", str(tmp_path / "a.gif")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "1 coordinate" in err
    assert not (tmp_path / "a.gif").exists()


# --- saddles: the bound means escape --------------------------------------------

def test_leaving_the_bound_of_a_saddle_is_called_escaped():
    saddle = sweep.run(grid_table(["sgd"], steps=200, record_every=10, objective="saddle",
                                  alpha=[0.1]), n_jobs=1)
    assert bool(saddle["diverged"].all())
    labels = [t.get_text() for t in plot.trajectories(saddle).legends[0].get_texts()]
    assert any("escaped: |θᵢ| > 1e4 by step" in label for label in labels)
    assert not any("diverged" in label for label in labels)
    rosenbrock = sweep.run(grid_table(["momentum"], steps=100, record_every=10,
                                      objective="rosenbrock", alpha=[0.5]), n_jobs=1)
    assert bool(rosenbrock["diverged"].all())
    labels = [t.get_text() for t in plot.trajectories(rosenbrock).legends[0].get_texts()]
    assert any("diverged: |θᵢ| > 1e6 by step" in label for label in labels)


# --- frames and view ---------------------------------------------------------------

def test_geometric_frames_show_the_early_steps():
    steps = np.arange(0, 1001)
    geometric = steps[plot.frame_indices(steps, 30, "geometric")]
    linear = steps[plot.frame_indices(steps, 30, "linear")]
    for chosen in (geometric, linear):
        assert len(chosen) == 30 and chosen[0] == 0 and chosen[-1] == 1000
        assert np.all(np.diff(chosen) > 0)
    assert np.median(geometric) < 60 < 450 < np.median(linear)
    ratios = geometric[16:] / geometric[15:-1]  # past the crowded start: a constant ratio
    assert np.allclose(ratios, ratios.mean(), rtol=0.1) and ratios.mean() > 1.2
    np.testing.assert_allclose(np.diff(linear), 1000 / 29, atol=1)
    # recorded every 10 steps, the last one off the beat
    recorded = np.concatenate([np.arange(0, 95, 10), [97]])
    chosen = plot.frame_indices(recorded, len(recorded), "geometric")
    assert chosen.tolist() == list(range(len(recorded)))
    with pytest.raises(plot.PlotError, match="spacing"):
        plot.frame_indices(steps, 5, "cubic")


def test_the_gif_has_the_frames_asked_for(bowl_result, tmp_path):
    _, _, ds = bowl_result
    for spacing in ("geometric", "linear"):
        path = plot.animate(ds, {"alpha": 0.1}, path=tmp_path / f"{spacing}.gif", frames=7,
                            spacing=spacing, dpi=30)
        assert gif_frames(path) == 7
        with Image.open(path) as gif:
            durations = []
            for k in range(7):
                gif.seek(k)
                durations.append(gif.info["duration"])
        assert durations == [50] * 6 + [1500]  # 20 fps, the end held
    assert sorted(p.name for p in tmp_path.iterdir()) == ["geometric.gif", "linear.gif"]


def test_the_view_is_fitted_to_the_paths_and_the_minimizer():
    box = ((-5.0, 5.0), (-5.0, 5.0))
    problem = Problem(name="p", dim=2, value_and_grad=None, minimizers=((3.0, 3.5),),
                      minimum=0.0, starts=(), box=box, bound=1e6)
    xy = np.array([[1.0, 1.0], [2.0, 2.5], [2.5, 3.0], [np.nan, np.nan]])
    path = plot._Path("adam", "adam", xy, np.arange(4), {})
    (x0, x1), (y0, y1) = plot._fitted_limits(problem, [path])
    for x, y in [(1.0, 1.0), (2.0, 2.5), (2.5, 3.0), (3.0, 3.5)]:
        assert x0 < x < x1 and y0 < y < y1
    assert (x1 - x0) * (y1 - y0) < 0.25 * 10 * 10
    assert -5 <= x0 and x1 <= 5 and -5 <= y0 and y1 <= 5
    # A path escaping far out of the box does not blow the view up.
    far = plot._Path("sgd", "sgd", np.array([[1.0, 1.0], [1.0, 4000.0]]), np.arange(2), {})
    (x0, x1), (y0, y1) = plot._fitted_limits(problem, [path, far])
    assert y1 <= 5
    # --box overrides the fit.
    assert plot._fitted_limits(problem, [path], ((0, 1), (2, 3))) == ((0.0, 1.0), (2.0, 3.0))


def test_animate_command_box_spacing_and_quiet(bowl_result, tmp_path, capsys):
    folder, _, _ = bowl_result
    gif = tmp_path / "a.gif"
    assert plot_cli.animate_main([str(folder / "bowl.zarr"), "-o", str(gif), "--frames", "4",
                                  "--frames-spacing", "linear", "--box", "-3", "3", "-1", "4",
                                  "--select", "alpha=0.1", "--select", "beta1=0", "--dpi", "30",
                                  "--quiet"]) == 0
    assert gif_frames(gif) == 4
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar off a terminal, no warning
    assert plot_cli.animate_main([str(folder / "bowl.zarr"), "-o", str(gif),
                                  "--box", "3", "-3", "-1", "4"]) == 2
    assert "XMIN < XMAX" in capsys.readouterr().err


def test_a_select_off_the_grid_warns_once(bowl_result, tmp_path, capsys):
    folder, _, _ = bowl_result
    gif = tmp_path / "a.gif"
    assert plot_cli.animate_main([str(folder / "bowl.zarr"), "-o", str(gif), "--frames", "2",
                                  "--select", "alpha=0.07", "--dpi", "30"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: --select alpha=0.07: not on the grid; using the nearest value, "
                   "alpha=0.05"]
    assert os.path.getsize(gif) > 0
