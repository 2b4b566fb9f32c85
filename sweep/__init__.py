"""sweep: run gradient-descent optimizers over whole (α, β₁, β₂, ε) grids.

``sweep.run(config)`` returns an ``xarray.Dataset``; ``python -m sweep GRID.toml``
writes one. Importing this package is cheap: numba and xarray load on first use.
"""
from .errors import ConfigError, SweepFailure


def run(config, **kwargs):
    """See :func:`sweep.api.run`."""
    from .api import run as _run

    return _run(config, **kwargs)


def trajectory(*args, **kwargs):
    """See :func:`sweep.api.trajectory`."""
    from .api import trajectory as _trajectory

    return _trajectory(*args, **kwargs)


__all__ = ["ConfigError", "SweepFailure", "run", "trajectory"]
