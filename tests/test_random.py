"""The counter-based generator in :mod:`sweep.kernels.random`.

* an independent reference: SplitMix64 written with Python ints, itself
  checked against the published test vectors;
* the same source compiled by numba (``register_jitable``, as in
  :mod:`sweep.kernels.compile`) against plain Python, bit for bit;
* purity: the same (key, i) gives the same value in any order, block size or thread;
* distribution: moments, chi-square, Kolmogorov–Smirnov, independence of keys
  that differ in one coordinate;
* edges: keys whose raw output is 0 or 2**64 − 1 (built by inverting the mix);
* CUDA: the same source in the CUDA simulator, and compiled to PTX when numba-cuda is installed.
"""
import ast
import importlib.util
import inspect
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from numba.extending import register_jitable

import sweep.kernels.random as rnd
from sweep.kernels.random import counter_key, normal, uniform

SOURCE = Path(rnd.__file__)
MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
TWO_M53 = 2.0 ** -53
NORMAL_MAX = math.sqrt(-2.0 * math.log(TWO_M53))  # largest |normal|: u1 = 2**-53, cos = ±1

# Every function of the module, as sweep.kernels.compile registers them: the public three call
# the private helpers (_mix, _output, ...).
FUNCTIONS = [f for f in vars(rnd).values()
             if inspect.isfunction(f) and f.__module__ == rnd.__name__]
for _function in FUNCTIONS:
    register_jitable(_function)


# --- independent reference: SplitMix64 with Python ints ----------------------------------------

def mix64(z):
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    return z ^ (z >> 31)


def splitmix64(seed, n):
    """The first n outputs of SplitMix64 seeded with ``seed``, as in splitmix64.c."""
    state, out = seed & MASK64, []
    for _ in range(n):
        state = (state + GAMMA) & MASK64
        out.append(mix64(state))
    return out


def ref_key(seed, cell, step, stream):
    h = 0
    for x in (seed, cell, step, stream):
        h = mix64(((h ^ x) + GAMMA) & MASK64)
    return h & ((1 << 63) - 1)


def ref_bits(key, i):
    return mix64((key + (i + 1) * GAMMA) & MASK64)


def ref_uniform(key, i):
    return (ref_bits(key, i) >> 11) * TWO_M53


