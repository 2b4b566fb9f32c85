"""Update rules, objectives and the kernels that run them.

Importing this package does not import numba: :mod:`sweep.kernels.rules` and
:mod:`sweep.kernels.objectives` are plain Python, and only :mod:`sweep.kernels.compile`
compiles them.
"""
from .objectives import OBJECTIVES, Objective, Problem, problem
from .random import normal, uniform
from .rules import AXES, OPTIMIZERS, Optimizer

__all__ = ["AXES", "OBJECTIVES", "OPTIMIZERS", "Objective", "Optimizer", "Problem", "normal",
           "problem", "uniform"]
