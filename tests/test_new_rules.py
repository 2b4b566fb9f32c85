"""The new rules of docs/update_rules.md, compiled, against their plain-Python transcription.

``tests/naive_rules.py`` transcribes each rule in the grouping docs/update_rules.md pins
("How a step is computed"); the compiled rules of :mod:`sweep.kernels.rules` evaluate the same
operations in the same order, so both CPU kernels give its trajectories bit for bit.
``fixtures/reference_trajectories.json`` holds torch/optax runs of the same rules
(float64), which the engine meets to rtol 1e-10, atol 1e-12, as the transcription does
(tests/test_naive_rules_vs_reference.py).

Compilation dominates: each (rule, objective, kernel) compiles once (a few seconds), so
the tests share objectives: booth and the 3-D quadratic (κ = 100) with both kernels,
beale and rosenbrock with the simple kernel only.
"""
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

import naive_rules
import sweep
from sweep.kernels.rules import OPTIMIZERS
from naive import make_quadratic, naive_objectives

FIXTURE = Path(__file__).parent / "fixtures" / "reference_trajectories.json"
CASES = json.loads(FIXTURE.read_text())["cases"]
RTOL, ATOL = 1e-10, 1e-12

NEW = [name for name in naive_rules.ADDED_RULES if name in OPTIMIZERS]
# The hyperparameters that are keyword arguments of sweep.trajectory (the others are options).
KEYWORDS = ("alpha", "beta1", "beta2", "eps")


def _log(rng, low, high):
    return float(10 ** rng.uniform(low, high))


# Random values inside each rule's valid range, away from the ends where a 150-step
# run would overflow (the comparison is bit for bit: any finite path will do).
SAMPLERS = {
    "radam": lambda r: dict(alpha=_log(r, -3, -1), beta1=r.uniform(0, 0.99),
                            beta2=r.uniform(0.5, 0.9999), eps=_log(r, -10, -2)),
    "rprop": lambda r: dict(alpha=_log(r, -3, -1), eta_minus=r.uniform(0.1, 0.9),
                            eta_plus=r.uniform(1.05, 2.0), step_min=_log(r, -6, -3),
                            step_max=_log(r, -1, 1)),
    "lion": lambda r: dict(alpha=_log(r, -3, -1.5), beta1=r.uniform(0, 0.99),
                           beta2=r.uniform(0.5, 0.999), weight_decay=_log(r, -4, 0)),
    "adabelief": lambda r: dict(alpha=_log(r, -3, -1), beta1=r.uniform(0, 0.99),
                                beta2=r.uniform(0.5, 0.9999), eps=_log(r, -16, -4),
                                eps_root=_log(r, -16, -6)),
    "yogi": lambda r: dict(alpha=_log(r, -3, -1), beta1=r.uniform(0, 0.99),
                           beta2=r.uniform(0.5, 0.9999), eps=_log(r, -8, -2),
                           initial_accumulator=r.uniform(0, 1)),
    "schedule_free_sgd": lambda r: dict(alpha=_log(r, -3, -1), beta1=r.uniform(0.1, 1.0),
                                        weight_decay=_log(r, -4, -1),
                                        weight_lr_power=r.uniform(0, 3)),
    "schedule_free_adamw": lambda r: dict(alpha=_log(r, -3, -1), beta1=r.uniform(0.1, 1.0),
                                          beta2=r.uniform(0.5, 0.9999), eps=_log(r, -10, -2),
                                          weight_decay=_log(r, -4, -1),
                                          weight_lr_power=r.uniform(0, 3)),
    "adan": lambda r: dict(alpha=_log(r, -3, -1), beta1=r.uniform(0.5, 0.999),
                           beta2=r.uniform(0.5, 0.999), beta3=r.uniform(0.5, 0.999),
                           eps=_log(r, -10, -4), eps_root=_log(r, -10, -4),
                           weight_decay=_log(r, -4, -1)),
    "signum": lambda r: dict(alpha=_log(r, -3, -1), beta1=r.uniform(0, 0.99)),
}


