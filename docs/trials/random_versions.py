"""Two versions of sweep/kernels/random.py, in one process: the same bits, and their compiled speed.

    git show 9c33e8f:kernels/random.py > /tmp/random_old.py
    python docs/trials/random_versions.py /tmp/random_old.py

Loads the other version from the file given and registers its functions with
numba as :mod:`sweep.kernels.compile` registers this one's. Checks that the keys,
uniforms and normals of 4000 random (seed, cell, step, stream, i) rows agree
bit for bit between the two versions, compiled and in plain Python; then times
compiled loops of each version, interleaved (median of 5 runs, 4 rounds): a
kernel's noise (a key per cell and step, a normal per coordinate), ``normal``
alone and ``counter_key`` alone, in ns per call.
"""
from __future__ import annotations

import importlib.util
import inspect
import statistics
import sys
import time

import numpy as np
from numba import njit

import sweep.kernels.compile as compiled
import sweep.kernels.random as this


def load(path: str):
    spec = importlib.util.spec_from_file_location("random_other", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for function in vars(module).values():
        if inspect.isfunction(function) and function.__module__ == module.__name__:
            compiled.register_jitable(function)
    return module


def loops(module):
    """Compiled loops over one version's counter_key, uniform and normal."""
    counter_key, uniform, normal = module.counter_key, module.uniform, module.normal

    @njit(nogil=True, error_model="numpy")
    def fill(rows, keys, u, z):
        for r in range(rows.shape[0]):
            key = counter_key(rows[r, 0], rows[r, 1], rows[r, 2], rows[r, 3])
            keys[r] = key
            u[r] = uniform(key, rows[r, 4])
            z[r] = normal(key, rows[r, 4])

    @njit(nogil=True, error_model="numpy")
    def noise(cells, steps, dim):
        total = 0.0
        for c in range(cells):
            for t in range(steps):
                key = counter_key(7, c, t, 1)
                for i in range(dim):
                    total += normal(key, i)
        return total

    @njit(nogil=True, error_model="numpy")
    def normals(key, n):
        total = 0.0
        for i in range(n):
            total += normal(key, i)
        return total

    @njit(nogil=True, error_model="numpy")
    def keys(n):
        total = 0
        for i in range(n):
            total ^= counter_key(7, i, 3, 1)
        return total

    return fill, noise, normals, keys


def draws(module, fill, rows):
    """(keys, uniforms, normals) compiled, then the same in plain Python."""
    keys, u, z = np.empty(len(rows), np.int64), np.empty(len(rows)), np.empty(len(rows))
    fill(rows, keys, u, z)
    plain_keys = np.array([module.counter_key(*map(int, row[:4])) for row in rows], np.int64)
    plain_u = np.array([module.uniform(int(k), int(row[4])) for k, row in zip(plain_keys, rows)])
    plain_z = np.array([module.normal(int(k), int(row[4])) for k, row in zip(plain_keys, rows)])
    return keys, u, z, plain_keys, plain_u, plain_z


def median_seconds(function, *args, repeat: int = 5) -> float:
    function(*args)  # compiled and warm
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main(other_path: str) -> None:
    versions = {"other": load(other_path), "this": this}
    functions = {name: loops(module) for name, module in versions.items()}
    rows = np.random.default_rng(1).integers(0, 2**63 - 1, size=(4000, 5), dtype=np.int64)
    rows[:, 4] %= 1 << 61  # i < 2**62
    rows[:1000] %= 1 << 20  # small counters too
    results = [draws(module, functions[name][0], rows) for name, module in versions.items()]
    reference = results[0][3:]  # the other version in plain Python
    for result in results:
        for got, expected in zip(result, reference * 2):
            assert np.array_equal(got.view(np.int64), expected.view(np.int64))
    print(f"the same bits: {len(rows)} keys, uniforms and normals, both versions, "
          "compiled and plain Python")
    cases = (("noise: a key per (cell, step), a normal per coordinate", 1, (2000, 200, 4),
              2000 * 200 * 4),
             ("normal alone", 2, (12345, 4_000_000), 4_000_000),
             ("counter_key alone", 3, (4_000_000,), 4_000_000))
    for label, index, args, count in cases:
        for _ in range(4):  # interleaved rounds
            times = [f"{name} {median_seconds(loop[index], *args) * 1e9 / count:.1f}"
                     for name, loop in functions.items()]
            print(f"{label}: {', '.join(times)} ns per call (median of 5)")


if __name__ == "__main__":
    main(sys.argv[1])
