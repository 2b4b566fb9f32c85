"""Shared helpers. Tests import the package from this checkout."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    # pytest restores the warning filters after collecting and after each test, so the one
    # sweep.kernels.numba_support sets on import would not hold in the tests: set it here too.
    from sweep.kernels.numba_support import INLINER_SCOPE_WARNING

    config.addinivalue_line(
        "filterwarnings", f"ignore:{INLINER_SCOPE_WARNING}:numba.core.errors.NumbaIRAssumptionWarning")


def grid_table(optimizers=("adam",), steps=100, objective="booth", start=None, record_every=0,
               tol=1e-6, **axes):
    """A grid-file dict with small defaults; ``axes`` are alpha/beta1/beta2/eps lists or ranges."""
    table = {
        "sweep": {"optimizers": list(optimizers), "steps": steps, "record_every": record_every,
                  "tol": tol},
        "objective": {"name": objective},
        "grid": {"alpha": [1e-2], "beta1": [0.9], "beta2": [0.999], "eps": [1e-8]},
    }
    if start is not None:
        table["objective"]["start"] = start
    table["grid"].update(axes)
    return table


@pytest.fixture
def small_grid():
    return grid_table


def assert_same_bits(a, b):
    """Equal element for element, NaN where NaN (no tolerance)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    if a.dtype.kind == "f":
        assert np.array_equal(a, b, equal_nan=True)
        assert np.array_equal(a.view(np.int64), b.view(np.int64)), "same values, different bits"
    else:
        assert np.array_equal(a, b)
