"""The CUDA kernels give the CPU reference kernel's results, run in numba-cuda's simulator.

A separate pytest invocation, because the simulator must be switched on
before numba.cuda is first imported::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/test_cuda.py

The simulator runs the kernel's Python source thread by thread (one Python
thread per CUDA thread), calling the very plain-Python rules, objectives,
generator and schedules the CPU kernel compiles; so these tests check the
kernel's logic (indexing, grid-stride loop, layouts, chunking, copies), not
the CUDA compiler (``tests/test_cuda_ptx.py`` does that). Both run libm's
functions here, so the results are the same bits; a GPU's libdevice may
differ in the last place, hence the contract is 1e-12 relative.

Tiny blocks (4 threads, at most 2 blocks) make a dozen cells span several
blocks and several turns of the grid-stride loop.
"""
import os
import warnings

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("needs NUMBA_ENABLE_CUDASIM=1 set before numba is imported: run it as "
                "'NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/test_cuda.py'",
                allow_module_level=True)
pytest.importorskip("numba_cuda", reason="the gpu extra (numba-cuda) is not installed")

import numpy as np  # noqa: E402

from conftest import assert_same_bits  # noqa: E402
from sweep.kernels import cuda as backend  # noqa: E402
from sweep.kernels.compile import cpu_kernel  # noqa: E402
from sweep.kernels.layout import DATA_FIELDS, Metrics, Settings, empty_metrics, hyper_for  # noqa: E402
from sweep.kernels.objectives import problem  # noqa: E402
from sweep.kernels.rules import OPTIMIZERS  # noqa: E402
from sweep.kernels.schedules import SCHEDULES  # noqa: E402

STEPS = 30
RECORD_EVERY = 7
OBJECTIVES = {
    "rosenbrock": {},
    "beale": {},
    "himmelblau": {},
    "quadratic": {"dim": 3, "kappa": 30.0},
}


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(backend, "THREADS_PER_BLOCK", 4)
    monkeypatch.setattr(backend, "MAX_BLOCKS", 2)


def cells(dim, count=12, alpha_max=3.0, seed=5):
    """x0 (count, dim), hyper (count, 4), ids (count, 3) for a small mixed grid.

    α log-spaced up to ``alpha_max`` (the large ones diverge), β₁ ∈ {0, 0.9},
    β₂ ∈ {0.5, 0.999}, ε ∈ {0, 1e-8}, two starts (two streams of draws), every
    schedule.
    """
    index = np.arange(count)
    starts = np.array([np.linspace(-1.2, 1.0, dim), np.linspace(0.5, -0.3, dim)])
    x0 = starts[index % 2]
    hyper = np.column_stack([np.geomspace(1e-3, alpha_max, count), np.where(index % 3, 0.9, 0.0),
                             np.where(index % 4 < 2, 0.999, 0.5), np.where(index % 5, 1e-8, 0.0)])
    ids = np.column_stack([np.full(count, seed), index % 2,
                           index % len(SCHEDULES)]).astype(np.int64)
    return x0, hyper, ids


def settings(dim, minimum=0.0, noise=0.3, bounded=True, bound=20.0):
    """Noise, a warm-up, the step schedule's period and factor, and a box on coordinate 0
    only, so that the other coordinates may run past ``bound`` (divergence)."""
    lower = np.full(dim, -np.inf)
    upper = np.full(dim, np.inf)
    if bounded:
        lower[0], upper[0] = -1.5, 1.2
    return Settings(steps=STEPS, record_every=RECORD_EVERY, tol=1e-2, minimum=minimum,
                    bound=bound, noise=noise, warmup=5.0, step_every=10.0,
                    step_factor=0.5, lower=lower, upper=upper,
                    noise_scale=np.linspace(1.0, 0.5, len(lower)))


def records(steps=STEPS, record_every=RECORD_EVERY):
    """Records of a run: every ``record_every`` steps from 0, and the last step (0: none)."""
    if record_every == 0:
        return 0
    return len(range(0, steps + 1, record_every)) + (steps % record_every != 0)


def run_both(optimizer, value_and_grad, x0, hyper, ids, config, theta=True):
    """The CPU reference and the CUDA kernel on the same cells; returns both Metrics
    (recording f alone without ``theta``)."""
    rule = OPTIMIZERS[optimizer]
    hyper = hyper_for(rule, hyper)
    count, dim = x0.shape
    expected = empty_metrics(count, dim, records(config.steps, config.record_every), theta=theta)
    actual = empty_metrics(count, dim, records(config.steps, config.record_every), theta=theta)
    cpu_kernel(rule, value_and_grad)(x0, hyper, ids, config, expected)
    # The simulator computes in Python and numpy scalars: overflow in a diverging
    # cell warns there (a GPU, like the CPU kernel, just gives inf or NaN).
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        backend.cuda_kernel(rule, value_and_grad)(x0, hyper, ids, config, actual)
    return expected, actual


