"""Kill-and-resume trials: SIGKILL ``python -m sweep`` at random moments, resume, compare.

    python benchmarks/kill_resume.py [TRIALS] [SEED]

Each trial starts the sweep of ``GRID`` below into a fresh ``.zarr``, kills it
with SIGKILL after a random delay (uniform over the length of an
uninterrupted run), then runs ``--resume`` (again, until it completes) and
compares every variable, bit for bit, with an uninterrupted run written to
netCDF. TRIALS defaults to 20, SEED (of the random delays) to 0. Prints one line
per trial and a summary; exit status 0 when every resumed run has the same bits.
Not part of the test suite (tests/test_resume.py kills at chosen moments); this
is the random-moment version of docs/clusters.md's claim that a killed run,
resumed, gives the same bits as an uninterrupted one.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

GRID = """
[sweep]
optimizers = ["adam", "momentum", "rmsprop"]
steps = 4000
record_every = 1000
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
VARIABLES = ("final_loss", "best_loss", "final_x", "distance", "steps_to_tol", "diverged",
             "trajectory", "loss")


def sweep(*args):
    return [sys.executable, "-m", "sweep", "grid.toml", *args, "--quiet", "--block-cells", "24"]


def same_bits(a: xr.Dataset, b: xr.Dataset) -> bool:
    for name in VARIABLES:
        x, y = a[name].values, b[name].values
        if x.dtype.kind == "f":
            if not np.array_equal(x.view(np.int64), y.view(np.int64)):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


def flags(store: Path) -> int:
    folder = store / "_sweep" / "done"
    return sum(1 for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else 0


def main(trials: int = 20, seed: int = 0) -> int:
    chance = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="kill-resume-"))
    (folder / "grid.toml").write_text(GRID)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    # A first run compiles the kernels (or loads them from the cache), so that the length
    # the delays are drawn over is that of a run like the trials', not of a compile.
    subprocess.run(sweep("-o", "warm.nc"), cwd=folder, env=env, check=True)
    started = time.perf_counter()
    subprocess.run(sweep("-o", "reference.nc"), cwd=folder, env=env, check=True)
    length = time.perf_counter() - started
    reference = xr.open_dataset(folder / "reference.nc", engine="h5netcdf").load()
    identical = 0
    for trial in range(trials):
        store = folder / f"trial{trial}.zarr"
        delay = chance.uniform(0.0, length)
        process = subprocess.Popen(sweep("-o", store.name), cwd=folder, env=env)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        done = flags(store)
        resumes = 0
        while True:
            resumes += 1
            result = subprocess.run(sweep("-o", store.name, "--resume"), cwd=folder,
                                    env=env, capture_output=True, text=True)
            if result.returncode == 0:
                break
            print(result.stderr, file=sys.stderr)
            if resumes == 3:
                break
        ok = False
        if result.returncode == 0:
            with xr.open_zarr(store) as resumed:
                ok = resumed.attrs["status"] == "complete" and same_bits(resumed, reference)
        identical += ok
        state = f"{done} blocks flagged" if store.exists() else "no store yet"
        print(f"trial {trial:2d}: killed at {delay:5.2f} s ({state}, exit {process.returncode}); "
              f"resumed in {resumes} run(s): {'same bits' if ok else 'DIFFERENT'}")
    print(f"{identical} of {trials} resumed runs bit-identical to the uninterrupted run "
          f"(an uninterrupted run took {length:.1f} s; {folder})")
    return 0 if identical == trials else 1


if __name__ == "__main__":
    sys.exit(main(*map(int, sys.argv[1:3])))