def engine_trajectory(optimizer, objective, start, steps, hyperparameters, kernel=None,
                      objective_options=None):
    """``sweep.trajectory`` with a rule's hyperparameters by name: alpha, beta1, beta2, eps as
    keyword arguments where the rule reads them, the others as options."""
    keywords = {k: float(v) for k, v in hyperparameters.items() if k in KEYWORDS}
    options = {k: float(v) for k, v in hyperparameters.items() if k not in KEYWORDS}
    return sweep.trajectory(optimizer, objective, start, steps, options=options,
                            objective_options=objective_options, kernel=kernel, **keywords)


def test_every_declared_rule_has_a_reference():
    """Each rule the engine declares is transcribed in tests/naive_rules.py, the eleven
    original ones and the new ones (with the same hyperparameters, in the same order),
    and the transcription has no rule the engine lacks."""
    for name, rule in OPTIMIZERS.items():
        assert name in naive_rules.RULES, name
        assert list(naive_rules.RULES[name]["hyperparameters"]) == list(rule.names), name
    assert set(naive_rules.RULES) == set(OPTIMIZERS)


def test_declarations_follow_the_specification():
    """Defaults, ranges and reference names as naive_rules.RULES, for every rule (learning
    rates without a reference default: 1e-3; rmsprop's flag ``centered``: {0, 1})."""
    for name in naive_rules.RULES:
        rule = OPTIMIZERS[name]
        for declared in rule.hyperparameters:
            default, interval, reference = naive_rules.RULES[name]["hyperparameters"][
                declared.name]
            assert declared.default == (1e-3 if default is None else default), declared
            assert declared.reference == reference, declared
            for value in (declared.minimum, declared.maximum, declared.default, 0.5, 1.0, 2.0):
                assert declared.valid(value) == naive_rules.in_range(value, interval), \
                    (name, declared.name, value)


PROBLEMS = [("booth", naive_objectives["booth"][1], None, [0.0, 0.0]),
            ("quadratic", make_quadratic(3, 100.0)[1], {"dim": 3, "kappa": 100.0},
             [1.0, -2.0, 0.5])]


@pytest.mark.parametrize("kernel", ["simple", "lockstep"])
@pytest.mark.parametrize("optimizer", NEW)
def test_kernels_follow_the_transcription_bit_for_bit(optimizer, kernel):
    """Random non-default hyperparameters, 120 steps on booth and on the 3-D quadratic
    (λ = 1, 10, 100): both CPU kernels give naive_rules' trajectory exactly."""
    rng = np.random.default_rng(zlib.crc32(f"new-{optimizer}".encode()))
    for objective, grad, objective_options, start in PROBLEMS:
        for _ in range(3):
            hyperparameters = SAMPLERS[optimizer](rng)
            # The reported point (Schedule-Free's average x; θ itself for the others).
            expected = naive_rules.naive_eval_trajectory(optimizer, grad, np.array(start), 120,
                                                         **hyperparameters)
            assert np.isfinite(expected).all(), (optimizer, objective, hyperparameters)
            got = engine_trajectory(optimizer, objective, start, 120, hyperparameters, kernel,
                                    objective_options)
            np.testing.assert_array_equal(got, expected,
                                          err_msg=f"{optimizer} on {objective} at "
                                                  f"{hyperparameters}")


def _case_id(case):
    changed = {k: v for k, v in case["hyperparameters"].items()
               if k != "alpha" and v != naive_rules.defaults(case["optimizer"])[k]}
    options = ",".join(f"{k}={v}" for k, v in sorted(changed.items()))
    return f"{case['optimizer']}-{case['objective']}" + (f"[{options}]" if options else "")


