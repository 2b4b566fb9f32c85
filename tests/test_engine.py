"""The engine end to end through sweep.run: shape of the dataset, reproducibility, compilation."""
import math

import numpy as np
import pytest
import xarray as xr

import sweep
from conftest import assert_same_bits, grid_table
from sweep.kernels.rules import AXES, OPTIMIZERS

METRICS = ("final_loss", "best_loss", "final_x", "distance", "steps_to_tol", "diverged",
           "trajectory", "loss")


def mixed_grid():
    """Several rules (some ignoring some axes), two starts, a divergent corner, records."""
    return grid_table(
        optimizers=("sgd", "momentum", "adadelta", "rmsprop", "adam", "nadam"),
        steps=120, objective="rosenbrock", start=[[-2.0, 2.0], [-1.2, 1.0]], record_every=7,
        alpha={"min": 1e-4, "max": 3.0, "num": 7, "scale": "log"},
        beta1=[0.0, 0.5, 0.9], beta2=[0.9, 0.999], eps=[0.0, 1e-8])


def assert_same_results(a, b):
    for name in METRICS:
        assert_same_bits(a[name].values, b[name].values)


def test_results_do_not_depend_on_workers_or_blocks():
    reference = sweep.run(mixed_grid(), n_jobs=1)
    assert reference["diverged"].any() and not reference["diverged"].all()
    for n_jobs, block_cells in ((2, None), (2, 1), (1, 5), (2, 64)):
        assert_same_results(reference, sweep.run(mixed_grid(), n_jobs=n_jobs,
                                                  block_cells=block_cells))


def test_process_backend_gives_the_same_bits():
    joblib = pytest.importorskip("joblib")
    reference = sweep.run(mixed_grid(), n_jobs=1)
    with joblib.parallel_config(backend="loky"):
        assert_same_results(reference, sweep.run(mixed_grid(), n_jobs=2, block_cells=50))


def test_dataset_dims_coords_and_attrs():
    table = mixed_grid()
    ds = sweep.run(table)
    assert ds["final_loss"].dims == ("optimizer", "start", "alpha", "beta1", "beta2", "eps")
    assert ds["final_x"].dims[-1] == "dim" and ds["trajectory"].dims[-2:] == ("step", "dim")
    assert list(ds["optimizer"].values) == list(table["sweep"]["optimizers"])
    assert ds["alpha"].attrs["scale"] == "log" and ds["beta1"].attrs["scale"] == "linear"
    np.testing.assert_allclose(ds["alpha"].values, np.geomspace(1e-4, 3.0, 7))
    for coordinate in ("optimizer", "start", "alpha", "beta1", "beta2", "eps", "step", "x0"):
        assert ds[coordinate].attrs["long_name"]
    assert_same_bits(ds["x0"].values, [[-2.0, 2.0], [-1.2, 1.0]])
    assert list(ds["step"].values) == [0, 7, 14] + list(range(21, 120, 7)) + [120]
    assert ds["diverged"].dtype == bool
    for key in ("grid_toml", "objective", "minimum", "versions", "backend", "dtype",
                "wall_time_s", "trajectory_steps_per_s", "compile_time_s"):
        assert key in ds.attrs
    assert ds.attrs["backend"] == "cpu" and ds.attrs["dtype"] == "float64"
    assert "numba" in ds.attrs["versions"] and ds.attrs["trajectory_steps_per_s"] > 0
    for name in OPTIMIZERS:
        if name in table["sweep"]["optimizers"]:
            used = ds["uses_axis"].sel(optimizer=name).values
            # The grid's axes the rule has a hyperparameter for (rmsprop's centered is not one).
            assert [a for a, u in zip(AXES, used) if u] == [
                axis for axis in AXES if axis in OPTIMIZERS[name].names]