def ref_normal(key, i):
    u1 = ((ref_bits(key, 2 * i) >> 11) + 1) * TWO_M53
    u2 = (ref_bits(key, 2 * i + 1) >> 11) * TWO_M53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def unmix64(z):
    """The inverse of :func:`mix64`: the state whose output is z."""
    def unxorshift(z, s):
        x = z
        for _ in range(64 // s + 1):
            x = z ^ (x >> s)
        return x
    z = unxorshift(z, 31)
    z = (z * pow(MIX2, -1, 1 << 64)) & MASK64
    z = unxorshift(z, 27)
    z = (z * pow(MIX1, -1, 1 << 64)) & MASK64
    return unxorshift(z, 30)


def key_with_output(bits, i):
    """A 64-bit key (Python int) whose i-th raw output is ``bits``."""
    return (unmix64(bits) - (i + 1) * GAMMA) & MASK64


def signed(x):
    """The int64 with the bits of a 64-bit unsigned int."""
    return x - (1 << 64) if x >= 1 << 63 else x


def random_tuples(n, rng):
    """n (seed, cell, step, stream, i) rows: small, large and edge values."""
    rows = rng.integers(0, 1 << 63, size=(n, 5), dtype=np.int64)
    small = rng.integers(0, 1000, size=(n, 5), dtype=np.int64)
    pick = rng.random((n, 5)) < 0.5
    rows = np.where(pick, small, rows)
    rows[:, 4] %= 1 << 61  # i < 2**62 (normal uses 2i + 1)
    edges = np.array([[0, 0, 0, 0, 0], [(1 << 63) - 1] * 4 + [(1 << 61) - 1],
                      [1, 2, 3, 4, 5], [(1 << 32) - 1, 1 << 32, (1 << 31), (1 << 33) + 7, 1 << 32]],
                     dtype=np.int64)
    return np.concatenate([edges, rows])


# --- compiled helpers ---------------------------------------------------------------------------

@njit(nogil=True, error_model="numpy")
def _fill(rows, keys, u, z):
    """Row r: key of rows[r, :4], and uniform/normal number rows[r, 4] of it."""
    for r in range(rows.shape[0]):
        key = counter_key(rows[r, 0], rows[r, 1], rows[r, 2], rows[r, 3])
        keys[r] = key
        u[r] = uniform(key, rows[r, 4])
        z[r] = normal(key, rows[r, 4])


@njit(nogil=True, error_model="numpy")
def _grid(seed, cells, draws, u, z):
    """u[c, i], z[c, i] for the cells and draws listed, visited in the order given."""
    for c in cells:
        key = counter_key(seed, c, 3, 1)
        for i in draws:
            u[c, i] = uniform(key, i)
            z[c, i] = normal(key, i)


@njit(nogil=True, error_model="numpy")
def _draw_raw(keys, i, u, z):
    """uniform/normal number i of raw int64 keys (any bits)."""
    for r in range(keys.shape[0]):
        u[r] = uniform(keys[r], i)
        z[r] = normal(keys[r], i)


@njit(nogil=True, error_model="numpy")
def _normal_cdf(x):
    out = np.empty_like(x)
    for j in range(x.shape[0]):
        out[j] = 0.5 * (1.0 + math.erf(x[j] / math.sqrt(2.0)))
    return out


def fill(rows):
    n = len(rows)
    keys, u, z = np.empty(n, np.int64), np.empty(n), np.empty(n)
    _fill(rows, keys, u, z)
    return keys, u, z


def grid(seed, n_cells, n_draws, cells=None, draws=None):
    u, z = np.full((n_cells, n_draws), np.nan), np.full((n_cells, n_draws), np.nan)
    _grid(seed, np.arange(n_cells) if cells is None else cells,
          np.arange(n_draws) if draws is None else draws, u, z)
    return u, z


def same_bits(a, b):
    return np.array_equal(np.asarray(a, np.float64).view(np.int64),
                          np.asarray(b, np.float64).view(np.int64))


# --- reference and compiled == Python ------------------------------------------------------------

def test_reference_is_splitmix64():
    # Published outputs: Rosetta Code "Pseudo-random numbers/Splitmix64" (seed 1234567) and
    # splitmix64.c seeded with 0.
    assert splitmix64(1234567, 5) == [6457827717110365317, 3203168211198807973, 9817491932198370423,
                                      4593380528125082431, 16408922859458223821]
    assert splitmix64(0, 2) == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]
    assert all(unmix64(mix64(x)) == x for x in splitmix64(99, 50) + [0, MASK64])


def test_uniform_is_top_53_bits_of_splitmix64_outputs():
    for seed in (1234567, 0, 42, (1 << 63) - 1):
        for i, bits in enumerate(splitmix64(seed, 20)):
            assert uniform(seed, i) == (bits >> 11) * TWO_M53
    # a key only matters mod 2**64: its signed (numba int64) form gives the same draws
    key = 0xDEADBEEFCAFEBABE
    assert [uniform(key, i) for i in range(5)] == [uniform(signed(key), i) for i in range(5)]


def test_python_matches_reference():
    rows = random_tuples(2000, np.random.default_rng(1))
    for seed, cell, step, stream, i in rows.tolist():
        key = counter_key(seed, cell, step, stream)
        assert key == ref_key(seed, cell, step, stream)
        assert 0 <= key < 1 << 63
        assert uniform(key, i) == ref_uniform(key, i)
        assert normal(key, i) == ref_normal(key, i)


def test_compiled_matches_python_bit_for_bit():
    rows = random_tuples(10000, np.random.default_rng(2))
    keys, u, z = fill(rows)
    py_keys = [counter_key(*r[:4]) for r in rows.tolist()]
    assert keys.tolist() == py_keys
    assert same_bits(u, [uniform(k, i) for k, i in zip(py_keys, rows[:, 4].tolist())])
    assert same_bits(z, [normal(k, i) for k, i in zip(py_keys, rows[:, 4].tolist())])


