"""The naive transcription of the rules added to docs/update_rules.md against recorded runs.

tests/fixtures/reference_trajectories.json is written by
tests/fixtures/make_reference_fixture.py from torch.optim (radam, rprop) and optax
(the others, float64). The live re-record and the defaults check are skipped when
torch, jax or optax is not importable.

Tolerance: rtol 1e-10, atol 1e-12 for every rule, both the gradient point and (for
the schedule-free rules) the reported point; no rule needs a looser one. The cases
keep clear of g ≈ 0 for the sign-based rules (lion, signum, rprop: their runs match
to the bit or to a few ulps) and of chaotic oscillation near a minimum for the
adaptive ones.
"""
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from naive import make_quadratic, naive_objectives  # noqa: E402
from naive_rules import ADDED_RULES, RULES, SCHEDULE_FREE, defaults, naive_run  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "reference_trajectories.json")
SCRIPT = os.path.join(HERE, "fixtures", "make_reference_fixture.py")
RTOL, ATOL = 1e-10, 1e-12

with open(FIXTURE) as _handle:
    RECORDED = json.load(_handle)
CASES = RECORDED["cases"]


def case_id(case):
    changed = {k: v for k, v in case["hyperparameters"].items()
               if k != "alpha" and v != defaults(case["optimizer"])[k]}
    options = ",".join(f"{k}={v}" for k, v in sorted(changed.items()))
    return f"{case['optimizer']}[{options}]-{case['objective']}" if options else \
        f"{case['optimizer']}-{case['objective']}"


IDS = [case_id(c) for c in CASES]


def naive_grad(case):
    if case["objective"] == "quadratic":
        opts = case["objective_options"]
        return make_quadratic(int(opts["dim"]), float(opts["kappa"]))[1]
    return naive_objectives[case["objective"]][1]


def load_recorder():
    spec = importlib.util.spec_from_file_location("make_reference_fixture", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixture_covers_every_rule_and_hyperparameter():
    assert {c["optimizer"] for c in CASES} == set(ADDED_RULES)
    for optimizer in ADDED_RULES:
        rule = RULES[optimizer]
        mine = [c for c in CASES if c["optimizer"] == optimizer]
        assert {c["library"] for c in mine} == {rule["library"]}
        assert {c["objective"] for c in mine} >= {"booth", "beale", "rosenbrock", "quadratic"}
        assert any(c["hyperparameters"] == {**defaults(optimizer), "alpha": c["hyperparameters"]
                                            ["alpha"]} for c in mine)
        for name, (default, _, _) in rule["hyperparameters"].items():
            if name != "alpha":
                assert any(c["hyperparameters"][name] != default for c in mine), \
                    f"{optimizer}.{name} is never set to a non-default value"
        for c in mine:
            assert set(c["hyperparameters"]) == set(rule["hyperparameters"])
            assert ("eval_trajectory" in c) == (optimizer in SCHEDULE_FREE)
            assert c["version"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_naive_matches_reference(case):
    expected = np.array(case["trajectory"], dtype=np.float64)
    assert expected.shape == (case["steps"] + 1, len(case["start"]))
    assert np.all(np.isfinite(expected))
    # The run must go somewhere: a trajectory that never moves tests nothing.
    assert np.abs(expected[-1] - expected[0]).max() > 1e-2
    got, got_eval = naive_run(case["optimizer"], naive_grad(case), np.array(case["start"]),
                              case["steps"], **case["hyperparameters"])
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    if case["optimizer"] in SCHEDULE_FREE:
        expected_eval = np.array(case["eval_trajectory"], dtype=np.float64)
        assert expected_eval.shape == expected.shape
        # the reported point is not the gradient point (but for beta1 = 1, where y = x)
        if case["hyperparameters"]["beta1"] < 1.0:
            assert np.abs(expected_eval - expected)[1:].max() > 1e-6
        np.testing.assert_allclose(got_eval, expected_eval, rtol=RTOL, atol=ATOL)
    else:
        np.testing.assert_array_equal(got_eval, got)


def test_reference_defaults_match_spec():
    pytest.importorskip("torch")
    pytest.importorskip("optax")
    module = load_recorder()
    # (the original rules keep the engine's historical defaults, not torch's: see RULES)
    for optimizer in ADDED_RULES:
        assert module.reference_defaults(optimizer) == defaults(optimizer), optimizer


def test_live_reference_reproduces_fixture():
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import torch

    module = load_recorder()
    assert [{k: c[k] for k in ("optimizer", "objective", "objective_options", "start",
                               "steps", "hyperparameters")} for c in module.cases()] == \
        [{k: c[k] for k in ("optimizer", "objective", "objective_options", "start", "steps",
                            "hyperparameters")} for c in CASES]
    # one case per rule: the whole set takes a minute of jit compiles
    seen = set()
    for case in CASES:
        if case["optimizer"] in seen:
            continue
        seen.add(case["optimizer"])
        live, live_eval = module.reference_trajectory(case)
        # Bit-for-bit on the recording machine; another build or CPU may differ by ulps.
        message = (f"{case_id(case)} (fixture from {case['version']}; live torch "
                   f"{torch.__version__}, optax {optax.__version__})")
        np.testing.assert_allclose(live, np.array(case["trajectory"]), rtol=RTOL, atol=ATOL,
                                   err_msg=message)
        if case["optimizer"] in SCHEDULE_FREE:
            np.testing.assert_allclose(live_eval, np.array(case["eval_trajectory"]),
                                       rtol=RTOL, atol=ATOL, err_msg=message)
