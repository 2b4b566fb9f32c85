"""Nothing lost: a .zarr store filled block by block, resumed after any stop to the same bits."""
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sweep
import sweep.execute
from conftest import ROOT, assert_same_bits, grid_table
from sweep.store import ChunkStore

METRICS = ("final_loss", "best_loss", "final_x", "distance", "steps_to_tol", "diverged",
           "trajectory", "loss")


def broadcast_grid(**changes):
    """Rules that ignore axes the chunks cut (SGD reads α only), records, a divergent corner."""
    table = grid_table(optimizers=("sgd", "momentum", "adam"), steps=60, objective="rosenbrock",
                       start=[[-1.2, 1.0], [0.5, 0.5]], record_every=20,
                       alpha=[1e-4, 1e-3, 1e-2, 0.1, 3.0],
                       beta1=[0.0, 0.9], beta2=[0.9, 0.999], eps=[1e-8, 1e-3])
    table["sweep"].update(changes)
    return table


def assert_same_data(a, b):
    for name in METRICS:
        if name in b:
            assert_same_bits(a[name].values, b[name].values)


def flags(path):
    return int(np.count_nonzero(ChunkStore(Path(path)).flags[:]))


@pytest.fixture(scope="module")
def reference():
    return sweep.run(broadcast_grid(), n_jobs=1)


@pytest.mark.parametrize("block_cells", [1, 7, 40, None])
def test_a_store_holds_what_memory_holds(tmp_path, reference, block_cells):
    """Whatever the chunking (SGD's one value broadcast into several chunks included)."""
    target = tmp_path / "r.zarr"
    stored = sweep.run(broadcast_grid(), output=target, n_jobs=2, block_cells=block_cells)
    assert_same_data(stored, reference)
    assert stored.attrs["status"] == "complete" and flags(target) == stored.attrs["blocks"]
    with xr.open_zarr(target) as opened:
        assert_same_data(opened, reference)
        # the zarr chunks are the plan's: every region written was whole chunks
        assert opened["final_loss"].encoding["chunks"][0] == 1


def stop_after(monkeypatch, saves, error):
    """Make the store raise ``error`` once ``saves`` blocks are saved."""
    real = ChunkStore.save
    count = {"n": 0}

    def save(self, number, pieces):
        if count["n"] == saves:
            raise error
        real(self, number, pieces)
        count["n"] += 1

    monkeypatch.setattr(ChunkStore, "save", save)


def test_an_interrupted_sweep_resumes_to_the_same_bits(tmp_path, reference, monkeypatch):
    target = tmp_path / "r.zarr"
    stop_after(monkeypatch, 5, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt) as stopped:
        sweep.run(broadcast_grid(), output=target, n_jobs=1, block_cells=4)
    message = stopped.value.message
    assert message.startswith("interrupted: 5 of ") and "--resume" in message
    assert flags(target) == 5
    with xr.open_zarr(target) as partial:
        assert partial.attrs["status"] == "incomplete"
    monkeypatch.undo()
    computed = []
    real = sweep.execute.run_block
    monkeypatch.setattr(sweep.execute, "run_block",
                        lambda *args: computed.append(len(args[2])) or real(*args))
    # another n_jobs and block size: the store's chunks are kept
    resumed = sweep.run(broadcast_grid(), output=target, resume=True, n_jobs=2, block_cells=50)
    assert resumed.attrs["resumed_blocks"] == 5 and resumed.attrs["status"] == "complete"
    plan_cells = resumed.attrs["computed_cells"]
    assert sum(computed) < plan_cells  # the 5 saved blocks were not computed again
    assert_same_data(resumed, reference)


def test_resume_refuses_a_store_of_another_grid(tmp_path):
    target = tmp_path / "r.zarr"
    sweep.run(broadcast_grid(), output=target)
    changed = broadcast_grid(steps=61)
    changed["grid"]["alpha"] = [1e-3, 1e-2]
    with pytest.raises(sweep.ConfigError) as refused:
        sweep.run(changed, output=target, resume=True)
    message = str(refused.value)
    assert "cannot resume" in message
    assert "sweep.steps: the store has 60, this run 61" in message
    assert "grid.alpha: the store has 5 values [0.0001, 0.001, 0.01, …], " \
           "this run 2 values [0.001, 0.01]" in message
    assert "grid.beta1" not in message
    with xr.open_zarr(target) as kept:
        assert kept.attrs["steps"] == 60


