"""Known minima are reached from the customary start points."""
import numpy as np
import pytest

import sweep
from sweep.kernels.objectives import OBJECTIVES, problem

# Multimodal (rastrigin, ackley) or unbounded (saddles): from their customary
# starts a local method is not expected to find the global minimum. Logistic
# regression's minibatch gradient leaves a noise floor (tests/test_logistic.py), as does the
# noisy quadratic model's own gradient noise (tests/test_nqm.py).
REACHABLE = [name for name in OBJECTIVES
             if name not in ("rastrigin", "ackley", "saddle", "monkey_saddle", "logistic", "nqm")]
ALPHAS = {"min": 1e-4, "max": 1.0, "num": 13, "scale": "log"}


@pytest.mark.parametrize("name", REACHABLE)
def test_adam_reaches_the_minimum_from_the_first_customary_start(name):
    ds = sweep.run({"sweep": {"optimizers": ["adam", "momentum"], "steps": 5000},
                    "objective": {"name": name},
                    "grid": {"alpha": ALPHAS, "beta1": [0.9], "beta2": [0.999], "eps": [1e-8]}})
    the_problem = problem(name)
    distance = ds["distance"].sel(optimizer="adam").isel(start=0)
    assert float(distance.min()) < 1e-6
    best = ds["final_loss"].sel(optimizer="adam").isel(start=0).min()
    assert float(best) == pytest.approx(the_problem.minimum, abs=1e-9)


def test_rosenbrock_minimum_from_both_customary_starts_with_two_rules():
    ds = sweep.run({"sweep": {"optimizers": ["adam", "momentum"], "steps": 5000},
                    "objective": {"name": "rosenbrock"},
                    "grid": {"alpha": ALPHAS, "beta1": [0.9], "beta2": [0.999], "eps": [1e-8]}})
    assert ds.sizes["start"] == 2
    closest = ds["distance"].min(["alpha", "beta1", "beta2", "eps"]).values
    assert (closest < 1e-6).all(), closest
    assert np.isfinite(ds["steps_to_tol"].min(["alpha", "beta1", "beta2", "eps"]).values).all()
