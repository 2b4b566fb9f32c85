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
    assert " trajectory-steps/s) " in lines[0] and lines[0].endswith("→ out.nc")
    assert result.stderr == ""  # not a terminal: no progress bar
    with xr.open_dataset(tmp_path / "out.nc", engine="h5netcdf") as ds:
        assert ds["trajectory"].sizes == {"optimizer": 2, "start": 2, "alpha": 5, "beta1": 2,
                                          "beta2": 1, "eps": 1, "step": 5, "dim": 2}
        assert ds.attrs["grid_toml"] == SMALL
        # The rate in the unit that fits it (k for a run this small, M for a large one).
        from sweep.cli import rate_text

        assert f"; {rate_text(ds.attrs['trajectory_steps_per_s'])}) " in lines[0]


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


def test_version_prints_the_distribution_and_its_version(tmp_path):
    """``python -m sweep --version``: the distribution's name (not the import package's)
    and the version, exit 0, whether or not the checkout is installed."""
    import sweep

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"optimizer-sweep {sweep.__version__}\n"


@pytest.mark.parametrize("installed", [True, False], ids=["metadata", "checkout"])
def test_version_reads_the_metadata_else_the_package(monkeypatch, capsys, installed):
    from importlib import metadata

    import sweep
    from sweep import distribution

    def version(name):
        assert name == distribution.NAME
        if not installed:
            raise metadata.PackageNotFoundError(name)
        return "9.8.7"

    monkeypatch.setattr(metadata, "version", version)
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    expected = "9.8.7" if installed else sweep.__version__
    assert capsys.readouterr().out == f"optimizer-sweep {expected}\n"


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


def test_dry_run_names_the_output_of_sweep_output_and_says_what_it_compiles(tmp_path,
                                                                              monkeypatch, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(SMALL.replace("record_every = 50", 'record_every = 50\noutput = "out/r.nc"'))
    monkeypatch.chdir(tmp_path)
    assert cli.main([str(grid), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == f"plan of {grid} → out/r.nc"
    assert "assembled in memory, written at the end" in captured.out
    assert captured.err == ("dry run: compiling 2 kernels (cached on disk after the first time) "
                            "and timing a small run of each; nothing is written…\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.toml"]  # not even out/
    # An output the real run would refuse, the dry run refuses too.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "r.nc").write_text("")
    assert cli.main([str(grid), "--dry-run"]) == 2
    assert "out/r.nc exists" in capsys.readouterr().err
    assert cli.main([str(grid), "--dry-run", "--overwrite"]) == 0
    assert (tmp_path / "out" / "r.nc").read_text() == ""


def test_dry_run_without_any_output_says_so(tmp_path, capsys):
    from sweep.config import validate
    from sweep.dry_run import dry_run

    config = validate({"sweep": {"optimizers": ["sgd"], "steps": 20},
                       "objective": {"name": "booth"}})
    plan = dry_run(config, say=lambda message: None)
    assert plan.splitlines()[0] == "plan of <config> → nowhere (no output given: -o or sweep.output)"


def test_the_estimate_adds_fixed_costs_block_costs_and_computing():
    from sweep.dry_run import estimate_seconds

    # 4e8 steps at 2e8/s and 1e8 at 1e8/s (the threads together): 2 s + 1 s of computing.
    work, rates = {"adam": 4e8, "sgd": 1e8}, {"adam": 2e8, "sgd": 1e8}
    assert estimate_seconds(1.5, 0.01, 10, work, rates) == pytest.approx(1.5 + 10 * 0.01 + 3)
    assert estimate_seconds(0.0, 0.0, 3, work, rates) == pytest.approx(3)
    assert estimate_seconds(0.7, 0.2, 1, {}, {}) == pytest.approx(0.9)
    # Twice the rate halves only the computing.
    doubled = {name: 2 * rate for name, rate in rates.items()}
    assert estimate_seconds(1.5, 0.01, 10, work, doubled) == pytest.approx(1.5 + 0.1 + 1.5)


def test_the_miniature_is_the_sweep_cut_to_its_first_block_of_each_rule(tmp_path):
    from sweep.config import validate
    from sweep.dry_run import MINIATURE_STEPS, _miniature
    from sweep.plan import make_plan

    config = validate({"sweep": {"optimizers": ["adam", "sgd"], "steps": 500, "record_every": 50,
                                 "schedule": ["constant", "cosine"], "output": "x.zarr"},
                       "objective": {"name": "beale", "noise": 0.1, "seeds": 3},
                       "grid": {"alpha": [1e-3, 1e-2, 1e-1], "beta1": [0.5, 0.9]}})
    plan = make_plan(config, n_jobs=2, block_cells=6)
    assert plan.chunks == (1, 1, 1, 3, 2, 1, 1)  # adam 2·3·3 blocks of 6 cells, sgd 18 of 3
    miniature = _miniature(config, plan.chunks)
    small = make_plan(miniature, n_jobs=2, block_cells=6)
    assert [block.shape for block in small.blocks] == [plan.blocks[0].shape,
                                                       plan.blocks[18].shape]
    assert [block.optimizer for block in small.blocks] == ["adam", "sgd"]
    # 11 steps recorded (0, 50, …, 500): the miniature records as many, every step.
    assert (miniature.steps, miniature.record_every) == (max(MINIATURE_STEPS, 10), 1)
    assert (miniature.optimizers, miniature.spec, miniature.noise, miniature.seed_axis,
            miniature.schedule_axis) == (config.optimizers, config.spec, 0.1, True, True)
