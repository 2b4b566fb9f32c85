"""sweep: run gradient-descent optimizers over whole (α, β₁, β₂, ε) grids.

``sweep.run(config)`` returns an ``xarray.Dataset``; ``python -m sweep GRID.toml``
writes one. Importing this package is cheap: numba and xarray load on first use.
"""
from .errors import ConfigError, SweepFailure

# The version's one source: pyproject.toml reads it, and `sweep --version` falls back on
# it when no installed metadata is found (a checkout run without installing).
__version__ = "0.1.0"

# sweep.run and sweep.trajectory are sweep.api's own functions (so help() shows their
# signature and docstring), imported on first use: sweep.api pulls in numpy (PEP 562).
_FROM_API = ("run", "trajectory")
# sweep.minibatches: the rows each step of a model's run trains on (sweep.models).
_FROM_MODELS = ("minibatches",)


def __getattr__(name: str):
    if name in _FROM_API:
        from . import api

        return getattr(api, name)
    if name in _FROM_MODELS:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'sweep' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_FROM_API, *_FROM_MODELS])


__all__ = ["ConfigError", "SweepFailure", "__version__", "minibatches", "run", "trajectory"]
