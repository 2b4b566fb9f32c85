"""The compiled kernels against the plain-Python reference and against torch.optim.

``tests/naive_rules.py`` is an independent transcription of docs/update_rules.md (one
loop per step, one per coordinate); ``fixtures/torch_trajectories.json`` holds float64
trajectories of its eleven original rules recorded from torch.optim. Both go through the whole
engine (``sweep.trajectory`` is a one-cell sweep with ``record_every = 1``).
"""
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

import sweep
from sweep.kernels.rules import OPTIMIZERS
from naive import make_quadratic, naive_objectives
from naive_rules import ORIGINAL_RULES, hyperparameters_at, naive_trajectory

FIXTURE = Path(__file__).parent / "fixtures" / "torch_trajectories.json"
CASES = json.loads(FIXTURE.read_text())["cases"]


def engine_trajectory(case):
    return sweep.trajectory(case["optimizer"], case["objective"], case["start"], case["steps"],
                            case["alpha"], case["beta1"], case["beta2"], case["eps"],
                            options=case["options"], objective_options=case["objective_options"])


def case_id(case):
    options = ",".join(f"{k}={v}" for k, v in case["options"].items())
    return f"{case['optimizer']}-{case['objective']}" + (f"[{options}]" if options else "")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_kernel_matches_torch_optim(case):
    recorded = np.array(case["trajectory"])
    np.testing.assert_allclose(engine_trajectory(case), recorded, rtol=1e-10, atol=1e-12)


def test_fixture_covers_every_rule():
    """The eleven original rules of tests/naive_rules.py (the rules added since are held to
    their references in tests/test_new_rules.py)."""
    assert {c["optimizer"] for c in CASES} == set(ORIGINAL_RULES)


def random_hyperparameters(rng):
    return dict(alpha=10 ** rng.uniform(-3, -1), beta1=rng.uniform(0, 0.99),
                beta2=rng.uniform(0.5, 0.9999), eps=10 ** rng.uniform(-10, -2))


OPTION_VARIANTS = [(name, {}) for name in ORIGINAL_RULES] + [
    ("rmsprop", {"centered": True}), ("adamw", {"weight_decay": 0.3}),
    ("nadam", {"momentum_decay": 0.05}), ("adagrad", {"initial_accumulator": 0.5})]


@pytest.mark.parametrize("optimizer, options", OPTION_VARIANTS,
                         ids=[f"{n}{o or ''}" for n, o in OPTION_VARIANTS])
def test_kernel_matches_the_naive_transcription(optimizer, options):
    """Random grid points, 150 steps on booth and on a 3-D quadratic (κ = 100, so that
    λ = 1, 10, 100 exactly: numpy.logspace and libm's pow can differ by an ulp)."""
    rng = np.random.default_rng(zlib.crc32(optimizer.encode()))
    _, quadratic_grad = make_quadratic(3, 100.0)
    problems = [("booth", naive_objectives["booth"][1], {}, [0.0, 0.0]),
                ("quadratic", quadratic_grad, {"dim": 3, "kappa": 100.0}, [1.0, -2.0, 0.5])]
    for name, grad, objective_options, start in problems:
        for _ in range(4):
            hyper = random_hyperparameters(rng)
            expected = naive_trajectory(optimizer, grad, np.array(start), 150,
                                        **hyperparameters_at(optimizer, hyper, options))
            got = sweep.trajectory(optimizer, name, start, 150, options=options,
                                   objective_options=objective_options, **hyper)
            assert np.isfinite(expected).all()
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13,
                                       err_msg=f"{optimizer} {options} on {name} at {hyper}")


@pytest.mark.parametrize("kernel", ["simple", "lockstep"])
@pytest.mark.parametrize("optimizer, options", OPTION_VARIANTS,
                         ids=[f"{n}{o or ''}" for n, o in OPTION_VARIANTS])
