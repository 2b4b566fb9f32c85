"""The fast lockstep kernel gives the reference kernel's results, bit for bit.

Every rule with noise, seeds, all schedules and projection, and every
objective (n-dimensional ones in 3-D). Each (rule, objective) pair compiles
two kernels, so the full product (11 × 14 pairs) would cost CI about ten
minutes of compilation; these pairs exercise every line of every rule and
objective, and of both kernels.
"""
import os
import subprocess
import sys

import pytest

import sweep
from conftest import ROOT, assert_same_bits
from sweep.kernels import compile as kernels_compile
from sweep.kernels.numba_support import vector_bits
from sweep.kernels.objectives import OBJECTIVES
from sweep.kernels.rules import OPTIMIZERS
from sweep import tunables

METRICS = ("final_loss", "best_loss", "final_x", "distance", "steps_to_tol", "diverged",
           "trajectory", "loss")


def both_kernels(table, monkeypatch, lanes=8, fixed_dim=tunables.LOCKSTEP_FIXED_DIM):
    # Few lanes, so that small grids still span several blocks and a partial last one;
    # every rule's step in chunks of 4 of them (sweep.tunables.LANE_CHUNK), whatever
    # this machine's vectors.
    monkeypatch.setattr(tunables, "LANES", lanes)
    monkeypatch.setattr(tunables, "LANE_CHUNK", {vector_bits(): {name: 4 for name in OPTIMIZERS}})
    monkeypatch.setattr(tunables, "LOCKSTEP_FIXED_DIM", fixed_dim)
    simple = sweep.run(table, kernel="simple", block_cells=37)
    fast = sweep.run(table, kernel="lockstep", block_cells=37)
    for name in METRICS:
        if name in simple:
            assert_same_bits(fast[name].values, simple[name].values)
    return simple


def grid(optimizers, objective, **objective_keys):
    return {"sweep": {"optimizers": list(optimizers), "steps": 80, "record_every": 9, "tol": 1e-3},
            "objective": {"name": objective, **objective_keys},
            "grid": {"alpha": {"min": 1e-3, "max": 3.0, "num": 6, "scale": "log"},
                     "beta1": [0.0, 0.9], "beta2": [0.5, 0.999], "eps": [0.0, 1e-8]}}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_rule_with_noise_schedules_and_bounds(optimizer, monkeypatch):
    table = grid([optimizer], "rosenbrock", noise=0.3, seeds=2, start=[[-1.2, 1.0], [0.5, -0.3]],
                 bounds=[[-1.5, 1.2], [-0.5, 2.5]])
    low = OPTIMIZERS[optimizer].hyperparameters[1] if len(OPTIMIZERS[optimizer].names) > 1 else None
    if low is not None and low.name == "beta1" and not low.valid(0.0):
        table["grid"]["beta1"] = [0.5, 0.9]  # Schedule-Free's β₁ > 0
    table["sweep"]["schedule"] = ["constant", "inverse_sqrt", "cosine", "step"]
    table["schedule"] = {"every": 20, "factor": 0.5, "warmup": 5}
    both_kernels(table, monkeypatch)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_the_kernel_for_any_dimension(optimizer, monkeypatch):
    """Problems beyond LOCKSTEP_FIXED_DIM coordinates share a kernel whose dimension is
    not a constant (here every problem: the limit set to 0), in whole blocks and in
    chunks of lanes."""
    table = grid([optimizer], "rosenbrock_nd", dim=3, noise=0.3, seeds=2,
                 bounds=[[-1.5, 1.2], [-0.5, 2.5], [-2.0, 2.0]])
    table["sweep"]["schedule"] = ["constant", "cosine"]
    both_kernels(table, monkeypatch, fixed_dim=0)
    both_kernels(table, monkeypatch, lanes=16, fixed_dim=0)


def test_divergence_and_recording_agree(monkeypatch):
    """Cells that diverge at different steps, mid-block, freeze without touching their neighbours."""
    table = grid(["sgd", "momentum", "rmsprop"], "rosenbrock", noise=0.3, seeds=2)
    ds = both_kernels(table, monkeypatch)
    assert ds["diverged"].any() and not ds["diverged"].all()


@pytest.mark.parametrize("objective", [name for name in OBJECTIVES])
def test_every_objective(objective, monkeypatch):
    keys = {}
    if objective in ("rosenbrock_nd", "rastrigin", "styblinski_tang", "quadratic"):
        keys["dim"] = 3
    table = grid(["adam"], objective, **keys)
    both_kernels(table, monkeypatch, lanes=16)