def test_python_accepts_numpy_integers():
    args = (np.int64(7), np.uint64(3), np.int32(11), np.int64((1 << 62) + 5))
    key = counter_key(*args)
    assert type(key) is int and key == counter_key(*(int(a) for a in args))
    for i in (np.int64(4), np.uint64(4)):
        assert uniform(np.int64(key), i) == uniform(key, 4)
        assert uniform(np.uint64(key), i) == uniform(key, 4)
        assert normal(np.int64(key), i) == normal(key, 4)


# --- purity: order, blocks, threads --------------------------------------------------------------

def test_draws_do_not_depend_on_order_blocks_or_threads():
    n_cells, n_draws, seed = 300, 40, 2024
    u, z = grid(seed, n_cells, n_draws)
    assert np.isfinite(u).all() and np.isfinite(z).all()
    rng = np.random.default_rng(3)
    # reversed and shuffled cells and draws
    for cells, draws in ((np.arange(n_cells)[::-1].copy(), np.arange(n_draws)[::-1].copy()),
                         (rng.permutation(n_cells), rng.permutation(n_draws))):
        u2, z2 = grid(seed, n_cells, n_draws, cells, draws)
        assert same_bits(u, u2) and same_bits(z, z2)
    # blocks of different sizes, visited in a shuffled order
    for size in (1, 7, 64, n_cells):
        u2, z2 = np.full_like(u, np.nan), np.full_like(z, np.nan)
        blocks = [np.arange(s, min(s + size, n_cells)) for s in range(0, n_cells, size)]
        for b in rng.permutation(len(blocks)):
            _grid(seed, blocks[b], np.arange(n_draws), u2, z2)
        assert same_bits(u, u2) and same_bits(z, z2)
    # threads (the kernels release the GIL), interleaved blocks
    u2, z2 = np.full_like(u, np.nan), np.full_like(z, np.nan)
    blocks = [np.arange(s, n_cells, 8) for s in range(8)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda b: _grid(seed, b, np.arange(n_draws), u2, z2), blocks))
    assert same_bits(u, u2) and same_bits(z, z2)
    # plain Python, cell by cell in a shuffled order, each draw repeated
    for c in rng.permutation(n_cells)[:40].tolist():
        key = counter_key(seed, c, 3, 1)
        for i in rng.permutation(n_draws).tolist():
            assert uniform(key, i) == u[c, i] == uniform(key, i)
            assert normal(key, i) == z[c, i] == normal(key, i)
    # and the draws are not all the same
    assert len(np.unique(u)) == u.size


# --- edges ---------------------------------------------------------------------------------------

def test_extreme_outputs():
    top, zero = key_with_output(MASK64, 0), key_with_output(0, 0)
    assert ref_bits(top, 0) == MASK64 and ref_bits(zero, 0) == 0
    keys = np.array([signed(top), signed(zero)], dtype=np.int64)
    u, z = np.empty(2), np.empty(2)
    _draw_raw(keys, 0, u, z)
    for key, uc, zc in zip((top, zero), u, z):
        assert uniform(key, 0) == uniform(signed(key), 0) == uc
        assert normal(key, 0) == normal(signed(key), 0) == zc
    # the largest output gives the largest uniform, still below 1; the smallest gives 0
    assert u[0] == 1.0 - TWO_M53 and u[0] < 1.0
    assert u[1] == 0.0
    # normal number 0 uses output 0 for u1: all ones gives u1 = 1 and z = ±0; zero gives
    # u1 = 2**-53 (not log 0), the largest |z|
    assert z[0] == 0.0
    assert math.isfinite(z[1]) and abs(z[1]) <= NORMAL_MAX
    assert abs(z[1]) == pytest.approx(NORMAL_MAX * abs(math.cos(2 * math.pi * uniform(zero, 1))))


