"""Plots, sensitivity indices and the plot/animate subcommands."""
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from PIL import Image  # noqa: E402

import sweep  # noqa: E402
from conftest import ROOT, grid_table  # noqa: E402
from sweep import plot, plot_cli  # noqa: E402
from sweep.errors import ConfigError  # noqa: E402
from sweep.sensitivity import sensitivity  # noqa: E402

LOG_ALPHA = {"min": 1e-4, "max": 1.0, "num": 5, "scale": "log"}


@pytest.fixture(scope="module")
def result():
    """adam and momentum on Rosenbrock: momentum diverges at large α; β₂ unevenly spaced."""
    return sweep.run(grid_table(["adam", "momentum"], steps=100, objective="rosenbrock",
                                record_every=10, alpha=LOG_ALPHA, beta1=[0.0, 0.5, 0.9],
                                beta2=[0.9, 0.99, 0.999]), n_jobs=1)


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    recorded = folder / "recorded.zarr"
    result.to_zarr(recorded, zarr_format=2, consolidated=True)
    plain = folder / "plain.nc"
    result.drop_vars(["trajectory", "loss", "step"]).to_netcdf(plain, engine="h5netcdf")
    return recorded, plain


def meshes(fig, gid):
    return [c for ax in fig.axes for c in ax.collections
            if isinstance(c, QuadMesh) and c.get_gid() == gid]


def panels(fig):
    return [ax for ax in fig.axes if ax.get_visible() and meshes_of(ax)]


def meshes_of(ax):
    return [c for c in ax.collections if isinstance(c, QuadMesh) and c.get_gid() == "values"]


# --- heatmap -------------------------------------------------------------------

def test_heatmap_labels_scales_and_one_colour_scale(result):
    fig = plot.heatmap(result, x="alpha", y="beta2")
    axes = panels(fig)
    assert [ax.get_title().split("\n")[0] for ax in axes] == ["adam", "momentum"]
    assert "does not read β₂" in axes[1].get_title()
    assert axes[0].get_xlabel() == "step size α" and axes[0].get_ylabel() == "β₂"
    assert all(ax.get_xscale() == "log" for ax in axes)  # alpha: scale = "log"
    assert all(ax.get_yscale() == "linear" for ax in axes)
    # β₂ = 0.9, 0.99, 0.999 is unevenly spaced: equal cells labelled with the values.
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["0.9", "0.99", "0.999"]
    values = meshes(fig, "values")
    assert len(values) == 2
    assert len({(m.norm.vmin, m.norm.vmax) for m in values}) == 1  # one colour scale
    assert type(values[0].norm).__name__ == "LogNorm"
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and "final loss f(θ) − f*" in colorbars[0].get_ylabel()
    assert fig.get_suptitle().endswith("\nbest over start, β₁")  # ε has one value


def test_an_axis_of_few_evenly_spaced_values_is_labelled_with_them(result):
    two = result.sel(beta2=[0.99, 0.999])  # evenly spaced: a linear axis
    fig = plot.heatmap(two, x="alpha", y="beta2")
    ax = panels(fig)[0]
    assert ax.get_yscale() == "linear"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.99", "0.999"]
    assert list(ax.get_yticks()) == [0.99, 0.999]  # no tick past β₂ = 1 (0.9875 … 1.0025 before)


def test_a_facet_by_an_axis_the_rule_does_not_read_says_so(result):
    fig = plot.heatmap(result, x="alpha", y="beta1", by="beta2")
    titles = {ax.get_title() for ax in panels(fig)}
    # momentum reads β₁, not β₂: its three rows of β₂ are one map three times.
    assert "momentum\nβ₂ 0.9\n(does not read β₂)" in titles
    assert "adam\nβ₂ 0.9" in titles


