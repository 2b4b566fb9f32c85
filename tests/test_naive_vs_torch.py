"""The naive transcription of docs/update_rules.md's eleven original rules against
recorded torch.optim runs.

tests/fixtures/torch_trajectories.json is written by
tests/fixtures/make_torch_fixture.py (run it with a Python that has torch).
The live re-check is skipped when torch is not importable.
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
from naive_rules import ORIGINAL_RULES, hyperparameters_at, naive_trajectory  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "torch_trajectories.json")
SCRIPT = os.path.join(HERE, "fixtures", "make_torch_fixture.py")

with open(FIXTURE) as _handle:
    RECORDED = json.load(_handle)
CASES = RECORDED["cases"]


def case_id(case):
    options = ",".join(f"{k}={v}" for k, v in sorted(case["options"].items()))
    return f"{case['optimizer']}[{options}]-{case['objective']}" if options else \
        f"{case['optimizer']}-{case['objective']}"


IDS = [case_id(c) for c in CASES]


def naive_grad(case):
    if case["objective"] == "quadratic":
        opts = case["objective_options"]
        return make_quadratic(int(opts["dim"]), float(opts["kappa"]))[1]
    return naive_objectives[case["objective"]][1]


def test_fixture_covers_every_rule_and_option():
    optimizers = {c["optimizer"] for c in CASES}
    assert optimizers == set(ORIGINAL_RULES)
    for optimizer in optimizers:
        assert {c["objective"] for c in CASES if c["optimizer"] == optimizer and not c["options"]} \
            == {"booth", "rosenbrock", "quadratic"}
    assert any(c["optimizer"] == "rmsprop" and c["options"].get("centered") for c in CASES)
    assert {c["beta1"] for c in CASES if c["optimizer"] == "rmsprop"} >= {0.0, 0.9}
    assert any(c["options"].get("initial_accumulator") == 0.1 for c in CASES)
    assert any(c["options"].get("weight_decay") == 0.1 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_naive_matches_torch(case):
    expected = np.array(case["trajectory"], dtype=np.float64)
    assert expected.shape == (case["steps"] + 1, len(case["start"]))
    assert np.all(np.isfinite(expected))
    # The run must go somewhere: a trajectory that never moves tests nothing.
    assert np.abs(expected[-1] - expected[0]).max() > 1e-2
    got = naive_trajectory(case["optimizer"], naive_grad(case), np.array(case["start"]),
                           case["steps"],
                           **hyperparameters_at(case["optimizer"], case, case["options"]))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_live_torch_reproduces_fixture():
    torch = pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("make_torch_fixture", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for case in CASES:
        live = module.torch_trajectory(case)
        expected = np.array(case["trajectory"], dtype=np.float64)
        # Bit-for-bit on the recording machine; another torch build or CPU (other SIMD
        # paths, FMA) may differ by ulps, so hold it to the same bound as the naive check.
        np.testing.assert_allclose(live, expected, rtol=1e-10, atol=1e-12,
                                   err_msg=f"{case_id(case)} (fixture from torch "
                                           f"{RECORDED['torch_version']}, live {torch.__version__})")