def test_ranges_on_many_draws():
    u, z = grid(7, 1000, 2000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert np.isfinite(z).all() and np.abs(z).max() <= NORMAL_MAX
    # 53 bits: every uniform is a multiple of 2**-53, and low bits are used
    assert np.all(u / TWO_M53 == np.floor(u / TWO_M53))
    assert np.any((u / TWO_M53) % 2 == 1)


# --- distribution --------------------------------------------------------------------------------

def chi2_z(stat, dof):
    """Wilson–Hilferty: a chi-square(dof) statistic as an approximate standard normal."""
    return ((stat / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))


def ks_statistic(sample, cdf):
    """sqrt(n) · sup |F_n − F|, for a sample and F at its sorted values."""
    x = np.sort(sample)
    f = cdf(x)
    n = len(x)
    k = np.arange(1, n + 1)
    d = max(np.max(k / n - f), np.max(f - (k - 1) / n))
    return math.sqrt(n) * d


def ks_pvalue(lam):
    """P(K > lam) for the Kolmogorov distribution."""
    terms = ((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, 2 * sum(terms))


@pytest.fixture(scope="module")
def draws():
    u, z = grid(12345, 2000, 2000)  # 4 million of each
    return u.ravel(), z.ravel()


def test_helpers_can_reject():
    # the tests below are not vacuous: these helpers do flag bad samples
    rng = np.random.default_rng(0)
    assert ks_pvalue(ks_statistic(rng.random(100000) ** 1.05, lambda x: x)) < 1e-6
    counts = np.bincount((rng.random(100000) ** 1.05 * 100).astype(int), minlength=100)
    assert abs(chi2_z(((counts - 1000.0) ** 2 / 1000.0).sum(), 99)) > 5
    assert ks_pvalue(ks_statistic(rng.random(100000), lambda x: x)) > 1e-3


def test_uniform_distribution(draws):
    u = draws[0]
    n = len(u)
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt((1 / 80 - 1 / 144) / n)  # Var(U) estimator
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    assert len(counts) == 100
    expected = n / 100
    assert abs(chi2_z(((counts - expected) ** 2 / expected).sum(), 99)) < 5
    assert ks_pvalue(ks_statistic(u, lambda x: x)) > 1e-4


def test_normal_distribution(draws):
    z = draws[1]
    n = len(z)
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(z ** 4) - 3) < 5 * math.sqrt(96 / n)  # E z^4 = 3, Var z^4 = 105 − 9
    assert abs(np.mean(z ** 3)) < 5 * math.sqrt(15 / n)
    assert ks_pvalue(ks_statistic(z, _normal_cdf)) > 1e-4


def test_uniform_and_normal_lag_correlation(draws):
    u, z = (d.reshape(2000, 2000) for d in draws)
    n = u[:, 1:].size
    for a in (u, z):
        assert abs(np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]) < 5 / math.sqrt(n)


