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
from sweep.kernels.rules import OPTIMIZERS
from sweep import cli
from sweep.config import validate

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
METRICS = ("final_loss", "best_loss", "final_x", "distance", "steps_to_tol", "diverged",
           "trajectory", "loss")


def device_sentence() -> str:
    from sweep.kernels.cuda import device_status

    usable, why = device_status()
    if usable:
        pytest.skip(f"a GPU is usable here: {why}")
    return why


@pytest.mark.skipif(SIMULATOR, reason="the simulator is a device")
def test_cuda_without_a_gpu_exits_2_saying_what_is_missing(tmp_path, capsys):
    why = device_sentence()
    assert "pip install 'optimizer-sweep[gpu]'" in why or why.startswith("No CUDA device found")
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


def noisy_scheduled(objective, start=None, optimizers=tuple(OPTIMIZERS), **extra):
    """Every rule (or ``optimizers``), noise, a warm-up and a cosine schedule, a divergent
    α, records."""
    table = grid_table(optimizers=optimizers, steps=25, objective=objective, start=start,
                       record_every=6, alpha=[1e-2, 0.3, 20.0], beta1=[0.0, 0.9],
                       beta2=[0.999], eps=[1e-8])
    table["objective"]["noise"] = 0.1
    table["objective"]["seeds"] = [3]
    table["objective"].update(extra)
    table["sweep"]["schedule"] = "cosine"
    table["schedule"] = {"warmup": 5}
    # β₁ = 0 (no momentum) is outside Schedule-Free's range: fixed there.
    table["options"] = {name: {"beta1": 0.9} for name in optimizers
                        if "beta1" in OPTIMIZERS[name].names
                        and not OPTIMIZERS[name].hyperparameter("beta1").valid(0.0)}
    return table


@simulated
@pytest.mark.parametrize("objective, start, extra, diverges", [
    ("rosenbrock", [[-1.2, 1.0]], {}, True),
    ("beale", [[1.0, 1.0], [3.0, -2.0]], {}, True),
    ("quadratic", None, {"dim": 3, "kappa": 10}, True),
])  # (models: test_models_train_on_cuda_as_on_the_cpu below)
def test_the_cuda_backend_gives_the_cpu_results(objective, start, extra, diverges, tmp_path):
    table = noisy_scheduled(objective, start, **extra)
    # the simple kernel: the same bits as the lockstep one, already compiled by test_cuda.py
    cpu = sweep.run(table, backend="cpu", n_jobs=1, kernel="simple")
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


