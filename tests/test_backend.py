"""Choosing the backend: cpu, cuda, auto. Without a GPU, through numba-cuda's simulator.

The simulator tests run in a pytest invocation of their own (``.ci/run``):
``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/test_backend.py tests/test_cuda.py``.
"""
import os

import numpy as np
import pytest
import xarray as xr

import sweep
from conftest import grid_table
from kernels.rules import OPTIMIZERS
from sweep import cli

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
METRICS = ("final_loss", "best_loss", "final_x", "distance", "steps_to_tol", "diverged",
           "trajectory", "loss")


def device_sentence() -> str:
    from kernels.cuda import device_status

    usable, why = device_status()
    if usable:
        pytest.skip(f"a GPU is usable here: {why}")
    return why


@pytest.mark.skipif(SIMULATOR, reason="the simulator is a device")
def test_cuda_without_a_gpu_exits_2_saying_what_is_missing(tmp_path, capsys):
    why = device_sentence()
    assert "pip install 'sweep[gpu]'" in why or why.startswith("No CUDA device found")
    grid = tmp_path / "g.toml"
    grid.write_text('[sweep]\noptimizers = ["adam"]\nsteps = 5\n[objective]\nname = "booth"\n')
    assert cli.main([str(grid), "-o", str(tmp_path / "r.zarr"), "--backend", "cuda"]) == 2
    assert capsys.readouterr().err == f"error: --backend cuda: {why}\n"
    grid.write_text(grid.read_text().replace("steps = 5", 'steps = 5\nbackend = "cuda"'))
    assert cli.main([str(grid), "-o", str(tmp_path / "r.zarr")]) == 2
    assert capsys.readouterr().err == f'error: sweep.backend = "cuda": {why}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.toml"]


@pytest.mark.skipif(SIMULATOR, reason="the simulator is a device")
def test_auto_runs_on_the_cpu_without_a_gpu(tmp_path):
    device_sentence()
    ds = sweep.run(grid_table(steps=5), output=tmp_path / "r.zarr")
    assert (ds.attrs["backend"], ds.attrs["dtype"]) == ("cpu", "float64")
    assert sweep.run(grid_table(steps=5), backend="cpu").attrs["backend"] == "cpu"


def test_a_wrong_backend_or_dtype_is_a_config_error():
    table = grid_table(steps=5)
    table["sweep"]["backend"] = "gpu"
    with pytest.raises(sweep.ConfigError, match='sweep.backend = "gpu": must be one of "auto", '
                                                '"cpu", "cuda"'):
        sweep.run(table)
    with pytest.raises(sweep.ConfigError, match="--dtype = float16: must be one of"):
        sweep.run(grid_table(steps=5), dtype="float16")


# --- through the simulator -----------------------------------------------------------

simulated = pytest.mark.skipif(not SIMULATOR, reason="run with NUMBA_ENABLE_CUDASIM=1 (.ci/run)")


def noisy_scheduled(objective, start=None, **extra):
    """Every rule, noise, a warm-up and a cosine schedule, a divergent α, records."""
    table = grid_table(optimizers=tuple(OPTIMIZERS), steps=25, objective=objective, start=start,
                       record_every=6, alpha=[1e-2, 0.3, 20.0], beta1=[0.0, 0.9],
                       beta2=[0.999], eps=[1e-8])
    table["objective"]["noise"] = 0.1
    table["objective"]["seeds"] = [3]
    table["objective"].update(extra)
    table["sweep"]["schedule"] = "cosine"
    table["schedule"] = {"warmup": 5}
    return table


@simulated
@pytest.mark.parametrize("objective, start, extra, diverges", [
    ("rosenbrock", [[-1.2, 1.0]], {}, True),
    ("beale", [[1.0, 1.0], [3.0, -2.0]], {}, True),
    ("quadratic", None, {"dim": 3, "kappa": 10}, True),
    ("logistic", None, {"features": 2, "samples": 40, "batch_size": 4}, False),  # bounded ∇f
])
def test_the_cuda_backend_gives_the_cpu_results(objective, start, extra, diverges, tmp_path):
    table = noisy_scheduled(objective, start, **extra)
    cpu = sweep.run(table, backend="cpu", n_jobs=1)
    # tiny blocks: the grid spans several blocks, each several CUDA thread blocks
    on_cuda = sweep.run(table, backend="cuda", block_cells=5, output=tmp_path / "r.zarr")
    assert on_cuda.attrs["backend"] == "cuda" and cpu.attrs["backend"] == "cpu"
    assert bool(cpu["diverged"].any()) == diverges and not cpu["diverged"].all()
    for name in METRICS:
        expected, got = cpu[name].values, on_cuda[name].values
        if expected.dtype == bool:
            assert np.array_equal(expected, got), name
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0, equal_nan=True,
                                       err_msg=name)


@simulated
def test_auto_picks_the_simulated_device(tmp_path):
    ds = sweep.run(grid_table(steps=3), backend="auto", block_cells=2)
    assert ds.attrs["backend"] == "cuda"


@simulated
def test_a_cuda_store_does_not_resume_on_the_cpu(tmp_path):
    target = tmp_path / "r.zarr"
    sweep.run(grid_table(steps=3), backend="cuda", output=target)
    with pytest.raises(sweep.ConfigError, match='backend: the store has "cuda", this run "cpu"'):
        sweep.run(grid_table(steps=3), backend="cpu", output=target, resume=True)
    with xr.open_zarr(target) as stored:
        assert stored.attrs["backend"] == "cuda"