def test_kernels_follow_the_pinned_grouping_bit_for_bit(optimizer, options, kernel):
    """The groupings of docs/update_rules.md ("How a step is computed") fix the bits: both CPU
    kernels give the naive transcription's trajectory exactly (1e-10 could not tell the
    earlier grouping, m/(1−β₁ᵗ), v/(1−β₂ᵗ), √, ÷, from the pinned one)."""
    rng = np.random.default_rng(zlib.crc32(f"bits-{optimizer}".encode()))
    for _ in range(3):
        hyper = random_hyperparameters(rng)
        expected = naive_trajectory(optimizer, naive_objectives["booth"][1], np.zeros(2), 120,
                                    **hyperparameters_at(optimizer, hyper, options))
        got = sweep.trajectory(optimizer, "booth", (0.0, 0.0), 120, options=options,
                               kernel=kernel, **hyper)
        np.testing.assert_array_equal(got, expected, err_msg=f"{optimizer} {options} {hyper}")


def test_adamw_without_decay_is_adam():
    hyper = dict(alpha=0.05, beta1=0.9, beta2=0.99, eps=1e-8)
    adam = sweep.trajectory("adam", "rosenbrock", (-1.2, 1.0), 100, **hyper)
    adamw = sweep.trajectory("adamw", "rosenbrock", (-1.2, 1.0), 100,
                             options={"weight_decay": 0.0}, **hyper)
    np.testing.assert_array_equal(adam, adamw)


def test_options_change_the_path():
    """Each fixed option reaches its rule (a wiring check the reference alone would miss)."""
    for optimizer, option, value in (("rmsprop", "centered", True), ("adamw", "weight_decay", 0.5),
                                     ("nadam", "momentum_decay", 0.5),
                                     ("adagrad", "initial_accumulator", 10.0)):
        plain = sweep.trajectory(optimizer, "booth", (0.0, 0.0), 20, alpha=0.1)
        varied = sweep.trajectory(optimizer, "booth", (0.0, 0.0), 20, alpha=0.1,
                                  options={option: value})
        assert not np.allclose(plain, varied), optimizer


def test_kernel_matches_torch_optim_live():
    """Re-record a few cases with the torch that is installed (skipped without torch)."""
    pytest.importorskip("torch")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_torch_fixture",
                                                  FIXTURE.parent / "make_torch_fixture.py")
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    for case in CASES:
        np.testing.assert_allclose(engine_trajectory(case), recorder.torch_trajectory(case),
                                   rtol=1e-10, atol=1e-12, err_msg=case_id(case))


def coefficients_at(rule, t=3.0, **values):
    """A rule's coefficients at step t for its defaults (and ``values``), in plain Python."""
    from sweep.kernels import records

    hyper = {**{name: float(value) for name, value in rule.defaults.items()}, **values}
    rows = np.array([[hyper[name]] for name in rule.names])
    carry = tuple(rule.carry)
    for step in range(1, int(t) + 1):
        shared, carry = rule.shared(records.group(rule, True)(rows, 0, 0), float(step), carry)
    return rule.coefficients(records.hyperparameters(rule)(rows, 0, 0, hyper["alpha"]), t, shared)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_a_rule_keeps_exactly_the_state_it_declares(optimizer):
    """``Optimizer.state``: kernels keep as many values per coordinate as the rule names, so
    its update must return that many, and each must carry something (a value the rule
    never changes would be state it does not need)."""
    rule = OPTIMIZERS[optimizer]
    rng = np.random.default_rng(zlib.crc32(optimizer.encode()))
    # Flags on (rmsprop's centered keeps its gradient average only then).
    # (α large, so that Schedule-Free's running maximum of α_t moves too)
    k = coefficients_at(rule, **{h.name: 1.0 for h in rule.hyperparameters if h.flag},
                        alpha=2.0)
    used = [False] * len(rule.state)
    for _ in range(20):
        # (rmsprop's centered root needs v ≥ a², a its third value: a small one)
        state = tuple(float(v) for v in rng.uniform(0.1, 1.0, len(rule.state)) *
                      np.r_[1.0, 1.0, 0.1, 1.0, 1.0][:len(rule.state)])
        theta, new = rule.update(float(rng.normal()), float(rng.normal()), state, k)
        assert len(new) == len(rule.state), (optimizer, new)
        assert np.isfinite(theta)
        for j in range(len(rule.state)):
            used[j] |= new[j] != state[j]
    assert all(used), (optimizer, used)
