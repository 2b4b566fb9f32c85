"""Errors the command line turns into exit codes (cibuildwheel's pattern)."""


class ConfigError(Exception):
    """A mistake in a grid file or a command line: exit status 2, message only."""

    exit_code = 2


class SweepFailure(Exception):
    """Something went wrong while running a valid sweep: exit status 1."""

    exit_code = 1