@simulated
def test_bench_has_cuda_rows_when_a_device_is_there(tmp_path, capsys):
    code = cli.main(["bench", "--cells", "16", "--steps", "4", "--repeats", "1",
                     "--max-cells", "100", "--optimizers", "adam", "--objectives", "booth",
                     "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "CUDA: 1 CUDA device(s)" in out
    import json

    backends = json.loads((tmp_path / "bench.json").read_text())["backends"]
    for name in ("sweep, CUDA backend, end to end", "CUDA kernel alone (no transfers)"):
        assert backends[name]["median"] > 0


def test_float32_end_to_end(tmp_path):
    """dtype float32: float32 results in memory and in a store, the same bits in both,
    close to float64 where both converge (docs/float32.md has the measured error)."""
    table = grid_table(optimizers=("sgd", "adam"), steps=300, objective="rosenbrock",
                       start=[[-1.2, 1.0]], alpha=[1e-3, 1e-2, 3.0], beta1=[0.0, 0.9])
    single = sweep.run(table, dtype="float32", backend="cpu")
    stored = sweep.run(table, dtype="float32", backend="cpu", output=tmp_path / "r.zarr",
                       block_cells=2)
    double = sweep.run(table, backend="cpu")
    assert single.attrs["dtype"] == "float32" and double.attrs["dtype"] == "float64"
    for name in ("final_loss", "best_loss", "final_x", "distance"):
        assert single[name].dtype == np.float32 and double[name].dtype == np.float64
        assert np.array_equal(single[name].values, stored[name].values, equal_nan=True), name
    assert single["steps_to_tol"].dtype == np.float64  # counts stay exact past 2**24
    # small steps follow smooth paths (α = 3 runs chaotic orbits that float32 and
    # float64 follow apart: not a comparison of precisions)
    smooth = dict(alpha=[1e-3, 1e-2])
    x32 = single["final_x"].sel(**smooth).values
    x64 = double["final_x"].sel(**smooth).values
    assert not np.array_equal(x32, x64)  # float32 really ran
    np.testing.assert_allclose(x32, x64, rtol=1e-4)


FLOAT32_RULES = ("adamax", "radam", "rprop", "lion", "adan", "schedule_free_adamw")


@simulated
def test_float32_on_cuda_gives_the_cpu_float32_results():
    """To a few float32 ulps: the simulator runs the float32 twins as Python, where an
    operation on numpy float32 scalars may round through float64 (seen: one loss
    record of adamax one ulp apart); a float64 run is bit-identical. The rules whose
    arithmetic differs from that of tests/test_cuda.py's float32 pairs (max, sign,
    rectification, interpolation): a float32 CPU kernel takes seconds to compile."""
    table = noisy_scheduled("rosenbrock", [[-1.2, 1.0]], optimizers=FLOAT32_RULES)
    cpu = sweep.run(table, backend="cpu", dtype="float32", n_jobs=1)
    on_cuda = sweep.run(table, backend="cuda", dtype="float32", block_cells=5)
    assert np.array_equal(cpu["diverged"].values, on_cuda["diverged"].values)
    for name in METRICS:
        if name != "diverged":
            np.testing.assert_allclose(on_cuda[name].values, cpu[name].values, rtol=1e-6,
                                       atol=0, equal_nan=True, err_msg=name)


# --- models on the CUDA backend (sweep.kernels.cuda_training) --------------------------------


def model_grid(optimizers=("adam", "sgd"), **objective):
    """A small model grid: schedules, two seeds, noise, records, cells that diverge (the
    simulator runs each thread's Python: seconds a cell)."""
    return {"sweep": {"optimizers": list(optimizers), "steps": 9, "record_every": 5,
                      "schedule": ["constant", "cosine"]},
            "objective": {"batch_size": 7, "seeds": [0, 5], "eval_every": 4, "noise": 0.05,
                          **objective},
            "grid": {"alpha": [1e-2, 10.0], "beta1": [0.0, 0.9], "beta2": [0.99]}}


def assert_same_results(cpu, on_cuda):
    assert set(cpu.data_vars) == set(on_cuda.data_vars)
    for name in cpu.data_vars:
        expected, got = cpu[name].values, on_cuda[name].values
        assert np.array_equal(expected, got, equal_nan=expected.dtype.kind == "f"), name


@simulated
@pytest.mark.parametrize("objective", [
    {"model": "mlp", "hidden": [3], "data": "iris", "bound": 3.0},
    {"model": "linear", "data": "diabetes", "bound": 50.0},
    {"model": "logistic", "l2": 1e-2, "batch_size": 0, "bound": 5.0,  # a full batch
     "data": {"name": "circles", "samples": 40}},
], ids=lambda objective: objective["model"])
def test_models_train_on_cuda_as_on_the_cpu(objective, tmp_path):
    """Each CUDA thread runs the CPU training kernel's block with one lane: in the
    simulator, the same bits as the CPU (train and test metrics, curves, final θ)."""
    table = model_grid(**objective)
    cpu = sweep.run(table, backend="cpu", n_jobs=1, kernel="simple")
    on_cuda = sweep.run(table, backend="cuda", block_cells=7, output=tmp_path / "r.zarr")
    assert on_cuda.attrs["backend"] == "cuda"
    assert cpu.diverged.any() and not cpu.diverged.all()
    assert np.isfinite(cpu.test_loss.values).any()
    assert_same_results(cpu, on_cuda)


@simulated
def test_a_model_without_a_test_set_in_chunks(tmp_path, monkeypatch):
    """An .npz with training rows only (test metrics NaN), the cells in chunks of 3."""
    from sweep.kernels import cuda as backend

    rng = np.random.default_rng(2)
    x = rng.standard_normal((20, 3))
    np.savez(tmp_path / "train.npz", x_train=x, y_train=(x[:, 0] > 0).astype(int))
    table = model_grid(optimizers=("momentum",), model="mlp", hidden=[2], data="train.npz",
                       test_fraction=0.0)
    config = validate(table, source=str(tmp_path / "grid.toml"))  # the .npz beside it
    cpu = sweep.run(config, backend="cpu", kernel="simple")
    monkeypatch.setattr(backend, "MAX_CHUNK_CELLS", 3)
    on_cuda = sweep.run(config, backend="cuda")
    assert np.isnan(cpu.test_loss.values).all() and np.isfinite(cpu.train_error.values).any()
    assert_same_results(cpu, on_cuda)


@simulated
def test_data_too_large_for_the_device_is_refused_before_work(tmp_path, capsys, monkeypatch):
    from sweep.kernels import cuda_training

    grid = tmp_path / "grid.toml"
    grid.write_text('[sweep]\noptimizers = ["adam"]\nsteps = 3\nbackend = "cuda"\n'
                    '[objective]\nmodel = "mlp"\nhidden = [4]\ndata = "digits"\n'
                    '[grid]\nalpha = [1e-3]\n')
    monkeypatch.setattr(cuda_training, "free_memory", lambda: 2.0 ** 20)  # 1 MiB free
    out = tmp_path / "r.zarr"
    assert cli.main([str(grid), "-o", str(out)]) == 2
    message = capsys.readouterr().err
    assert f"{grid}: objective.data = 'digits': the data set and one cell need" in message
    assert "MiB of device memory; the GPU has 1.0 MiB free" in message
    assert not out.exists()
