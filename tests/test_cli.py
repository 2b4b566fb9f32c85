"""The command line end to end: success, summary, exit codes, nothing left behind."""
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from conftest import ROOT
from sweep import SweepFailure, cli

SMALL = """
[sweep]
optimizers = ["adam", "sgd"]
steps = 200
record_every = 50

[objective]
name = "beale"
start = [[1.0, 1.0], [3.0, 4.0]]

[grid]
alpha = { min = 1e-3, max = 1e-1, num = 5, scale = "log" }
beta1 = [0.8, 0.9]
"""


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "sweep", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_runs_a_grid_and_prints_one_summary_line(tmp_path):
    grid = tmp_path / "beale.toml"
    grid.write_text(SMALL)
    result = run_cli(grid, "-o", "out.nc", "--n-jobs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "40 cells (30 computed" in lines[0] and "200 steps" in lines[0]
    assert "M trajectory-steps/s" in lines[0] and lines[0].endswith("→ out.nc")
    assert result.stderr == ""  # not a terminal: no progress bar
    with xr.open_dataset(tmp_path / "out.nc", engine="h5netcdf") as ds:
        assert ds["trajectory"].sizes == {"optimizer": 2, "start": 2, "alpha": 5, "beta1": 2,
                                          "beta2": 1, "eps": 1, "step": 5, "dim": 2}
        assert ds.attrs["grid_toml"] == SMALL


def test_cli_default_output_is_the_grid_name_in_the_current_directory(tmp_path, monkeypatch):
    grid = tmp_path / "grids" / "mine.toml"
    grid.parent.mkdir()
    grid.write_text(SMALL)
    monkeypatch.chdir(tmp_path)
    assert cli.main([str(grid), "--quiet"]) == 0
    assert (tmp_path / "mine.zarr").is_dir()


def test_the_shipped_default_grid_runs(tmp_path, capsys):
    out = tmp_path / "default.nc"
    assert cli.main([str(ROOT / "sweep" / "grids" / "default.toml"), "-o", str(out), "--quiet"]) == 0
    summary = capsys.readouterr().out
    assert "cells" in summary and str(out) in summary
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.sizes["optimizer"] == 5 and not ds["diverged"].all()
        assert np.nanmin(ds["final_loss"].values) < 1e-10


def test_a_failure_while_running_exits_1_without_traceback(tmp_path, monkeypatch, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(SMALL)

    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    import sweep.execute
    monkeypatch.setattr(sweep.execute, "run_block", broken)
    code = cli.main([str(grid), "-o", str(tmp_path / "r.nc"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "kernel exploded" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.toml"]
    with pytest.raises(SweepFailure) as failed:  # the worker's error is its cause
        cli.main([str(grid), "-o", str(tmp_path / "r.nc"), "--quiet", "--debug"])
    assert isinstance(failed.value.__cause__, RuntimeError)


def test_an_interrupt_exits_130_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(SMALL)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", interrupted)
    assert cli.main([str(grid), "-o", str(tmp_path / "r.nc"), "--quiet"]) == 130
    assert "nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.toml"]


def test_usage_errors_exit_2(tmp_path):
    assert run_cli(cwd=tmp_path).returncode == 2
    assert run_cli("x.toml", "--n-jobs", "many", cwd=tmp_path).returncode == 2
    grid = tmp_path / "g.toml"
    grid.write_text(SMALL)
    result = run_cli(grid, "--n-jobs", "0", cwd=tmp_path)
    assert result.returncode == 2 and "--n-jobs" in result.stderr
    result = run_cli(grid, "-o", "out.csv", cwd=tmp_path)
    assert result.returncode == 2 and "out.csv" in result.stderr and ".zarr" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.toml"]


def test_an_output_that_cannot_be_written_is_refused_before_work(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(SMALL)
    (tmp_path / "file").write_text("")
    code = cli.main([str(grid), "-o", str(tmp_path / "file" / "r.zarr"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "not a directory" in err


def test_n_jobs_1_and_2_write_the_same_bits(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text(SMALL.replace("steps = 200", "steps = 300"))
    for jobs in ("1", "2"):
        result = run_cli(grid, "-o", f"r{jobs}.nc", "--n-jobs", jobs, "--quiet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    with xr.open_dataset(tmp_path / "r1.nc", engine="h5netcdf") as one, \
            xr.open_dataset(tmp_path / "r2.nc", engine="h5netcdf") as two:
        for name in one.data_vars:
            assert np.array_equal(one[name].values, two[name].values, equal_nan=True), name


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(SMALL)
    assert cli.main([str(grid), "-o", str(tmp_path / "r.zarr"), "--dry-run", "--n-jobs", "2",
                     "--block-cells", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.toml"]
    assert out[0] == f"plan of {grid} → {tmp_path / 'r.zarr'}"
    # adam reads α, β₁ (and β₂, ε: one value each); sgd α only: 2·5·2 + 2·5 = 30 computed
    assert out[1].split() == ["cells", "40", "(30", "computed:", "unused", "axes", "broadcast)",
                              "×", "200", "steps", "=", "6e+03", "trajectory-steps"]
    # chunks of at most 4 cells: (start 1, alpha 2, beta1 2); adam 2·3·1 blocks, sgd 2·3
    assert out[2].split()[:2] == ["blocks", "12,"] and "(start 1, alpha 2, beta1 2)" in out[2]
    assert "written block by block" in out[3] and "blocks in flight" in out[4]
    assert out[5].split()[:2] == ["estimated", "time"] and "adam" in out[5] and "sgd" in out[5]