def test_heatmap_masks_diverged_cells_and_names_their_colour(result):
    fig = plot.heatmap(result, x="alpha", y="beta1")
    expected = result["diverged"].sel(optimizer="momentum").all(["start", "beta2", "eps"])
    expected = expected.transpose("beta1", "alpha").values
    assert expected.any() and not expected.all()
    momentum = panels(fig)[1]
    values = meshes_of(momentum)[0].get_array()
    assert np.array_equal(np.ma.getmaskarray(values).reshape(expected.shape), expected)
    categories = [c for c in momentum.collections if c.get_gid() == "categories"][0]
    drawn = np.ma.filled(categories.get_array(), np.nan).reshape(expected.shape)
    assert np.array_equal(drawn == 1, expected)  # 1: the diverged colour
    assert matplotlib.colors.to_hex(categories.cmap(1.0)) == plot.DIVERGED_COLOR
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "diverged" in legend
    # adam diverges nowhere here: no category layer at all.
    assert not [c for c in panels(fig)[0].collections if c.get_gid() == "categories"]


def test_heatmap_select_and_reductions(result):
    fig = plot.heatmap(result, select={"beta2": 0.98, "start": 1}, reduce="median")
    assert "β₂ = 0.99" in fig.get_suptitle() and "median over ε" not in fig.get_suptitle()
    fig = plot.heatmap(result, metric="diverged", reduce="mean")
    bar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"][0]
    assert bar.get_ylabel() == "share of cells that diverged"
    assert meshes(fig, "values")[0].norm.vmin == 0 and meshes(fig, "values")[0].norm.vmax == 1
    fig = plot.heatmap(result, metric="steps_to_tol")
    assert any("did not reach tol" in t.get_text() for t in fig.legends[0].get_texts())
    with pytest.raises(plot.PlotError, match="unknown axis 'gamma'"):
        plot.heatmap(result, select={"gamma": 1})
    with pytest.raises(ValueError, match="reduce"):  # PlotError is a ValueError too
        plot.heatmap(result, reduce="average")
    with pytest.raises(ConfigError, match="unknown metric"):
        plot.heatmap(result, metric="nope")


def test_reduction_ranks_diverged_last_and_never_blends_categories():
    inf = np.inf
    values = xr.DataArray([[1.0, inf], [inf, inf], [1.0, 2.0], [2.0, 101.0]], dims=("x", "r"))
    assert plot._reduce(values, ["x"], "best").values.tolist() == [1.0, inf, 1.0, 2.0]
    median = plot._reduce(values, ["x"], "median").values
    assert median.tolist() == [inf, inf, 1.5, 51.5]
    assert plot._reduce(values, ["x"], "max").values.tolist() == [inf, inf, 2.0, 101.0]
    # 101 = steps + 1 stands for "never reached": the median does not blend it with 2
    assert plot._reduce(values, ["x"], "median", censor=101.0).values.tolist()[3] == 101.0


def test_pairs_is_a_corner_matrix_on_one_scale(result):
    fig = plot.pairs(result, optimizer="adam")
    axes = panels(fig)
    assert len(axes) == 3  # swept: alpha, beta1, beta2 → 3 pairs
    pairs = {(ax.get_xlabel(), ax.get_ylabel()) for ax in axes}
    # labels on the outer edges only: (α, β₁) top left, (α, β₂) bottom left, (β₁, β₂) bottom
    assert pairs == {("", "β₁"), ("step size α", "β₂"), ("β₁", "")}
    assert len({(m.norm.vmin, m.norm.vmax) for m in meshes(fig, "values")}) == 1
    with pytest.raises(plot.PlotError, match="name one with optimizer="):
        plot.pairs(result)


# --- sensitivity ---------------------------------------------------------------

def synthetic():
    """Y = d + a f(A) + b g(B) + c f(A) g(B), f and g zero-mean on their axes, C inert."""
    f = np.array([-3.0, -1.0, 1.0, 3.0])  # mean 0, variance 5
    g = np.array([-1.0, 0.0, 1.0])  # mean 0, variance 2/3
    coefficients = {"one": (1.0, 2.0, 0.5), "two": (0.0, 1.0, 3.0), "three": (2.0, 0.0, 0.0)}
    y = np.stack([7 + a * f[:, None, None] + b * g[None, :, None]
                  + c * f[:, None, None] * g[None, :, None] + 0 * np.ones((1, 1, 2))
                  for a, b, c in coefficients.values()])
    ds = xr.Dataset({"y": (("optimizer", "A", "B", "C"), y)},
                    coords={"optimizer": list(coefficients), "A": [1.0, 2, 3, 4],
                            "B": [0.1, 0.2, 0.3], "C": [5.0, 6.0]})
    ds["A"].attrs["long_name"] = "axis A"
    return ds, coefficients, f.var(), g.var()


