"""numba's on-disk kernel cache under processes that compile at once, and cut-short files."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sweep
from conftest import ROOT, grid_table

OPTIMIZERS = ("momentum", "adam")


def table(optimizers=OPTIMIZERS):
    return grid_table(optimizers=optimizers, steps=40, objective="beale", start=[[1.0, 1.0]],
                      alpha=[1e-3, 1e-2, 0.1], beta1=[0.0, 0.9])


def digest(dataset) -> str:
    """A hash of every metric's bytes: two runs agree on it only if they agree bit for bit."""
    sha = hashlib.sha256()
    for name in ("final_loss", "best_loss", "final_x", "steps_to_tol", "diverged"):
        sha.update(np.ascontiguousarray(dataset[name].values).tobytes())
    return sha.hexdigest()


SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'tests')!r})
import sweep
from test_numba_cache import digest, table
print(digest(sweep.run(table(sys.argv[1:]), n_jobs=1)))
"""


def start(cache: Path, count: int, optimizers=OPTIMIZERS) -> list[subprocess.Popen]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return [subprocess.Popen([sys.executable, "-c", SCRIPT, *optimizers], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(count)]


def outputs(processes) -> list[str]:
    results = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        results.append(out.strip())
    return results


@pytest.fixture(scope="module")
def expected():
    return digest(sweep.run(table(), n_jobs=1))


def test_four_processes_compiling_at_once_on_an_empty_cache(tmp_path, expected):
    # Four on two cores (eight took a minute of the suite's time and raced no more).
    cache = tmp_path / "cache"
    assert outputs(start(cache, 4)) == [expected] * 4
    files = sorted(p.name for p in cache.rglob("*") if p.is_file())
    # one index and one data file per kernel, no temporary file left over
    assert len([f for f in files if f.endswith(".nbi")]) == len(OPTIMIZERS)
    assert not [f for f in files if ".tmp." in f]
    # and a new process loads them: same bits, nothing new compiled
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    assert outputs(start(cache, 1)) == [expected]
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")} == before


ONE = ("momentum",)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("warm")
    outputs(start(cache, 1, ONE))
    return cache


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
def test_a_cut_short_cache_file_is_compiled_again(tmp_path, warm_cache, suffix):
    expected = digest(sweep.run(table(ONE), n_jobs=1))
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache)
    cut = list(cache.rglob(f"*{suffix}"))
    assert cut
    for path in cut:
        path.write_bytes(path.read_bytes()[:3])  # numba/numba#10434: EOFError, not a recompile
    assert outputs(start(cache, 1, ONE)) == [expected]
    assert all(path.stat().st_size > 3 for path in cut)  # written anew


SIMPLE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'tests')!r})
import sweep
from test_numba_cache import digest, table
print(" ".join(digest(sweep.run(table([name]), n_jobs=1, kernel="simple"))
               for name in sys.argv[1:]))
"""


def test_simple_kernels_loaded_from_the_cache_run_their_own_rule(tmp_path):
    """Simple kernels of three rules on one objective, compiled into an empty cache by one
    process, then loaded by another after it compiled a fourth: each gives its own rule's
    bits. (Their per-cell functions once got the same linker symbol in each process, so a
    kernel loaded from the cache could run the cells of a rule compiled there.)"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def run(*names):
        done = subprocess.run([sys.executable, "-c", SIMPLE, *names], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return dict(zip(names, done.stdout.split()))

    compiled = run("sgd", "momentum", "nesterov")
    assert len(set(compiled.values())) == 3  # three rules, three different results
    loaded = run("adagrad", "nesterov", "momentum", "sgd")  # adagrad compiled, the rest loaded
    assert {name: loaded[name] for name in compiled} == compiled


def test_the_source_fingerprint_hashes_the_kernels_own_files():
    """SOURCE_FINGERPRINT (in every kernel's cache key) reads the files of sweep/kernels/:
    each module a kernel is built from, found where the package is."""
    from sweep.kernels import compile as compiled

    paths = compiled._source_modules()
    folder = ROOT / "sweep" / "kernels"
    assert all(path.is_file() and path.parent == folder for path in paths), paths
    assert {"rules.py", "objectives.py", "step.py", "compile.py", "cuda.py", "random.py",
            "training.py"} <= {path.name for path in paths}