def test_resume_refuses_what_is_not_a_store(tmp_path):
    target = tmp_path / "r.zarr"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(sweep.ConfigError, match="not a store this program can resume"):
        sweep.run(broadcast_grid(), output=target, resume=True)
    assert (target / "notes.txt").read_text() == "mine"


def test_resume_without_a_store_runs_the_sweep(tmp_path, reference):
    assert_same_data(sweep.run(broadcast_grid(), output=tmp_path / "r.zarr", resume=True),
                     reference)


def chunk_files(target, name, block_number):
    """The zarr chunk files of variable ``name`` that block ``block_number`` fills."""
    from sweep.api import load_config
    from sweep.plan import make_plan

    chunks = tuple(ChunkStore.stored_fingerprint(target)["chunks"])
    plan = make_plan(load_config(broadcast_grid()), chunks=chunks)
    block = plan.blocks[block_number]
    optimizer = plan.config.optimizers.index(block.optimizer)
    files = []
    for region in plan.dataset_regions(block):
        # dataset dims: optimizer, start, alpha, beta1, beta2, eps (one schedule, one seed)
        index = [optimizer] + [part.start // size for part, size, kept in
                               zip(region, plan.chunks, (False, True, False, True, True, True, True))
                               if kept]
        extra = {"final_x": 1, "trajectory": 2, "loss": 1}.get(name, 0)
        files.append(target / name / ".".join(map(str, index + [0] * extra)))
    return files


def test_an_unflagged_block_is_recomputed_whatever_its_data(tmp_path, reference):
    """A kill between a block's data and its flag: the data may be whole, torn or absent."""
    target = tmp_path / "r.zarr"
    sweep.run(broadcast_grid(), output=target, block_cells=2)
    store = ChunkStore(target)
    store.flags[0] = False  # SGD: its one α broadcast into several chunks
    store.flags[25] = False
    torn = chunk_files(target, "final_loss", 0) + chunk_files(target, "trajectory", 25)
    lost = chunk_files(target, "best_loss", 0) + chunk_files(target, "final_x", 25)
    assert len(chunk_files(target, "final_loss", 0)) > 1
    # zarr does not store a chunk that is all fill value (NaN: a diverged cell's x)
    assert sum(path.exists() for path in torn) >= 3 and sum(path.exists() for path in lost) >= 3
    for path in torn:
        if path.exists():
            path.write_bytes(path.read_bytes()[:5])
    for path in lost:
        path.unlink(missing_ok=True)
    resumed = sweep.run(broadcast_grid(), output=target, resume=True)
    assert resumed.attrs["resumed_blocks"] == resumed.attrs["blocks"] - 2
    assert_same_data(resumed, reference)


def test_a_failing_block_names_its_cell_and_keeps_the_others(tmp_path, reference, monkeypatch):
    target = tmp_path / "r.zarr"
    real = sweep.execute.run_block

    def fragile(optimizer, spec, x0, hyper, ids, *rest):
        if optimizer == "adam" and np.any((hyper[:, 0] == 0.01) & (hyper[:, 1] == 0.9)):
            raise FloatingPointError("the objective broke")
        return real(optimizer, spec, x0, hyper, ids, *rest)

    monkeypatch.setattr(sweep.execute, "run_block", fragile)
    with pytest.raises(sweep.SweepFailure) as failed:
        sweep.run(broadcast_grid(), output=target, n_jobs=1, block_cells=4)
    message = str(failed.value)
    assert "cell optimizer=adam, start=0, alpha=0.01, beta1=0.9, beta2=0.9, eps=1e-08 failed: " \
           "FloatingPointError: the objective broke" in message
    saved = flags(target)
    assert saved > 0 and f"{saved} of " in message and "--resume" in message
    monkeypatch.undo()
    assert_same_data(sweep.run(broadcast_grid(), output=target, resume=True), reference)


# --- for real: a subprocess killed, then resumed -------------------------------------

KILL_GRID = """
[sweep]
optimizers = ["adam", "momentum"]
steps = 3000
record_every = 500
[objective]
name = "rosenbrock"
start = [[-1.2, 1.0], [0.0, 2.0]]
noise = 0.01
[grid]
alpha = {min = 1e-4, max = 1e-1, num = 48, scale = "log"}
beta1 = [0.0, 0.5, 0.9, 0.99]
beta2 = [0.99, 0.999]
eps = [1e-8]
"""


def cli(*args):
    return [sys.executable, "-m", "sweep", "grid.toml", *args]