def test_sensitivity_matches_the_closed_form_on_a_synthetic_grid():
    ds, coefficients, vf, vg = synthetic()
    found = sensitivity(ds, "y", log=False)
    assert found["main"].dims == ("optimizer", "axis")
    assert list(found["axis"].values) == ["A", "B", "C"]
    assert found["label"].values[0] == "axis A"
    for name, (a, b, c) in coefficients.items():
        variance = a * a * vf + b * b * vg + c * c * vf * vg
        expected = {
            "main": [a * a * vf / variance, b * b * vg / variance, 0.0],
            "total": [(a * a * vf + c * c * vf * vg) / variance,
                      (b * b * vg + c * c * vf * vg) / variance, 0.0],
        }
        for index in ("main", "total"):
            got = found[index].sel(optimizer=name).values
            np.testing.assert_allclose(got, expected[index], rtol=0, atol=1e-12)
        assert abs(float(found["variance"].sel(optimizer=name)) - variance) < 1e-12


def test_sensitivity_of_a_sweep(result):
    found = sensitivity(result)
    assert found.attrs["response"] == "log10(final loss f(θ) − f*)"
    assert "diverged cells" in found.attrs["treatment"] and np.isfinite(found.attrs["penalty"])
    assert list(found["axis"].values) == ["start", "alpha", "beta1", "beta2"]
    # momentum does not read β₂: exactly no effect.
    assert float(found["main"].sel(optimizer="momentum", axis="beta2")) == 0.0
    assert float(found["total"].sel(optimizer="momentum", axis="beta2")) == 0.0
    for name in ("adam", "momentum"):
        main, total = found["main"].sel(optimizer=name), found["total"].sel(optimizer=name)
        assert float(main.sum()) <= 1 + 1e-12 <= float(total.sum()) + 2e-12
        assert bool((main <= total + 1e-12).all())
    excluded = sensitivity(result, diverged="exclude")
    assert "excluded" in excluded.attrs["treatment"]
    fig = plot.sensitivity_bars(found)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["adam", "momentum"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["start", "α", "β₁", "β₂"]


# --- trajectories ----------------------------------------------------------------

def test_trajectories_over_contours_with_a_legend(result):
    fig = plot.trajectories(result, {"alpha": [1e-3, 1e-2]})
    ax = fig.axes[0]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(label.startswith("adam  α=0.001, β₁=") for label in labels)
    assert any(label.startswith("momentum  α=0.01, β₁=") for label in labels)
    assert not any("β₂" in label for label in labels if label.startswith("momentum"))
    assert "minimum" in labels and "start θ₀" in labels
    assert sum(label.startswith(("adam", "momentum")) for label in labels) == 4
    assert ax.collections  # the contours
    # The view is fitted to the paths and the minimizer, inside Rosenbrock's box.
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert -2.0 <= x0 < x1 <= 2.0 and -1.0 <= y0 < y1 <= 3.0
    assert (x1 - x0) * (y1 - y0) < 4.0 * 4.0
    for line in ax.get_lines():
        xs, ys = (np.asarray(v, float) for v in line.get_data())
        keep = np.isfinite(xs) & np.isfinite(ys)
        assert np.all((xs[keep] >= x0) & (xs[keep] <= x1) & (ys[keep] >= y0) & (ys[keep] <= y1))


def test_trajectories_need_recorded_paths(result):
    plain = result.drop_vars(["trajectory", "loss", "step"])
    with pytest.raises(plot.PlotError, match="record_every"):
        plot.trajectories(plain)
    with pytest.raises(plot.PlotError, match="unknown axis 'gamma'"):
        plot.trajectories(result, {"gamma": 1.0})


def test_a_user_objective_that_cannot_be_rebuilt_is_refused(result):
    user = result.copy()
    user.attrs["objective_kind"] = "python"
    del user.attrs["objective_spec"]  # as a result written before the spec was stored
    with pytest.raises(plot.PlotError, match="cannot draw the contours.*does not record its file"):
        plot.trajectories(user, {"alpha": 1e-2})


def test_animate_writes_a_gif(result, tmp_path):
    path = plot.animate(result, {"alpha": 1e-2}, path=tmp_path / "paths.gif", frames=4, dpi=30)
    with Image.open(path) as gif:
        assert gif.n_frames == 4


# --- command line ------------------------------------------------------------------

def test_plot_command_writes_figures_and_an_index(saved, tmp_path, capsys):
    recorded, plain = saved
    out = tmp_path / "figures"
    assert plot_cli.plot_main([str(plain), "-o", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    # 3 metrics × (a line against each of 3 swept axes, 3 pairs of them, the sensitivity)
    assert len(written) == 21
    assert "final_loss-alpha-beta1.png" in written and "sensitivity-final_loss.png" in written
    assert "diverged-beta1-beta2.png" in written and "steps_to_tol-alpha-beta2.png" in written
    assert "final_loss-alpha.png" in written and "steps_to_tol-beta2.png" in written
    index = (out / "index.md").read_text()
    assert all(f"]({name})" in index for name in written)
    assert capsys.readouterr().out.strip() == f"plot: 21 figures → {out / 'index.md'}"
    svg = tmp_path / "svg"
    assert plot_cli.plot_main([str(recorded), "-o", str(svg), "--format", "svg",
                               "--metric", "final_loss"]) == 0
    assert sorted(p.suffix for p in svg.iterdir()) == [".md"] + [".svg"] * 7


def test_animate_command(saved, tmp_path, capsys):
    recorded, plain = saved
    gif = tmp_path / "a.gif"
    assert plot_cli.animate_main([str(recorded), "-o", str(gif), "--select", "alpha=1e-2",
                                  "beta1=0.5,0.9", "--frames", "3", "--dpi", "30"]) == 0
    with Image.open(gif) as image:
        assert image.n_frames == 3


@pytest.mark.parametrize("args, message", [
    (["plain", "-o", "x.gif"], "has no trajectories: run the sweep with record_every"),
    (["recorded", "-o", "x.gif", "--select", "gamma=1"], "unknown axis 'gamma'"),
    (["recorded", "-o", "x.gif", "--select", "alpha=big"], "'big' is not a number"),
    (["recorded", "-o", "x.mp4"], "must end in .gif"),
    (["missing.nc", "-o", "x.gif"], "missing.nc: no such file"),
])
def test_animate_errors_exit_2_with_one_line(saved, tmp_path, capsys, args, message):
    recorded, plain = saved
    paths = {"plain": str(plain), "recorded": str(recorded), "missing.nc": str(tmp_path / "missing.nc")}
    argv = [paths.get(a, a) for a in args]
    argv[2] = str(tmp_path / argv[2])
    assert plot_cli.animate_main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("error: ")


def test_plot_errors_exit_2(saved, tmp_path, capsys):
    recorded, plain = saved
    not_a_result = tmp_path / "other.nc"
    xr.Dataset({"z": ("x", [1.0])}).to_netcdf(not_a_result, engine="h5netcdf")
    assert plot_cli.plot_main([str(not_a_result), "-o", str(tmp_path / "o")]) == 2
    assert "not a result written by sweep" in capsys.readouterr().err
    assert plot_cli.plot_main([str(plain)]) == 2  # no -o: argparse's usage error
    assert plot_cli.plot_main([str(plain), "-o", str(tmp_path / "o"), "--format", "gif"]) == 2


def test_matplotlib_is_imported_lazily_and_its_absence_is_one_sentence(monkeypatch):
    code = ("import sys, sweep.plot, sweep.plot_cli, sweep.sensitivity; "
            "assert 'matplotlib' not in sys.modules, 'imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails
    with pytest.raises(ConfigError, match=r"^The matplotlib package is required for plotting: "
                                          r"pip install 'optimizer-sweep\[plot\]'$"):
        plot.heatmap(xr.Dataset())


# --- choices of the plot command ----------------------------------------------------

def test_heatmap_by_start_gives_one_panel_per_start_and_optimizer(result):
    fig = plot.heatmap(result, by="start")
    starts = result["x0"].values
    axes = panels(fig)
    assert len(axes) == 2 * len(starts) == 4  # a row per start, a column per optimizer
    titles = [ax.get_title() for ax in axes]
    assert titles[0].startswith("adam\nstart 0: θ₀ = (-2, 2)")
    assert titles[3].startswith("momentum\nstart 1: θ₀ = (-1.2, 1)")
    assert "start" not in fig.get_suptitle()  # not reduced over any more
    with pytest.raises(plot.PlotError, match="by = 'alpha'"):
        plot.heatmap(result, by="alpha")


def test_a_diverged_map_where_nothing_diverged_says_so(result):
    fig = plot.heatmap(result, metric="diverged", reduce="mean")
    adam, momentum = panels(fig)
    assert [t.get_text() for t in adam.texts] == ["nothing diverged"]  # adam never diverges
    assert len(momentum.texts) == 0
    fig = plot.heatmap(result, metric="steps_to_tol", select={"start": 0, "beta2": 0.9})
    notes = [[t.get_text() for t in ax.texts] for ax in panels(fig)]
    reached = result["steps_to_tol"].sel(start=0, beta2=0.9).notnull().any(["alpha", "beta1", "eps"])
    assert notes == [[] if bool(r) else ["no cell reached tol"] for r in reached.values]


def test_plot_command_axes_reduce_select_and_by(saved, tmp_path, capsys):
    recorded, plain = saved
    out = tmp_path / "chosen"
    assert plot_cli.plot_main([str(plain), "-o", str(out), "--x", "alpha", "--y", "beta1",
                               "--reduce", "median", "--select", "beta2=0.999",
                               "--metric", "final_loss", "--by", "start"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "final_loss-alpha-beta1-beta2=0.999-by-start.png", "final_loss-alpha-beta2=0.999.png",
        "index.md", "sensitivity-final_loss-beta2=0.999.png"]
    assert capsys.readouterr().err == ""  # 0.999 is on the grid: no warning; no progress bar
    index = (out / "index.md").read_text()
    assert "median over the axes not shown; β₂ = 0.999; one row per start" in index
    only_x = tmp_path / "x"
    assert plot_cli.plot_main([str(plain), "-o", str(only_x), "--x", "beta2",
                               "--metric", "final_loss", "--quiet"]) == 0
    assert sorted(p.name for p in only_x.glob("final_loss-*")) == [
        "final_loss-beta2-alpha.png", "final_loss-beta2-beta1.png", "final_loss-beta2.png"]
    assert plot_cli.plot_main([str(plain), "-o", str(only_x), "--select", "beta2=0.98",
                               "--metric", "diverged"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: --select beta2=0.98: not on the grid; using the nearest value, "
                   "beta2=0.99"]
    for argv, message in [(["--x", "gamma"], "--x gamma: unknown axis"),
                          (["--x", "alpha", "--y", "alpha"], "--x and --y are both alpha"),
                          (["--x", "alpha", "--select", "alpha=0.1"], "--x alpha: is also given"),
                          (["--select", "beta2=0.9,0.99"], "give one value")]:
        assert plot_cli.plot_main([str(plain), "-o", str(tmp_path / "e")] + argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err


def test_index_headings_are_unique(saved, tmp_path):
    recorded, plain = saved
    out = tmp_path / "all"
    assert plot_cli.plot_main([str(plain), "-o", str(out), "--metric", "final_loss",
                               "steps_to_tol", "diverged", "distance"]) == 0
    headings = [line for line in (out / "index.md").read_text().splitlines()
                if line.startswith("#")]
    assert len(headings) == len(set(headings)) == 5  # the title and one per metric
    assert "## `diverged`" in headings


def test_plot_on_a_file_that_is_not_a_result_is_one_plain_line(tmp_path, capsys):
    junk = tmp_path / "junk.nc"
    junk.write_text("hello")
    folder = tmp_path / "junk.zarr"
    folder.mkdir()
    for path, kind in ((junk, "a netCDF file"), (folder, "a zarr store")):
        assert plot_cli.plot_main([str(path), "-o", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {path}: not a sweep result (it cannot be read as {kind})\n"
    assert not (tmp_path / "o").exists()