def test_a_user_function_with_draws(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(
        "from sweep.kernels import normal\n\n\ndef f(x, grad, t, key):\n"
        "    grad[0] = x[0] + normal(key, 0)\n    grad[1] = 3.0 * x[1] + normal(key, 1)\n"
        "    return 0.5 * x[0] * x[0] + 1.5 * x[1] * x[1]\n")
    table = grid(["adam", "sgd"], "booth")
    table["objective"] = {"file": str(tmp_path / "mine.py"), "function": "f",
                          "start": [[1.0, 1.0], [-2.0, 0.5]], "seeds": 3, "noise": 0.1}
    both_kernels(table, monkeypatch)


AVX512 = "+avx512f,+avx512vl,+avx512dq,+avx512bw,+avx2,+avx,+fma,+sse4.2"


@pytest.mark.parametrize("cpu, features, bits", [
    ("skylake-avx512", AVX512, 256),  # LLVM's tuning prefers 256-bit vectors on Intel's cores
    ("znver5", AVX512, 512),
    ("haswell", "+avx2,+avx,+fma,+sse4.2", 256),
    ("x86-64", "+sse2", 128),
])
def test_vector_bits_is_what_llvm_vectorizes_with_for_the_target(cpu, features, bits):
    # The probe only compiles (never runs), so any target can be asked on any machine.
    env = dict(os.environ, NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=features)
    done = subprocess.run(
        [sys.executable, "-c", "from sweep.kernels.numba_support import vector_bits; print(vector_bits())"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert int(done.stdout) == bits


@pytest.mark.parametrize("bits, chunk", [(256, 4), (512, 8)])
def test_lanes_step_in_the_chunks_set_for_this_machines_vector_width(monkeypatch, bits, chunk):
    from sweep import execute

    monkeypatch.setattr(execute, "vector_bits", lambda: bits)
    monkeypatch.setattr(tunables, "LANE_CHUNK", {256: {"adam": 4}})
    objective = OBJECTIVES["rosenbrock"].build(2).value_and_grad
    kernel = kernels_compile.lockstep_kernel(OPTIMIZERS["adam"], objective, 8,
                                             chunk=execute.lane_chunk("adam"))
    # Not compiled: the dispatcher's name says its lanes and chunk (lockstep{lanes}x{chunk}).
    dispatcher = kernel.dispatcher_for(2, noisy=False, scheduled=False)
    assert dispatcher.py_func.__qualname__.startswith(f"lockstep8x{chunk}d2_kernel.")


def test_a_grid_whose_blocks_differ_in_schedules_runs_both_kernels(monkeypatch):
    """Blocks of only constant-schedule cells get the kernel without the schedules' code,
    the others the kernel with it: the same bits as the reference either way."""
    table = grid(["adam"], "rosenbrock", noise=0.3, seeds=2)
    table["sweep"]["schedule"] = ["constant", "cosine"]
    both_kernels(table, monkeypatch)
    from sweep import execute

    kernel = kernels_compile.lockstep_kernel(
        OPTIMIZERS["adam"], OBJECTIVES["rosenbrock"].build(2).value_and_grad, 8,
        chunk=execute.lane_chunk("adam"))
    assert {(2, True, False), (2, True, True)} <= set(kernel._called)


@pytest.mark.parametrize("noisy, scheduled", [(False, False), (True, True)])
def test_noise_and_schedule_code_is_compiled_only_into_kernels_that_use_it(noisy, scheduled):
    from numba import njit

    from sweep.kernels.layout import empty_metrics
    from sweep.execute import Engine, _call
    from sweep.plan import make_plan

    plan = make_plan(sweep.api.load_config(grid(["adam"], "rosenbrock")))
    optimizer, spec, x0, hyper, ids, settings, records, engine, _ = _call(plan, plan.blocks[0],
                                                                      Engine())
    cached = kernels_compile.lockstep_kernel(
        OPTIMIZERS["adam"], OBJECTIVES["rosenbrock"].build(2).value_and_grad, 8)
    # Compiled afresh (numba does not inspect code loaded from its cache), run once.
    fresh = njit(nogil=True, error_model="numpy")(
        cached.dispatcher_for(2, noisy=noisy, scheduled=scheduled).py_func)
    kernels_compile.LockstepKernel(lambda dim, **variant: fresh, OPTIMIZERS["adam"])(
        x0, hyper, ids, settings, empty_metrics(len(x0), 2, records))
    module = next(iter(fresh.inspect_llvm().values()))
    assert ("noise_key" in module) == noisy and ("scale_lanes" in module) == scheduled


def test_a_coordinate_step_freezes_a_diverged_lane_and_marks_one_that_leaves_the_bound():
    """sweep.kernels.lanes.coordinate_step, plain Python: the body of every lane loop."""
    import math

    from sweep.kernels.lanes import coordinate_step
    from sweep.kernels.rules import AdamStep

    advance = coordinate_step(OPTIMIZERS["sgd"])
    state = ()

    def sgd_step(theta, grad, alpha, lower=-math.inf, upper=math.inf, bound=1e6, alive=True):
        k = OPTIMIZERS["sgd"].coefficients(_Alpha(alpha), 1.0, ())
        return advance(theta, grad, state, k, lower, upper, bound, alive)

    # Alive: θ − α·g, the state passed through, still alive.
    assert sgd_step(1.0, 2.0, 0.25) == (0.5, state, True)
    # Projected onto the box before the bound is checked: alive.
    assert sgd_step(1.0, 2.0, 0.25, lower=0.75) == (0.75, state, True)
    # Past the bound: marked diverged, θ is the step's.
    assert sgd_step(1.0, -4e6, 1.0) == (4000001.0, state, False)
    # NaN fails the bound test too.
    theta, _, alive = sgd_step(1.0, math.nan, 1.0)
    assert math.isnan(theta) and not alive
    # Diverged already: θ and the state stay as they were, and it stays diverged.
    assert sgd_step(1.0, 2.0, 0.25, alive=False) == (1.0, state, False)
    # A rule with state: adam's moments change only while alive.
    adam = coordinate_step(OPTIMIZERS["adam"])
    k = AdamStep(a=1e-3 * 10.0, b=0.0, c=0.001 ** -0.5, beta1=0.9, beta2=0.999, eps=1e-8)
    args = (k, -math.inf, math.inf, 1e6)
    _, moved, _ = adam(1.0, 2.0, (0.0, 0.0), *args, True)
    _, kept, _ = adam(1.0, 2.0, (0.0, 0.0), *args, False)
    assert moved != (0.0, 0.0) and kept == (0.0, 0.0)


class _Alpha:
    def __init__(self, alpha):
        self.alpha = alpha