@pytest.fixture(scope="module")
def killing_ground(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill")
    (folder / "grid.toml").write_text(KILL_GRID)
    subprocess.run(cli("-o", "reference.nc", "--quiet"), cwd=folder, check=True,
                   capture_output=True, env=_env())
    with xr.open_dataset(folder / "reference.nc", engine="h5netcdf") as ds:
        return folder, ds.load()


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _chunks_written(store: Path) -> int:
    return sum(1 for _ in (store / "final_loss").glob("*.*")) if store.is_dir() else 0


def _flags_set(store: Path) -> int:
    """Flag chunks on disk: files named by a block number. zarr writes each to
    ``N.<hex>.partial`` and renames it; a kill between the two leaves a partial file,
    which is not a flag (counting it made the test expect one block too many)."""
    folder = store / "_sweep" / "done"
    return sum(1 for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else 0


def kill(folder: Path, name: str, when) -> int:
    """Start the sweep into ``name`` and SIGKILL it when ``when(store)`` is true (polled).
    Returns the number of flags set at the kill."""
    store = folder / name
    process = subprocess.Popen(cli("-o", name, "--quiet", "--block-cells", "24", "--n-jobs", "2",
                                   ), cwd=folder, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if when(store):
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return _flags_set(store)


@pytest.mark.parametrize("moment", ["store-created", "after-some-blocks", "during-a-write",
                                    "late"])
def test_kill_9_then_resume_gives_the_same_bits(killing_ground, moment):
    folder, expected = killing_ground
    name = f"{moment}.zarr"
    moments = {
        "store-created": lambda store: store.is_dir(),
        "after-some-blocks": lambda store: _flags_set(store) >= 5,
        # data of a block on disk, its flag not yet: the kill lands inside a save
        "during-a-write": lambda store: _chunks_written(store) > _flags_set(store),
        "late": lambda store: _flags_set(store) >= 50,
    }
    saved = kill(folder, name, moments[moment])
    resumed = subprocess.run(cli("-o", name, "--resume", "--quiet"), cwd=folder,
                             env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    if saved:
        assert f"resumed: {saved} of " in resumed.stdout
    with xr.open_zarr(folder / name) as ds:
        assert ds.attrs["status"] == "complete"
        assert_same_data(ds, expected)


def _as_from_a_terminal():
    """In the child, before exec: SIGINT delivered and handled as a terminal's Ctrl-C would be.
    Both an ignored SIGINT and a blocked one are inherited through exec, and the test runner's
    worker may hold either after other tests (a library's child-process helper blocks the
    signals while it spawns): the sweep would then never see the signal."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_after_three_blocks(folder: Path, store: Path, attempts: int = 10):
    """Start the sweep into ``store``, send it SIGINT once three blocks are saved, and
    return the process and its stderr. The last 61 of the 64 blocks take well under a second; in
    the suite, with the other worker busy, a run once finished (exit 0, every block
    saved) before the signal reached it. A run that exited 0 is started again (a sweep
    that ignored Ctrl-C would exit 0 every time, and fail the caller's assertions)."""
    for _ in range(attempts):
        shutil.rmtree(store, ignore_errors=True)
        process = subprocess.Popen(cli("-o", store.name, "--quiet", "--block-cells", "24"),
                                   cwd=folder, env=_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True,
                                   preexec_fn=_as_from_a_terminal)
        while process.poll() is None and _flags_set(store) < 3:
            time.sleep(0.002)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode != 0:
            break
    return process, err


def test_ctrl_c_keeps_what_is_done_and_prints_the_resume_command(killing_ground):
    folder, expected = killing_ground
    store = folder / "interrupted.zarr"
    process, err = _interrupt_after_three_blocks(folder, store)
    assert process.returncode == 130, (
        f"{err}\n(this process: SIGINT handler {signal.getsignal(signal.SIGINT)}, blocked "
        f"signals {signal.pthread_sigmask(signal.SIG_BLOCK, [])}, saved blocks {_flags_set(store)})")
    lines = err.strip().splitlines()
    assert len(lines) == 2, err  # no warning, no traceback
    assert lines[0].startswith("interrupted: ") and "blocks are saved in interrupted.zarr" in lines[0]
    command = lines[-1].strip()
    assert command == "python -m sweep grid.toml -o interrupted.zarr --resume"
    argv = shlex.split(command)
    finished = subprocess.run([sys.executable, *argv[1:], "--quiet"], cwd=folder, env=_env(),
                              capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    with xr.open_zarr(store) as ds:
        assert_same_data(ds, expected)