def test_unused_axes_are_computed_once_and_broadcast():
    table = mixed_grid()
    from sweep.api import load_config
    from sweep.plan import make_plan

    plan = make_plan(load_config(table))
    # (schedule, start, seed, alpha, beta1, beta2, eps)
    assert plan.shapes["sgd"] == (1, 2, 1, 7, 1, 1, 1)
    assert plan.shapes["momentum"] == (1, 2, 1, 7, 3, 1, 1)
    assert plan.shapes["adadelta"] == (1, 2, 1, 7, 1, 2, 2)
    assert plan.shapes["adam"] == (1, 2, 1, 7, 3, 2, 2)
    ds = sweep.run(table)
    assert ds.attrs["computed_cells"] == plan.computed_cells < ds.attrs["cells"]
    sgd = ds["final_loss"].sel(optimizer="sgd")
    assert_same_bits(sgd.values, np.broadcast_to(
        sgd.isel(beta1=[0], beta2=[0], eps=[0]).values, sgd.shape))
    # ... and the broadcast values are those of a grid that has just one value.
    alone = sweep.run(grid_table(optimizers=["sgd"], steps=120, objective="rosenbrock",
                                 start=[[-2.0, 2.0], [-1.2, 1.0]], record_every=7,
                                 alpha=table["grid"]["alpha"], beta1=[0.123]))
    assert_same_bits(alone["final_loss"].isel(optimizer=0, beta1=0, beta2=0, eps=0).values,
                     sgd.isel(beta1=2, beta2=1, eps=1).values)


def test_a_second_grid_does_not_recompile():
    from sweep.execute import kernel_for

    sweep.run(grid_table(optimizers=["adam"], steps=20, alpha=[0.1, 0.2]))
    from sweep.objectives import ObjectiveSpec

    kernel = kernel_for("adam", ObjectiveSpec(kind="builtin", name="booth"))
    assert len(kernel.signatures) == 1
    sweep.run(grid_table(optimizers=["adam"], steps=50, record_every=3, tol=1e-3,
                         start=[[1.0, 1.0], [3.0, -2.0]], alpha=[0.3, 0.01, 0.02],
                         beta1=[0.0, 0.5], eps=[0.0, 1e-3]), n_jobs=2, block_cells=2)
    assert len(kernel.signatures) == 1


def test_run_writes_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = sweep.run(grid_table(steps=10))
    assert "output" not in ds.attrs and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_written_dataset_round_trips(tmp_path, suffix):
    target = tmp_path / "out" / f"result{suffix}"
    table = mixed_grid()
    table["sweep"]["output"] = str(target)
    ds = sweep.run(table)
    assert target.exists()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial left
    opened = xr.open_zarr(target) if suffix == ".zarr" else xr.open_dataset(target, engine="h5netcdf")
    with opened:
        for name in METRICS:
            assert_same_bits(opened[name].values, ds[name].values)
        assert opened["alpha"].attrs["scale"] == "log"
        assert opened.attrs["grid_toml"] == ds.attrs["grid_toml"]
        assert list(opened["optimizer"].values) == list(ds["optimizer"].values)


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_an_existing_output_is_replaced_only_when_asked(tmp_path, suffix):
    target = tmp_path / f"r{suffix}"
    sweep.run(grid_table(steps=5), output=target)
    first = target.stat().st_mtime_ns
    with pytest.raises(sweep.ConfigError, match="exists.*--(resume|overwrite)"):
        sweep.run(grid_table(steps=6), output=target)
    opened = xr.open_zarr(target) if suffix == ".zarr" else xr.open_dataset(target, engine="h5netcdf")
    with opened as ds:
        assert ds.attrs["steps"] == 5  # untouched
    sweep.run(grid_table(steps=6), output=target, overwrite=True)
    opened = xr.open_zarr(target) if suffix == ".zarr" else xr.open_dataset(target, engine="h5netcdf")
    with opened as ds:
        assert ds.attrs["steps"] == 6
    assert target.stat().st_mtime_ns >= first


def test_a_crash_while_writing_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "r.zarr"

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", fail)
    with pytest.raises(OSError):
        sweep.run(grid_table(steps=5), output=target)
    assert list(tmp_path.iterdir()) == []


def test_throughput_attr_counts_computed_cells():
    ds = sweep.run(grid_table(optimizers=["sgd", "adam"], steps=200, alpha=[0.1, 0.01],
                              beta1=[0.5, 0.9]))
    computed = 2 + 4
    assert ds.attrs["computed_cells"] == computed and ds.attrs["cells"] == 8
    rate = ds.attrs["trajectory_steps_per_s"]
    assert math.isclose(rate * (ds.attrs["wall_time_s"] - ds.attrs["compile_time_s"]),
                        computed * 200, rel_tol=1e-9)