@pytest.mark.parametrize("coordinate", ["seed", "cell", "step", "stream"])
def test_keys_differing_in_one_coordinate_are_independent(coordinate):
    n, m = 100_000, 4
    j = ["seed", "cell", "step", "stream"].index(coordinate)
    rng = np.random.default_rng(j)
    base = np.concatenate([rng.integers(0, 1000, size=(n // 2, 4)),
                           rng.integers(0, 1 << 62, size=(n - n // 2, 4))]).astype(np.int64)
    for delta in (1, 1 << 32):
        other = base.copy()
        other[:, j] += delta  # neighbours: adjacent cells/steps/streams, or a high bit
        seen = []
        for i in range(m):
            keys_a, ua, za = fill(np.column_stack([base, np.full(n, i)]))
            keys_b, ub, zb = fill(np.column_stack([other, np.full(n, i)]))
            assert np.all(keys_a != keys_b)
            assert abs(np.corrcoef(ua, ub)[0, 1]) < 5 / math.sqrt(n)
            assert abs(np.corrcoef(za, zb)[0, 1]) < 5 / math.sqrt(n)
            # joint histogram of the pairs on a 10 x 10 grid: independent uniforms fill it evenly
            counts = np.bincount((ua * 10).astype(np.int64) * 10 + (ub * 10).astype(np.int64),
                                 minlength=100)
            assert abs(chi2_z(((counts - n / 100) ** 2 / (n / 100)).sum(), 99)) < 5
            seen += [ua, ub]
        # no overlapping sequences (e.g. key_b's draw i being key_a's draw i + 1): all the
        # 2·n·m 53-bit values differ (a chance repeat has probability ~ 4e-5)
        seen = np.concatenate(seen)
        assert len(np.unique(seen)) == len(seen)


# --- the module itself ---------------------------------------------------------------------------

def test_module_is_plain_python():
    tree = ast.parse(SOURCE.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"math", "__future__"}
    for name, value in vars(rnd).items():
        if name.startswith("__") or name == "annotations":
            continue
        assert (isinstance(value, (int, float)) or value is math
                or (callable(value) and value.__module__ == rnd.__name__)), name
    # importable with numba and numpy unavailable
    code = ("import sys, importlib.util; sys.modules['numba'] = None; sys.modules['numpy'] = None; "
            f"spec = importlib.util.spec_from_file_location('r', {str(SOURCE)!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "print(m.uniform(m.counter_key(1, 2, 3, 4), 5))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == uniform(counter_key(1, 2, 3, 4), 5)


# --- CUDA ----------------------------------------------------------------------------------------

CUDA_SIM_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
from numba import cuda
from sweep.kernels import random as R
ck, un, no = (cuda.jit(device=True)(f) for f in (R.counter_key, R.uniform, R.normal))

@cuda.jit
def kernel(seed, u, z, keys):
    cell = cuda.grid(1)
    if cell < u.shape[0]:
        key = ck(seed[0], cell, 7, 1)
        keys[cell] = key
        for i in range(u.shape[1]):
            u[cell, i] = un(key, i)
            z[cell, i] = no(key, i)

u = np.zeros((48, 6)); z = np.zeros((48, 6)); keys = np.zeros(48, np.int64)
kernel[2, 32](np.array([987654321]), u, z, keys)
np.save({out!r}, np.concatenate([u.ravel(), z.ravel(), keys.view(np.float64)]))
"""


def test_cuda_simulator_matches_python(tmp_path):
    out = tmp_path / "sim.npy"
    script = CUDA_SIM_SCRIPT.format(root=str(SOURCE.parents[1]), out=str(out))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    if run.returncode != 0 and "cuda" in run.stderr.lower() and "import" in run.stderr.lower():
        pytest.skip("numba.cuda unavailable: " + run.stderr.strip().splitlines()[-1])
    assert run.returncode == 0, run.stderr
    flat = np.load(out)
    u, z = flat[:288].reshape(48, 6), flat[288:576].reshape(48, 6)
    keys = flat[576:].view(np.int64)
    for c in range(48):
        assert keys[c] == counter_key(987654321, c, 7, 1)
        for i in range(6):
            assert u[c, i] == uniform(int(keys[c]), i) and z[c, i] == normal(int(keys[c]), i)


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="numba-cuda not installed")
def test_compiles_to_ptx():
    from numba import cuda, types

    from sweep.kernels import cuda as kernels_cuda
    from sweep.kernels.numba_support import cuda_compiling_for

    # The helpers the three call (_mix, _output, ...) are device functions, registered as
    # every kernel registers them; compiling a call of one asks for a device (see sweep.kernels.cuda).
    kernels_cuda._register_shared()
    i64, u64, i32 = types.int64, types.uint64, types.int32
    for function, signature, returns in ((counter_key, (i64, i64, i64, i64), i64),
                                         (counter_key, (i64, i32, u64, i64), i64),
                                         (uniform, (i64, i64), types.float64),
                                         (uniform, (u64, i64), types.float64),
                                         (normal, (i64, i64), types.float64)):
        with cuda_compiling_for((7, 5)):
            ptx, resty = cuda.compile_ptx(function, signature, device=True, cc=(7, 5))
        assert resty == returns and ".func" in ptx
