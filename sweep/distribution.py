"""The distribution this package installs from: its name on the package index, its version.

The import package is ``sweep`` and so is the command; the distribution is
``optimizer-sweep``, a name no other project has on the package index (``sweep`` has
one already).
"""
from __future__ import annotations

from . import __version__

NAME = "optimizer-sweep"


def version() -> str:
    """The installed distribution's version (:mod:`importlib.metadata`), else
    ``sweep.__version__`` (a checkout run without installing it)."""
    from importlib import metadata

    try:
        return metadata.version(NAME)
    except metadata.PackageNotFoundError:
        return __version__


def version_text() -> str:
    """What ``sweep --version`` prints: the distribution's name and version."""
    return f"{NAME} {version()}"
