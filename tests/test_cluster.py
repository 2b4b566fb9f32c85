"""A real Dask cluster on loopback: a scheduler and two worker processes, same bits as here."""
import os
import signal
import threading
import time

import pytest
import xarray as xr

import sweep
from sweep import tunables
from conftest import assert_same_bits, grid_table

distributed = pytest.importorskip("distributed")

METRICS = ("final_loss", "best_loss", "final_x", "distance", "steps_to_tol", "diverged",
           "trajectory", "loss")


def cluster_grid():
    table = grid_table(optimizers=("sgd", "adam", "rmsprop"), steps=4000, objective="rosenbrock",
                       start=[[-1.2, 1.0], [0.5, -0.5]], record_every=1000,
                       alpha={"min": 1e-4, "max": 1.0, "num": 12, "scale": "log"},
                       beta1=[0.0, 0.9], beta2=[0.9, 0.999], eps=[1e-8])
    table["objective"]["noise"] = 0.05  # the random draws must not depend on the worker either
    return table


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def reference():
    return sweep.run(cluster_grid(), n_jobs=1)


def assert_same_data(a, b):
    for name in METRICS:
        assert_same_bits(a[name].values, b[name].values)


def test_a_cluster_gives_the_same_bits(cluster, reference, tmp_path):
    on_cluster = sweep.run(cluster_grid(), scheduler=cluster.scheduler_address, block_cells=8)
    assert_same_data(on_cluster, reference)
    # into a store, from the grid file's own [sweep] scheduler
    table = cluster_grid()
    table["sweep"]["scheduler"] = cluster.scheduler_address
    stored = sweep.run(table, output=tmp_path / "r.zarr", block_cells=16)
    assert_same_data(stored, reference)
    with distributed.Client(cluster.scheduler_address) as client:
        ran = client.run(lambda: sorted(k for k in __import__("sys").modules if k == "sweep"))
    assert all(modules == ["sweep"] for modules in ran.values())  # the workers did run it


def test_a_worker_killed_mid_run_loses_nothing(cluster, reference, tmp_path):
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    target = tmp_path / "r.zarr"
    killed = threading.Event()

    def kill_when_started():
        flags = target / "_sweep" / "done"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if flags.is_dir() and sum(1 for p in flags.iterdir() if not p.name.startswith(".")) >= 3:
                os.kill(victim, signal.SIGKILL)
                killed.set()
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    result = sweep.run(cluster_grid(), output=target, scheduler=cluster.scheduler_address,
                       block_cells=4)
    killer.join()
    assert killed.is_set(), "the sweep ended before a worker could be killed"
    assert_same_data(result, reference)
    with xr.open_zarr(target) as stored:
        assert stored.attrs["status"] == "complete"


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(tunables, "CLUSTER_CONNECT_TIMEOUT", "2s")  # not the default 10 s
    with pytest.raises(sweep.SweepFailure, match="cannot reach the Dask scheduler at "
                                                 "tcp://127.0.0.1:9"):
        sweep.run(grid_table(steps=5), scheduler="tcp://127.0.0.1:9")