def assert_matches(expected: Metrics, actual: Metrics):
    """Every metric within 1e-12 relative, NaN where NaN; and, in the simulator, the same bits."""
    for name in Metrics._fields:
        want, got = getattr(expected, name), getattr(actual, name)
        if name in DATA_FIELDS:  # a model's only: these objectives have none
            assert want is None and got is None, name
            continue
        assert got.shape == want.shape, name
        if want.dtype == np.bool_:
            assert np.array_equal(got, want), name
            continue
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0.0, err_msg=name)
        assert_same_bits(got, want)


# Every rule, each on one of the objectives in turn (every objective then meets several
# rules): a rule and an objective meet only through the kernel's two calls, and each
# pairing compiles a CPU kernel of its own to compare with.
RULES_ON_OBJECTIVES = [(name, list(OBJECTIVES)[i % len(OBJECTIVES)])
                       for i, name in enumerate(OPTIMIZERS)]


@pytest.mark.parametrize("optimizer, objective", RULES_ON_OBJECTIVES)
def test_every_rule_on_an_objective(optimizer, objective):
    """Noise, a schedule per cell with warm-up, a box, records, and cells that diverge."""
    target = problem(objective, **OBJECTIVES[objective])
    x0, hyper, ids = cells(target.dim)
    expected, actual = run_both(optimizer, target.value_and_grad, x0, hyper, ids,
                                settings(target.dim, target.minimum))
    assert_matches(expected, actual)
    assert np.isfinite(expected.final_loss).any()  # not a comparison of NaNs only


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_divergence_mid_grid(optimizer):
    """Cells that diverge at different steps (past the bound, or to inf), next to cells that
    do not, without a box."""
    target = problem("rosenbrock")
    x0, hyper, ids = cells(2, count=14, alpha_max=10.0)
    expected, actual = run_both(optimizer, target.value_and_grad, x0, hyper, ids,
                                settings(2, bounded=False, bound=10.0))
    assert expected.diverged.any() and not expected.diverged.all()
    assert_matches(expected, actual)


def test_steps_to_tol_and_records_without_noise():
    """A deterministic run that reaches the tolerance; records every step (the last one too)."""
    target = problem("quadratic", dim=2, kappa=4.0)
    x0, hyper, ids = cells(2, count=9, alpha_max=0.4)
    config = settings(2, noise=0.0, bounded=False)._replace(record_every=1)
    expected, actual = run_both("momentum", target.value_and_grad, x0, hyper, ids, config)
    assert np.isfinite(expected.steps_to_tol).any()
    assert_matches(expected, actual)


def test_records_of_the_loss_alone():
    """``sweep.record = "loss"``: f at every recorded step, no θ (and none written past the
    empty trajectory)."""
    target = problem("nqm", dim=3, batch_size=4)
    x0, hyper, ids = cells(3, count=9, alpha_max=1.0)
    config = settings(3)._replace(record_every=3, noise=target.noise,
                                  noise_scale=target.noise_scale)
    expected, actual = run_both("momentum", target.value_and_grad, x0, hyper, ids, config,
                                theta=False)
    assert actual.trajectory.shape == (9, 0, 3) and np.isfinite(actual.loss).any()
    assert_matches(expected, actual)


def test_without_records():
    target = problem("beale")
    x0, hyper, ids = cells(2, alpha_max=1.0)
    config = settings(2)._replace(record_every=0)
    expected, actual = run_both("amsgrad", target.value_and_grad, x0, hyper, ids, config)
    assert actual.trajectory.shape == (12, 0, 2)
    assert_matches(expected, actual)


def test_a_formula_objective_with_t():
    from sweep.kernels.formula import formula_objective

    function, _, dim = formula_objective("(1 - x)**2 + 5*(y - x**2)**2 + 0.1*sin(t*x) + sqrt(1 + y**2)")
    x0, hyper, ids = cells(dim, alpha_max=0.3)
    expected, actual = run_both("nadam", function, x0, hyper, ids, settings(dim))
    assert_matches(expected, actual)