REFERENCE_CASES = [case for case in CASES if case["optimizer"] in OPTIMIZERS]


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=[_case_id(c) for c in REFERENCE_CASES])
def test_kernel_matches_the_reference_libraries(case):
    """The recorded torch/optax runs (objectives: booth, beale, rosenbrock, and ½Σλᵢxᵢ²
    with λ = (1, 10, 100), the engine's quadratic with dim 3, κ = 100)."""
    objective_options = case["objective_options"] or None
    if case["objective"] == "quadratic":
        assert objective_options == {"dim": 3, "kappa": 100.0}
    got = engine_trajectory(case["optimizer"], case["objective"], case["start"], case["steps"],
                            case["hyperparameters"], "simple", objective_options)
    # The point the rule reports: schedule_free_eval_params's for Schedule-Free.
    expected = case.get("eval_trajectory", case["trajectory"])
    np.testing.assert_allclose(got, np.array(expected), rtol=RTOL, atol=ATOL)


def test_reference_cases_cover_the_new_rules():
    assert {case["optimizer"] for case in REFERENCE_CASES} == set(NEW)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lockstep_is_simple_with_noise_and_a_schedule(dtype):
    """A four-state rule (adan) and one with a switch (radam), with gradient noise, seeds,
    a warm cosine schedule and α from small to diverging: the lockstep kernel gives the
    simple kernel's results, in float64 and in the float32 twins."""
    table = {"sweep": {"optimizers": ["adan", "radam"], "steps": 40, "record_every": 0,
                       "tol": 1e-2, "schedule": "cosine"},
             "objective": {"name": "rosenbrock", "noise": 0.1, "seeds": 2,
                           "start": [[-1.2, 1.0], [0.5, -0.3]]},
             "schedule": {"warmup": 5},
             "grid": {"alpha": {"min": 1e-3, "max": 3.0, "num": 5, "scale": "log"},
                      "beta1": [0.5, 0.9], "beta2": [0.9, 0.999]}}
    simple = sweep.run(table, kernel="simple", block_cells=7, dtype=dtype)
    fast = sweep.run(table, kernel="lockstep", block_cells=7, dtype=dtype)
    for name in ("final_loss", "final_x", "steps_to_tol", "diverged"):
        np.testing.assert_array_equal(fast[name].values, simple[name].values, err_msg=name)
    assert simple["final_x"].dtype == dtype
    assert np.isfinite(simple["final_loss"].values).any()
    assert simple["diverged"].values.any()


@pytest.mark.parametrize("optimizer", ["schedule_free_sgd", "schedule_free_adamw"])
def test_schedule_free_reports_the_average_and_its_loss(optimizer):
    """final_x, the records and the loss metrics are those of the reported point x (where
    optax's schedule_free_eval_params evaluates), not of y, where the gradient is taken."""
    from sweep.kernels.objectives import problem

    table = {"sweep": {"optimizers": [optimizer], "steps": 40, "record_every": 10},
             "objective": {"name": "rosenbrock", "start": [[-1.2, 1.0]]},
             "grid": {"alpha": [1e-4, 1e-3]}}  # stable for both (SGD diverges at 1e-2)
    ds = sweep.run(table)
    assert not ds["diverged"].any()
    rosenbrock = problem("rosenbrock").value_and_grad
    for cell in range(2):
        x = ds["final_x"].isel(alpha=cell).values.reshape(-1)
        assert ds["final_loss"].isel(alpha=cell).item() == rosenbrock(x.copy(), np.empty(2),
                                                                      41.0, 0)
        np.testing.assert_array_equal(ds["trajectory"].isel(alpha=cell, step=-1).values
                                      .reshape(-1), x)
    path = naive_rules.naive_run(optimizer, naive_objectives["rosenbrock"][1],
                                 np.array([-1.2, 1.0]), 40, alpha=1e-3)
    gradient_point, reported = path
    np.testing.assert_array_equal(ds["final_x"].isel(alpha=1).values.reshape(-1), reported[-1])
    assert not np.array_equal(reported[-1], gradient_point[-1])