def test_a_user_function_with_its_own_draws(tmp_path):
    """A user's objective calling the generator (sweep.kernels.normal) with its key."""
    import importlib.util

    path = tmp_path / "mine.py"
    path.write_text(
        "from sweep.kernels import normal\n\n\ndef f(x, grad, t, key):\n"
        "    grad[0] = x[0] + normal(key, 0)\n    grad[1] = 3.0 * x[1] + normal(key, 1)\n"
        "    return 0.5 * x[0] * x[0] + 1.5 * x[1] * x[1]\n")
    spec = importlib.util.spec_from_file_location("mine_for_cuda", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x0, hyper, ids = cells(2, alpha_max=0.5)
    expected, actual = run_both("adam", module.f, x0, hyper, ids, settings(2, noise=0.0))
    assert_matches(expected, actual)


def test_results_do_not_depend_on_chunks_or_devices(monkeypatch):
    """Chunks of 5 cells, and two streams (standing for two devices) taking turns."""
    target = problem("quadratic", dim=3, kappa=50.0)
    x0, hyper, ids = cells(target.dim, count=13)
    expected, whole = run_both("adamw", target.value_and_grad, x0, hyper, ids,
                               settings(target.dim, target.minimum))
    monkeypatch.setattr(backend, "MAX_CHUNK_CELLS", 5)
    rule = OPTIMIZERS["adamw"]
    hyper = hyper_for(rule, hyper)
    kernel = backend.cuda_kernel(rule, target.value_and_grad)
    for devices in ([0], [0, 0]):
        chunked = empty_metrics(*x0.shape, records())
        with np.errstate(all="ignore"):
            backend.run_on_devices(kernel.device_kernel(x0.shape[1]), x0, hyper, ids,
                                   settings(target.dim, target.minimum), chunked, devices,
                                   states=len(rule.state))
        assert_matches(expected, chunked)


def test_records_a_cell_never_reaches_keep_their_value():
    """As on the CPU, a cell that diverges leaves its later records as they were in ``out``."""
    target = problem("rosenbrock")
    x0, hyper, ids = cells(2, count=8, alpha_max=10.0)
    config = settings(2, bounded=False, bound=1e6)
    rule = OPTIMIZERS["sgd"]
    hyper = hyper_for(rule, hyper)
    out = empty_metrics(8, 2, records())
    out.trajectory[:] = -7.0
    with np.errstate(all="ignore"):
        backend.cuda_kernel(rule, target.value_and_grad)(x0, hyper, ids, config,
                                                                           out)
    assert out.diverged.any()
    assert (out.trajectory[out.diverged, -1] == -7.0).all()
    assert not (out.trajectory[~out.diverged] == -7.0).any()


def test_no_cells_is_a_no_op():
    rule = OPTIMIZERS["sgd"]
    out = empty_metrics(0, 2, 0)
    backend.cuda_kernel(rule, problem("booth").value_and_grad)(
        np.empty((0, 2)), np.empty((0, 4)), np.empty((0, 3), np.int64), settings(2), out)
    assert out.final_loss.shape == (0,)


def test_the_simulator_counts_as_a_device():
    ok, message = backend.device_status()
    assert ok, message
    assert message.startswith("1 CUDA device(s)")


# --- float32 (sweep.kernels.precision): the same float32 twins on both backends ---

# Each rule once and each objective once (a float32 CPU reference kernel takes ~5 s
# to compile cold; the float64 tests above cover every rule on every objective).
FLOAT32_PAIRS = [("sgd", "rosenbrock"), ("adam", "beale"), ("nadam", "himmelblau"),
                 ("rmsprop", "quadratic")]


@pytest.mark.parametrize("optimizer, objective", FLOAT32_PAIRS)
def test_float32_matches_the_float32_cpu_kernel(optimizer, objective):
    """cuda_kernel(dtype="float32") against cpu_kernel(dtype="float32"): the same bits."""
    target = problem(objective, **OBJECTIVES[objective])
    x0, hyper, ids = cells(target.dim)
    x0, hyper = x0.astype(np.float32), hyper.astype(np.float32)
    rule = OPTIMIZERS[optimizer]
    hyper = hyper_for(rule, hyper)
    config = settings(target.dim, target.minimum)
    expected = empty_metrics(12, target.dim, records(), "float32")
    actual = empty_metrics(12, target.dim, records(), "float32")
    cpu_kernel(rule, target.value_and_grad, "float32")(x0, hyper, ids, config,
                                                                         expected)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        backend.cuda_kernel(rule, target.value_and_grad, "float32")(
            x0, hyper, ids, config, actual)
    assert np.isfinite(expected.final_loss).any()
    for name in Metrics._fields:
        want, got = getattr(expected, name), getattr(actual, name)
        if name in DATA_FIELDS:  # a model's only
            continue
        assert got.dtype == want.dtype, name
        assert np.array_equal(got, want, equal_nan=True), name
